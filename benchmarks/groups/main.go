// Command groups measures what the number of raft groups costs: the idle
// CPU of a node hosting N groups, and SET throughput with N groups.
//
// For every group count it starts a 3-node cluster of real `redraft server`
// processes on loopback (default raft timings unless -server-flags says
// otherwise, every node a replica of every group), waits until every slot has a leader and leadership is
// spread, then
//
//   - idle: reads each node's CPU time (utime+stime from /proc/PID/stat)
//     over -idle while no client is connected, and reports the mean per
//     node as a percentage of one core;
//   - set: runs -clients go-redis cluster-client goroutines doing SET of
//     random keys (16-byte values) for -set, and reports operations per
//     second, latency percentiles, the CPU the three servers used together
//     (per second and per SET) and the failed SETs by error.
//
// Usage:
//
//	go run ./benchmarks/groups -idle-groups 3,12,48 -set-groups 1,3,12
//
// The figures depend on the machine and on whatever else runs on it; the
// program prints its parameters with the results.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	flagBin        = flag.String("redraft-bin", "", "redraft binary (empty: build one)")
	flagIdleGroups = flag.String("idle-groups", "3,12,48", "group counts to measure idle CPU with")
	flagSetGroups  = flag.String("set-groups", "1,3,12", "group counts to measure SET throughput with")
	flagIdle       = flag.Duration("idle", 10*time.Second, "idle CPU measurement window")
	flagSet        = flag.Duration("set", 10*time.Second, "SET load duration")
	flagClients    = flag.Int("clients", 64, "concurrent SET clients")
	flagVerbose    = flag.Bool("v", false, "show the servers' output")
	flagServer     = flag.String("server-flags", "", "more flags for every `redraft server`, space-separated (e.g. \"--heartbeat-timeout 1s\")")
)

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func main() {
	flag.Parse()
	redis.SetLogger(quiet{}) // it dials the nodes before they listen
	bin := *flagBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "redraft-groups-bench-")
		check(err)
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "redraft")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/redraft/redraft/cmd/redraft")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		check(cmd.Run())
	}
	fmt.Printf("machine: %d CPUs, %s/%s; load average at start: %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, loadAvg())
	timings := "default raft timings"
	if *flagServer != "" {
		timings = "server flags " + *flagServer
	}
	fmt.Printf("cluster: 3 nodes on loopback, %s, 3 replicas per group\n\n", timings)

	fmt.Printf("idle CPU over %v, per node (%% of one core):\n", *flagIdle)
	for _, n := range ints(*flagIdleGroups) {
		c := start(bin, n)
		cpu := c.idleCPU(*flagIdle)
		c.stop()
		fmt.Printf("  %3d groups: mean %5.2f%%  (nodes: %s)\n", n, mean(cpu), fmtPcts(cpu))
	}
	fmt.Printf("\nSET throughput, %d clients, %v, 16-byte values, random keys:\n", *flagClients, *flagSet)
	for _, n := range ints(*flagSetGroups) {
		c := start(bin, n)
		cpu0, t0 := c.cpuTotal(), time.Now()
		ops, lat, errs := c.setLoad(*flagClients, *flagSet)
		cpu, el := c.cpuTotal()-cpu0, time.Since(t0).Seconds()
		c.stop()
		fmt.Printf("  %3d groups: %8.0f SET/s  p50 %6.2f ms  p99 %6.2f ms  servers' CPU %4.0f%% of a core, %4.0f µs per SET  errors: %s\n", n, ops,
			ms(lat, 0.50), ms(lat, 0.99), 100*cpu/el, 1e6*cpu/(ops*el), errs)
	}
	fmt.Printf("\nload average at end: %s\n", loadAvg())
}

type cluster struct {
	dir   string
	nodes []*node
}

type node struct {
	id, resp string
	cmd      *exec.Cmd
}

func start(bin string, groups int) *cluster {
	dir, err := os.MkdirTemp("", "redraft-groups-")
	check(err)
	c := &cluster{dir: dir}
	ports := freePorts(9)
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("n%d=127.0.0.1:%d", i+1, ports[3*i+2]))
	}
	for i := range 3 {
		id := fmt.Sprintf("n%d", i+1)
		nd := &node{id: id, resp: fmt.Sprintf("127.0.0.1:%d", ports[3*i])}
		nd.cmd = exec.Command(bin, "server", "--id", id, "--dir", filepath.Join(dir, id),
			"--resp-addr", nd.resp,
			"--grpc-addr", fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			"--peer-addr", fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			"--initial-cluster", strings.Join(initial, ","),
			"--groups", strconv.Itoa(groups), "--log-level", "warn")
		nd.cmd.Args = append(nd.cmd.Args, strings.Fields(*flagServer)...)
		if *flagVerbose {
			nd.cmd.Stdout, nd.cmd.Stderr = os.Stderr, os.Stderr
		}
		nd.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		check(nd.cmd.Start())
		c.nodes = append(c.nodes, nd)
	}
	c.waitReady(groups)
	return c
}

