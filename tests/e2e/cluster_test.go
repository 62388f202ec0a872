package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fastRaft are the raft timings most tests use: elections in well under a
// second on loopback, and requests that give up quickly when the cluster is
// down. 400ms, not lower: the server's leader lease (400ms, no flag) may not
// exceed the heartbeat timeout.
var fastRaft = []string{
	"--heartbeat-timeout", "400ms",
	"--election-timeout", "400ms",
	"--request-timeout", "2s",
}

// groupID is the raft group that owns every slot today.
const groupID = "g1"

// Options configures a test cluster.
type Options struct {
	// N is the number of nodes; zero means 3.
	N int
	// Args are extra server flags, given to every node on every start.
	Args []string
}

// Cluster is a set of real `redraft server` processes on loopback ports,
// owned by one test. Its methods must be called from the test's goroutine
// (they may call t.Fatal), except where a method says otherwise.
// Every process is killed when the test ends, pass or fail.
type Cluster struct {
	t     testing.TB
	opts  Options
	base  string
	nodes []*Node

	// leaderHint is the node Do last found leading (an index), where it
	// tries first.
	leaderHint atomic.Int32

	mu      sync.Mutex
	closers []io.Closer // clients handed out, closed at cleanup
}

// Node is one server of a Cluster. Its addresses and directory stay the same
// across restarts.
type Node struct {
	c        *Cluster
	Index    int
	ID       string
	Dir      string // --dir
	RESPAddr string
	GRPCAddr string
	PeerAddr string
	LogPath  string // stdout and stderr of every start, appended

	admin *redis.Client // direct connection: no redirects, no retries
	local *redis.Client // READONLY connection: reads this node's replica

	proc   *proc // current or last process; nil before the first start
	starts int
}

// proc is one run of a server process.
type proc struct {
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited and been reaped
	err       error         // cmd.Wait's result, valid once done is closed
	logOffset int64         // where this run's output starts in the log file
}

// StartCluster starts opts.N servers with fresh data directories and waits
// until a leader exists and a write succeeds. Should a port picked as free be
// taken by the time a server binds it, the whole cluster is started again on
// new ports.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.N == 0 {
		opts.N = 3
	}
	c := &Cluster{t: t, opts: opts, base: t.TempDir()}
	// Registered after TempDir, so it runs first: processes die before
	// their directories are removed.
	t.Cleanup(c.cleanup)
	for attempt := 1; ; attempt++ {
		c.layout()
		for _, n := range c.nodes {
			if err := n.start(); err != nil {
				t.Fatalf("start %s: %v", n.ID, err)
			}
		}
		err := c.waitReady(30 * time.Second)
		if err == nil {
			t.Logf("cluster of %d ready (attempt %d), leader %s; data under %s", opts.N, attempt, c.nodes[c.mustLeader()].ID, c.base)
			return c
		}
		clash := false
		for _, n := range c.nodes {
			clash = clash || n.bindClash()
		}
		c.killAll()
		if clash && attempt < 4 {
			t.Logf("a port was taken meanwhile (%v); starting again on new ports", err)
			continue
		}
		t.Fatalf("cluster not ready: %v", err)
	}
}

// layout picks free ports and directories for every node, replacing any
// previous layout (whose processes must be dead).
func (c *Cluster) layout() {
	ports, err := freePorts(3 * c.opts.N)
	if err != nil {
		c.t.Fatalf("free ports: %v", err)
	}
	c.nodes = make([]*Node, c.opts.N)
	for i := range c.nodes {
		id := fmt.Sprintf("n%d", i+1)
		n := &Node{
			c:        c,
			Index:    i,
			ID:       id,
			Dir:      filepath.Join(c.base, id),
			RESPAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			GRPCAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			PeerAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			LogPath:  filepath.Join(c.base, id+".log"),
		}
		if err := os.RemoveAll(n.Dir); err != nil {
			c.t.Fatal(err)
		}
		n.admin = redis.NewClient(&redis.Options{
			Addr:            n.RESPAddr,
			Protocol:        2,
			DialTimeout:     500 * time.Millisecond,
			ReadTimeout:     3 * time.Second,
			WriteTimeout:    3 * time.Second,
			MaxRetries:      -1,
			DialerRetries:   1,
			PoolSize:        8,
			DisableIdentity: true,
		})
		n.local = redis.NewClient(&redis.Options{
			Addr:            n.RESPAddr,
			Protocol:        2,
			DialTimeout:     500 * time.Millisecond,
			ReadTimeout:     3 * time.Second,
			WriteTimeout:    3 * time.Second,
			MaxRetries:      -1,
			DialerRetries:   1,
			PoolSize:        4,
			DisableIdentity: true,
			OnConnect: func(ctx context.Context, cn *redis.Conn) error {
				return cn.ReadOnly(ctx).Err()
			},
		})
		c.addCloser(n.admin)
		c.addCloser(n.local)
		c.nodes[i] = n
	}
}

