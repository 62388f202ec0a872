package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
	"github.com/redraft/redraft/benchmarks/report"
	"github.com/redraft/redraft/benchmarks/systems"
)

const (
	failoverRate  = 500 // writes per second offered during a failover
	failoverConns = 24
	preKill       = 2 * time.Second // steady load before the kill
	settle        = 1500 * time.Millisecond
)

// failover runs a steady write load through r, calls kill after preKill,
// waits until writes have succeeded without a failure for settle (or
// maxWait has passed), then reads every acknowledged write back.
func (b *bench) failover(ctx context.Context, system string, run int, r loadgen.Router, kill func() (string, error), maxWait time.Duration) report.Failover {
	f := report.Failover{System: system, Run: run, Rate: failoverRate}
	w := loadgen.StartWriter(ctx, r, loadgen.Writes{Conns: failoverConns, Rate: failoverRate, KeyPrefix: fmt.Sprintf("fo:%s:%d:", system, run)})
	select {
	case <-ctx.Done():
	case <-time.After(preKill):
	}
	killed, err := kill()
	killAt := time.Now()
	f.Killed = killed
	if err != nil {
		w.Stop()
		f.Err = err.Error()
		return f
	}
	for ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		now := time.Now()
		if now.Sub(killAt) > maxWait {
			break
		}
		la, lf := w.LastAck(), w.LastFailure()
		if la.After(killAt) && now.Sub(killAt) > settle && now.Sub(lf) > settle && now.Sub(la) < 500*time.Millisecond {
			break
		}
	}
	l := w.Stop()
	f.Unavailability = l.Unavailability(killAt)
	f.MaxGap = l.MaxAckGap(killAt)
	f.Failures = l.Failures
	f.Acked = len(l.Acked())
	f.TimelineStart = -preKill
	f.Timeline = l.Timeline(killAt.Add(-preKill), loadgen.TimelineStep)
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	f.Checked, f.Lost, err = loadgen.ReadBack(rctx, r, l)
	if err != nil {
		f.Err = err.Error()
	}
	log.Printf("failover %-16s run %d: killed %s, unavailable %v, max gap %v, acked %d, lost %d, failed attempts %d %v",
		system, run, killed, f.Unavailability.Round(time.Millisecond), f.MaxGap.Round(time.Millisecond), f.Acked, f.Lost, f.Failures, l.Codes)
	return f
}

// redraftFailovers kills the node leading the most groups, several times,
// bringing it back in between.
func (b *bench) redraftFailovers(ctx context.Context, rd *systems.Redraft, r loadgen.Router) {
	for i := 1; i <= b.cfg.failoverRuns && ctx.Err() == nil; i++ {
		var victim *systems.RedraftNode
		f := b.failover(ctx, report.Redraft, i, r, func() (string, error) {
			n, leads, err := rd.LeaderNode(ctx)
			if err != nil {
				return "", err
			}
			victim = n
			n.Kill()
			return fmt.Sprintf("%s (leader of %d group(s))", n.ID, leads), nil
		}, 30*time.Second)
		b.res.Failovers = append(b.res.Failovers, f)
		if victim == nil {
			continue
		}
		if err := victim.Start(); err != nil {
			b.note("redraft failover %d: restart of %s: %v", i, victim.ID, err)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := rd.WaitReady(wctx)
		if err == nil {
			err = waitCaughtUp(wctx, rd, victim)
		}
		cancel()
		if err != nil {
			b.note("redraft failover %d: %s did not catch up: %v", i, victim.ID, err)
			return
		}
	}
}

// waitCaughtUp waits until n has applied, in every group, what the
// group's leader had committed when the wait began.
func waitCaughtUp(ctx context.Context, rd *systems.Redraft, n *systems.RedraftNode) error {
	want := map[string]int64{}
	for _, o := range rd.Nodes {
		if o == n || o.Proc == nil || o.Proc.Exited() {
			continue
		}
		gs, err := o.Groups(ctx)
		if err != nil {
			continue
		}
		for _, g := range gs {
			if g.Role == "leader" {
				want[g.Group] = g.Commit
			}
		}
	}
	return systems.WaitFor(ctx, n.ID+" to catch up", func() error {
		gs, err := n.Groups(ctx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.Applied < want[g.Group] {
				return fmt.Errorf("group %s applied %d < %d", g.Group, g.Applied, want[g.Group])
			}
		}
		return nil
	})
}

// sentinelFailovers kills the Redis master under Sentinel: with
// down-after-milliseconds 1000 (defaultTimeouts false), or with Sentinel's
// defaults (about 35 s each; skipped when the run is near its budget).
func (b *bench) sentinelFailovers(ctx context.Context, defaultTimeouts bool) error {
	type variant struct {
		key       string
		downAfter time.Duration
		runs      int
		maxWait   time.Duration
	}
	var vs []variant
	if !defaultTimeouts {
		vs = append(vs, variant{report.Sentinel1s, time.Second, b.cfg.sentinelRuns, 30 * time.Second})
		b.res.Systems = append(b.res.Systems, report.System{Key: report.Sentinel1s, Name: "(c) Redis (a) + 3 Sentinels, down-after-milliseconds 1000",
			Desc: "quorum 2; the client asks the Sentinels for the master after every failure"})
	} else {
		if elapsed := time.Since(b.start); elapsed > fullBudget-90*time.Second {
			b.note("Sentinel with default timeouts skipped: %v into the run, it would overrun the %v budget.", elapsed.Round(time.Second), fullBudget)
			return nil
		}
		vs = append(vs, variant{report.SentinelDefault, 0, 1, 120 * time.Second})
		b.res.Systems = append(b.res.Systems, report.System{Key: report.SentinelDefault, Name: "(c) Redis (a) + 3 Sentinels, default timeouts",
			Desc: "quorum 2, down-after-milliseconds 30000 (default), failover-timeout 180000 (default)"})
	}
	for _, v := range vs {
		for i := 1; i <= v.runs && ctx.Err() == nil; i++ {
			dir := filepath.Join(b.cfg.tmp, fmt.Sprintf("%s-%d", v.key, i))
			log.Printf("starting %s (run %d)", v.key, i)
			rs, err := systems.StartRedis(ctx, systems.RedisConfig{Bin: b.cfg.redisBin, Dir: dir, Replicas: 2, Sentinels: 3, DownAfter: v.downAfter})
			if err != nil {
				return fmt.Errorf("start %s: %w", v.key, err)
			}
			r, err := loadgen.NewSentinel(ctx, systems.MasterName, rs.SentinelAddrs()...)
			if err != nil {
				rs.Stop()
				return err
			}
			f := b.failover(ctx, v.key, i, r, func() (string, error) {
				rs.Master.Kill()
				return "master " + rs.Master.Addr, nil
			}, v.maxWait)
			b.res.Failovers = append(b.res.Failovers, f)
			rs.Stop()
		}
	}
	return nil
}
