package robustness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Cluster is a set of real `redraft server` processes, one per node, on a
// Network. It is driven by one goroutine at a time (the test, then the
// nemesis); the read-only queries (Status, Leaders, Healthy) are safe from
// any goroutine. Every process is killed when the test ends.
type Cluster struct {
	logf   func(format string, args ...any)
	bin    string
	base   string
	net    Network
	args   []string // extra server flags for every start
	env    []string // extra environment of every server process
	nodes  []*Node
	groups int // data groups (--groups)
}

// Node is one server of a Cluster; addresses and directory stay the same
// across restarts.
type Node struct {
	Index    int
	ID       string
	Dir      string
	RESPAddr string
	GRPCAddr string
	PeerAddr string
	LogPath  string

	mu     sync.Mutex
	proc   *proc
	paused bool
	starts int
}

type proc struct {
	pid       int
	done      chan struct{}
	err       error
	logOffset int64
}

// ClusterConfig describes a cluster to start.
type ClusterConfig struct {
	Nodes  int
	Groups int
	Args   []string // extra server flags
	Env    []string // extra environment ("NAME=value") of every server
}

// StartCluster starts cfg.Nodes servers with empty data directories under
// base and waits until every group has a leader all members agree on.
func StartCluster(ctx context.Context, bin, base string, nw Network, cfg ClusterConfig, logf func(string, ...any)) (*Cluster, error) {
	c := &Cluster{logf: logf, bin: bin, base: base, net: nw, groups: cfg.Groups, env: cfg.Env}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	c.args = append([]string{"--groups", strconv.Itoa(cfg.Groups)}, cfg.Args...)
	for i := 0; i < cfg.Nodes; i++ {
		host := nw.Host(i)
		rp, gp, pp := nw.Ports(i)
		id := fmt.Sprintf("n%d", i+1)
		c.nodes = append(c.nodes, &Node{
			Index:    i,
			ID:       id,
			Dir:      filepath.Join(base, id),
			RESPAddr: net.JoinHostPort(host, strconv.Itoa(rp)),
			GRPCAddr: net.JoinHostPort(host, strconv.Itoa(gp)),
			PeerAddr: net.JoinHostPort(host, strconv.Itoa(pp)),
			LogPath:  filepath.Join(base, id+".log"),
		})
	}
	for _, n := range c.nodes {
		if err := c.start(n); err != nil {
			c.KillAll()
			return nil, err
		}
	}
	if err := c.WaitHealthy(ctx, 60*time.Second); err != nil {
		c.KillAll()
		return nil, fmt.Errorf("cluster not ready: %w", err)
	}
	return c, nil
}

func (c *Cluster) initialCluster() string {
	parts := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		parts[i] = n.ID + "=" + n.PeerAddr
	}
	return strings.Join(parts, ",")
}

// Nodes returns every node.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// N is the number of nodes.
func (c *Cluster) N() int { return len(c.nodes) }

func (c *Cluster) start(n *Node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.running() {
		return fmt.Errorf("%s is already running", n.ID)
	}
	f, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	n.starts++
	args := []string{"server",
		"--id", n.ID,
		"--dir", n.Dir,
		"--resp-addr", n.RESPAddr,
		"--grpc-addr", n.GRPCAddr,
		"--peer-addr", n.PeerAddr,
		"--initial-cluster", c.initialCluster(),
	}
	args = append(args, c.args...)
	fmt.Fprintf(f, "=== robustness: start #%d of %s at %s: redraft %s\n", n.starts, n.ID, time.Now().Format("15:04:05.000"), strings.Join(args, " "))
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	cmd := c.net.Command(n.Index, c.bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	// Should the test binary die without cleaning up, the kernel kills the
	// server too (the flag survives ip's exec of the server).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{pid: cmd.Process.Pid, done: make(chan struct{}), logOffset: off}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc = p
	n.paused = false
	return nil
}

// running reports whether the process is alive; n.mu held or not needed.
func (n *Node) running() bool {
	p := n.proc
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Up reports whether the node's process runs and is not paused.
func (n *Node) Up() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running() && !n.paused
}

// Running reports whether the node's process is alive (maybe paused).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.running()
}

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running() {
		return fmt.Errorf("%s is not running", n.ID)
	}
	if err := syscall.Kill(n.proc.pid, sig); err != nil {
		return fmt.Errorf("%s: %v: %w", n.ID, sig, err)
	}
	switch sig {
	case syscall.SIGSTOP:
		n.paused = true
	case syscall.SIGCONT:
		n.paused = false
	}
	return nil
}

// Kill sends SIGKILL to node i and waits until the process is gone.
func (c *Cluster) Kill(i int) error {
	n := c.nodes[i]
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-n.proc.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s still running 10s after SIGKILL", n.ID)
	}
}

