package report

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
)

// System keys: the deployments compared.
const (
	RedisAsync      = "redis-async"      // (a) 1 master + 2 replicas, async, no persistence
	RedisWait       = "redis-wait"       // (b) same, appendfsync always + WAIT 1 after each write
	SentinelDefault = "sentinel-default" // (c) (a) + 3 Sentinels, default down-after (30 s)
	Sentinel1s      = "sentinel-1s"      // (c) (a) + 3 Sentinels, down-after-milliseconds 1000
	Redraft         = "redraft"          // (d) 3 nodes, data on disk with fsync
)

// Scenario keys of the load-generator runs.
const (
	SetC1     = "set-c1"
	GetC1     = "get-c1"
	SetC50    = "set-c50"
	GetC50    = "get-c50"
	SetC50P16 = "set-c50-p16"
	GetC50P16 = "get-c50-p16"
	MixC50    = "mix90-c50"
	SetC50KiB = "set-c50-1k"
	GetC50KiB = "get-c50-1k"
	OpenSet   = "open-set"
	OpenMix   = "open-mix90"
)

// Results is everything one benchmark run measured; results.json.gz holds it
// and the report is rendered from it alone.
type Results struct {
	Mode     string    `json:"mode"` // "full" or "quick"
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Systems  []System  `json:"systems"`

	Runs           []Run      `json:"runs"`
	RedisBenchmark []RBRow    `json:"redis_benchmark"`
	Failovers      []Failover `json:"failovers"`
	Memory         []Memory   `json:"memory"`
	Restarts       []Timing   `json:"restarts"`
	Syncs          []Timing   `json:"syncs"`
	Profiles       []Profile  `json:"profiles"`
	// Heap holds heap profiles of redraft nodes holding the many keys.
	Heap     []HeapProfile `json:"heap,omitempty"`
	Commands []string      `json:"commands"`
	Notes    []string      `json:"notes"`
	// Baseline holds redraft's figures from an earlier report, to show
	// before and after.
	Baseline *Baseline `json:"baseline,omitempty"`
}

// Baseline is redraft's part of an earlier run.
type Baseline struct {
	Dir     string    `json:"dir"`
	Started time.Time `json:"started"`
	Redraft string    `json:"redraft"`
	Groups  int       `json:"groups"`
	// LogStore is the earlier run's log store; results written before it
	// was recorded used "bolt".
	LogStore string        `json:"log_store"`
	Runs     []BaselineRun `json:"runs"`
}

// BaselineRun is one scenario of the baseline.
type BaselineRun struct {
	Scenario   string        `json:"scenario"`
	Throughput float64       `json:"throughput"`
	P50        time.Duration `json:"p50_ns"`
	P99        time.Duration `json:"p99_ns"`
}

// BaselineOf extracts redraft's figures from earlier results.
func BaselineOf(old *Results, dir string) *Baseline {
	b := &Baseline{Dir: dir, Started: old.Started, Redraft: old.Machine.Redraft, Groups: old.Machine.Groups,
		LogStore: old.Machine.LogStore}
	if b.LogStore == "" {
		b.LogStore = "bolt"
	}
	for _, r := range old.Runs {
		if r.System != Redraft || r.Result == nil || r.Result.Ops == 0 {
			continue
		}
		b.Runs = append(b.Runs, BaselineRun{Scenario: r.Scenario, Throughput: r.Result.Throughput(),
			P50: r.Result.Latency.Quantile(0.5), P99: r.Result.Latency.Quantile(0.99)})
	}
	return b
}

// Machine describes where the run happened.
type Machine struct {
	CPU          string        `json:"cpu"`
	Cores        int           `json:"cores"`
	MemoryMiB    int64         `json:"memory_mib"`
	Kernel       string        `json:"kernel"`
	GoVersion    string        `json:"go_version"`    // the toolchain that built redraft
	RedisVersion string        `json:"redis_version"` // redis-server --version
	Redraft      string        `json:"redraft"`       // commit, "+dirty" with uncommitted changes
	Groups       int           `json:"groups"`        // redraft groups (1 when --groups is not supported)
	LogStore     string        `json:"log_store"`     // where redraft kept its raft logs: "wal" or "bolt"
	FsyncP50     time.Duration `json:"fsync_p50_ns"`
	FsyncP99     time.Duration `json:"fsync_p99_ns"`
	FsyncProbe   string        `json:"fsync_probe"` // what was measured
	LoadStart    string        `json:"load_start"`  // /proc/loadavg at the start and end
	LoadEnd      string        `json:"load_end"`
}

// System is one deployment as started.
type System struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	Desc string `json:"desc"`
}

// Run is one load-generator run.
type Run struct {
	System   string           `json:"system"`
	Scenario string           `json:"scenario"`
	Desc     string           `json:"desc"`
	Workload loadgen.Workload `json:"workload"`
	Result   *loadgen.Result  `json:"result"`
	// ServerCPU is the CPU time all the system's server processes used
	// during the run; Fsyncs the fsync and fdatasync calls they made
	// (-1: not counted).
	ServerCPU time.Duration `json:"server_cpu_ns"`
	Fsyncs    int64         `json:"fsyncs"`
	Err       string        `json:"err,omitempty"`
}

