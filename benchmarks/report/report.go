package report

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// scenarioOrder is the order scenarios appear in tables.
var scenarioOrder = []string{SetC1, GetC1, SetC50, GetC50, SetC50P16, GetC50P16, MixC50, SetC50KiB, GetC50KiB, OpenSet, OpenMix}

// systemOrder is the order systems appear in tables.
var systemOrder = []string{RedisAsync, RedisWait, Sentinel1s, SentinelDefault, Redraft}

// Write renders the report and its plots into dir: report.md and PNGs.
// Plots that cannot be drawn are listed in the report instead.
func Write(r *Results, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	plots, perr := WritePlots(r, dir)
	md := Markdown(r, plots)
	if perr != nil {
		md += "\n## Plot errors\n\n" + perr.Error() + "\n"
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644)
}

// Markdown renders the report; plots are the PNG files to show, by name.
func Markdown(r *Results, plots []Plot) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# redraft against Redis: speed, failover and lost writes\n\n")
	p("Run of %s (%s mode), %s, on %d cores. Every figure below comes from this one run on this one machine;\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Mode, r.Finished.Sub(r.Started).Round(time.Second), m.Cores)
	p("redraft figures are shown next to the Redis reference measured in the same run, and as a ratio.\n")
	p("Regenerate with `make bench` (about 12 minutes) or `make bench-quick` (under 3 minutes).\n\n")

	p("## Targets\n\n")
	p("| measure | target | redraft | reference | ratio | met | missed by |\n|---|---|---|---|---|---|---|\n")
	for _, t := range Targets(r) {
		p("| %s | %s | %s | %s | %s | %s | %s |\n", cell(t.Measure), cell(t.Goal), cell(t.Redraft), cell(t.Reference), cell(t.Ratio), t.Met, cell(t.Miss))
	}
	p("\n")
	for _, f := range floors(r) {
		p("%s\n\n", f)
	}

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s, %d cores |\n| memory | %s MiB |\n| kernel | %s |\n", cell(m.CPU), m.Cores, fmtCount(m.MemoryMiB), cell(m.Kernel))
	store := ""
	if m.LogStore != "" {
		store = ", log store " + m.LogStore
	}
	p("| Go (built redraft) | %s |\n| Redis | %s |\n| redraft | %s, %d group(s)%s |\n", m.GoVersion, cell(m.RedisVersion), m.Redraft, m.Groups, store)
	p("| fsync latency | p50 %s, p99 %s (%s) |\n", fmtDur(m.FsyncP50), fmtDur(m.FsyncP99), cell(m.FsyncProbe))
	p("| load average (1, 5, 15 min) | at start %s; at end %s |\n\n", m.LoadStart, m.LoadEnd)
	p("The load generator runs on the same cores as the servers, and other work shared the machine (see the load\n")
	p("average): treat differences under ~20%% as noise. A replicated durable write costs at least one fsync on the\n")
	p("leader and one on a follower, so the fsync latency above bounds redraft's write latency from below.\n\n")

	if len(r.Systems) > 0 {
		p("## Systems\n\n| key | system | how it was started |\n|---|---|---|\n")
		for _, s := range r.Systems {
			p("| %s | %s | %s |\n", s.Key, cell(s.Name), cell(s.Desc))
		}
		p("\n")
	}

	writeRuns(&b, r, false)
	writeRuns(&b, r, true)
	writeBaseline(&b, r)
	writeRB(&b, r)
	writeFailovers(&b, r)
	writeKeys(&b, r)
	writeHeap(&b, r)
	writeProfiles(&b, r)

	if len(plots) > 0 {
		p("## Plots\n\n")
		for _, pl := range plots {
			p("### %s\n\n![%s](%s)\n\n", pl.Title, pl.Title, pl.File)
		}
	}
	if len(r.Notes) > 0 {
		p("## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
		p("\n")
	}
	p("## Exact commands\n\n```\n")
	for _, c := range r.Commands {
		p("%s\n", c)
	}
	p("```\n")
	return b.String()
}

func writeRuns(b *strings.Builder, r *Results, open bool) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	any := false
	for _, run := range r.Runs {
		any = any || (run.Workload.Rate > 0) == open
	}
	if !any {
		return
	}
	if open {
		p("## Open loop (fixed rate, latency from the scheduled send time)\n\n")
		p("Each command is sent at its scheduled time whether or not earlier replies have come back, and its latency\n")
		p("is counted from that time, so a stall is charged to every command it delays (no coordinated omission).\n\n")
	} else {
		p("## Closed loop (N connections × pipeline depth P)\n\n")
		p("Each connection sends P commands, waits for their P replies, and repeats; latency is from the send of the\n")
		p("batch to each reply. Keys are drawn uniformly from the keyspace, which is filled before the GET runs.\n")
		p("(b) sends `WAIT 1 <ms>` after the SETs of each batch and counts them done when WAIT answers.\n")
		p("ratio columns: this system's throughput divided by (a)'s and (b)'s in the same scenario.\n")
		p("CPU/op: CPU time of all the system's server processes per successful command; fsync/1k: fsync and\n")
		p("fdatasync calls of all its servers per 1000 successful commands.\n\n")
	}
	p("| scenario | system | ops/s | vs (a) | vs (b) | p50 | p99 | p99.9 | max | errors | CPU/op | fsync/1k |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range scenarioOrder {
		for _, sys := range systemOrder {
			run := r.Run(sys, sc)
			if run == nil || (run.Workload.Rate > 0) != open {
				continue
			}
			if run.Result == nil {
				p("| %s | %s | failed: %s |||||||||||\n", sc, sys, cell(run.Err))
				continue
			}
			res := run.Result
			tp := res.Throughput()
			vs := func(ref string) string {
				x := r.Run(ref, sc)
				if open || x == nil || x.Result == nil || x.Result.Throughput() == 0 || ref == sys {
					return "" // at a fixed rate, throughput ratios say nothing
				}
				return fmt.Sprintf("%.2f×", tp/x.Result.Throughput())
			}
			errs := fmtCount(res.Errors)
			if len(res.ErrorCodes) > 0 {
				var parts []string
				for k, v := range res.ErrorCodes {
					parts = append(parts, fmt.Sprintf("%s %d", k, v))
				}
				errs += " (" + strings.Join(parts, ", ") + ")"
			}
			cpu := ""
			if run.ServerCPU > 0 && res.Ops > 0 {
				cpu = fmt.Sprintf("%.0f µs", float64(run.ServerCPU.Microseconds())/float64(res.Ops))
			}
			fs := ""
			if run.Fsyncs >= 0 && res.Ops > 0 && run.Workload.ReadRatio < 1 {
				fs = fmt.Sprintf("%.0f", 1000*float64(run.Fsyncs)/float64(res.Ops))
			}
			name := sc
			if run.Desc != "" {
				name = sc + ": " + run.Desc
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(name), sys, fmtRate(tp), vs(RedisAsync), vs(RedisWait),
				fmtDur(res.Latency.Quantile(0.5)), fmtDur(res.Latency.Quantile(0.99)), fmtDur(res.Latency.Quantile(0.999)),
				fmtDur(res.Latency.Max()), errs, cpu, fs)
		}
	}
	p("\n")
}

