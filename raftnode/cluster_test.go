package raftnode

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode/wal"
)

// In-process clusters over real loopback TCP, each node with its own Mux.

var seedFlag = flag.Uint64("seed", 0, "random seed for the tests (0: from the clock)")

// RAFTNODE_LOG_STORE=wal runs the cluster tests with each node's groups in
// one node-wide WAL (DIR/wal, small segments so that they roll and get
// collected) instead of a raft.db per group.
var testLogStore = os.Getenv("RAFTNODE_LOG_STORE")

// testWALSegment is the segment size of the tests' WALs.
const testWALSegment = 256 << 10

// testRand returns a seeded source and logs the seed to rerun with.
func testRand(t testing.TB) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed=%d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// testLogger sends log lines to t.Log until the test ends. Set
// RAFTNODE_LOG=debug to see everything.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	if os.Getenv("RAFTNODE_LOG") == "debug" {
		level = slog.LevelDebug
	}
	w := &testWriter{t: t}
	t.Cleanup(func() { // registered first, so it runs last
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// eventually polls f until it returns nil or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type tnode struct {
	id       string
	addr     string
	dir      string
	mux      *Mux
	nodes    map[string]*Node
	machines map[string]*fsm.Machine
	wal      *wal.WAL // the node's WAL while running, with LogStore "wal"
}

func (n *tnode) running() bool { return n.mux != nil }

type cluster struct {
	t      testing.TB
	nodes  []*tnode
	groups []string
	tweak  func(*Config)
	logger *slog.Logger
	store  string // Config.LogStore of every group
}

// newCluster starts size nodes, each hosting every group.
func newCluster(t testing.TB, size int, groups []string, tweak func(*Config)) *cluster {
	return newClusterLog(t, size, groups, tweak, slog.LevelInfo)
}

func newClusterLog(t testing.TB, size int, groups []string, tweak func(*Config), level slog.Level) *cluster {
	t.Helper()
	return newClusterStore(t, size, groups, tweak, level, testLogStore)
}

// newClusterStore is newClusterLog with the log store given.
func newClusterStore(t testing.TB, size int, groups []string, tweak func(*Config), level slog.Level, store string) *cluster {
	t.Helper()
	c := &cluster{t: t, groups: groups, tweak: tweak, logger: testLogger(t, level), store: store}
	base := t.TempDir()
	for i := 0; i < size; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &tnode{id: fmt.Sprintf("n%d", i+1), addr: ln.Addr().String(), dir: filepath.Join(base, fmt.Sprintf("n%d", i+1))}
		c.nodes = append(c.nodes, n)
		n.mux = NewMux(ln, c.logger.With("mux", n.id))
	}
	for i := range c.nodes {
		c.openGroups(i)
	}
	t.Cleanup(c.closeAll)
	return c
}

func (c *cluster) peers() []Peer {
	var ps []Peer
	for _, n := range c.nodes {
		ps = append(ps, Peer{ID: n.id, Addr: n.addr})
	}
	return ps
}

func (c *cluster) config(n *tnode, group string) Config {
	cfg := Config{
		NodeID:  n.id,
		GroupID: group,
		Dir:     filepath.Join(n.dir, "groups", group),
		Peers:   c.peers(),
		Logger:  c.logger,
	}
	if n.wal != nil {
		cfg.LogStore, cfg.WAL = LogStoreWAL, n.wal
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

func (c *cluster) openGroups(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.nodes = map[string]*Node{}
	n.machines = map[string]*fsm.Machine{}
	if c.store == LogStoreWAL && n.wal == nil {
		w, err := wal.Open(filepath.Join(n.dir, "wal"), wal.Options{SegmentSize: testWALSegment, Logger: c.logger.With("wal", n.id)})
		if err != nil {
			c.t.Fatalf("open the WAL of %s: %v", n.id, err)
		}
		n.wal = w
	}
	for _, g := range c.groups {
		m := fsm.NewMachine()
		node, err := Open(c.config(n, g), n.mux, m)
		if err != nil {
			c.t.Fatalf("open %s/%s: %v", n.id, g, err)
		}
		n.nodes[g], n.machines[g] = node, m
	}
}

// stop closes node i: its groups, then its Mux (like a crash of the process,
// minus losing unsynced data, which raft-boltdb does not have).
func (c *cluster) stop(i int) {
	n := c.nodes[i]
	if !n.running() {
		return
	}
	for g, node := range n.nodes {
		if err := node.Close(); err != nil {
			c.t.Errorf("close %s/%s: %v", n.id, g, err)
		}
	}
	if n.wal != nil {
		if err := n.wal.Close(); err != nil {
			c.t.Errorf("close the WAL of %s: %v", n.id, err)
		}
		n.wal = nil
	}
	if err := n.mux.Close(); err != nil {
		c.t.Errorf("close mux %s: %v", n.id, err)
	}
	n.mux = nil
}

// start restarts a stopped node i on its old address and directories.
func (c *cluster) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	var ln net.Listener
	eventually(c.t, 5*time.Second, "listen on "+n.addr, func() error {
		var err error
		ln, err = net.Listen("tcp", n.addr)
		return err
	})
	n.mux = NewMux(ln, c.logger.With("mux", n.id))
	c.openGroups(i)
}

func (c *cluster) closeAll() {
	for i := range c.nodes {
		c.stop(i)
	}
}

// leader waits until some running node, not in exclude, leads group and
// can serve linearizable reads, and returns its index.
func (c *cluster) leader(group string, exclude ...int) int {
	c.t.Helper()
	skip := map[int]bool{}
	for _, i := range exclude {
		skip[i] = true
	}
	found := -1
	eventually(c.t, 10*time.Second, "leader of "+group, func() error {
		for i, n := range c.nodes {
			if skip[i] || !n.running() || !n.nodes[group].IsLeader() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := n.nodes[group].ReadIndex(ctx)
			cancel()
			if err == nil {
				found = i
				return nil
			}
			return err
		}
		return errors.New("no leader")
	})
	return found
}

// converge waits until every running replica of group has the digest of
// replica i.
func (c *cluster) converge(group string, i int) {
	c.t.Helper()
	eventually(c.t, 10*time.Second, "replicas of "+group+" converge", func() error {
		want := c.nodes[i].machines[group].Digest()
		for _, n := range c.nodes {
			if !n.running() {
				continue
			}
			if got := n.machines[group].Digest(); got != want {
				return fmt.Errorf("%s digest %x, %s has %x", n.id, got, c.nodes[i].id, want)
			}
		}
		return nil
	})
}

func cmd(args ...string) *pb.Command {
	c := &pb.Command{NowMs: time.Now().UnixMilli()}
	for _, a := range args {
		c.Args = append(c.Args, []byte(a))
	}
	return c
}

func set(k, v string) *pb.Command { return cmd("SET", k, v) }

// mustPropose proposes on node and fails the test on error.
func mustPropose(t testing.TB, n *Node, cmds ...*pb.Command) []fsm.Reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := n.Propose(ctx, cmds)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if len(r) != len(cmds) {
		t.Fatalf("propose: %d replies for %d commands", len(r), len(cmds))
	}
	return r
}

// get reads key from m.
func get(m *fsm.Machine, key string) fsm.Reply {
	return m.Read(time.Now().UnixMilli(), [][]byte{[]byte("GET"), []byte(key)})
}
