package sharding

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redraft/redraft/shard"
)

// fastRaft: elections well under a second on loopback, requests that give
// up quickly while a group has no leader.
var fastRaft = []string{"--heartbeat-timeout", "400ms", "--election-timeout", "400ms", "--request-timeout", "3s"}

// Cluster is a set of real `redraft server` processes on loopback ports,
// owned by one test; every process is killed when the test ends. Methods
// must be called from the test's goroutine.
type Cluster struct {
	t      testing.TB
	base   string
	groups int
	nodes  []*Node
	extra  func(i int) []string
}

// Node is one server. Its addresses and data directory stay the same
// across restarts.
type Node struct {
	Index                        int
	ID, Dir, RESP, GRPC, Peer    string
	LogPath                      string
	cmd                          *exec.Cmd
	done                         chan struct{}
	admin                        *redis.Client // no redirects, no retries
	starts                       int
	clusterArg, groupsArg, extra []string
}

// startCluster starts n servers with --groups groups and waits until every
// slot has a leader on every node's view. extra gives node i's additional
// flags (nil: none).
func startCluster(t testing.TB, n, groups int, extra func(i int) []string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, base: t.TempDir(), groups: groups, extra: extra}
	t.Cleanup(c.cleanup)
	for attempt := 1; ; attempt++ {
		c.layout(n)
		for _, nd := range c.nodes {
			if err := nd.start(); err != nil {
				t.Fatalf("start %s: %v", nd.ID, err)
			}
		}
		err := c.waitReady(30 * time.Second)
		if err == nil {
			t.Logf("cluster of %d nodes, %d groups ready (attempt %d); data under %s", n, groups, attempt, c.base)
			return c
		}
		clash := false
		for _, nd := range c.nodes {
			clash = clash || (!nd.running() && strings.Contains(nd.log(), "address already in use"))
		}
		c.killAll()
		if clash && attempt < 4 {
			continue
		}
		t.Fatalf("cluster not ready: %v", err)
	}
}

func (c *Cluster) layout(n int) {
	var lns []net.Listener
	ports := make([]int, 0, 3*n)
	for len(ports) < 3*n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	c.nodes = make([]*Node, n)
	var initial []string
	for i := range n {
		id := fmt.Sprintf("n%d", i+1)
		nd := &Node{
			Index: i, ID: id, Dir: filepath.Join(c.base, id),
			RESP:    fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			GRPC:    fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			Peer:    fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			LogPath: filepath.Join(c.base, id+".log"),
		}
		os.RemoveAll(nd.Dir)
		nd.admin = redis.NewClient(&redis.Options{
			Addr: nd.RESP, Protocol: 2, DialTimeout: 500 * time.Millisecond,
			ReadTimeout: 5 * time.Second, MaxRetries: -1, DisableIdentity: true, PoolSize: 4,
		})
		c.t.Cleanup(func() { nd.admin.Close() })
		initial = append(initial, id+"="+nd.Peer)
		c.nodes[i] = nd
	}
	for i, nd := range c.nodes {
		nd.clusterArg = []string{"--initial-cluster", strings.Join(initial, ",")}
		nd.groupsArg = []string{"--groups", strconv.Itoa(c.groups)}
		if c.extra != nil {
			nd.extra = c.extra(i)
		}
	}
}

func (nd *Node) start() error {
	f, err := os.OpenFile(nd.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	nd.starts++
	args := []string{"server", "--id", nd.ID, "--dir", nd.Dir, "--resp-addr", nd.RESP, "--grpc-addr", nd.GRPC, "--peer-addr", nd.Peer}
	args = append(args, nd.clusterArg...)
	args = append(args, nd.groupsArg...)
	args = append(args, fastRaft...)
	args = append(args, nd.extra...)
	fmt.Fprintf(f, "=== start #%d of %s: redraft %s\n", nd.starts, nd.ID, strings.Join(args, " "))
	cmd := exec.Command(redraftBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	nd.cmd, nd.done = cmd, done
	return nil
}

func (nd *Node) running() bool {
	if nd.done == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

func (nd *Node) log() string {
	b, _ := os.ReadFile(nd.LogPath)
	return string(b)
}

func (nd *Node) logTail(lines int) string {
	b := bytes.TrimRight([]byte(nd.log()), "\n")
	idx := len(b)
	for k := 0; k < lines && idx > 0; k++ {
		if idx = bytes.LastIndexByte(b[:idx], '\n'); idx < 0 {
			idx = 0
		}
	}
	return string(bytes.TrimLeft(b[idx:], "\n"))
}

// kill9 kills node i with SIGKILL and waits until it is gone.
func (c *Cluster) kill9(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	nd.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-nd.done:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s alive 10s after SIGKILL", nd.ID)
	}
}

// restart starts node i again on its data directory and waits until it
// answers PING.
func (c *Cluster) restart(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if err := nd.start(); err != nil {
		c.t.Fatalf("restart %s: %v", nd.ID, err)
	}
	if err := eventually(20*time.Second, 25*time.Millisecond, func() error {
		if !nd.running() {
			return fmt.Errorf("%s exited: %w", nd.ID, errStop)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return nd.admin.Ping(ctx).Err()
	}); err != nil {
		c.t.Fatalf("restart %s: %v\n%s", nd.ID, err, nd.logTail(30))
	}
}

func (c *Cluster) killAll() {
	for _, nd := range c.nodes {
		if nd.running() {
			nd.cmd.Process.Signal(syscall.SIGKILL)
			<-nd.done
		}
	}
}

func (c *Cluster) cleanup() {
	c.killAll()
	if c.t.Failed() {
		for _, nd := range c.nodes {
			c.t.Logf("----- %s (%s): last lines of %s -----\n%s", nd.ID, nd.RESP, nd.LogPath, nd.logTail(50))
		}
	}
}

// clusterClient is a go-redis cluster client seeded with every node.
func (c *Cluster) clusterClient() *redis.ClusterClient {
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.RESP)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, DialTimeout: 500 * time.Millisecond, ReadTimeout: 5 * time.Second,
		MaxRedirects: 8, ClusterStateReloadInterval: 250 * time.Millisecond, PoolSize: 32,
	})
	c.t.Cleanup(func() { cc.Close() })
	return cc
}