func writeRB(b *strings.Builder, r *Results) {
	if len(r.RedisBenchmark) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## redis-benchmark (reference command lines)\n\n")
	p("| system | command | test | requests/s | vs (a) | avg | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.RedisBenchmark {
		if row.Err != "" {
			p("| %s | `%s` | %s | failed: %s ||||||\n", row.System, cell(row.Command), row.Test, cell(row.Err))
			continue
		}
		vs := ""
		if row.System != RedisAsync {
			for _, ref := range r.RedisBenchmark {
				if ref.System == RedisAsync && ref.Test == row.Test && ref.Err == "" && ref.RPS > 0 && samePipeline(ref.Command, row.Command) {
					vs = fmt.Sprintf("%.2f×", row.RPS/ref.RPS)
				}
			}
		}
		p("| %s | `%s` | %s | %s | %s | %.3f ms | %.3f ms | %.3f ms | %.3f ms |\n", row.System, cell(row.Command), row.Test, fmtRate(row.RPS), vs,
			row.AvgMS, row.P50MS, row.P99MS, row.MaxMS)
	}
	p("\n")
}

func samePipeline(a, b string) bool {
	return strings.Contains(a, "-P ") == strings.Contains(b, "-P ")
}

func writeFailovers(b *strings.Builder, r *Results) {
	if len(r.Failovers) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Failover: kill -9 of the master or leader under a steady write load\n\n")
	p("Writers send unique keys at a fixed total rate, one write outstanding each, and retry a failed write with the\n")
	p("same key until it is acknowledged. *Unavailability* is the longest any write was held up after the kill\n")
	p("(from the kill, or from its first attempt if later, to its acknowledgement); *max gap* is the longest time\n")
	p("without any acknowledgement. After recovery every acknowledged write is read back from the new\n")
	p("master/leader: *lost* counts those missing or different.\n\n")
	p("Redis with asynchronous replication loses the writes its master acknowledged but had not yet sent to the\n")
	p("replica that gets promoted. On loopback at this rate that window is well under a millisecond, so a run often\n")
	p("loses none: Redis's figure here is a lower bound for a loaded network. redraft acknowledges a write only\n")
	p("once a majority of its group has it on disk.\n\n")
	p("| system | run | killed | unavailability | max gap | acked | read back | lost | failed attempts | rate |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.Failovers {
		if f.Err != "" {
			p("| %s | %d | %s | failed: %s |||||||\n", f.System, f.Run, cell(f.Killed), cell(f.Err))
			continue
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %d | %s | %.0f/s |\n", f.System, f.Run, cell(f.Killed), fmtDur(f.Unavailability), fmtDur(f.MaxGap),
			fmtCount(f.Acked), fmtCount(f.Checked), f.Lost, fmtCount(f.Failures), f.Rate)
	}
	p("\n")
}

