package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// CampaignConfig is one run: a cluster, a load, a nemesis, for Duration.
type CampaignConfig struct {
	Seed     uint64
	Duration time.Duration
	Nodes    int
	Groups   int
	// Network: "netns", "loopback" or "" (netns when available).
	Network    string
	ServerArgs []string
	// LogStore is the servers' --log-store ("": the server's default).
	LogStore string
	// ServerEnv is extra environment of every server process (planted
	// bugs: see raftnode/faultinject.go).
	ServerEnv []string
	Workload  WorkloadConfig
	Nemesis   NemesisConfig
	// StaleKeys is how many keys the follower-read probe uses.
	StaleKeys int
	// CheckWorkers and CheckTimeout bound the linearizability check.
	CheckWorkers int
	CheckTimeout time.Duration
}

// CampaignResult is what one run found.
type CampaignResult struct {
	Seed      uint64
	Network   string
	Nodes     int
	Groups    int
	LogStore  string
	Check     CheckResult
	Audit     AuditResult
	Staleness StalenessReport
	Faults    []FaultEvent
	Counts    map[string]int // client operations by kind/outcome
	Anomalies []string
	Errors    []string // run failures: no recovery, final reads failed, ...
}

// Failed reports whether the run found a violation or could not finish.
func (r *CampaignResult) Failed() bool {
	return len(r.Check.Illegal) > 0 || len(r.Audit.Lost) > 0 || len(r.Audit.Bogus) > 0 ||
		len(r.Staleness.Phantom) > 0 || len(r.Anomalies) > 0 || len(r.Errors) > 0
}

// Violations counts what no correct server does: keys whose history is
// not linearizable, reads of values never written, impossible follower
// reads and impossible replies. Lost writes are counted apart.
func (r *CampaignResult) Violations() int {
	return len(r.Check.Illegal) + len(r.Audit.Bogus) + len(r.Staleness.Phantom) + len(r.Anomalies)
}

