package robustness

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
)

var (
	flagSeed     = flag.Uint64("robust.seed", 0, "seed of the first run (0: from the clock)")
	flagSeeds    = flag.Int("robust.seeds", 1, "number of runs (seeds seed, seed+1, ...)")
	flagDuration = flag.Duration("robust.duration", 40*time.Second, "how long faults are injected in each run")
	flagLong     = flag.Bool("robust.long", false, "the long campaign's profile: more load, longer faults, every fault kind in every run, cluster shape (3 or 5 nodes, 1-4 groups) chosen by seed")
	flagNodes    = flag.Int("robust.nodes", 0, "nodes per cluster (0: 3, or by seed with -robust.long)")
	flagGroups   = flag.Int("robust.groups", 0, "raft groups (0: 3, or by seed with -robust.long)")
	flagLogStore = flag.String("robust.log-store", "", "the servers' --log-store: wal or bolt (default: the server's default, or by seed with -robust.long)")
	flagNet      = flag.String("robust.net", "auto", "network: netns, loopback or auto (netns when running as root with ip netns)")
	flagFaults   = flag.String("robust.faults", "", "comma-separated fault kinds (default: all): "+strings.Join(allFaults, ","))
	flagKeep     = flag.Bool("robust.keep", false, "save the summary and node logs of passing runs too")
	flagOut      = flag.String("robust.out", "", "directory for the artifacts of failed runs (default $REDRAFT_ROBUST_OUT or $TMPDIR/redraft-robustness)")
)

// serverArgs are the raft timings of every campaign: elections well under
// a second, requests that give up quickly while a group has no leader, and
// snapshots (with a short log kept behind them) often enough that restarts
// and lagging followers go through snapshot installs.
var serverArgs = []string{
	"--heartbeat-timeout", "400ms",
	"--election-timeout", "400ms",
	"--request-timeout", "2s",
	"--snapshot-threshold", "256",
	"--trailing-logs", "64",
	"--snapshot-interval", "500ms",
}

// campaignConfig is the configuration of the run with the given seed.
func campaignConfig(seed uint64) CampaignConfig {
	lists := fsm.Lookup([]byte("rpush")) != nil && fsm.Lookup([]byte("lrange")) != nil
	cfg := CampaignConfig{
		Seed:       seed,
		Duration:   *flagDuration,
		Nodes:      3,
		Groups:     3,
		Network:    *flagNet,
		ServerArgs: serverArgs,
		Workload: WorkloadConfig{
			Workers:      4,
			Think:        8 * time.Millisecond,
			GenPeriod:    5 * time.Second,
			RegisterKeys: 6,
			OpBudget:     4 * time.Second,
		},
		Nemesis: NemesisConfig{
			Kinds:    defaultFaults,
			HoldMin:  time.Second,
			HoldMax:  4 * time.Second,
			QuietMin: 500 * time.Millisecond,
			QuietMax: 1500 * time.Millisecond,
			Recover:  30 * time.Second,
		},
		StaleKeys:    4,
		CheckWorkers: 2,
		CheckTimeout: 30 * time.Second,
	}
	if lists {
		cfg.Workload.ListKeys = 3
	}
	if *flagLong {
		cfg.Nodes, cfg.Groups, cfg.LogStore = shapeFor(seed)
		cfg.Workload.Workers = 6
		cfg.Workload.Think = 5 * time.Millisecond
		cfg.Nemesis.HoldMax = 6 * time.Second
		cfg.Nemesis.QuietMax = 2 * time.Second
		cfg.Nemesis.Recover = 60 * time.Second
		cfg.Nemesis.EveryKind = true
	}
	if *flagNodes > 0 {
		cfg.Nodes = *flagNodes
	}
	if *flagGroups > 0 {
		cfg.Groups = *flagGroups
	}
	if *flagLogStore != "" {
		cfg.LogStore = *flagLogStore
	}
	if *flagFaults != "" {
		cfg.Nemesis.Kinds = strings.Split(*flagFaults, ",")
	}
	return cfg
}

// TestCampaign runs -robust.seeds campaigns (one by default, about a
// minute in all) and fails on any linearizability violation, lost
// acknowledged write, impossible follower read, or a cluster that does not
// recover from a fault.
func TestCampaign(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	var (
		ops, unknown, audited, lost, violations, faults, failed int
		kinds                                                   = map[string]int{}
		shapes                                                  = map[string]int{}
	)
	for k := 0; k < *flagSeeds; k++ {
		s := seed + uint64(k)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			t.Logf("seed %d (repeat with: go test ./tests/robustness -run TestCampaign -v -args -robust.seed %d%s)", s, s, longFlag())
			cfg := campaignConfig(s)
			env := Env{
				Bin:      redraftBin,
				Scratch:  t.TempDir(),
				OutDir:   outDir(),
				Logf:     t.Logf,
				Cleanup:  t.Cleanup,
				KeepLogs: *flagKeep,
			}
			start := time.Now()
			res, err := RunCampaign(env, cfg)
			if err != nil {
				failed++
				t.Fatalf("seed %d: %v", s, err)
			}
			t.Logf("finished in %v\n%s", time.Since(start).Round(time.Second), res.Summary())
			ops += res.Check.Ops
			unknown += res.Check.Unknown
			audited += res.Audit.Audited
			lost += len(res.Audit.Lost)
			violations += res.Violations()
			faults += len(res.Faults)
			for _, f := range res.Faults {
				kinds[f.Kind]++
			}
			shapes[fmt.Sprintf("%dn/%dg/%s", res.Nodes, res.Groups, res.LogStore)]++
			if res.Failed() {
				failed++
				t.Errorf("seed %d FAILED (artifacts in %s/seed-%d)", s, env.OutDir, s)
			}
		})
	}
	t.Logf("campaign: seeds %d..%d: %d runs, %d failed; %d operations checked (%d unknown outcome); %d violations; %d acknowledged writes audited, %d lost; %d faults injected (%s); clusters (nodes/groups/log store): %s",
		seed, seed+uint64(*flagSeeds)-1, *flagSeeds, failed, ops, unknown, violations, audited, lost, faults, fmtCounts(kinds), fmtCounts(shapes))
}

func longFlag() string {
	if *flagLong {
		return " -robust.long"
	}
	return ""
}
