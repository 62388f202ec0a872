package systems

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process: a server the benchmark started and must stop.
type Proc struct {
	Name string
	Bin  string
	Args []string
	Log  string // file receiving its stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// commands records every command line started, for the report.
var (
	cmdMu    sync.Mutex
	cmdLines []string
)

// Commands returns every command line started so far, in order, without
// repeats.
func Commands() []string {
	cmdMu.Lock()
	defer cmdMu.Unlock()
	return append([]string(nil), cmdLines...)
}

// Note records a command line run outside Start (a client, a probe).
func Note(line string) {
	cmdMu.Lock()
	defer cmdMu.Unlock()
	for _, l := range cmdLines {
		if l == line {
			return
		}
	}
	cmdLines = append(cmdLines, line)
}

// CommandLine renders bin and args the way a shell would take them.
func CommandLine(bin string, args []string) string {
	parts := []string{filepath.Base(bin)}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Start starts bin with args, output to logPath. The child is killed if the
// benchmark dies.
func Start(name, bin string, args []string, logPath string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	Note(CommandLine(bin, args))
	p := &Proc{Name: name, Bin: bin, Args: args, Log: logPath, cmd: cmd, done: make(chan struct{})}
	track(p)
	go func() {
		p.err = cmd.Wait()
		f.Close()
		untrack(p)
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, and SIGKILL after timeout.
func (p *Proc) Stop(timeout time.Duration) {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
	}
}

// RSS is the resident set size in bytes, from /proc.
func (p *Proc) RSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("systems: no VmRSS in /proc status")
}

// CPUTime is the user+system CPU time the process has used, from /proc.
func (p *Proc) CPUTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0, errors.New("systems: short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// live tracks running children so KillAll can end them on an interrupt.
var (
	liveMu sync.Mutex
	live   = map[*Proc]bool{}
)

func track(p *Proc)   { liveMu.Lock(); live[p] = true; liveMu.Unlock() }
func untrack(p *Proc) { liveMu.Lock(); delete(live, p); liveMu.Unlock() }

// KillAll kills every child still running (for an interrupted run).
func KillAll() {
	liveMu.Lock()
	ps := make([]*Proc, 0, len(live))
	for p := range live {
		ps = append(ps, p)
	}
	liveMu.Unlock()
	for _, p := range ps {
		p.Kill()
	}
}

// FreePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// WaitFor polls cond every 20 ms until it returns nil or ctx ends; it
// returns cond's last error then.
func WaitFor(ctx context.Context, what string, cond func() error) error {
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
