package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redraft/redraft/benchmarks/report"
	"github.com/redraft/redraft/benchmarks/systems"
)

// perfOK reports whether perf can count syscalls of a process here.
func perfOK() bool {
	if _, err := exec.LookPath("perf"); err != nil {
		return false
	}
	cmd := exec.Command("perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fdatasync", "--", "true")
	return cmd.Run() == nil
}

// syscallCounter counts fsync and fdatasync calls of some processes with
// perf stat, from start until stop.
type syscallCounter struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func pidList(procs []*systems.Proc) string {
	var s []string
	for _, p := range procs {
		if !p.Exited() {
			s = append(s, strconv.Itoa(p.Pid()))
		}
	}
	return strings.Join(s, ",")
}

func startFsyncCount(procs []*systems.Proc) *syscallCounter {
	pids := pidList(procs)
	if pids == "" {
		return nil
	}
	c := &syscallCounter{}
	c.cmd = exec.Command("perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync", "-p", pids)
	c.cmd.Stderr = &c.out
	c.cmd.Stdout = &c.out
	if err := c.cmd.Start(); err != nil {
		return nil
	}
	time.Sleep(50 * time.Millisecond) // let perf attach
	return c
}

// stop ends the count and returns the number of calls, or -1.
func (c *syscallCounter) stop() int64 {
	if c == nil {
		return -1
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	_ = c.cmd.Wait()
	var total int64
	found := false
	sc := bufio.NewScanner(&c.out)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) >= 3 && strings.HasPrefix(f[2], "syscalls:") {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err == nil {
				total += n
				found = true
			}
		}
	}
	if !found {
		return -1
	}
	return total
}

// perfLine matches a line of perf report --stdio: percentages, then
// optionally the shared object, then [.] or [k] and the symbol.
var trailingDashes = regexp.MustCompile(`(\s+-)+\s*$`)

var perfLine = regexp.MustCompile(`^\s*([\d.]+)%\s+(?:([\d.]+)%\s+)?(?:(\S+)\s+)?\[([.k])\]\s+(.+?)\s*$`)

// cpuProfile samples pid's stacks for d while load runs, and returns the
// functions with the most self time and the most time including callees.
func cpuProfile(ctx context.Context, pid int, d time.Duration, file string, load func()) (self, incl []report.ProfileLine, cmdline string, err error) {
	args := []string{"record", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", file, "--", "sleep", fmt.Sprintf("%.1f", d.Seconds())}
	cmdline = "perf " + strings.Join(args, " ")
	rec := exec.CommandContext(ctx, "perf", args...)
	var recOut bytes.Buffer
	rec.Stdout, rec.Stderr = &recOut, &recOut
	if err := rec.Start(); err != nil {
		return nil, nil, cmdline, err
	}
	load()
	if err := rec.Wait(); err != nil {
		return nil, nil, cmdline, fmt.Errorf("perf record: %v: %s", err, lastLine(recOut.String()))
	}
	rep := func(extra ...string) ([]report.ProfileLine, error) {
		a := append([]string{"report", "-i", file, "--stdio", "-g", "none", "--percent-limit", "1"}, extra...)
		out, err := exec.CommandContext(ctx, "perf", a...).Output()
		if err != nil {
			return nil, fmt.Errorf("perf report: %v", err)
		}
		var lines []report.ProfileLine
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "#") {
				continue
			}
			m := perfLine.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			pct, _ := strconv.ParseFloat(m[1], 64)
			obj := m[3]
			if m[4] == "k" && obj == "" {
				obj = "[kernel]"
			}
			sym := strings.TrimSpace(trailingDashes.ReplaceAllString(m[5], ""))
			lines = append(lines, report.ProfileLine{Percent: pct, Symbol: sym, Object: obj})
			if len(lines) == 25 {
				break
			}
		}
		return lines, nil
	}
	if self, err = rep("--no-children", "--sort", "dso,symbol"); err != nil {
		return nil, nil, cmdline, err
	}
	incl, err = rep("--children", "--sort", "symbol")
	return self, incl, cmdline, err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// idleSyscalls are waits for work, left out of the syscall summary.
var idleSyscalls = map[string]bool{"futex": true, "epoll_pwait": true, "epoll_wait": true, "nanosleep": true,
	"clock_nanosleep": true, "pselect6": true, "waitid": true, "rt_sigsuspend": true, "rt_sigreturn": true}

