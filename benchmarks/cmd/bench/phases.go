package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"log"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
	"github.com/redraft/redraft/benchmarks/report"
	"github.com/redraft/redraft/benchmarks/systems"
)

// target is one system under load: where its commands go and which
// processes serve them.
type target struct {
	key    string
	router loadgen.Router
	procs  func() []*systems.Proc
	wait   bool   // WAIT 1 after writes
	addr   string // the RESP address for redis-benchmark (Redis: the master)
}

// scenario is one closed- or open-loop load.
type scenario struct {
	key  string
	desc string
	w    loadgen.Workload
}

const (
	smallKeys = 100_000 // keyspace of the 16 B scenarios (as redis-benchmark -r 100000)
	bigKeys   = 10_000  // keyspace of the 1 KiB scenarios
)

func (b *bench) scenarios() []scenario {
	return []scenario{
		{report.SetC1, "SET 16 B, c=1", loadgen.Workload{Conns: 1}},
		{report.GetC1, "GET 16 B, c=1", loadgen.Workload{Conns: 1, ReadRatio: 1}},
		{report.SetC50, "SET 16 B, c=50", loadgen.Workload{Conns: 50}},
		{report.GetC50, "GET 16 B, c=50", loadgen.Workload{Conns: 50, ReadRatio: 1}},
		{report.SetC50P16, "SET 16 B, c=50, P=16", loadgen.Workload{Conns: 50, Pipeline: 16}},
		{report.GetC50P16, "GET 16 B, c=50, P=16", loadgen.Workload{Conns: 50, Pipeline: 16, ReadRatio: 1}},
		{report.MixC50, "90% GET / 10% SET, c=50", loadgen.Workload{Conns: 50, ReadRatio: 0.9}},
		{report.SetC50KiB, "SET 1 KiB, c=50", loadgen.Workload{Conns: 50, ValueSize: 1024, Keyspace: bigKeys, KeyPrefix: "big:"}},
		{report.GetC50KiB, "GET 1 KiB, c=50", loadgen.Workload{Conns: 50, ReadRatio: 1, ValueSize: 1024, Keyspace: bigKeys, KeyPrefix: "big:"}},
		{report.OpenSet, fmt.Sprintf("SET 16 B at %.0f/s over 50 connections", b.cfg.openSetRate), loadgen.Workload{Conns: 50, Rate: b.cfg.openSetRate}},
		{report.OpenMix, fmt.Sprintf("90/10 GET/SET at %.0f/s over 50 connections", b.cfg.openMixRate), loadgen.Workload{Conns: 50, Rate: b.cfg.openMixRate, ReadRatio: 0.9}},
	}
}

