package report

import (
	"fmt"
	"slices"
	"time"
)

// Target is one row of the targets table, evaluated on a run.
type Target struct {
	Measure   string
	Goal      string
	Redraft   string
	Reference string
	Ratio     string
	// Met is "yes", "no" or "n/a" (not measured); Miss says by how much.
	Met  string
	Miss string
	// Scenario is the load to profile when the target is missed ("" when
	// a CPU profile would not explain it).
	Scenario string
}

// Targets evaluates the targets for redraft against the
// references of the same run.
func Targets(r *Results) []Target {
	var out []Target
	ratio := func(measure, scenario, ref string, goal float64) {
		t := Target{Measure: measure, Goal: fmt.Sprintf("≥ %.1f×", goal), Met: "n/a", Scenario: scenario}
		d, b := r.Run(Redraft, scenario), r.Run(ref, scenario)
		if d != nil && d.Result != nil {
			t.Redraft = fmtRate(d.Result.Throughput())
		}
		if b != nil && b.Result != nil {
			t.Reference = fmtRate(b.Result.Throughput()) + " (" + ref + ")"
		}
		if d != nil && b != nil && d.Result != nil && b.Result != nil && b.Result.Throughput() > 0 {
			x := d.Result.Throughput() / b.Result.Throughput()
			t.Ratio = fmt.Sprintf("%.2f×", x)
			t.Met = yesNo(x >= goal)
			if x < goal {
				t.Miss = fmt.Sprintf("%.0f%% short: needs %.1f× its throughput", 100*(1-x/goal), goal/x)
			}
		}
		out = append(out, t)
	}
	ratio("SET throughput vs (a) Redis async, c=50", SetC50, RedisAsync, 0.5)
	ratio("SET throughput vs (b) Redis fsync always + WAIT 1, c=50", SetC50, RedisWait, 1.0)
	ratio("GET throughput (linearizable) vs (a), c=50", GetC50, RedisAsync, 0.8)
	ratio("SET with P=16 vs (a), c=50", SetC50P16, RedisAsync, 0.3)

	// SET at c=1, p50.
	{
		t := Target{Measure: "SET at c=1, p50 latency", Goal: "≤ 0.6 ms", Met: "n/a", Scenario: SetC1}
		if d := r.Run(Redraft, SetC1); d != nil && d.Result != nil {
			p := d.Result.Latency.Quantile(0.5)
			t.Redraft = fmtDur(p)
			t.Met = yesNo(p <= 600*time.Microsecond)
			if p > 600*time.Microsecond {
				t.Miss = fmt.Sprintf("%.1f× the target", float64(p)/float64(600*time.Microsecond))
			}
			var refs []string
			for _, s := range []string{RedisAsync, RedisWait} {
				if b := r.Run(s, SetC1); b != nil && b.Result != nil {
					refs = append(refs, fmtDur(b.Result.Latency.Quantile(0.5))+" ("+s+")")
					if s == RedisWait {
						t.Ratio = fmt.Sprintf("%.2f× (b)", float64(p)/float64(b.Result.Latency.Quantile(0.5)))
					}
				}
			}
			t.Reference = join(refs)
		}
		out = append(out, t)
	}

	// Failover.
	{
		d := unavail(r, Redraft)
		t := Target{Measure: "unavailability after kill -9 of a leader", Goal: "≤ 1 s p50, ≤ 2 s max", Met: "n/a"}
		if len(d) > 0 {
			p50, mx := median(d), slices.Max(d)
			t.Redraft = fmt.Sprintf("p50 %s, max %s (%d runs)", fmtDur(p50), fmtDur(mx), len(d))
			ok := p50 <= time.Second && mx <= 2*time.Second
			t.Met = yesNo(ok)
			if !ok {
				t.Miss = fmt.Sprintf("p50 %.1f×, max %.1f× the target", p50.Seconds()/1, mx.Seconds()/2)
			}
		}
		var refs []string
		for _, s := range []string{Sentinel1s, SentinelDefault} {
			if u := unavail(r, s); len(u) > 0 {
				refs = append(refs, fmt.Sprintf("p50 %s, max %s (%s)", fmtDur(median(u)), fmtDur(slices.Max(u)), s))
			}
		}
		t.Reference = join(refs)
		if len(d) > 0 && len(unavail(r, Sentinel1s)) > 0 {
			t.Ratio = fmt.Sprintf("%.2f× (sentinel-1s p50)", median(d).Seconds()/median(unavail(r, Sentinel1s)).Seconds())
		}
		out = append(out, t)
	}
	{
		t := Target{Measure: "acknowledged writes lost at failover", Goal: "0", Met: "n/a"}
		lost, acked, n := lostTotals(r, Redraft)
		if n > 0 {
			t.Redraft = fmt.Sprintf("%d of %d (%d runs)", lost, acked, n)
			t.Met = yesNo(lost == 0)
			if lost > 0 {
				t.Miss = fmt.Sprintf("%d writes lost", lost)
			}
		}
		var refs []string
		for _, s := range []string{Sentinel1s, SentinelDefault} {
			if l, a, k := lostTotals(r, s); k > 0 {
				refs = append(refs, fmt.Sprintf("%d of %d (%s, %d runs)", l, a, s, k))
			}
		}
		t.Reference = join(refs)
		out = append(out, t)
	}
	// Restart.
	{
		t := Target{Measure: "restart of a node with 1M keys, to serving", Goal: "≤ 3 s", Met: "n/a"}
		for _, x := range r.Restarts {
			if x.Err != "" {
				if x.System == Redraft {
					t.Redraft = "failed: " + x.Err
					t.Met = "no"
				}
				continue
			}
			if x.System == Redraft {
				t.Redraft = fmt.Sprintf("%s (%s keys)", fmtDur(x.Duration), fmtCount(x.Keys))
				t.Met = yesNo(x.Duration <= 3*time.Second)
				if x.Duration > 3*time.Second {
					t.Miss = fmt.Sprintf("%.1f× the target", x.Duration.Seconds()/3)
				}
			} else {
				t.Reference = join(append(splitNonEmpty(t.Reference), fmt.Sprintf("%s (%s, %s)", fmtDur(x.Duration), x.System, x.What)))
			}
		}
		out = append(out, t)
	}
	// Memory.
	{
		t := Target{Measure: "memory per key vs Redis (16 B values), RSS", Goal: "≤ 2.0×", Met: "n/a"}
		d, a := memOf(r, Redraft), memOf(r, RedisAsync)
		if d != nil {
			t.Redraft = fmt.Sprintf("%.0f B/key RSS, %.0f B/key used_memory (%s keys)", d.PerKeyRSS(), d.PerKeyUsed(), fmtCount(d.Keys))
			if d.LiveDelta != 0 {
				t.Redraft = fmt.Sprintf("%.0f B/key RSS, %.0f B/key used_memory, %.0f B/key live heap (%s keys)", d.PerKeyRSS(), d.PerKeyUsed(), d.PerKeyLive(), fmtCount(d.Keys))
			}
		}
		if a != nil {
			t.Reference = fmt.Sprintf("%.0f B/key RSS, %.0f B/key used_memory", a.PerKeyRSS(), a.PerKeyUsed())
		}
		if d != nil && a != nil && a.PerKeyRSS() > 0 {
			x := d.PerKeyRSS() / a.PerKeyRSS()
			t.Ratio = fmt.Sprintf("%.2f× RSS, %.2f× used_memory", x, d.PerKeyUsed()/max(a.PerKeyUsed(), 1))
			t.Met = yesNo(x <= 2.0)
			if x > 2.0 {
				t.Miss = fmt.Sprintf("%.1f× the target", x/2)
			}
		}
		out = append(out, t)
	}
	return out
}

func unavail(r *Results, system string) []time.Duration {
	var out []time.Duration
	for _, f := range r.Failovers {
		if f.System == system && f.Err == "" {
			out = append(out, f.Unavailability)
		}
	}
	return out
}

func lostTotals(r *Results, system string) (lost, acked, runs int) {
	for _, f := range r.Failovers {
		if f.System == system && f.Err == "" {
			lost += f.Lost
			acked += f.Acked
			runs++
		}
	}
	return
}

// memOf returns the memory row of system's master or leader.
func memOf(r *Results, system string) *Memory {
	for i := range r.Memory {
		if r.Memory[i].System == system && r.Memory[i].Err == "" {
			return &r.Memory[i]
		}
	}
	return nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