func writeKeys(b *strings.Builder, r *Results) {
	if len(r.Memory)+len(r.Restarts)+len(r.Syncs) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Many keys: memory, restart, full sync\n\n")
	if len(r.Memory) > 0 {
		p("Memory is the growth of INFO `used_memory` (redraft: the Go heap allocated) and of the process RSS while the keys\n")
		p("were written, divided by the number of keys. redraft's `used_memory` also counts garbage the collector has not\n")
		p("yet freed: *live/key* is `used_memory` right after a forced collection (the heap profile's `gc=1`), the heap\n")
		p("the keys really hold. Its RSS is larger again: the heap grows past the live heap before each collection (the\n")
		p("server bounds that headroom to max(48 MiB, 1/8 of the live heap) unless GOGC is set; Go's default is the whole\n")
		p("live heap), and the runtime returns freed pages to the OS only gradually.\n\n")
		p("| system | node | keys | value | used_memory/key | live/key | RSS/key | vs (a) RSS | used_memory after | RSS after |\n|---|---|---|---|---|---|---|---|---|---|\n")
		ref := memOf(r, RedisAsync)
		for _, m := range r.Memory {
			if m.Err != "" {
				p("| %s | %s | failed: %s ||||||||\n", m.System, m.Node, cell(m.Err))
				continue
			}
			vs := ""
			if ref != nil && ref.PerKeyRSS() > 0 && m.System != RedisAsync {
				vs = fmt.Sprintf("%.2f×", m.PerKeyRSS()/ref.PerKeyRSS())
			}
			live := ""
			if m.LiveDelta != 0 {
				live = fmt.Sprintf("%.0f B", m.PerKeyLive())
			}
			p("| %s | %s | %s | %d B | %.0f B | %s | %.0f B | %s | %s | %s |\n", m.System, m.Node, fmtCount(m.Keys), m.ValueSize, m.PerKeyUsed(), live, m.PerKeyRSS(), vs,
				fmtBytes(m.UsedAfter), fmtBytes(m.RSSAfter))
		}
		p("\n")
	}
	timings := func(title string, ts []Timing) {
		if len(ts) == 0 {
			return
		}
		p("%s\n\n| system | what | keys | to serving | listening | detail |\n|---|---|---|---|---|---|\n", title)
		for _, t := range ts {
			if t.Err != "" {
				p("| %s | %s | %s | failed: %s | | %s |\n", t.System, cell(t.What), fmtCount(t.Keys), cell(t.Err), cell(t.Detail))
				continue
			}
			l := ""
			if t.Listening > 0 {
				l = fmtDur(t.Listening)
			}
			p("| %s | %s | %s | %s | %s | %s |\n", t.System, cell(t.What), fmtCount(t.Keys), fmtDur(t.Duration), l, cell(t.Detail))
		}
		p("\n")
	}
	timings("Restart after kill -9 (time from the process start until it serves the last key written):", r.Restarts)
	timings("Full sync of a new, empty replica (time from its start until it serves the last key written):", r.Syncs)
}

