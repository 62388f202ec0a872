package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redraft/redraft/benchmarks/report"
)

// describeMachine fills in what the report says about the machine.
func describeMachine(redraftBin, redisBin, probeDir string) report.Machine {
	m := report.Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				m.MemoryMiB = kb >> 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if bi, err := buildinfo.ReadFile(redraftBin); err == nil {
		m.GoVersion = bi.GoVersion
	} else {
		m.GoVersion = runtime.Version() + " (bench)"
	}
	if out, err := exec.Command(redisBin, "--version").Output(); err == nil {
		m.RedisVersion = strings.TrimSpace(string(out))
	}
	m.Redraft = gitDescribe() + binaryID(redraftBin)
	m.LoadStart = loadAvg()
	m.FsyncP50, m.FsyncP99, m.FsyncProbe = fsyncProbe(probeDir, 200)
	return m
}

func gitDescribe() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	s := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		s += " with uncommitted changes"
	}
	return s
}

// binaryID names the exact binary measured: the tree may have moved on
// since it was built.
func binaryID(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	st, _ := f.Stat()
	return fmt.Sprintf("; binary sha256 %x…, built %s", h.Sum(nil)[:6], st.ModTime().UTC().Format("2006-01-02 15:04 MST"))
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// fsyncProbe times n rounds of "write 4 KiB at the end of a file, then
// fdatasync" in dir, the way a log append is made durable.
func fsyncProbe(dir string, n int) (p50, p99 time.Duration, what string) {
	what = "4 KiB append + fdatasync, " + strconv.Itoa(n) + " rounds, in " + dir
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, 0, what + ": " + err.Error()
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var d []time.Duration
	for range n {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, 0, what + ": " + err.Error()
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, what + ": " + err.Error()
		}
		d = append(d, time.Since(t))
	}
	slices.Sort(d)
	return d[n/2], d[n*99/100], what
}