// syscallTrace summarises pid's system calls over d (perf trace -s), all
// threads together, by total time.
func syscallTrace(ctx context.Context, pid int, d time.Duration) ([]report.SyscallLine, error) {
	out, err := exec.CommandContext(ctx, "perf", "trace", "-s", "-p", strconv.Itoa(pid), "--", "sleep", fmt.Sprintf("%.1f", d.Seconds())).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("perf trace: %v: %s", err, lastLine(string(out)))
	}
	agg := map[string]*report.SyscallLine{}
	ms := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// name calls errors total min avg max stddev%
		if len(f) != 8 || !strings.HasSuffix(f[7], "%") {
			continue
		}
		calls, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || idleSyscalls[f[0]] {
			continue
		}
		l := agg[f[0]]
		if l == nil {
			l = &report.SyscallLine{Name: f[0]}
			agg[f[0]] = l
		}
		l.Calls += calls
		l.Total += ms(f[3])
		l.Max = max(l.Max, ms(f[6]))
	}
	var lines []report.SyscallLine
	for _, l := range agg {
		lines = append(lines, *l)
	}
	slices.SortFunc(lines, func(a, b report.SyscallLine) int { return cmp.Compare(b.Total, a.Total) })
	if len(lines) > 8 {
		lines = lines[:8]
	}
	return lines, nil
}

// pprofProfile fetches a CPU profile of d from a Go pprof endpoint while
// load runs, keeps it in file, and lists the functions with the most flat
// and cumulative time (go tool pprof -top).
func pprofProfile(ctx context.Context, addr string, d time.Duration, file string, load func()) (flat, cum []report.ProfileLine, cmdline, summary string, err error) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, max(int(d.Seconds()), 1))
	cmdline = "curl -o " + filepath.Base(file) + " '" + url + "' && go tool pprof -top " + filepath.Base(file)
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			errc <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			errc <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			errc <- fmt.Errorf("pprof: %s", resp.Status)
			return
		}
		f, err := os.Create(file)
		if err != nil {
			errc <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		errc <- err
	}()
	load()
	if err = <-errc; err != nil {
		return nil, nil, cmdline, "", err
	}
	top := func(extra ...string) ([]report.ProfileLine, string, error) {
		out, err := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-top", "-nodecount=25"}, append(extra, file)...)...).CombinedOutput()
		if err != nil {
			return nil, "", fmt.Errorf("go tool pprof: %v: %s", err, lastLine(string(out)))
		}
		lines, sum := parsePprofTop(string(out), len(extra) > 0)
		return lines, sum, nil
	}
	if flat, summary, err = top(); err != nil {
		return nil, nil, cmdline, "", err
	}
	cum, _, err = top("-cum")
	return flat, cum, cmdline, summary, err
}

// parsePprofTop reads go tool pprof -top output: the "Duration: ..., Total
// samples = ..." line and rows "flat flat% sum% cum cum% name".
func parsePprofTop(out string, cumulative bool) ([]report.ProfileLine, string) {
	var lines []report.ProfileLine
	summary := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Duration:") {
			summary = strings.TrimSpace(l)
			continue
		}
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		pct := f[1]
		if cumulative {
			pct = f[4]
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
		if err != nil {
			continue
		}
		lines = append(lines, report.ProfileLine{Percent: v, Symbol: shortShapes(strings.Join(f[5:], " "))})
	}
	return lines, summary
}

// shortShapes shortens the instantiation shapes of generic functions,
// "F[go.shape.struct { a int; b string }]", to "F[go.shape.struct{…}]".
func shortShapes(sym string) string {
	const shape = "go.shape.struct {"
	for {
		i := strings.Index(sym, shape)
		if i < 0 {
			return sym
		}
		depth, j := 0, i+len(shape)-1
		for ; j < len(sym); j++ {
			if sym[j] == '{' {
				depth++
			} else if sym[j] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j >= len(sym) {
			return sym
		}
		sym = sym[:i] + "go.shape.struct{…}" + sym[j+1:]
	}
}

// fetchTo saves the body of a GET of url in file.
func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// heapProfile fetches a heap profile from a Go pprof endpoint right after a
// garbage collection (gc=1), so that it holds live objects only, keeps it
// in file, and reads it: the functions that allocated the most of the
// bytes in use (flat) and including callees (cumulative), and the bytes in
// use by cause (heapCauses).
func heapProfile(ctx context.Context, addr, file string) (*report.HeapProfile, error) {
	url := fmt.Sprintf("http://%s/debug/pprof/heap?gc=1", addr)
	base := filepath.Base(file)
	hp := &report.HeapProfile{File: base,
		Command: "curl -o " + base + " '" + url + "' && go tool pprof -sample_index=inuse_space -top " + base}
	if err := fetchTo(ctx, url, file); err != nil {
		return hp, err
	}
	pprof := func(args ...string) (string, error) {
		a := append([]string{"tool", "pprof", "-sample_index=inuse_space", "-unit=B"}, args...)
		out, err := exec.CommandContext(ctx, "go", append(a, file)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof: %v: %s", err, lastLine(string(out)))
		}
		return string(out), nil
	}
	out, err := pprof("-top", "-nodecount=25")
	if err != nil {
		return hp, err
	}
	hp.Top, hp.Total = parseHeapTop(out, false)
	if out, err = pprof("-top", "-cum", "-nodecount=25"); err != nil {
		return hp, err
	}
	hp.Inclusive, _ = parseHeapTop(out, true)
	if out, err = pprof("-traces"); err != nil {
		return hp, err
	}
	hp.Causes = heapCauses(parseTraces(out))
	return hp, nil
}

// parseHeapTop reads go tool pprof -unit=B -top output: the total from
// "Showing nodes accounting for X, P% of T total" and rows
// "flat flat% sum% cum cum% name" with byte counts as "123B".
func parseHeapTop(out string, cumulative bool) ([]report.HeapLine, int64) {
	var lines []report.HeapLine
	var total int64
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "% of "); strings.HasPrefix(l, "Showing nodes") && i >= 0 {
			total = parseBytesB(strings.TrimSuffix(strings.TrimSpace(l[i+len("% of "):]), " total"))
			continue
		}
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		n, pct := f[0], f[1]
		if cumulative {
			n, pct = f[3], f[4]
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
		if err != nil {
			continue
		}
		lines = append(lines, report.HeapLine{Bytes: parseBytesB(n), Percent: v, Symbol: shortShapes(strings.Join(f[5:], " "))})
	}
	return lines, total
}