// freePorts returns k distinct loopback ports that were free a moment ago.
func freePorts(k int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, k)
	for len(ports) < k {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) initialCluster() string {
	parts := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		parts[i] = n.ID + "=" + n.PeerAddr
	}
	return strings.Join(parts, ",")
}

func (n *Node) args() []string {
	a := []string{"server",
		"--id", n.ID,
		"--dir", n.Dir,
		"--resp-addr", n.RESPAddr,
		"--grpc-addr", n.GRPCAddr,
		"--peer-addr", n.PeerAddr,
		"--initial-cluster", n.c.initialCluster(),
		// One group owning every slot: these tests follow one leader.
		"--groups", "1",
	}
	return append(a, n.c.opts.Args...)
}

// start launches the server process. The node must not be running.
func (n *Node) start() error {
	if n.Running() {
		return fmt.Errorf("%s is already running", n.ID)
	}
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own copy of the descriptor
	n.starts++
	args := n.args()
	fmt.Fprintf(f, "=== e2e: start #%d of %s at %s: redraft %s\n", n.starts, n.ID, time.Now().Format("15:04:05.000"), strings.Join(args, " "))
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	cmd := exec.Command(redraftBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Should the test binary die without cleaning up, the kernel kills
	// the server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), logOffset: off}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	return nil
}

// Running reports whether the node's process is alive. Safe from any goroutine
// that does not race with start.
func (n *Node) Running() bool {
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.done:
		return false
	default:
		return true
	}
}

// Pid is the current process's id (0 if never started).
func (n *Node) Pid() int {
	if n.proc == nil {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// exitErr describes how the last process ended, or "" while it runs.
func (n *Node) exitErr() string {
	if n.Running() || n.proc == nil {
		return ""
	}
	if n.proc.err == nil {
		return "exit status 0"
	}
	return n.proc.err.Error()
}

// runLog is the output of the current (or last) process.
func (n *Node) runLog() string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil || n.proc == nil || n.proc.logOffset > int64(len(b)) {
		return ""
	}
	return string(b[n.proc.logOffset:])
}

// bindClash reports whether the last process died because a port was taken.
func (n *Node) bindClash() bool {
	return !n.Running() && n.proc != nil && strings.Contains(n.runLog(), "address already in use")
}

// Node returns node i (0-based).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Nodes returns every node.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Kill9 kills node i with SIGKILL and waits until it is gone.
func (c *Cluster) Kill9(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if !n.Running() {
		c.t.Fatalf("Kill9(%s): not running", n.ID)
	}
	n.proc.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.proc.done:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("%s still running 10s after SIGKILL", n.ID)
	}
}

// Stop sends SIGTERM to node i and waits for a clean exit (status 0); a
// node that does not stop within 15 s, or exits with an error, fails the test.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if !n.Running() {
		c.t.Fatalf("Stop(%s): not running", n.ID)
	}
	n.proc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.proc.done:
	case <-time.After(15 * time.Second):
		n.proc.cmd.Process.Signal(syscall.SIGKILL)
		<-n.proc.done
		c.t.Fatalf("%s did not stop within 15s of SIGTERM; killed\n%s", n.ID, n.logTail(30))
	}
	if n.proc.err != nil {
		c.t.Errorf("%s after SIGTERM: %v (want a clean exit)\n%s", n.ID, n.proc.err, n.logTail(30))
	}
}