// waitReady waits until every node says cluster_state:ok and every node
// leads at most ceil(groups/3) groups.
func (c *cluster) waitReady(groups int) {
	limit := (groups + 2) / 3
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok := true
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		for _, nd := range c.nodes {
			cl := redis.NewClient(&redis.Options{Addr: nd.resp, MaxRetries: -1})
			info, err := cl.ClusterInfo(ctx).Result()
			repl, err2 := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") {
				ok = false
				break
			}
			if strings.Count(repl, ":role=leader") > limit+boolInt(strings.Contains(repl, "group_meta:role=leader")) {
				ok = false
			}
		}
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.stop()
			fmt.Fprintln(os.Stderr, "cluster not ready within 2 minutes")
			os.Exit(1)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *cluster) stop() {
	for _, nd := range c.nodes {
		nd.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, nd := range c.nodes {
		done := make(chan struct{})
		go func() { nd.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			nd.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(c.dir)
}

// idleCPU returns each node's CPU use over d, in percent of one core, after
// a few seconds for start-up work (elections, balancing) to finish.
func (c *cluster) idleCPU(d time.Duration) []float64 {
	time.Sleep(3 * time.Second) // let start-up work settle before measuring
	before := make([]float64, len(c.nodes))
	for i, nd := range c.nodes {
		before[i] = cpuSeconds(nd.cmd.Process.Pid)
	}
	t0 := time.Now()
	time.Sleep(d) // the measurement window
	el := time.Since(t0).Seconds()
	out := make([]float64, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = 100 * (cpuSeconds(nd.cmd.Process.Pid) - before[i]) / el
	}
	return out
}

// cpuTotal is the CPU time all the cluster's servers have used so far.
func (c *cluster) cpuTotal() float64 {
	t := 0.0
	for _, nd := range c.nodes {
		t += cpuSeconds(nd.cmd.Process.Pid)
	}
	return t
}

// cpuSeconds is utime+stime of a process, from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	const clkTck = 100 // USER_HZ on Linux
	return (ut + st) / clkTck
}

// setLoad runs clients goroutines doing SET for d and returns ops/s, the
// sorted latencies of the SETs that succeeded and the failures by kind.
func (c *cluster) setLoad(clients int, d time.Duration) (float64, []time.Duration, string) {
	var addrs []string
	for _, nd := range c.nodes {
		addrs = append(addrs, nd.resp)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, PoolSize: clients, MaxRedirects: 16})
	defer cc.Close()
	ctx := context.Background()
	val := strings.Repeat("v", 16)
	var ops atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	errs := &errCounts{n: map[string]int{}}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var mine []time.Duration
			for time.Now().Before(stop) {
				k := "bench:" + strconv.FormatUint(rng.Uint64()%1_000_000, 10)
				t := time.Now()
				if err := cc.Set(ctx, k, val, 0).Err(); err != nil {
					errs.note(err)
					continue
				}
				mine = append(mine, time.Since(t))
				ops.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	wg.Wait()
	slices.Sort(lat)
	return float64(ops.Load()) / time.Since(t0).Seconds(), lat, errs.String()
}

// errCounts counts failed SETs by the first word of the error.
type errCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *errCounts) note(err error) {
	kind, _, _ := strings.Cut(err.Error(), " ")
	e.mu.Lock()
	e.n[kind]++
	e.mu.Unlock()
}

// String lists the counts, most frequent first; "none" when there were none.
func (e *errCounts) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.n) == 0 {
		return "none"
	}
	kinds := slices.Collect(maps.Keys(e.n))
	slices.SortFunc(kinds, func(a, b string) int { return e.n[b] - e.n[a] })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, e.n[k]))
	}
	return strings.Join(parts, ", ")
}

func ms(lat []time.Duration, q float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func fmtPcts(xs []float64) string {
	var parts []string
	for _, x := range xs {
		parts = append(parts, fmt.Sprintf("%.2f%%", x))
	}
	return strings.Join(parts, " ")
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			n, err := strconv.Atoi(f)
			check(err)
			out = append(out, n)
		}
	}
	return out
}

func freePorts(n int) []int {
	var lns []net.Listener
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "groups:", err)
		os.Exit(1)
	}
}