// mainPhases starts (a), (b) and (d) side by side and runs the scenario
// matrix, the profiles, redis-benchmark and redraft's failovers on them.
func (b *bench) mainPhases(ctx context.Context) error {
	cfg := b.cfg
	dir := filepath.Join(cfg.tmp, "main")
	log.Printf("starting (a) Redis async, (b) Redis AOF always, (d) redraft")
	ra, err := systems.StartRedis(ctx, systems.RedisConfig{Bin: cfg.redisBin, Dir: filepath.Join(dir, "a"), Replicas: 2})
	if err != nil {
		return fmt.Errorf("start (a): %w", err)
	}
	defer ra.Stop()
	rb, err := systems.StartRedis(ctx, systems.RedisConfig{Bin: cfg.redisBin, Dir: filepath.Join(dir, "b"), Replicas: 2, AOFAlways: true})
	if err != nil {
		return fmt.Errorf("start (b): %w", err)
	}
	defer rb.Stop()
	rd, err := systems.StartRedraft(ctx, b.redraftConfig(filepath.Join(dir, "d")))
	if err != nil {
		return fmt.Errorf("start (d): %w", err)
	}
	defer rd.Stop()
	droute, err := loadgen.NewCluster(ctx, rd.Seeds()...)
	if err != nil {
		return err
	}
	b.res.Machine.LogStore = rd.LogStore()
	b.res.Systems = append(b.res.Systems,
		report.System{Key: report.RedisAsync, Name: "(a) Redis, 1 master + 2 replicas", Desc: "asynchronous replication, no persistence (save \"\", appendonly no)"},
		report.System{Key: report.RedisWait, Name: "(b) Redis, 1 master + 2 replicas, durable", Desc: "appendonly yes, appendfsync always on every node; the client sends WAIT 1 1000 after each batch of writes"},
		report.System{Key: report.Redraft, Name: fmt.Sprintf("(d) redraft, 3 nodes, %d group(s)", b.res.Machine.Groups), Desc: redraftDesc(b.res.Machine.LogStore)},
	)
	redisProcs := func(r *systems.Redis) func() []*systems.Proc {
		return func() []*systems.Proc {
			var ps []*systems.Proc
			for _, n := range r.Nodes() {
				if n.Proc != nil {
					ps = append(ps, n.Proc)
				}
			}
			return ps
		}
	}
	targets := []*target{
		{key: report.RedisAsync, router: loadgen.Static(ra.Master.Addr), procs: redisProcs(ra), addr: ra.Master.Addr},
		{key: report.RedisWait, router: loadgen.Static(rb.Master.Addr), procs: redisProcs(rb), wait: true, addr: rb.Master.Addr},
		{key: report.Redraft, router: droute, procs: func() []*systems.Proc {
			var ps []*systems.Proc
			for _, n := range rd.Nodes {
				if n.Proc != nil {
					ps = append(ps, n.Proc)
				}
			}
			return ps
		}},
	}
	for _, t := range targets {
		start := time.Now()
		if _, err := loadgen.Fill(ctx, t.router, "key:", 0, smallKeys, 16, 8, 1000); err != nil {
			return fmt.Errorf("fill %s: %w", t.key, err)
		}
		if _, err := loadgen.Fill(ctx, t.router, "big:", 0, bigKeys, 1024, 8, 100); err != nil {
			return fmt.Errorf("fill %s: %w", t.key, err)
		}
		log.Printf("%s: filled %d + %d keys in %v", t.key, smallKeys, bigKeys, time.Since(start).Round(time.Millisecond))
	}
	b.res.Notes = append(b.res.Notes, fmt.Sprintf("Before the scenarios each system holds %d keys of 16 B (key:000000000000...) and %d keys of 1 KiB (big:...), written by the load generator.", smallKeys, bigKeys))

	if cfg.phases["matrix"] {
		for _, sc := range b.scenarios() {
			// Systems back to back per scenario, so they share the machine's mood.
			for _, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.res.Runs = append(b.res.Runs, b.runScenario(ctx, t, sc))
			}
		}
	}
	if cfg.phases["profile"] && ctx.Err() == nil {
		b.profiles(ctx, rd, targets[2])
	}
	if cfg.phases["rb"] && ctx.Err() == nil {
		for _, t := range targets {
			b.redisBenchmark(ctx, t)
		}
	}
	if cfg.phases["failover"] && ctx.Err() == nil {
		b.redraftFailovers(ctx, rd, droute)
	}
	return nil
}

func (b *bench) redraftConfig(dir string, extra ...string) systems.RedraftConfig {
	flags := []string{"--log-level", "warn"}
	if b.cfg.logStore != "" {
		flags = append(flags, "--log-store", b.cfg.logStore)
	}
	return systems.RedraftConfig{Bin: b.cfg.redraftBin, Dir: dir, Groups: b.cfg.groups, Pprof: b.cfg.pprof,
		Extra: append(flags, extra...)}
}

// redraftDesc describes how system (d) keeps its log.
func redraftDesc(logStore string) string {
	if logStore == "wal" {
		return "raft logs of all groups of a node in one write-ahead log, one fdatasync per round for all of them; linearizable reads"
	}
	return "raft log of each group in its own bolt file, synced on every append; linearizable reads"
}

func cpuOf(procs []*systems.Proc) time.Duration {
	var total time.Duration
	for _, p := range procs {
		if c, err := p.CPUTime(); err == nil {
			total += c
		}
	}
	return total
}

// perfAvailable says, once, whether perf can count system calls here.
var perfAvailable = sync.OnceValue(perfOK)