// Restart starts node i again with the same flags and data directory and
// waits until it answers PING. It retries while the failure is a port that
// something else took meanwhile.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	n := c.nodes[i]
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := n.start(); err != nil {
			c.t.Fatalf("restart %s: %v", n.ID, err)
		}
		err := eventually(time.Until(deadline), 25*time.Millisecond, func() error {
			if !n.Running() {
				return errExited
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			return n.admin.Ping(ctx).Err()
		})
		if err == nil {
			return
		}
		if errors.Is(err, errExited) && n.bindClash() && time.Now().Before(deadline) {
			c.t.Logf("%s: a port is taken; starting again", n.ID)
			continue
		}
		c.t.Fatalf("restart %s: %v (%s)\n%s", n.ID, err, n.exitErr(), n.logTail(30))
	}
}

var errExited = errors.New("process exited")

// WipeData removes node i's data directory. The node must be stopped.
func (c *Cluster) WipeData(i int) {
	c.t.Helper()
	n := c.nodes[i]
	if n.Running() {
		c.t.Fatalf("WipeData(%s): node is running", n.ID)
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		c.t.Fatal(err)
	}
}

func (c *Cluster) killAll() {
	for _, n := range c.nodes {
		if n.Running() {
			n.proc.cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-n.proc.done:
			case <-time.After(10 * time.Second):
			}
		}
	}
}

func (c *Cluster) cleanup() {
	c.killAll()
	c.mu.Lock()
	for _, cl := range c.closers {
		cl.Close()
	}
	c.closers = nil
	c.mu.Unlock()
	if c.t.Failed() {
		for _, n := range c.nodes {
			c.t.Logf("----- %s (%s, %s): last lines of %s -----\n%s", n.ID, n.RESPAddr, n.exitErr(), n.LogPath, n.logTail(60))
		}
	}
}

func (c *Cluster) addCloser(cl io.Closer) {
	c.mu.Lock()
	c.closers = append(c.closers, cl)
	c.mu.Unlock()
}

// logTail returns the last lines of the node's log file.
func (n *Node) logTail(lines int) string {
	b, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	b = bytes.TrimRight(b, "\n")
	idx := len(b)
	for k := 0; k < lines && idx > 0; k++ {
		idx = bytes.LastIndexByte(b[:idx], '\n')
		if idx < 0 {
			idx = 0
		}
	}
	return string(bytes.TrimLeft(b[idx:], "\n"))
}

// --- clients ---

// Client is a direct connection to the node: no redirects followed, no retries.
func (n *Node) Client() *redis.Client { return n.admin }

// Local is a READONLY connection to the node: reads see its own replica,
// possibly stale.
func (n *Node) Local() *redis.Client { return n.local }

// ClusterClient returns a go-redis cluster client seeded with every node; it
// finds the leader through CLUSTER SLOTS and follows MOVED. Safe for
// concurrent use; closed when the test ends.
func (c *Cluster) ClusterClient() *redis.ClusterClient {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.RESPAddr
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:         addrs,
		DialTimeout:   500 * time.Millisecond,
		DialerRetries: 1,
		ReadTimeout:   3 * time.Second,
		WriteTimeout:  3 * time.Second,
		MaxRedirects:  8,
		// go-redis re-reads CLUSTER SLOTS only on MOVED or after this
		// interval (default 60s). A killed leader never answers MOVED,
		// so without a short interval the client keeps dialling the dead
		// node long after a new leader took over.
		ClusterStateReloadInterval: 250 * time.Millisecond,
	})
	c.addCloser(cc)
	return cc
}

// --- raft state through INFO replication ---

// GroupStatus is one node's view of group g1, from INFO replication.
type GroupStatus struct {
	Role    string // leader, follower, candidate
	Term    uint64
	Leader  string // node id, "" if unknown
	Applied uint64
}

// Status reads node i's view of the group.
func (c *Cluster) Status(ctx context.Context, i int) (GroupStatus, error) {
	s, err := c.nodes[i].admin.Info(ctx, "replication").Result()
	if err != nil {
		return GroupStatus{}, err
	}
	return parseGroupStatus(s, groupID)
}