// parseBytesB reads "123B" (pprof -unit=B); -1 if it is not that.
func parseBytesB(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "B"), 10, 64)
	if err != nil || !strings.HasSuffix(s, "B") {
		return -1
	}
	return n
}

// heapTrace is one stack of a heap profile and the bytes in use it
// allocated; Frames run from the allocating function to the root.
type heapTrace struct {
	Bytes  int64
	Frames []string
}

// parseTraces reads go tool pprof -unit=B -traces output: one block per
// sample, after a dashed separator, with an optional "bytes: <size>" label
// line, then "<value> <leaf frame>" (the value "0" or "<n>B"), then one
// frame a line.
func parseTraces(out string) []heapTrace {
	var ts []heapTrace
	var cur *heapTrace
	inBlock := false
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-----------+") {
			cur, inBlock = nil, true
			continue
		}
		f := strings.Fields(l)
		if !inBlock || len(f) == 0 || strings.HasSuffix(f[0], ":") {
			continue
		}
		if cur == nil {
			n := parseBytesB(f[0])
			if f[0] == "0" {
				n = 0
			}
			if n < 0 || len(f) < 2 {
				continue
			}
			ts = append(ts, heapTrace{Bytes: n})
			cur = &ts[len(ts)-1]
			f = f[1:]
		}
		cur.Frames = append(cur.Frames, strings.Join(f, " "))
	}
	return ts
}

// heapCause names what holds the bytes of one heap stack, from the frames
// on it. The order of the checks matters: the keyspace tree's nodes are
// allocated under the fsm's Apply, which is under raft's.
func heapCause(frames []string) string {
	has := func(prefix string) bool {
		for _, f := range frames {
			if strings.HasPrefix(f, prefix) {
				return true
			}
		}
		return false
	}
	const fsm = "github.com/redraft/redraft/fsm."
	switch {
	case has("github.com/tidwall/btree.") && has(fsm):
		return "keyspace B-tree nodes (fsm entries stored by value in node arrays)"
	case len(frames) > 0 && strings.HasPrefix(frames[0], fsm+"allocEntry"):
		return "key and value bytes (fsm, one allocation per string key)"
	case has(fsm):
		return "fsm, other (objects, expiry index, apply buffers)"
	case has("github.com/redraft/redraft/raftnode/wal."):
		return "write-ahead log buffers and entries in memory"
	case has("github.com/hashicorp/raft.") || has("github.com/redraft/redraft/raftnode."):
		return "raft: transport buffers, received entries, log cache"
	}
	return "other (runtime, servers, connections)"
}

// heapCauses sums the bytes of traces by cause, largest first.
func heapCauses(ts []heapTrace) []report.HeapCause {
	sum := map[string]int64{}
	for _, t := range ts {
		if t.Bytes > 0 {
			sum[heapCause(t.Frames)] += t.Bytes
		}
	}
	var cs []report.HeapCause
	for c, n := range sum {
		cs = append(cs, report.HeapCause{Cause: c, Bytes: n})
	}
	slices.SortFunc(cs, func(a, b report.HeapCause) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Cause, b.Cause))
	})
	return cs
}