// Summary is the run's report, several lines.
func (r *CampaignResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d nodes, %d groups, log store %s; network: %s\n", r.Seed, r.Nodes, r.Groups, r.LogStore, r.Network)
	fmt.Fprintf(&b, "  linearizability: %d operations on %d keys checked (%d with unknown outcome): %d keys not linearizable, %d undecided (checker timeout)\n",
		r.Check.Ops, r.Check.Keys, r.Check.Unknown, len(r.Check.Illegal), len(r.Check.TimedOut))
	fmt.Fprintf(&b, "  audit: %d acknowledged writes read back, %d lost, %d bogus\n", r.Audit.Audited, len(r.Audit.Lost), len(r.Audit.Bogus))
	fmt.Fprintf(&b, "  follower reads: %s\n", r.Staleness)
	kinds := map[string]int{}
	for _, f := range r.Faults {
		kinds[f.Kind]++
	}
	fmt.Fprintf(&b, "  faults injected: %d (%s)\n", len(r.Faults), fmtCounts(kinds))
	fmt.Fprintf(&b, "  verdict: %d violations (%d keys not linearizable, %d bogus reads, %d phantom follower reads, %d anomalies), %d lost writes, %d errors\n",
		r.Violations(), len(r.Check.Illegal), len(r.Audit.Bogus), len(r.Staleness.Phantom), len(r.Anomalies), len(r.Audit.Lost), len(r.Errors))
	fmt.Fprintf(&b, "  client operations: %s\n", fmtCounts(r.Counts))
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "  ERROR: %s\n", e)
	}
	for _, k := range head(r.Check.Illegal, 5) {
		fmt.Fprintf(&b, "  NOT LINEARIZABLE: key %s\n", k)
	}
	for _, a := range r.Check.Artifacts {
		fmt.Fprintf(&b, "  visualisation: %s\n", a)
	}
	for _, l := range head(r.Audit.Lost, 10) {
		fmt.Fprintf(&b, "  LOST: %s\n", l)
	}
	for _, l := range head(r.Audit.Bogus, 10) {
		fmt.Fprintf(&b, "  BOGUS: %s\n", l)
	}
	for _, l := range head(r.Staleness.Phantom, 5) {
		fmt.Fprintf(&b, "  PHANTOM READ: %s\n", l)
	}
	for _, l := range head(r.Anomalies, 10) {
		fmt.Fprintf(&b, "  ANOMALY: %s\n", l)
	}
	return b.String()
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func head(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Env is where a campaign runs: the binary, a scratch directory, the
// directory failures are written to, and a logger.
type Env struct {
	Bin     string
	Scratch string // removed by the caller
	OutDir  string // artifacts of a failed run go here
	Logf    func(string, ...any)
	// Cleanup registers a function to run when the test ends (t.Cleanup).
	Cleanup func(func())
	// KeepLogs saves the summary and node logs of passing runs too.
	KeepLogs bool
}

// RunCampaign runs one campaign and returns what it found. An error means
// the run could not be set up (no verdict).
func RunCampaign(env Env, cfg CampaignConfig) (*CampaignResult, error) {
	res := &CampaignResult{Seed: cfg.Seed, Nodes: cfg.Nodes, Groups: cfg.Groups, LogStore: cfg.LogStore}
	if res.LogStore == "" {
		res.LogStore = "default"
	}
	args := cfg.ServerArgs
	if cfg.LogStore != "" {
		args = append(append([]string(nil), args...), "--log-store", cfg.LogStore)
	}
	nw, err := openNetwork(cfg.Network, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	env.Cleanup(func() {
		if err := nw.Close(); err != nil {
			env.Logf("removing the network: %v", err)
		}
	})
	res.Network = nw.Describe()
	env.Logf("seed %d: %s", cfg.Seed, res.Network)
	kinds := cfg.Nemesis.Kinds
	if !nw.CanPartition() {
		kinds = slicesWithout(kinds, partitionFaults)
		cfg.Nemesis.Kinds = kinds
	}

	setupCtx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartCluster(setupCtx, env.Bin, filepath.Join(env.Scratch, "data"), nw, ClusterConfig{Nodes: cfg.Nodes, Groups: cfg.Groups, Args: args, Env: cfg.ServerEnv}, env.Logf)
	// Processes die before the network and directories go.
	if c != nil {
		env.Cleanup(c.KillAll)
	}
	if err != nil {
		return nil, err
	}
	addrs := make([]string, c.N())
	ids := make([]string, c.N())
	for i, n := range c.Nodes() {
		addrs[i], ids[i] = n.RESPAddr, n.ID
	}

	hist := newHistory()
	wl := newWorkload(cfg.Workload, addrs, hist, cfg.Seed)
	probe := newStalenessProbe(addrs, ids, hist, cfg.StaleKeys, 25*time.Millisecond, cfg.Workload.GenPeriod, cfg.Seed, wl.newClientID)
	nem := newNemesis(c, cfg.Nemesis, cfg.Seed, hist, env.Scratch, env.Logf)

	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); wl.Run(loadCtx) }()
	go func() { defer wg.Done(); probe.Run(loadCtx) }()

	nemCtx, stopNem := context.WithTimeout(context.Background(), 3*cfg.Duration)
	nemErr := nem.Run(nemCtx, cfg.Duration)
	stopNem()
	if nemErr != nil {
		res.Errors = append(res.Errors, nemErr.Error())
	}
	healCtx, cancelHeal := context.WithTimeout(context.Background(), 2*cfg.Nemesis.Recover)
	defer cancelHeal()
	if err := nem.HealAll(healCtx); err != nil {
		res.Errors = append(res.Errors, "heal: "+err.Error())
	}
	healthy := c.WaitHealthy(healCtx, cfg.Nemesis.Recover)
	if healthy != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("cluster not healthy %v after healing: %v", cfg.Nemesis.Recover, healthy))
	}
	// A moment of load on the healed cluster, then stop.
	sleepCtx(healCtx, time.Second)
	stopLoad()
	wg.Wait()
	res.Faults = nem.Events()
	res.Staleness = probe.Report()

	wl.mu.Lock()
	res.Counts = wl.counts
	res.Anomalies = append([]string(nil), wl.anomalies...)
	wl.mu.Unlock()

	if healthy == nil {
		finalCtx, cancelFinal := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancelFinal()
		if err := wl.FinalReads(finalCtx, hist.Close()); err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		ops := hist.Close()
		audit, err := wl.Audit(finalCtx, ops)
		res.Audit = audit
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		outDir := filepath.Join(env.OutDir, fmt.Sprintf("seed-%d", cfg.Seed))
		res.Check = checkHistory(ops, res.Faults, cfg.CheckWorkers, cfg.CheckTimeout, outDir)
		if len(res.Check.Illegal) == 0 {
			os.RemoveAll(outDir)
		}
	}
	if res.Failed() || env.KeepLogs {
		saveRun(env, c, res, hist.Close())
	}
	return res, nil
}