// parseGroupStatus finds "group_<id>:role=...,term=...,leader=...,applied_index=..."
// in an INFO reply.
func parseGroupStatus(info, group string) (GroupStatus, error) {
	prefix := "group_" + group + ":"
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		var st GroupStatus
		seen := map[string]bool{}
		for _, kv := range strings.Split(line[len(prefix):], ",") {
			k, v, _ := strings.Cut(kv, "=")
			seen[k] = true
			var err error
			switch k {
			case "role":
				st.Role = v
			case "term":
				st.Term, err = strconv.ParseUint(v, 10, 64)
			case "leader":
				st.Leader = v
			case "applied_index":
				st.Applied, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return GroupStatus{}, fmt.Errorf("INFO replication: %q: %v", line, err)
			}
		}
		for _, k := range []string{"role", "term", "leader", "applied_index"} {
			if !seen[k] {
				return GroupStatus{}, fmt.Errorf("INFO replication: %q has no %s", line, k)
			}
		}
		return st, nil
	}
	return GroupStatus{}, fmt.Errorf("INFO replication has no line %q:\n%s", prefix, info)
}

// leaderNow is the running node that reports itself leader with the
// highest term, and whether every running node names that node as leader.
func (c *Cluster) leaderNow() (idx int, agreed bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	idx = -1
	var best uint64
	sts := make([]GroupStatus, len(c.nodes))
	var errs []error
	for i, n := range c.nodes {
		if !n.Running() {
			continue
		}
		st, err := c.Status(ctx, i)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.ID, err))
			continue
		}
		sts[i] = st
		if st.Role == "leader" && (idx < 0 || st.Term > best) {
			idx, best = i, st.Term
		}
	}
	if idx < 0 {
		desc := make([]string, 0, len(c.nodes))
		for i, n := range c.nodes {
			if n.Running() {
				desc = append(desc, fmt.Sprintf("%s=%+v", n.ID, sts[i]))
			}
		}
		return -1, false, fmt.Errorf("no leader: %s %v", strings.Join(desc, " "), errors.Join(errs...))
	}
	agreed = len(errs) == 0
	for i, n := range c.nodes {
		if n.Running() && (sts[i].Leader != c.nodes[idx].ID || sts[i].Term != best) {
			agreed = false
		}
	}
	return idx, agreed, nil
}

// Leader returns the index of the current leader (by INFO replication),
// polling for up to 10 s until one exists.
func (c *Cluster) Leader() int {
	c.t.Helper()
	return c.WaitLeader(10 * time.Second)
}

func (c *Cluster) mustLeader() int {
	i, _, err := c.leaderNow()
	if err != nil {
		c.t.Fatal(err)
	}
	return i
}

// WaitLeader polls until some node is leader and every running node agrees,
// and returns its index.
func (c *Cluster) WaitLeader(timeout time.Duration) int {
	c.t.Helper()
	var idx int
	err := eventually(timeout, 25*time.Millisecond, func() error {
		i, agreed, err := c.leaderNow()
		if err != nil {
			return err
		}
		if !agreed {
			return fmt.Errorf("nodes do not yet agree that %s leads", c.nodes[i].ID)
		}
		idx = i
		return nil
	})
	if err != nil {
		c.t.Fatalf("no leader within %v: %v", timeout, err)
	}
	return idx
}