// runScenario runs one scenario on one system, with the server CPU time
// and fsync count of the run scaled to its measured part.
func (b *bench) runScenario(ctx context.Context, t *target, sc scenario) report.Run {
	w := sc.w
	w.Warmup, w.Duration = b.cfg.warmup, b.cfg.measure
	w.Seed = uint64(time.Now().UnixNano())
	if t.wait && w.ReadRatio < 1 {
		w.WaitReplicas, w.WaitTimeout = 1, time.Second
	}
	run := report.Run{System: t.key, Scenario: sc.key, Desc: sc.desc, Workload: w, Fsyncs: -1}
	procs := t.procs()
	cpu0 := cpuOf(procs)
	var fc *syscallCounter
	if perfAvailable() && w.ReadRatio < 1 {
		fc = startFsyncCount(procs)
	}
	res, err := loadgen.Run(ctx, t.router, w)
	fsyncs := fc.stop()
	cpu := cpuOf(procs) - cpu0
	run.Result = res
	if err != nil {
		run.Err = err.Error()
	}
	if res != nil && res.Ops > 0 {
		var all int64
		for _, n := range res.Timeline {
			all += n
		}
		if all > 0 {
			scale := float64(res.Ops) / float64(all)
			run.ServerCPU = time.Duration(float64(cpu) * scale)
			if fsyncs >= 0 {
				run.Fsyncs = int64(float64(fsyncs) * scale)
			}
		}
		log.Printf("%-12s %-13s %9.0f ops/s  p50 %-9v p99 %-9v max %-9v errors %d", t.key, sc.key, res.Throughput(),
			res.Latency.Quantile(0.5).Round(time.Microsecond), res.Latency.Quantile(0.99).Round(time.Microsecond),
			res.Latency.Max().Round(time.Microsecond), res.Errors)
	} else {
		log.Printf("%-12s %-13s failed: %v", t.key, sc.key, err)
	}
	return run
}

// profiles samples the leader's CPU while the load of each missed target
// runs again: with the node's pprof endpoint when it has one (the profile
// is kept next to the report), else with perf record. perf trace adds the
// node's system calls, where the waiting for fsync shows.
func (b *bench) profiles(ctx context.Context, rd *systems.Redraft, t *target) {
	_, goErr := exec.LookPath("go")
	_, perfErr := exec.LookPath("perf")
	usePprof := b.cfg.pprof && goErr == nil
	if !usePprof && perfErr != nil {
		b.note("No CPU profiles: the redraft binary has no --pprof-addr and perf is not installed.")
		return
	}
	done := map[string]bool{}
	byKey := map[string]scenario{}
	for _, sc := range b.scenarios() {
		byKey[sc.key] = sc
	}
	for _, tg := range report.Targets(b.res) {
		if tg.Met != "no" || tg.Scenario == "" || done[tg.Scenario] || ctx.Err() != nil {
			continue
		}
		done[tg.Scenario] = true
		sc := byKey[tg.Scenario]
		pr := report.Profile{Target: tg.Measure, Scenario: sc.key + " (" + sc.desc + ")", Window: b.cfg.measure}
		node, _, err := rd.LeaderNode(ctx)
		if err != nil {
			pr.Err = err.Error()
			b.res.Profiles = append(b.res.Profiles, pr)
			continue
		}
		pr.Node = node.ID + " (leader)"
		w := sc.w
		w.Warmup, w.Duration = 0, pr.Window+time.Second
		var loadErr, traceErr error
		load := func() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				if perfErr != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // the profiler attaches first
				pr.Syscalls, traceErr = syscallTrace(ctx, node.Proc.Pid(), pr.Window-300*time.Millisecond)
			}()
			_, loadErr = loadgen.Run(ctx, t.router, w)
			<-done
		}
		log.Printf("profiling %s on %s", sc.key, node.ID)
		if usePprof {
			pr.File = "cpu-" + sc.key + ".pprof"
			pr.Top, pr.Inclusive, pr.Command, pr.Summary, err = pprofProfile(ctx, node.PprofAddr, pr.Window, filepath.Join(b.cfg.out, pr.File), load)
		} else {
			file := filepath.Join(b.cfg.tmp, "perf-"+sc.key+".data")
			pr.Top, pr.Inclusive, pr.Command, err = cpuProfile(ctx, node.Proc.Pid(), pr.Window, file, load)
		}
		for _, e := range []error{err, loadErr, traceErr} {
			if e != nil && pr.Err == "" {
				pr.Err = e.Error()
			}
		}
		b.res.Profiles = append(b.res.Profiles, pr)
	}
}

