package robustness

import (
	"flag"
	"path/filepath"
	"testing"
	"time"
)

var flagPlantedDuration = flag.Duration("robust.planted-duration", 15*time.Second, "how long faults are injected in each planted-bug run")

// TestPlantedBugs shows that the campaign catches the bugs it exists to
// catch: it plants each bug in the servers (raftnode/faultinject.go, by
// $REDRAFT_FAULT_INJECT) and runs a short campaign that must FAIL with the
// kind of finding the bug causes. TestCampaign, the same campaign without
// a planted bug, must pass; together they show the checker is neither
// blind nor failing everything.
//
//   - local-reads (the read check skipped: any replica answers reads from
//     its own state) must give keys that are not linearizable;
//   - early-ack (a SET acknowledged before it commits) must give keys that
//     are not linearizable or acknowledged writes that are lost.
//
// The nemesis is limited to the faults that depose a leader (pause,
// isolate-leader, kill) so that a short run has several of them.
func TestPlantedBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no planted-bug campaigns")
	}
	bugs := []struct {
		name   string
		caught func(*CampaignResult) bool
	}{
		{"local-reads", func(r *CampaignResult) bool { return len(r.Check.Illegal) > 0 }},
		{"early-ack", func(r *CampaignResult) bool { return len(r.Check.Illegal) > 0 || len(r.Audit.Lost) > 0 }},
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	for k, bug := range bugs {
		s := seed + uint64(k)
		t.Run(bug.name, func(t *testing.T) {
			t.Logf("planted bug %s, seed %d (repeat with: go test ./tests/robustness -run 'TestPlantedBugs/%s' -v -args -robust.seed %d)", bug.name, s, bug.name, s-uint64(k))
			cfg := campaignConfig(s)
			cfg.Duration = *flagPlantedDuration
			cfg.Nodes, cfg.Groups = 3, 2
			cfg.ServerEnv = []string{"REDRAFT_FAULT_INJECT=" + bug.name}
			cfg.Nemesis.Kinds = []string{faultPause, faultIsolate, faultKill}
			cfg.Nemesis.EveryKind = false
			cfg.Nemesis.HoldMax = 3 * time.Second
			// The verdict is all this run is for: an undecided key need
			// not be waited for.
			cfg.CheckTimeout = 10 * time.Second
			// The failure is expected: its artifacts are kept only with
			// -robust.keep.
			out := t.TempDir()
			if *flagKeep {
				out = filepath.Join(outDir(), "planted-"+bug.name)
			}
			env := Env{
				Bin:     redraftBin,
				Scratch: t.TempDir(),
				OutDir:  out,
				Logf:    t.Logf,
				Cleanup: t.Cleanup,
			}
			start := time.Now()
			res, err := RunCampaign(env, cfg)
			if err != nil {
				t.Fatalf("seed %d: %v", s, err)
			}
			t.Logf("finished in %v\n%s", time.Since(start).Round(time.Second), res.Summary())
			if !bug.caught(res) {
				t.Errorf("planted bug %s NOT CAUGHT (seed %d): the campaign must find it", bug.name, s)
			}
		})
	}
}