// waitReady polls until every running node agrees on a leader and a write to
// it succeeds. It returns early if a started node exits.
func (c *Cluster) waitReady(timeout time.Duration) error {
	return eventually(timeout, 25*time.Millisecond, func() error {
		for _, n := range c.nodes {
			if n.proc != nil && !n.Running() {
				return fmt.Errorf("%s exited (%s): %w", n.ID, n.exitErr(), errStop)
			}
		}
		i, agreed, err := c.leaderNow()
		if err != nil {
			return err
		}
		if !agreed {
			return fmt.Errorf("nodes do not yet agree that %s leads", c.nodes[i].ID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.nodes[i].admin.Set(ctx, "e2e:ready", c.nodes[i].ID, 0).Err()
	})
}

// WaitReady is waitReady that fails the test.
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	if err := c.waitReady(timeout); err != nil {
		c.t.Fatalf("cluster not ready within %v: %v", timeout, err)
	}
}

// --- requests that follow the leader ---

// Do runs one command on the leader: it follows MOVED and retries on
// CLUSTERDOWN, TRYAGAIN, TIMEOUT and connection errors until ctx ends. A
// TIMEOUT means the attempt may still be applied, so use Do only for
// commands that are safe to repeat (SET k v, GET, DBSIZE). Safe for
// concurrent use with other Do calls, not with starting or stopping nodes.
func (c *Cluster) Do(ctx context.Context, args ...any) (any, error) {
	target := int(c.leaderHint.Load())
	if target < 0 || target >= len(c.nodes) || !c.nodes[target].Running() {
		target = c.guessLeader(ctx, -1)
	}
	moves := 0
	for {
		res, err := c.nodes[target].admin.Do(ctx, args...).Result()
		if err == nil || errors.Is(err, redis.Nil) {
			c.leaderHint.Store(int32(target))
			return res, err
		}
		if addr, ok := movedTo(err); ok && moves < 3 {
			if j := c.byRESPAddr(addr); j >= 0 {
				target = j
				moves++
				continue
			}
		}
		if !retryable(err) {
			return res, err
		}
		moves = 0
		if !pause(ctx, 20*time.Millisecond) {
			return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		target = c.guessLeader(ctx, target)
	}
}

// guessLeader asks the running nodes who leads; failing that it picks the
// running node after prev.
func (c *Cluster) guessLeader(ctx context.Context, prev int) int {
	var best uint64
	idx := -1
	for i, n := range c.nodes {
		if !n.Running() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		st, err := c.Status(cctx, i)
		cancel()
		if err == nil && st.Role == "leader" && (idx < 0 || st.Term > best) {
			idx, best = i, st.Term
		}
	}
	if idx >= 0 {
		return idx
	}
	for k := 1; k <= len(c.nodes); k++ {
		j := (prev + k + len(c.nodes)) % len(c.nodes)
		if c.nodes[j].Running() {
			return j
		}
	}
	return 0
}

func (c *Cluster) byRESPAddr(addr string) int {
	for i, n := range c.nodes {
		if n.RESPAddr == addr {
			return i
		}
	}
	return -1
}

// movedTo parses "MOVED <slot> <host:port>".
func movedTo(err error) (string, bool) {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return "", false
	}
	f := strings.Fields(rerr.Error())
	if len(f) == 3 && f[0] == "MOVED" {
		return f[2], true
	}
	return "", false
}

// retryable: the cluster is electing, the outcome is unknown, or the node
// is unreachable. Command errors (WRONGTYPE, ERR ...) are not.
func retryable(err error) bool {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		s := rerr.Error()
		for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "TIMEOUT", "MOVED", "LOADING"} {
			if strings.HasPrefix(s, p) {
				return true
			}
		}
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// --- polling ---

// errStop, wrapped in a condition's error, ends eventually at once.
var errStop = errors.New("giving up")

// eventually calls cond every interval until it returns nil, returns an
// error wrapping errStop or errExited, or timeout passes; it returns cond's
// last error. This, not sleeping, is how the tests wait.
func eventually(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil || errors.Is(err, errStop) || errors.Is(err, errExited) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		<-tick.C
	}
}

// pause waits d between two attempts of a retry loop; false if ctx ended
// first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// --- data helpers ---

// kv is one key and the value written to it.
type kv struct{ key, val string }

// genKVs makes n keys with a prefix and random values, spread over slots.
func genKVs(rng interface{ Uint64() uint64 }, prefix string, n int) []kv {
	out := make([]kv, n)
	for i := range out {
		out[i] = kv{
			key: fmt.Sprintf("%s:%d:%x", prefix, i, rng.Uint64()&0xffffff),
			val: fmt.Sprintf("v%d-%016x%016x", i, rng.Uint64(), rng.Uint64()),
		}
	}
	return out
}