// groupState is one node's view of one group, from INFO replication.
type groupState struct {
	Role, Leader string
	Term         uint64
	Slots        []string // "a-b" ranges
	Keys         int
}

// groupsOf reads node i's view of every data group.
func (c *Cluster) groupsOf(ctx context.Context, i int) (map[string]groupState, error) {
	info, err := c.nodes[i].admin.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]groupState{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "group_") || strings.HasPrefix(line, "group_meta:") {
			continue
		}
		id, rest, _ := strings.Cut(strings.TrimPrefix(line, "group_"), ":")
		var st groupState
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "role":
				st.Role = v
			case "leader":
				st.Leader = v
			case "term":
				st.Term, _ = strconv.ParseUint(v, 10, 64)
			case "slots":
				st.Slots = strings.Split(v, ";")
			case "keys":
				st.Keys, _ = strconv.Atoi(v)
			}
		}
		out[id] = st
	}
	return out, nil
}

// leaders returns, for every group, the index of the running node that
// says it leads it; a group with no such node is missing.
func (c *Cluster) leaders() (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out := map[string]int{}
	var errs []error
	for i, nd := range c.nodes {
		if !nd.running() {
			continue
		}
		gs, err := c.groupsOf(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nd.ID, err))
			continue
		}
		for id, st := range gs {
			if st.Role == "leader" {
				out[id] = i
			}
		}
	}
	return out, errors.Join(errs...)
}

// ledBy counts the groups each node index leads.
func ledBy(leaders map[string]int) map[int]int {
	out := map[int]int{}
	for _, i := range leaders {
		out[i]++
	}
	return out
}

// waitReady polls until every running node says cluster_state:ok and knows
// every group.
func (c *Cluster) waitReady(timeout time.Duration) error {
	return eventually(timeout, 50*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for i, nd := range c.nodes {
			if !nd.running() {
				if nd.starts > 0 {
					return fmt.Errorf("%s exited: %w", nd.ID, errStop)
				}
				continue
			}
			info, err := nd.admin.ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: %w", nd.ID, err)
			}
			if !strings.Contains(info, "cluster_state:ok") {
				return fmt.Errorf("%s: not ok yet", nd.ID)
			}
			gs, err := c.groupsOf(ctx, i)
			if err != nil || len(gs) != c.groups && c.nodesHostAll() {
				return fmt.Errorf("%s knows %d groups (%v)", nd.ID, len(gs), err)
			}
		}
		return nil
	})
}

// nodesHostAll: with 3 replicas, every node of a cluster of at most 3 hosts
// every group.
func (c *Cluster) nodesHostAll() bool { return len(c.nodes) <= 3 }

var errStop = errors.New("giving up")

// eventually calls cond every interval until it returns nil, or an error
// wrapping errStop, or timeout passes; it returns cond's last error. This,
// not sleeping, is how the tests wait.
func eventually(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil || errors.Is(err, errStop) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		<-tick.C
	}
}

// run runs a program, returning its combined output.
func run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// keyFor returns a key (prefix plus a number) whose slot is in one of
// ranges ("a-b").
func keyFor(t testing.TB, prefix string, ranges []string) string {
	t.Helper()
	for i := range 1 << 20 {
		k := fmt.Sprintf("%s%d", prefix, i)
		s := slotOf(k)
		for _, r := range ranges {
			lo, hi, _ := strings.Cut(r, "-")
			a, _ := strconv.Atoi(lo)
			b, err := strconv.Atoi(hi)
			if err != nil {
				b = a
			}
			if s >= a && s <= b {
				return k
			}
		}
	}
	t.Fatalf("no key in %v", ranges)
	return ""
}

// slotOf is the slot of key, as redraft computes it.
func slotOf(key string) int { return shard.Slot([]byte(key)) }