// writeHeap renders the heap profiles of redraft holding the many keys.
func writeHeap(b *strings.Builder, r *Results) {
	if len(r.Heap) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	perKey := func(n int64, keys int) string { return fmt.Sprintf("%.0f B", float64(n)/float64(max(keys, 1))) }
	share := func(n, total int64) string {
		if total <= 0 {
			return ""
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
	}
	p("## Where the memory goes (heap profiles of redraft holding the keys)\n\n")
	p("Bytes in use on the node once the keys were written, right after a garbage collection, by the function that\n")
	p("allocated them (`/debug/pprof/heap?gc=1`, inuse_space; the profiler samples allocations, so the figures are\n")
	p("estimates). Per key is divided by all the keys of the run, the node holding a replica of every group. Saved\n")
	p("profiles open with `go tool pprof -sample_index=inuse_space -http : <file>`.\n\n")
	for _, h := range r.Heap {
		p("### %s, %s keys\n\n", h.Node, fmtCount(h.Keys))
		if h.Command != "" {
			p("`%s`\n\n", h.Command)
		}
		if h.Err != "" {
			p("error: %s\n\n", h.Err)
			continue
		}
		p("In use: %s, %s per key", fmtBytes(h.Total), perKey(h.Total, h.Keys))
		if h.File != "" {
			p(" — profile: [%s](%s)", h.File, h.File)
		}
		p("\n\n")
		if len(h.Causes) > 0 {
			p("By cause (from each allocation's stack):\n\n| cause | in use | per key | share |\n|---|---|---|---|\n")
			for _, c := range h.Causes {
				p("| %s | %s | %s | %s |\n", cell(c.Cause), fmtBytes(c.Bytes), perKey(c.Bytes, h.Keys), share(c.Bytes, h.Total))
			}
			p("\n")
		}
		if len(h.Top) > 0 {
			p("By allocating function:\n\n| in use | per key | %% | function |\n|---|---|---|---|\n")
			for _, l := range h.Top {
				if l.Bytes <= 0 {
					continue
				}
				p("| %s | %s | %.2f | `%s` |\n", fmtBytes(l.Bytes), perKey(l.Bytes, h.Keys), l.Percent, cell(l.Symbol))
			}
			p("\n")
		}
		if len(h.Inclusive) > 0 {
			p("Including callees:\n\n| in use | %% | function |\n|---|---|---|\n")
			for _, l := range h.Inclusive {
				p("| %s | %.2f | `%s` |\n", fmtBytes(l.Bytes), l.Percent, cell(l.Symbol))
			}
			p("\n")
		}
	}
}

func writeProfiles(b *strings.Builder, r *Results) {
	if len(r.Profiles) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Where the time goes (CPU profiles of redraft for missed targets)\n\n")
	p("CPU samples of the leader while the scenario's load ran again (its pprof endpoint, or `perf record`), by\n")
	p("function: own time, then time including callees. Waiting for fsync or for the network is not CPU time and\n")
	p("does not show in those; the system-call table (`perf trace -s`) shows it, as time inside fdatasync.\n")
	p("Saved profiles open with `go tool pprof -http : <file>`.\n\n")
	for _, pr := range r.Profiles {
		p("### %s — %s on %s\n\n", pr.Target, pr.Scenario, pr.Node)
		if pr.Command != "" {
			p("`%s`\n\n", pr.Command)
		}
		if pr.Summary != "" {
			p("%s", pr.Summary)
			if pr.File != "" {
				p(" — profile: [%s](%s)", pr.File, pr.File)
			}
			p("\n\n")
		}
		if pr.Err != "" {
			p("error: %s\n\n", pr.Err)
			if len(pr.Top) == 0 {
				continue
			}
		}
		objects := false
		for _, l := range pr.Top {
			objects = objects || l.Object != ""
		}
		if objects {
			p("| own %% | function | object |\n|---|---|---|\n")
		} else {
			p("| own %% | function |\n|---|---|\n")
		}
		for _, l := range pr.Top {
			if l.Percent <= 0 {
				continue
			}
			if objects {
				p("| %.2f | `%s` | %s |\n", l.Percent, cell(l.Symbol), cell(l.Object))
			} else {
				p("| %.2f | `%s` |\n", l.Percent, cell(l.Symbol))
			}
		}
		p("\n")
		if len(pr.Syscalls) > 0 {
			p("System calls of the node in a %s window (`perf trace -s`, all threads; time inside the call, which for\n", fmtDur(pr.Window))
			p("fdatasync is waiting for the disk):\n\n| syscall | calls | calls/s | total | avg | max | total / window (threads add up) |\n|---|---|---|---|---|---|---|\n")
			for _, l := range pr.Syscalls {
				avg := time.Duration(0)
				if l.Calls > 0 {
					avg = l.Total / time.Duration(l.Calls)
				}
				p("| %s | %s | %.0f | %s | %s | %s | %.0f%% |\n", l.Name, fmtCount(l.Calls), float64(l.Calls)/pr.Window.Seconds(), fmtDur(l.Total), fmtDur(avg), fmtDur(l.Max),
					100*l.Total.Seconds()/pr.Window.Seconds())
			}
			p("\n")
		}
		if len(pr.Inclusive) > 0 {
			p("Including callees:\n\n| total %% | function |\n|---|---|\n")
			for _, l := range pr.Inclusive {
				p("| %.2f | `%s` |\n", l.Percent, cell(l.Symbol))
			}
			p("\n")
		}
	}
}

func writeBaseline(b *strings.Builder, r *Results) {
	bl := r.Baseline
	if bl == nil || len(bl.Runs) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## redraft before and after\n\n")
	p("redraft in this run against the earlier report `%s` (%s, %s, %d group(s), log store %s). Both are measured on a shared\n",
		bl.Dir, bl.Started.Format("2006-01-02 15:04"), bl.Redraft, max(bl.Groups, 1), cmp.Or(bl.LogStore, "bolt"))
	p("machine at different times: the references of each run tell how much of a change is the machine.\n\n")
	p("| scenario | ops/s before | ops/s now | now/before | p50 before | p50 now | p99 before | p99 now |\n|---|---|---|---|---|---|---|---|\n")
	for _, sc := range scenarioOrder {
		var old *BaselineRun
		for i := range bl.Runs {
			if bl.Runs[i].Scenario == sc {
				old = &bl.Runs[i]
			}
		}
		now := r.Run(Redraft, sc)
		if old == nil || now == nil || now.Result == nil || now.Result.Ops == 0 {
			continue
		}
		tp := now.Result.Throughput()
		p("| %s | %s | %s | %.2f× | %s | %s | %s | %s |\n", sc, fmtRate(old.Throughput), fmtRate(tp), tp/old.Throughput,
			fmtDur(old.P50), fmtDur(now.Result.Latency.Quantile(0.5)), fmtDur(old.P99), fmtDur(now.Result.Latency.Quantile(0.99)))
	}
	p("\n")
}

// floors explains redraft's write latency with the fsync figures of the
// run: how many fsync calls a write cost, and the latency they add up to.
func floors(r *Results) []string {
	var out []string
	m := r.Machine
	run := r.Run(Redraft, SetC1)
	if run == nil || run.Result == nil || run.Result.Ops == 0 || run.Fsyncs <= 0 || m.FsyncP50 <= 0 {
		return nil
	}
	per := float64(run.Fsyncs) / float64(run.Result.Ops) // all nodes
	nodes := 3.0
	perNode := per / nodes
	floor := time.Duration(2 * perNode * float64(m.FsyncP50))
	out = append(out, fmt.Sprintf("**Write latency floor.** At c=1 each redraft write made %.1f fsync/fdatasync calls across the %d nodes "+
		"(%.1f per node). The leader's and a follower's must both finish before the reply; if they run one after the other, "+
		"the floor is 2 × %.1f × %s (the probe's fsync p50) = %s, against a measured p50 of %s. (b) made %s per write.",
		per, int(nodes), perNode, perNode, fmtDur(m.FsyncP50), fmtDur(floor), fmtDur(run.Result.Latency.Quantile(0.5)), fsyncsPerWrite(r, RedisWait, SetC1)))
	return out
}

func fsyncsPerWrite(r *Results, sys, sc string) string {
	run := r.Run(sys, sc)
	if run == nil || run.Result == nil || run.Result.Ops == 0 || run.Fsyncs < 0 {
		return "an unknown number"
	}
	return fmt.Sprintf("%.1f", float64(run.Fsyncs)/float64(run.Result.Ops))
}