// setAll writes every pair through cl with the given number of workers,
// retrying a failed SET (same key, same value, so repeating is harmless)
// until it is acknowledged or the timeout passes. Any pair left
// unacknowledged fails the test.
func setAll(t testing.TB, cl redis.Cmdable, kvs []kv, workers int, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	next := make(chan kv)
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				err := cl.Set(ctx, p.key, p.val, 0).Err()
				for err != nil && pause(ctx, 20*time.Millisecond) {
					err = cl.Set(ctx, p.key, p.val, 0).Err()
				}
				if err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", p.key, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range kvs {
		next <- p
	}
	close(next)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d SETs not acknowledged within %v; first: %s", len(failed), len(kvs), timeout, failed[0])
	}
}

// readBack checks, through the leader (linearizable reads), that every key
// holds the value acknowledged for it. It retries while the cluster is
// electing.
func (c *Cluster) readBack(t testing.TB, want []kv, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var missing []string
	for _, p := range want {
		got, err := c.Do(ctx, "GET", p.key)
		switch {
		case errors.Is(err, redis.Nil):
			missing = append(missing, p.key+": (nil)")
		case err != nil:
			t.Fatalf("GET %s: %v", p.key, err)
		case got != p.val:
			missing = append(missing, fmt.Sprintf("%s: %v, want %s", p.key, got, p.val))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged writes lost or wrong; first few: %s", len(missing), len(want), strings.Join(head(missing, 5), "; "))
	}
}

// localValues reads keys from node i's own replica (READONLY), pipelined.
// A missing key reads as "\x00nil".
func (c *Cluster) localValues(ctx context.Context, i int, keys []string) ([]string, error) {
	const chunk = 500
	out := make([]string, 0, len(keys))
	cl := c.nodes[i].local
	for s := 0; s < len(keys); s += chunk {
		e := min(s+chunk, len(keys))
		cmds, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[s:e] {
				p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for _, cmd := range cmds {
			v, err := cmd.(*redis.StringCmd).Result()
			switch {
			case errors.Is(err, redis.Nil):
				out = append(out, "\x00nil")
			case err != nil:
				return nil, err
			default:
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// WaitReplicasEqual polls until every running node's own replica (READONLY
// DBSIZE and GETs) has the same number of keys and the same value for every
// key in keys, and holds want's value for every pair in want.
func (c *Cluster) WaitReplicasEqual(t testing.TB, keys []string, want []kv, timeout time.Duration) {
	t.Helper()
	wantVal := make(map[string]string, len(want))
	for _, p := range want {
		wantVal[p.key] = p.val
	}
	err := eventually(timeout, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var ref []string
		refNode := -1
		var sizes []string
		var size0 int64 = -1
		sameSize := true
		for _, n := range c.nodes {
			if !n.Running() {
				continue
			}
			sz, err := n.local.DBSize(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s DBSIZE: %w", n.ID, err)
			}
			sizes = append(sizes, fmt.Sprintf("%s=%d", n.ID, sz))
			if size0 >= 0 && sz != size0 {
				sameSize = false
			}
			size0 = sz
		}
		if !sameSize {
			return fmt.Errorf("DBSIZE differs: %s", strings.Join(sizes, " "))
		}
		for i, n := range c.nodes {
			if !n.Running() {
				continue
			}
			vals, err := c.localValues(ctx, i, keys)
			if err != nil {
				return fmt.Errorf("%s GET: %w", n.ID, err)
			}
			for k, key := range keys {
				if w, ok := wantVal[key]; ok && vals[k] != w {
					return fmt.Errorf("%s: %s = %q, want %q (DBSIZE %s)", n.ID, key, vals[k], w, strings.Join(sizes, " "))
				}
			}
			if refNode < 0 {
				ref, refNode = vals, i
				continue
			}
			for k, key := range keys {
				if vals[k] != ref[k] {
					return fmt.Errorf("%s: %s = %q but %s has %q", n.ID, key, vals[k], c.nodes[refNode].ID, ref[k])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("replicas not equal: %v", err)
	}
}

func keysOf(kvs ...[]kv) []string {
	var out []string
	for _, s := range kvs {
		for _, p := range s {
			out = append(out, p.key)
		}
	}
	return out
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