// Stop sends SIGTERM to node i and waits up to 15 s for it to exit.
func (c *Cluster) Stop(i int) error {
	n := c.nodes[i]
	if err := n.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-n.proc.done:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("%s still running 15s after SIGTERM", n.ID)
	}
}

// Start starts node i again without waiting for it to serve; Wait then
// waits for the process to exit.
func (c *Cluster) Start(i int) error { return c.start(c.nodes[i]) }

// WaitExit waits up to timeout for node i's process to exit and returns
// its exit error (nil for status 0) and the output of that run.
func (c *Cluster) WaitExit(i int, timeout time.Duration) (exited bool, err error, output string) {
	n := c.nodes[i]
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(timeout):
		return false, nil, n.runLog()
	}
	return true, p.err, n.runLog()
}

// runLog is the output of the current (or last) process.
func (n *Node) runLog() string {
	b, err := os.ReadFile(n.LogPath)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil || n.proc == nil || n.proc.logOffset > int64(len(b)) {
		return ""
	}
	return string(b[n.proc.logOffset:])
}

// Pause stops node i with SIGSTOP and waits until every thread of the
// process has stopped: kill returns before the signal takes effect, and a
// thread may still finish the system call it is in (a write, an fsync).
// Only then is what the process has written fixed, which CopyData of a
// paused node relies on. Resume continues it.
func (c *Cluster) Pause(i int) error {
	n := c.nodes[i]
	if err := n.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	n.mu.Lock()
	pid := n.proc.pid
	n.mu.Unlock()
	return poll(context.Background(), 10*time.Second, time.Millisecond, func() error {
		return allThreadsStopped(pid)
	})
}

func (c *Cluster) Resume(i int) error { return c.nodes[i].signal(syscall.SIGCONT) }

// allThreadsStopped returns nil when every thread of process pid is in
// the stopped state (T in /proc/PID/task/TID/stat).
func allThreadsStopped(pid int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return fmt.Errorf("%w: %v", errGiveUp, err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		// The state follows the command name, which is in parentheses
		// and may itself contain ") ".
		k := bytes.LastIndexByte(b, ')')
		if k < 0 || k+2 >= len(b) {
			return fmt.Errorf("/proc/%d/task/%s/stat: %q", pid, t.Name(), b)
		}
		if st := b[k+2]; st != 'T' && st != 't' {
			return fmt.Errorf("thread %s of %d is in state %c", t.Name(), pid, st)
		}
	}
	return nil
}

// Restart starts node i again with the same flags and data and waits until
// it answers PING.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	n := c.nodes[i]
	if err := c.start(n); err != nil {
		return err
	}
	err := poll(ctx, 30*time.Second, 25*time.Millisecond, func() error {
		if !n.Running() {
			return fmt.Errorf("%w: %s", errGiveUp, n.exitErr())
		}
		return ping(n.RESPAddr)
	})
	if err != nil {
		return fmt.Errorf("restart %s: %w\n%s", n.ID, err, n.LogTail(20))
	}
	return nil
}

// KillAll kills every process (paused ones included) and waits for them.
func (c *Cluster) KillAll() {
	for _, n := range c.nodes {
		n.mu.Lock()
		p := n.proc
		if n.running() {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		n.mu.Unlock()
		if p != nil {
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
	}
}

func (n *Node) exitErr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.running() {
		return ""
	}
	if n.proc.err == nil {
		return "exit status 0"
	}
	return n.proc.err.Error()
}

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string {
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

// CopyData copies node i's data directory to dst, file by file, as it is
// at this moment (the caller decides whether the process runs meanwhile).
func (c *Cluster) CopyData(i int, dst string) error {
	src := c.nodes[i].Dir
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile (an old snapshot)
			}
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// ReplaceData replaces node i's data directory by src (moved). The node
// must be stopped.
func (c *Cluster) ReplaceData(i int, src string) error {
	n := c.nodes[i]
	if n.Running() {
		return fmt.Errorf("ReplaceData(%s): running", n.ID)
	}
	if err := os.RemoveAll(n.Dir); err != nil {
		return err
	}
	return os.Rename(src, n.Dir)
}

// --- raft state through INFO replication ---

// GroupStatus is one node's view of one group.
type GroupStatus struct {
	Role    string
	Term    uint64
	Leader  string
	Applied uint64
	Commit  uint64
}

// Status returns node i's view of every group it hosts, by group id.
func (c *Cluster) Status(i int, timeout time.Duration) (map[string]GroupStatus, error) {
	n := c.nodes[i]
	if !n.Up() {
		return nil, fmt.Errorf("%s is down", n.ID)
	}
	r, err := oneShot(n.RESPAddr, timeout, "INFO", "replication")
	if err != nil {
		return nil, err
	}
	if r.Kind != kindBulk {
		return nil, fmt.Errorf("%s: INFO replication: %v", n.ID, r)
	}
	return parseGroups(r.Str)
}

func parseGroups(info string) (map[string]GroupStatus, error) {
	out := map[string]GroupStatus{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "group_") {
			continue
		}
		name, rest, ok := strings.Cut(line[len("group_"):], ":")
		if !ok {
			continue
		}
		var st GroupStatus
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "role":
				st.Role = v
			case "term":
				st.Term, _ = strconv.ParseUint(v, 10, 64)
			case "leader":
				st.Leader = v
			case "applied_index":
				st.Applied, _ = strconv.ParseUint(v, 10, 64)
			case "commit_index":
				st.Commit, _ = strconv.ParseUint(v, 10, 64)
			}
		}
		out[name] = st
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("INFO replication names no group:\n%s", info)
	}
	return out, nil
}