// saveRun writes the seed, the summary, the fault timeline and every
// node's log to the run's output directory.
func saveRun(env Env, c *Cluster, res *CampaignResult, ops []Op) {
	dir := filepath.Join(env.OutDir, fmt.Sprintf("seed-%d", res.Seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		env.Logf("cannot write the failure's artifacts: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d\nrepeat: go test ./tests/robustness -run TestCampaign -v -args -robust.seed %d\n\n", res.Seed, res.Seed)
	b.WriteString(res.Summary())
	b.WriteString("\nfaults:\n")
	for _, f := range res.Faults {
		b.WriteString("  " + f.String() + "\n")
	}
	_ = os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String()), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "seed"), []byte(fmt.Sprintf("%d\n", res.Seed)), 0o644)
	// The whole history, by invocation time: call, return (? for unknown
	// outcome), client, node that answered, operation.
	sort.Slice(ops, func(a, b int) bool { return ops[a].Call < ops[b].Call })
	var hb strings.Builder
	for _, op := range ops {
		ret := fmt.Sprintf("%.6f", float64(op.Return)/1e9)
		if op.Unknown {
			ret = "?"
		}
		fmt.Fprintf(&hb, "%.6f %s c%d %s %s\n", float64(op.Call)/1e9, ret, op.Client, op.Node, op.describe())
	}
	_ = os.WriteFile(filepath.Join(dir, "history.txt"), []byte(hb.String()), 0o644)
	for _, n := range c.Nodes() {
		if data, err := os.ReadFile(n.LogPath); err == nil {
			_ = os.WriteFile(filepath.Join(dir, n.ID+".log"), data, 0o644)
		}
	}
	env.Logf("artifacts (seed, summary, node logs, visualisations) in %s", dir)
}

func openNetwork(kind string, n int) (Network, error) {
	switch kind {
	case "loopback":
		return newLoopbackNet(n)
	case "netns":
		return newNetnsNet(n)
	case "", "auto":
		if err := netnsAvailable(); err != nil {
			return newLoopbackNet(n)
		}
		nw, err := newNetnsNet(n)
		if err != nil {
			return nil, fmt.Errorf("network namespaces: %w (run with -robust.net loopback to go without partitions)", err)
		}
		return nw, nil
	}
	return nil, fmt.Errorf("unknown network %q (netns, loopback or auto)", kind)
}

func slicesWithout(s, drop []string) []string {
	var out []string
	for _, x := range s {
		keep := true
		for _, d := range drop {
			keep = keep && x != d
		}
		if keep {
			out = append(out, x)
		}
	}
	return out
}

// shapeFor picks the cluster's shape for a seed when not fixed by flags:
// 3 or 5 nodes, 1 to 4 groups, and the log store (the node-wide WAL or a
// bolt file per group), alternating by seed so that both are exercised.
func shapeFor(seed uint64) (nodes, groups int, logStore string) {
	r := rand.New(rand.NewPCG(seed, 0x73686170))
	nodes = []int{3, 3, 5}[r.IntN(3)]
	groups = 1 + r.IntN(4)
	return nodes, groups, []string{"wal", "bolt"}[seed%2]
}
