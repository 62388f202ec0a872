package report

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
)

// fakeResult makes a Result of ops/s throughput with latencies around p50.
func fakeResult(opsPerSec float64, p50 time.Duration) *loadgen.Result {
	r := &loadgen.Result{Latency: loadgen.NewHistogram(), Reads: loadgen.NewHistogram(), Writes: loadgen.NewHistogram(), Elapsed: time.Second}
	r.Ops = int64(opsPerSec)
	for i := range r.Ops {
		d := p50/2 + time.Duration(i)*p50/time.Duration(r.Ops)
		r.Latency.Record(d)
		r.Writes.Record(d)
	}
	r.Timeline = []int64{r.Ops / 2, r.Ops / 2}
	return r
}

func fakeResults() *Results {
	r := &Results{Mode: "quick", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r.Finished = r.Started.Add(3 * time.Minute)
	r.Machine = Machine{CPU: "Test CPU", Cores: 2, GoVersion: "go1.26", RedisVersion: "Redis 7", Redraft: "commit abc", Groups: 3,
		FsyncP50: 2 * time.Millisecond, FsyncP99: 5 * time.Millisecond}
	add := func(sys, sc string, ops float64, p50 time.Duration) {
		r.Runs = append(r.Runs, Run{System: sys, Scenario: sc, Result: fakeResult(ops, p50), Fsyncs: int64(ops / 10), ServerCPU: time.Duration(ops) * 20 * time.Microsecond})
	}
	add(RedisAsync, SetC50, 40000, time.Millisecond)
	add(RedisWait, SetC50, 8000, 5*time.Millisecond)
	add(Redraft, SetC50, 10000, 4*time.Millisecond) // 0.25× (a): missed; 1.25× (b): met
	add(RedisAsync, GetC50, 40000, time.Millisecond)
	add(Redraft, GetC50, 36000, time.Millisecond) // 0.9×: met
	add(RedisAsync, SetC1, 8000, 100*time.Microsecond)
	add(Redraft, SetC1, 2000, 400*time.Microsecond) // p50 ≈ 0.4 ms: met
	open := Run{System: Redraft, Scenario: OpenSet, Workload: loadgen.Workload{Rate: 500}, Result: fakeResult(500, 3*time.Millisecond), Fsyncs: -1}
	r.Runs = append(r.Runs, open)
	r.Runs = append(r.Runs, Run{System: RedisWait, Scenario: GetC1, Err: "boom"})
	for i, u := range []time.Duration{800 * time.Millisecond, 900 * time.Millisecond, 2500 * time.Millisecond} {
		r.Failovers = append(r.Failovers, Failover{System: Redraft, Run: i + 1, Unavailability: u, Acked: 1000, Checked: 1000, Timeline: []int64{5, 5, 0, 0, 5}, TimelineStart: -200 * time.Millisecond})
	}
	r.Failovers = append(r.Failovers, Failover{System: Sentinel1s, Run: 1, Unavailability: 2 * time.Second, Acked: 900, Checked: 900, Lost: 3, Timeline: []int64{5, 0, 5}})
	r.Memory = []Memory{
		{System: RedisAsync, Node: "master", Keys: 1000000, ValueSize: 16, UsedDelta: 80e6, RSSDelta: 90e6},
		{System: Redraft, Node: "n1 (leader)", Keys: 1000000, ValueSize: 16, UsedDelta: 150e6, RSSDelta: 200e6, LiveDelta: 120e6},
	}
	r.Heap = []HeapProfile{{System: Redraft, Node: "n1 (leader)", Keys: 1000000, File: "heap-keys-n1.pprof", Total: 125e6,
		Top:    []HeapLine{{Bytes: 100e6, Percent: 80, Symbol: "btree.nodeSet"}},
		Causes: []HeapCause{{Cause: "keyspace B-tree nodes", Bytes: 100e6}, {Cause: "other", Bytes: 25e6}}}}
	r.Restarts = []Timing{{System: Redraft, What: "restart", Keys: 1000000, Duration: 4 * time.Second}, {System: RedisAsync, What: "rdb", Keys: 1000000, Duration: time.Second}}
	r.RedisBenchmark = []RBRow{{System: RedisAsync, Command: "redis-benchmark -t set,get", Test: "SET", RPS: 30000}, {System: Redraft, Command: "redis-benchmark -t set,get", Test: "SET", RPS: 3000}}
	r.Profiles = []Profile{{Target: "SET", Scenario: SetC50, Node: "n1", Top: []ProfileLine{{Percent: 12.5, Symbol: "runtime.mallocgc", Object: "redraft"}},
		Syscalls: []SyscallLine{{Name: "fdatasync", Calls: 100, Total: 250 * time.Millisecond, Max: 9 * time.Millisecond}}, Window: time.Second}}
	r.Baseline = &Baseline{Dir: "results/old", Redraft: "commit old", Runs: []BaselineRun{{Scenario: SetC50, Throughput: 5000, P50: 8 * time.Millisecond}}}
	r.Commands = []string{"redis-server --port 1"}
	r.Notes = []string{"a note"}
	return r
}

func TestTargets(t *testing.T) {
	got := map[string]Target{}
	for _, tg := range Targets(fakeResults()) {
		got[tg.Measure] = tg
	}
	want := map[string]string{
		"SET throughput vs (a) Redis async, c=50":                 "no",
		"SET throughput vs (b) Redis fsync always + WAIT 1, c=50": "yes",
		"GET throughput (linearizable) vs (a), c=50":              "yes",
		"SET with P=16 vs (a), c=50":                              "n/a",
		"SET at c=1, p50 latency":                                 "yes",
		"unavailability after kill -9 of a leader":                "no", // max 2.5 s > 2 s
		"acknowledged writes lost at failover":                    "yes",
		"restart of a node with 1M keys, to serving":              "no",
		"memory per key vs Redis (16 B values), RSS":              "no", // 200/90 = 2.2×
	}
	for m, met := range want {
		tg, ok := got[m]
		if !ok {
			t.Errorf("no target %q", m)
			continue
		}
		if tg.Met != met {
			t.Errorf("%s: met %q, want %q (%+v)", m, tg.Met, met, tg)
		}
		if tg.Met == "no" && tg.Miss == "" {
			t.Errorf("%s: missed without saying by how much", m)
		}
	}
	if r := got["SET throughput vs (a) Redis async, c=50"].Ratio; r != "0.25×" {
		t.Errorf("ratio %q", r)
	}
	if s := got["acknowledged writes lost at failover"].Reference; !strings.Contains(s, "3 of 900") {
		t.Errorf("Redis's lost writes not shown beside: %q", s)
	}
}

func TestWriteReportAndPlots(t *testing.T) {
	dir := t.TempDir()
	r := fakeResults()
	if err := r.Save(filepath.Join(dir, ResultsFile)); err != nil {
		t.Fatal(err)
	}
	back, err := Load(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Run(Redraft, SetC50).Result.Latency.Quantile(0.5), r.Run(Redraft, SetC50).Result.Latency.Quantile(0.5); got != want {
		t.Fatalf("p50 after a JSON round trip: %v, want %v", got, want)
	}
	if err := Write(back, dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Targets", "## Machine", "Test CPU", "## Closed loop", "## Open loop", "## redis-benchmark",
		"## Failover", "## Many keys", "## Where the time goes", "runtime.mallocgc", "fdatasync", "## Exact commands",
		"redis-server --port 1",
		"| redraft | n1 (leader) | 1,000,000 | 16 B | 150 B | 120 B | 200 B |", "## Where the memory goes", "| keyspace B-tree nodes | 95.4 MiB | 100 B | 80.0% |",
		"| 95.4 MiB | 100 B | 80.00 | `btree.nodeSet` |", "[heap-keys-n1.pprof](heap-keys-n1.pprof)", "120 B/key live heap",
		"| set-c50 | redraft | 10k/s | 0.25× | 1.25× |", "| set-c50 | 5.00k/s | 10k/s | 2.00× |", "failed: boom", "![", "a note",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"cdf-set-c50.png", "throughput.png", "failover.png"} {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("plot %s: %v", f, err)
			continue
		}
		if _, err := png.Decode(fh); err != nil {
			t.Errorf("plot %s: %v", f, err)
		}
		fh.Close()
		if !strings.Contains(string(md), "("+f+")") {
			t.Errorf("report does not show %s", f)
		}
	}
	// No plot for a scenario without data.
	if _, err := os.Stat(filepath.Join(dir, "cdf-mix90-c50.png")); err == nil {
		t.Error("empty plot written")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtRate(36314), "36k/s"}, {fmtRate(3227), "3.23k/s"}, {fmtRate(298), "298/s"}, {fmtRate(1.5e6), "1.50M/s"},
		{fmtDur(92 * time.Microsecond), "0.092 ms"}, {fmtDur(2965 * time.Microsecond), "2.96 ms"}, {fmtDur(1272 * time.Millisecond), "1.27 s"},
		{fmtCount(1000000), "1,000,000"}, {fmtCount(-1234), "-1,234"}, {fmtCount(12), "12"},
		{fmtBytes(3 << 20), "3.0 MiB"}, {cell("a|b\nc"), "a\\|b c"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
