// Package shardtest starts in-process redraft nodes (shard.Host on real
// loopback listeners, temp data dirs) for tests of the packages above shard.
package shardtest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// Raft has short timeouts so elections take a few hundred milliseconds.
var Raft = raftnode.Config{
	HeartbeatTimeout:   200 * time.Millisecond,
	ElectionTimeout:    200 * time.Millisecond,
	LeaderLeaseTimeout: 200 * time.Millisecond,
	CommitTimeout:      5 * time.Millisecond,
}

// Node is one in-process node. RESP and GRPC are listeners reserved for the
// front doors a test starts (their addresses are the node's advertised ones).
type Node struct {
	ID   string
	Dir  string // the node's data directory
	Host *shard.Host
	RESP net.Listener
	GRPC net.Listener
}

// Options configures a test cluster; zero fields mean one group, 3
// replicas, polls every 100 ms and balancing every 200 ms.
type Options struct {
	Groups          int
	Replicas        int
	PollInterval    time.Duration
	BalanceInterval time.Duration // negative: no balancing
}

// Logger discards everything unless -v is given, then shows warnings.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Start starts n nodes forming one cluster with one group owning every
// slot; they stop when the test ends.
func Start(t testing.TB, n int) []*Node { return StartOpts(t, n, Options{}) }

// StartOpts starts n nodes forming one cluster; they stop when the test ends.
func StartOpts(t testing.TB, n int, opts Options) []*Node {
	t.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.BalanceInterval == 0 {
		opts.BalanceInterval = 200 * time.Millisecond
	}
	logger := Logger()
	peerLns := make([]net.Listener, n)
	peers := make([]raftnode.Peer, n)
	for i := range n {
		peerLns[i] = listen(t)
		peers[i] = raftnode.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: peerLns[i].Addr().String()}
	}
	dir := t.TempDir()
	nodes := make([]*Node, n)
	for i := range n {
		nd := &Node{ID: peers[i].ID, Dir: filepath.Join(dir, peers[i].ID), RESP: listen(t), GRPC: listen(t)}
		self := shard.NodeInfo{ID: nd.ID, RESPAddr: nd.RESP.Addr().String(), GRPCAddr: nd.GRPC.Addr().String(), PeerAddr: peers[i].Addr}
		host, err := shard.Open(shard.Config{
			Self:            self,
			Dir:             nd.Dir,
			InitialCluster:  peers,
			Groups:          opts.Groups,
			Replicas:        opts.Replicas,
			Raft:            Raft,
			PollInterval:    opts.PollInterval,
			BalanceInterval: opts.BalanceInterval,
			Logger:          logger.With("node", nd.ID),
		}, peerLns[i])
		if err != nil {
			t.Fatalf("open %s: %v", nd.ID, err)
		}
		nd.Host = host
		t.Cleanup(func() {
			if err := host.Close(); err != nil {
				t.Errorf("close %s: %v", nd.ID, err)
			}
			nd.RESP.Close()
			nd.GRPC.Close()
		})
		nodes[i] = nd
	}
	return nodes
}

// poll calls cond every few milliseconds until it returns nil, failing the
// test with its last error after timeout.
func poll(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// WaitLeader polls until every node routes with a map and one node leads
// the group of slot 0 and has applied an entry of its term, and returns it.
func WaitLeader(t testing.TB, nodes []*Node) *Node {
	t.Helper()
	var leader *Node
	poll(t, 15*time.Second, func() error {
		for _, nd := range nodes {
			if nd.Host.Map() == nil {
				return fmt.Errorf("%s has no slot map", nd.ID)
			}
		}
		for _, nd := range nodes {
			g := nd.Host.GroupOf(0)
			if g != nil && g.IsLeader() && g.Node().ReadIndex(t.Context()) == nil {
				leader = nd
				return nil
			}
		}
		return fmt.Errorf("no ready leader of slot 0")
	})
	return leader
}

// WaitReady polls until every node routes with the same map, and every
// group has a leader that has applied an entry of its term and the group's
// ownership, known to all of the group's members.
func WaitReady(t testing.TB, nodes []*Node) {
	t.Helper()
	poll(t, 20*time.Second, func() error {
		m := nodes[0].Host.Map()
		if m == nil {
			return fmt.Errorf("%s has no slot map", nodes[0].ID)
		}
		for _, nd := range nodes {
			if nm := nd.Host.Map(); nm == nil || nm.Epoch != m.Epoch {
				return fmt.Errorf("%s has another map than %s", nd.ID, nodes[0].ID)
			}
		}
		for _, gi := range m.Groups {
			leaders := map[string]bool{}
			ready := false
			for _, nd := range nodes {
				g := nd.Host.Group(gi.ID)
				if g == nil {
					continue
				}
				id, _ := g.Node().Leader()
				leaders[id] = true
				if g.IsLeader() && g.Owned() && g.Node().ReadIndex(t.Context()) == nil {
					ready = true
				}
			}
			if !ready || len(leaders) != 1 || leaders[""] {
				return fmt.Errorf("group %s: no agreed, ready leader (%v)", gi.ID, leaders)
			}
		}
		return nil
	})
}

// Leaders returns how many groups each node leads.
func Leaders(nodes []*Node) map[string]int {
	out := map[string]int{}
	for _, nd := range nodes {
		for _, g := range nd.Host.Groups() {
			if g.IsLeader() {
				out[nd.ID]++
			}
		}
	}
	return out
}
