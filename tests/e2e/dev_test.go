package e2e

import (
	"context"
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
)

// devPorts are the fixed ports of `redraft dev`: RESP, gRPC, raft peers.
var devPorts = []int{7001, 7002, 7003, 8001, 8002, 8003, 9001, 9002, 9003}

// TestDevCluster: `redraft dev` starts three nodes that redis-cli can use
// through MOVED redirects, and SIGINT stops all three, freeing the ports.
func TestDevCluster(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-cli not found (CI is set, so this is a failure): %v", err)
		}
		t.Skipf("redis-cli not found (install redis-tools): %v", err)
	}
	if busy := busyPorts(devPorts); len(busy) > 0 {
		t.Skipf("redraft dev uses fixed ports and these are in use: %v", busy)
	}

	dir := t.TempDir()
	logPath := filepath.Join(dir, "dev.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(redraftBin, "dev", "--dir", filepath.Join(dir, "data"))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	devPid := cmd.Process.Pid
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()

	// The servers are the dev process's children in their own process
	// groups; should the test fail half-way, they are killed by pid.
	var children []int
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
		for _, pid := range children {
			if isServer(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("----- redraft dev output -----\n%s", tail(string(b), 80))
		}
	})

	if err := eventually(15*time.Second, 25*time.Millisecond, func() error {
		select {
		case <-done:
			return fmt.Errorf("redraft dev exited: %v: %w", waitErr, errStop)
		default:
		}
		children = childPids(devPid)
		if len(children) != 3 {
			return fmt.Errorf("redraft dev has %d children, want 3", len(children))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("redraft dev pid %d, servers %v", devPid, children)

	// Ready: a leader that every node names, and it takes a write.
	var clients []*redis.Client
	for p := 7001; p <= 7003; p++ {
		cl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", p), Protocol: 2,
			DialTimeout: 500 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
		defer cl.Close()
		clients = append(clients, cl)
	}
	if err := eventually(30*time.Second, 50*time.Millisecond, func() error {
		select {
		case <-done:
			return fmt.Errorf("redraft dev exited: %v: %w", waitErr, errStop)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		leader, ids := -1, map[string]bool{}
		for i, cl := range clients {
			info, err := cl.Info(ctx, "replication").Result()
			if err != nil {
				return err
			}
			st, err := parseGroupStatus(info, groupID)
			if err != nil {
				return err
			}
			ids[st.Leader] = true
			if st.Role == "leader" {
				leader = i
			}
		}
		if leader < 0 || len(ids) != 1 {
			return fmt.Errorf("no agreed leader yet (leaders named: %v)", ids)
		}
		return clients[leader].Set(ctx, "dev:ready", "1", 0).Err()
	}); err != nil {
		t.Fatalf("dev cluster not ready: %v", err)
	}

	// The real redis-cli, following MOVED with -c, from two different nodes.
	if out := redisCLI(t, cli, "-c", "-p", "7002", "set", "k", "v"); out != "OK" {
		t.Fatalf("redis-cli -c -p 7002 set k v = %q, want OK", out)
	}
	if out := redisCLI(t, cli, "-c", "-p", "7003", "get", "k"); out != "v" {
		t.Fatalf("redis-cli -c -p 7003 get k = %q, want v", out)
	}

	// Ctrl-C: everything stops, cleanly, and the ports are free again.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("redraft dev still running 20s after SIGINT")
	}
	if waitErr != nil {
		t.Errorf("redraft dev after SIGINT: %v, want exit status 0", waitErr)
	}
	for _, pid := range children {
		if isServer(pid) {
			t.Errorf("server pid %d still alive after redraft dev exited", pid)
		}
	}
	if err := eventually(10*time.Second, 50*time.Millisecond, func() error {
		if busy := busyPorts(devPorts); len(busy) > 0 {
			return fmt.Errorf("ports still in use: %v", busy)
		}
		return nil
	}); err != nil {
		t.Fatalf("after SIGINT: %v", err)
	}
}

// redisCLI runs redis-cli and returns its trimmed output.
func redisCLI(t testing.TB, cli string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// busyPorts lists the ports on 127.0.0.1 that cannot be listened on now.
func busyPorts(ports []int) []int {
	var busy []int
	for _, p := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			busy = append(busy, p)
			continue
		}
		ln.Close()
	}
	return busy
}

// childPids lists the processes whose parent is pid (from /proc).
func childPids(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(p); ok && ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// procStat reads a process's parent pid and state from /proc/<pid>/stat.
func procStat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

// isServer reports whether pid is a live (not zombie) `redraft server`
// process of the binary under test.
func isServer(pid int) bool {
	_, state, ok := procStat(pid)
	if !ok || state == 'Z' {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && sameFile(args[0], redraftBin) && args[1] == "server"
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
