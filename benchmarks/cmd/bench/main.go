// Command bench runs redraft's benchmarks against Redis and writes
// benchmarks/results/<date>/report.md with its plots and results.json.gz.
//
//	go run ./benchmarks/cmd/bench -redraft-bin bin/redraft            # full, ~12 min
//	go run ./benchmarks/cmd/bench -redraft-bin bin/redraft -quick     # < 3 min
//	go run ./benchmarks/cmd/bench -render benchmarks/results/<date>   # report again from results.json.gz
//
// It starts every system itself on 127.0.0.1 with temporary directories,
// and stops them, also when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redraft/redraft/benchmarks/report"
	"github.com/redraft/redraft/benchmarks/systems"
)

// config is what the flags chose.
type config struct {
	quick      bool
	redraftBin string
	redisBin   string
	groups     int
	logStore   string // redraft --log-store; "": not passed (the server's default)
	pprof      bool   // the binary serves pprof with --pprof-addr
	baseline   string
	out        string
	tmp        string
	phases     map[string]bool

	warmup, measure time.Duration
	keys            int // keys for the memory, restart and sync phase
	rbN             int // redis-benchmark -n
	failoverRuns    int // redraft kills
	sentinelRuns    int // Sentinel (1 s) kills
	sentinelDefault bool
	openSetRate     float64
	openMixRate     float64
}

var allPhases = []string{"matrix", "profile", "rb", "failover", "keys"}

func main() {
	var (
		quick   = flag.Bool("quick", false, "short runs, fewer keys (under 3 minutes)")
		bin     = flag.String("redraft-bin", "bin/redraft", "redraft binary")
		redis   = flag.String("redis-bin", "redis-server", "redis-server binary")
		groups  = flag.Int("groups", -1, "redraft --groups (-1: 3 when the binary supports --groups, else not passed)")
		store   = flag.String("log-store", "", "redraft --log-store, wal or bolt (empty: not passed; the server's default for a new node)")
		out     = flag.String("out", "benchmarks/results", "results root; the run writes <out>/<date>[-quick]/")
		only    = flag.String("only", strings.Join(allPhases, ","), "phases to run: "+strings.Join(allPhases, ","))
		render  = flag.String("render", "", "only render the report from <dir>/"+report.ResultsFile)
		measure = flag.Duration("measure", 0, "measured time per scenario (default 4s, quick 1s)")
		base    = flag.String("baseline", "auto", "earlier results directory to compare redraft with (auto: the latest of the same mode under -out; none: no comparison)")
	)
	flag.Parse()
	log.SetFlags(log.Ltime)
	if *render != "" {
		r, err := report.Load(filepath.Join(*render, report.ResultsFile))
		if err != nil {
			log.Fatal(err)
		}
		if err := report.Write(r, *render); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", filepath.Join(*render, "report.md"))
		return
	}
	cfg := config{quick: *quick, redraftBin: *bin, redisBin: *redis, logStore: *store, phases: map[string]bool{}}
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.phases[p] = true
		}
	}
	if cfg.quick {
		cfg.warmup, cfg.measure = 300*time.Millisecond, time.Second
		cfg.keys, cfg.rbN = 100_000, 20_000
		cfg.failoverRuns, cfg.sentinelRuns = 2, 1
	} else {
		cfg.warmup, cfg.measure = time.Second, 4*time.Second
		cfg.keys, cfg.rbN = 1_000_000, 200_000
		cfg.failoverRuns, cfg.sentinelRuns, cfg.sentinelDefault = 5, 3, true
	}
	if *measure > 0 {
		cfg.measure = *measure
	}
	cfg.openSetRate, cfg.openMixRate = 500, 2000
	cfg.baseline = *base
	if err := run(&cfg, *groups, *out); err != nil {
		log.Fatal(err)
	}
}