// View is every up node's view of every group at one moment.
type View struct {
	ByNode []map[string]GroupStatus // nil for a node that did not answer
}

// View asks every up node for its status.
func (c *Cluster) View() View {
	v := View{ByNode: make([]map[string]GroupStatus, len(c.nodes))}
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := c.Status(i, time.Second); err == nil {
				v.ByNode[i] = st
			}
		}()
	}
	wg.Wait()
	return v
}

// Groups returns the ids of every group some node reports, sorted.
func (v View) Groups() []string {
	seen := map[string]bool{}
	for _, m := range v.ByNode {
		for g := range m {
			seen[g] = true
		}
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// Leader returns the index of the node that says it leads g with the
// highest term, or -1.
func (v View) Leader(g string) int {
	best, idx := uint64(0), -1
	for i, m := range v.ByNode {
		if st, ok := m[g]; ok && st.Role == "leader" && (idx < 0 || st.Term > best) {
			best, idx = st.Term, i
		}
	}
	return idx
}

// Members returns the nodes that report a replica of g.
func (v View) Members(g string) []int {
	var out []int
	for i, m := range v.ByNode {
		if _, ok := m[g]; ok {
			out = append(out, i)
		}
	}
	return out
}

// WaitHealthy polls until every node is up and answers, every group has a
// leader that every member names in the same term, and every member has
// applied at least the leader's commit index as it was when the check
// began (so a node back from a fault has caught up).
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	var target map[string]uint64 // leader commit index per group, fixed once seen
	return poll(ctx, timeout, 50*time.Millisecond, func() error {
		for _, n := range c.nodes {
			if !n.Running() {
				return fmt.Errorf("%w: %s exited (%s)\n%s", errGiveUp, n.ID, n.exitErr(), n.LogTail(20))
			}
		}
		v := c.View()
		for i, m := range v.ByNode {
			if m == nil {
				return fmt.Errorf("%s does not answer", c.nodes[i].ID)
			}
		}
		groups := v.Groups()
		// Every data group and the metadata group, each with all its
		// replicas: the metadata group on every node, a data group on
		// three (or every node, when fewer).
		if len(groups) != c.groups+1 {
			return fmt.Errorf("%d groups reported (%v), want %d data groups and the metadata group", len(groups), groups, c.groups)
		}
		for _, g := range groups {
			want := min(3, len(c.nodes))
			if g == "meta" {
				want = len(c.nodes)
			}
			if n := len(v.Members(g)); n != want {
				return fmt.Errorf("group %s has %d replicas reporting, want %d", g, n, want)
			}
		}
		if target == nil {
			target = map[string]uint64{}
		}
		for _, g := range groups {
			l := v.Leader(g)
			if l < 0 {
				return fmt.Errorf("group %s has no leader", g)
			}
			lst := v.ByNode[l][g]
			if _, ok := target[g]; !ok {
				target[g] = lst.Commit
			}
			for _, i := range v.Members(g) {
				st := v.ByNode[i][g]
				if st.Leader != c.nodes[l].ID || st.Term != lst.Term {
					return fmt.Errorf("group %s: %s says leader %q term %d; %s leads in term %d", g, c.nodes[i].ID, st.Leader, st.Term, c.nodes[l].ID, lst.Term)
				}
				if st.Applied < target[g] {
					return fmt.Errorf("group %s: %s applied %d < %d", g, c.nodes[i].ID, st.Applied, target[g])
				}
			}
		}
		return nil
	})
}

// --- polling ---

// errGiveUp, wrapped in a condition's error, ends poll at once.
var errGiveUp = errors.New("giving up")

// poll calls cond every interval until it returns nil, returns an error
// wrapping errGiveUp, ctx ends or timeout passes; it then returns cond's
// last error. This, not sleeping, is how the suite waits for a condition.
func poll(ctx context.Context, timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := cond()
		if err == nil || errors.Is(err, errGiveUp) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// sleepCtx waits d or until ctx ends; it paces the nemesis and the load
// (never used to wait for a condition).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func ping(addr string) error {
	r, err := oneShot(addr, time.Second, "PING")
	if err != nil {
		return err
	}
	if r.Kind != kindStatus || r.Str != "PONG" {
		return fmt.Errorf("PING: %v", r)
	}
	return nil
}