// redisBenchmark runs the reference redis-benchmark command lines.
func (b *bench) redisBenchmark(ctx context.Context, t *target) {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		b.note("redis-benchmark is not installed: reference command lines skipped.")
		return
	}
	n := b.cfg.rbN
	// Keep the run inside its time budget: estimate from the scenario matrix.
	if set, get := b.res.Run(t.key, report.SetC50), b.res.Run(t.key, report.GetC50); set != nil && get != nil && set.Result != nil && get.Result != nil &&
		set.Result.Throughput() > 0 && get.Result.Throughput() > 0 {
		perReq := 1/set.Result.Throughput() + 1/get.Result.Throughput()
		budget := 90.0
		if b.cfg.quick {
			budget = 15
		}
		if est := float64(n) * perReq; est > budget {
			m := int(budget/perReq) / 1000 * 1000
			m = max(m, 1000)
			b.note("redis-benchmark on %s: -n %d instead of %d, to stay inside the time budget (%.0f s expected at the throughput measured above).", t.key, m, n, est)
			n = m
		}
	}
	addr, cluster := t.addr, false
	if t.key == report.Redraft {
		// redis-benchmark --cluster wants at least two masters; with one,
		// it runs against that one.
		_ = t.router.Refresh(ctx)
		addrs := t.router.Addrs()
		addr, cluster = addrs[0], len(addrs) > 1
		if !cluster {
			b.note("redis-benchmark --cluster needs at least 2 masters; one redraft node led every group, so redis-benchmark ran against it (%s) without --cluster.", addr)
		}
	}
	host, port, _ := strings.Cut(addr, ":")
	for _, p := range []int{1, 16} {
		args := []string{"-h", host, "-p", port, "-t", "set,get", "-n", strconv.Itoa(n), "-c", "50", "-r", "100000", "-d", "16"}
		if p > 1 {
			args = append(args, "-P", strconv.Itoa(p))
		}
		if cluster {
			args = append(args, "--cluster")
		}
		line := "redis-benchmark " + strings.Join(args, " ")
		systems.Note(line + " --csv")
		rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		var stderr strings.Builder
		cmd := exec.CommandContext(rctx, "redis-benchmark", append(args, "--csv")...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		rows, perr := parseRBCSV(string(out))
		if err == nil {
			err = perr
		}
		if err != nil {
			err = fmt.Errorf("%w: %s", err, lastLine(stderr.String()+"\n"+string(out)))
		}
		if err != nil {
			b.res.RedisBenchmark = append(b.res.RedisBenchmark, report.RBRow{System: t.key, Command: line, Test: "SET,GET", Err: err.Error()})
			log.Printf("redis-benchmark %s: %v", t.key, err)
			continue
		}
		for _, r := range rows {
			r.System, r.Command = t.key, line
			b.res.RedisBenchmark = append(b.res.RedisBenchmark, r)
			log.Printf("redis-benchmark %-12s P=%-2d %s %9.0f req/s p50 %.3f ms", t.key, p, r.Test, r.RPS, r.P50MS)
		}
	}
}

// parseRBCSV reads redis-benchmark --csv output: a header row starting
// with "test", then one row per test. Other lines (--cluster prints the
// masters it found) are skipped.
func parseRBCSV(out string) ([]report.RBRow, error) {
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	col := map[string]int{}
	var rows []report.RBRow
	for _, rec := range recs {
		if len(rec) < 2 {
			continue
		}
		if rec[0] == "test" {
			for i, h := range rec {
				col[h] = i
			}
			continue
		}
		if len(col) == 0 {
			continue
		}
		get := func(name string) float64 {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return 0
			}
			v, _ := strconv.ParseFloat(rec[i], 64)
			return v
		}
		rows = append(rows, report.RBRow{Test: rec[0], RPS: get("rps"), AvgMS: get("avg_latency_ms"),
			P50MS: get("p50_latency_ms"), P99MS: get("p99_latency_ms"), MaxMS: get("max_latency_ms")})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("redis-benchmark printed no results: %q", lastLine(out))
	}
	return rows, nil
}