func run(cfg *config, groups int, outRoot string) error {
	var err error
	if cfg.redraftBin, err = filepath.Abs(cfg.redraftBin); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.redraftBin); err != nil {
		return fmt.Errorf("redraft binary: %w (build it with `go build -o bin/redraft ./cmd/redraft`)", err)
	}
	if _, err := exec.LookPath(cfg.redisBin); err != nil {
		return fmt.Errorf("redis-server: %w (Debian package redis-server)", err)
	}
	switch {
	case groups >= 0:
		cfg.groups = groups
	case systems.SupportsFlag(cfg.redraftBin, "groups"):
		cfg.groups = 3
	}
	cfg.pprof = systems.SupportsFlag(cfg.redraftBin, "pprof-addr")
	cfg.tmp, err = os.MkdirTemp("", "redraft-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cfg.tmp)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	defer systems.KillAll()
	go func() {
		<-ctx.Done()
		systems.KillAll()
	}()

	start := time.Now()
	name := start.Format("2006-01-02")
	if cfg.quick {
		name += "-quick"
	}
	cfg.out = filepath.Join(outRoot, name)
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	res := &report.Results{Mode: "full", Started: start}
	if cfg.quick {
		res.Mode = "quick"
	}
	log.Printf("machine probe (fsync in %s)", cfg.tmp)
	res.Machine = describeMachine(cfg.redraftBin, cfg.redisBin, cfg.tmp)
	res.Machine.Groups = max(cfg.groups, 1)
	log.Printf("fsync p50 %v p99 %v; redraft groups %d", res.Machine.FsyncP50, res.Machine.FsyncP99, res.Machine.Groups)
	if cfg.groups == 0 {
		res.Notes = append(res.Notes, "The redraft binary does not accept --groups yet: one raft group owns all 16384 slots, so one node leads every write.")
	}

	var errs []error
	b := &bench{cfg: cfg, res: res, start: start}
	if cfg.phases["matrix"] || cfg.phases["profile"] || cfg.phases["rb"] || cfg.phases["failover"] {
		if err := b.mainPhases(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.phases["failover"] && ctx.Err() == nil {
		if err := b.sentinelFailovers(ctx, false); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.phases["keys"] && ctx.Err() == nil {
		if err := b.keysPhase(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// Last, as it takes long and is skipped when the run is near its budget.
	if cfg.phases["failover"] && cfg.sentinelDefault && ctx.Err() == nil {
		if err := b.sentinelFailovers(ctx, true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range errs {
		res.Notes = append(res.Notes, "Phase error: "+e.Error())
	}
	if dir := findBaseline(cfg.baseline, outRoot, name, cfg.quick); dir != "" {
		if old, err := report.Load(filepath.Join(dir, report.ResultsFile)); err == nil {
			res.Baseline = report.BaselineOf(old, dir)
		} else {
			res.Notes = append(res.Notes, "Baseline "+dir+": "+err.Error())
		}
	}
	res.Finished = time.Now()
	res.Machine.LoadEnd = loadAvg()
	res.Commands = systems.Commands()
	if err := res.Save(filepath.Join(cfg.out, report.ResultsFile)); err != nil {
		return err
	}
	if err := report.Write(res, cfg.out); err != nil {
		return err
	}
	log.Printf("wrote %s in %v", filepath.Join(cfg.out, "report.md"), time.Since(start).Round(time.Second))
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return errors.Join(errs...)
}

// bench carries the run's configuration and results through the phases.
type bench struct {
	cfg   *config
	res   *report.Results
	start time.Time
}

// fullBudget is how long make bench may take; phases that would overrun it
// are shortened or skipped, with a note in the report.
const fullBudget = 15 * time.Minute

func (b *bench) note(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	log.Print(s)
	b.res.Notes = append(b.res.Notes, s)
}

// findBaseline resolves -baseline: "none", a directory, or "auto": the
// latest results directory under root of the same mode, other than this
// run's own.
func findBaseline(flagValue, root, self string, quick bool) string {
	switch flagValue {
	case "none", "":
		return ""
	case "auto":
	default:
		return flagValue
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "*", report.ResultsFile))
	best := ""
	for _, f := range dirs {
		d := filepath.Dir(f)
		name := filepath.Base(d)
		if name == self || strings.HasSuffix(name, "-quick") != quick {
			continue
		}
		if name > filepath.Base(best) {
			best = d
		}
	}
	return best
}