// RBRow is one test of one redis-benchmark command line.
type RBRow struct {
	System  string  `json:"system"`
	Command string  `json:"command"`
	Test    string  `json:"test"` // SET, GET
	RPS     float64 `json:"rps"`
	AvgMS   float64 `json:"avg_ms"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
	Err     string  `json:"err,omitempty"`
}

// Failover is one kill -9 of the master or leader under a steady write load.
type Failover struct {
	System string `json:"system"`
	Run    int    `json:"run"`
	Killed string `json:"killed"` // which process
	// Unavailability is the longest any write was held up after the kill;
	// MaxGap the longest time without any acknowledgement after it.
	Unavailability time.Duration `json:"unavailability_ns"`
	MaxGap         time.Duration `json:"max_gap_ns"`
	Acked          int           `json:"acked"`   // acknowledged writes
	Checked        int           `json:"checked"` // of those, read back
	Lost           int           `json:"lost"`    // read back missing or wrong
	Failures       int64         `json:"failures"`
	Rate           float64       `json:"rate"` // offered writes per second
	// Timeline is acknowledgements per 100 ms, from TimelineStart relative
	// to the kill.
	Timeline      []int64       `json:"timeline"`
	TimelineStart time.Duration `json:"timeline_start_ns"`
	Err           string        `json:"err,omitempty"`
}

// Memory is the memory a node used for Keys keys.
type Memory struct {
	System    string `json:"system"`
	Node      string `json:"node"`
	Keys      int    `json:"keys"`
	ValueSize int    `json:"value_size"`
	UsedDelta int64  `json:"used_delta"` // INFO used_memory after minus before
	RSSDelta  int64  `json:"rss_delta"`  // process RSS after minus before
	UsedAfter int64  `json:"used_after"`
	RSSAfter  int64  `json:"rss_after"`
	// LiveDelta is used_memory right after a forced garbage collection
	// (the live heap), after minus before; 0: not measured. redraft's
	// used_memory is the Go heap allocated, which between collections also
	// counts garbage not yet collected.
	LiveDelta int64  `json:"live_delta,omitempty"`
	Err       string `json:"err,omitempty"`
}

// PerKeyUsed is used_memory per key.
func (m Memory) PerKeyUsed() float64 { return float64(m.UsedDelta) / float64(max(m.Keys, 1)) }

// PerKeyRSS is RSS per key.
func (m Memory) PerKeyRSS() float64 { return float64(m.RSSDelta) / float64(max(m.Keys, 1)) }

// PerKeyLive is the live heap per key (0: not measured).
func (m Memory) PerKeyLive() float64 { return float64(m.LiveDelta) / float64(max(m.Keys, 1)) }

// Timing is one timed event: a restart, a full sync.
type Timing struct {
	System   string        `json:"system"`
	What     string        `json:"what"`
	Keys     int           `json:"keys"`
	Duration time.Duration `json:"duration_ns"`
	// Listening is when the process first answered PING (restart).
	Listening time.Duration `json:"listening_ns"`
	Detail    string        `json:"detail"`
	Err       string        `json:"err,omitempty"`
}

// Profile is a CPU profile of redraft under the load of a missed target.
type Profile struct {
	Target   string `json:"target"`
	Scenario string `json:"scenario"`
	Node     string `json:"node"`
	Command  string `json:"command"`
	// Summary is the profiler's own line about the window (duration,
	// samples: the node's CPU use).
	Summary string `json:"summary,omitempty"`
	// File is the saved profile, next to the report, if any.
	File string `json:"file,omitempty"`
	// Top has the functions with the most self time, Inclusive those with
	// the most time including their callees.
	Top       []ProfileLine `json:"top"`
	Inclusive []ProfileLine `json:"inclusive"`
	// Syscalls are the node's system calls over Window (perf trace -s),
	// by total time, all threads together.
	Syscalls []SyscallLine `json:"syscalls"`
	Window   time.Duration `json:"window_ns"`
	Err      string        `json:"err,omitempty"`
}

// HeapProfile is a heap profile (bytes in use after a garbage collection)
// of a redraft node holding Keys keys.
type HeapProfile struct {
	System  string `json:"system"`
	Node    string `json:"node"`
	Keys    int    `json:"keys"`
	Command string `json:"command"`
	// File is the saved profile, next to the report.
	File string `json:"file,omitempty"`
	// Total is the bytes in use the profile accounts for (an estimate
	// from sampled allocations).
	Total int64 `json:"total"`
	// Top has the functions that allocated the most of the bytes in use,
	// Inclusive those with the most including their callees.
	Top       []HeapLine `json:"top"`
	Inclusive []HeapLine `json:"inclusive"`
	// Causes splits Total by what holds the bytes, from the stacks.
	Causes []HeapCause `json:"causes"`
	Err    string      `json:"err,omitempty"`
}

// HeapLine is one function of a heap profile.
type HeapLine struct {
	Bytes   int64   `json:"bytes"`
	Percent float64 `json:"percent"`
	Symbol  string  `json:"symbol"`
}

// HeapCause is the bytes in use for one cause.
type HeapCause struct {
	Cause string `json:"cause"`
	Bytes int64  `json:"bytes"`
}

// SyscallLine is one system call's count and time over a profile window.
type SyscallLine struct {
	Name  string        `json:"name"`
	Calls int64         `json:"calls"`
	Total time.Duration `json:"total_ns"`
	Max   time.Duration `json:"max_ns"`
}

// ProfileLine is one function of a profile: its share of the samples
// ("self", not including callees).
type ProfileLine struct {
	Percent float64 `json:"percent"`
	Symbol  string  `json:"symbol"`
	Object  string  `json:"object"`
}

// ResultsFile is the name of the saved results in a report's directory.
const ResultsFile = "results.json.gz"

// Save writes r as gzipped JSON (the histograms make it large).
func (r *Results) Save(path string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Load reads what Save wrote (or plain JSON).
func Load(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Run returns the run of scenario on system, or nil.
func (r *Results) Run(system, scenario string) *Run {
	for i := range r.Runs {
		if r.Runs[i].System == system && r.Runs[i].Scenario == scenario {
			return &r.Runs[i]
		}
	}
	return nil
}
