package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
	"github.com/redraft/redraft/benchmarks/report"
	"github.com/redraft/redraft/benchmarks/systems"
)

// snapshotFlags make redraft snapshot during the fill of the keys phase,
// so that a restart loads a snapshot and a new replica installs one: the
// fill (pipelines of 1000 over 8 connections) makes roughly one log entry
// per few hundred keys per group; a threshold of keys/4000 entries gives a
// few snapshots per group while the keys are written.
func snapshotFlags(keys int) []string {
	threshold := max(16, keys/4000)
	return []string{"--snapshot-threshold", strconv.Itoa(threshold), "--trailing-logs", strconv.Itoa(threshold / 2), "--snapshot-interval", "1s"}
}

const keyPrefix = "k:"

type memSample struct {
	used, rss int64
}

func sampleMem(ctx context.Context, addr string, p *systems.Proc) (memSample, error) {
	m, err := systems.Info(ctx, addr, "memory")
	if err != nil {
		return memSample{}, err
	}
	used, err := strconv.ParseInt(m["used_memory"], 10, 64)
	if err != nil {
		return memSample{}, fmt.Errorf("used_memory %q: %w", m["used_memory"], err)
	}
	rss, err := p.RSS()
	return memSample{used, rss}, err
}

func memRow(system, node string, keys int, before, after memSample, err error) report.Memory {
	m := report.Memory{System: system, Node: node, Keys: keys, ValueSize: 16,
		UsedDelta: after.used - before.used, RSSDelta: after.rss - before.rss, UsedAfter: after.used, RSSAfter: after.rss}
	if err != nil {
		m.Err = err.Error()
	}
	return m
}

// serves reports whether addr returns want for GET key; readonly sends
// READONLY first (a redraft follower serving its own state).
func serves(ctx context.Context, addr, key, want string, readonly bool) error {
	c, err := loadgen.Dial(ctx, addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if readonly {
		if r, err := c.Do("READONLY"); err != nil || r.Err() != nil {
			return fmt.Errorf("READONLY: %v %v", err, r.Err())
		}
	}
	r, err := c.Do("GET", key)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return err
	}
	if r.Str != want {
		return fmt.Errorf("GET %s: %q (nil %v)", key, r.Str, r.Nil)
	}
	return nil
}

// listening reports whether addr answers PING at all (an error reply such
// as LOADING counts).
func listening(ctx context.Context, addr string) error {
	c, err := loadgen.Dial(ctx, addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	_, err = c.Do("PING")
	return err
}

// timeToServe polls from start until serving succeeds, noting when the
// process first answered at all.
func timeToServe(ctx context.Context, start time.Time, addr string, serving func() error) (listen, serve time.Duration, err error) {
	err = systems.WaitFor(ctx, addr+" to serve", func() error {
		if listen == 0 && listening(ctx, addr) == nil {
			listen = time.Since(start)
		}
		return serving()
	})
	return listen, time.Since(start), err
}

func (b *bench) keysPhase(ctx context.Context) error {
	n := b.cfg.keys
	last := loadgen.Key(keyPrefix, n-1)
	val := loadgen.Value(16)
	if err := b.redisKeys(ctx, n, last, val); err != nil {
		return err
	}
	if err := b.redisAOFRestart(ctx, n, last, val); err != nil {
		return err
	}
	return b.redraftKeys(ctx, n, last, val)
}

func (b *bench) redisKeys(ctx context.Context, n int, last, val string) error {
	dir := filepath.Join(b.cfg.tmp, "keys-a")
	rs, err := systems.StartRedis(ctx, systems.RedisConfig{Bin: b.cfg.redisBin, Dir: dir, Replicas: 2})
	if err != nil {
		return fmt.Errorf("keys: start (a): %w", err)
	}
	defer rs.Stop()
	m, r1 := rs.Master, rs.Replicas[0]
	bm, err1 := sampleMem(ctx, m.Addr, m.Proc)
	br, err2 := sampleMem(ctx, r1.Addr, r1.Proc)
	took, err := loadgen.Fill(ctx, loadgen.Static(m.Addr), keyPrefix, 0, n, 16, 4, 1000)
	if err != nil {
		return fmt.Errorf("keys: fill (a): %w", err)
	}
	log.Printf("redis-async: %d keys written in %v", n, took.Round(time.Millisecond))
	// Every replica has everything once WAIT 2 returns for a later write.
	c, err := loadgen.Dial(ctx, m.Addr, time.Second)
	if err != nil {
		return err
	}
	c.Do("SET", "k:sync", "1")
	c.Do("WAIT", "2", "30000")
	c.Close()
	time.Sleep(500 * time.Millisecond)
	am, err3 := sampleMem(ctx, m.Addr, m.Proc)
	ar, err4 := sampleMem(ctx, r1.Addr, r1.Proc)
	b.res.Memory = append(b.res.Memory,
		memRow(report.RedisAsync, "master", n, bm, am, firstErr(err1, err3)),
		memRow(report.RedisAsync, "replica", n, br, ar, firstErr(err2, err4)))

	// Full sync: a new, empty replica.
	start := time.Now()
	nr, err := rs.AddReplica(ctx, m)
	t := report.Timing{System: report.RedisAsync, What: "new replica: full sync (diskless, repl-diskless-sync-delay 0)", Keys: n}
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		t.Listening, t.Duration, err = timeToServe(wctx, start, nr.Addr, func() error {
			info, err := systems.Info(wctx, nr.Addr, "replication")
			if err != nil {
				return err
			}
			if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
				return fmt.Errorf("link %s, sync in progress %s", info["master_link_status"], info["master_sync_in_progress"])
			}
			return serves(wctx, nr.Addr, last, val, false)
		})
		cancel()
	}
	if err != nil {
		t.Err = err.Error()
	}
	b.res.Syncs = append(b.res.Syncs, t)
	log.Printf("redis-async: full sync of %d keys: %v %v", n, t.Duration.Round(time.Millisecond), err)

	// Restart of the master from an RDB file.
	saveStart := time.Now()
	if _, err := systems.Do(ctx, m.Addr, "SAVE"); err != nil {
		return fmt.Errorf("keys: SAVE: %w", err)
	}
	saveTook := time.Since(saveStart)
	m.Kill()
	start = time.Now()
	t = report.Timing{System: report.RedisAsync, What: "master restart from RDB (SAVE before kill -9)", Keys: n,
		Detail: fmt.Sprintf("SAVE took %s", saveTook.Round(time.Millisecond))}
	if err = m.Start(); err == nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		t.Listening, t.Duration, err = timeToServe(wctx, start, m.Addr, func() error { return serves(wctx, m.Addr, last, val, false) })
		cancel()
	}
	if err != nil {
		t.Err = err.Error()
	}
	t.Detail += redisLoadLine(m)
	b.res.Restarts = append(b.res.Restarts, t)
	log.Printf("redis-async: restart with %d keys (RDB): %v %v", n, t.Duration.Round(time.Millisecond), err)
	return nil
}

func (b *bench) redisAOFRestart(ctx context.Context, n int, last, val string) error {
	dir := filepath.Join(b.cfg.tmp, "keys-b")
	rs, err := systems.StartRedis(ctx, systems.RedisConfig{Bin: b.cfg.redisBin, Dir: dir, AOFAlways: true})
	if err != nil {
		return fmt.Errorf("keys: start (b): %w", err)
	}
	defer rs.Stop()
	m := rs.Master
	took, err := loadgen.Fill(ctx, loadgen.Static(m.Addr), keyPrefix, 0, n, 16, 4, 1000)
	if err != nil {
		return fmt.Errorf("keys: fill (b): %w", err)
	}
	log.Printf("redis-wait: %d keys written in %v", n, took.Round(time.Millisecond))
	m.Kill()
	start := time.Now()
	t := report.Timing{System: report.RedisWait, What: "master restart from AOF (appendfsync always)", Keys: n}
	if err = m.Start(); err == nil {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		t.Listening, t.Duration, err = timeToServe(wctx, start, m.Addr, func() error { return serves(wctx, m.Addr, last, val, false) })
		cancel()
	}
	if err != nil {
		t.Err = err.Error()
	}
	t.Detail = strings.TrimPrefix(redisLoadLine(m), "; ")
	b.res.Restarts = append(b.res.Restarts, t)
	log.Printf("redis-wait: restart with %d keys (AOF): %v %v", n, t.Duration.Round(time.Millisecond), err)
	return nil
}

func (b *bench) redraftKeys(ctx context.Context, n int, last, val string) error {
	dir := filepath.Join(b.cfg.tmp, "keys-d")
	rd, err := systems.StartRedraft(ctx, b.redraftConfig(dir, snapshotFlags(n)...))
	if err != nil {
		return fmt.Errorf("keys: start (d): %w", err)
	}
	defer rd.Stop()
	b.res.Notes = append(b.res.Notes, fmt.Sprintf("The redraft cluster of the many-keys phase runs with `%s` so that it takes snapshots while the keys are written: a restarted node then loads a snapshot and replays the log after it, and a new replica receives a snapshot. With the default threshold (8192 entries) writing %d keys in pipelined batches makes too few log entries to trigger one.", strings.Join(snapshotFlags(n), " "), n))
	before := map[string]memSample{}
	for _, nd := range rd.Nodes {
		before[nd.ID], _ = sampleMem(ctx, nd.RESPAddr, nd.Proc)
	}
	router, err := loadgen.NewCluster(ctx, rd.Seeds()...)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	took, err := loadgen.Fill(fctx, router, keyPrefix, 0, n, 16, 8, 1000)
	cancel()
	if err != nil {
		return fmt.Errorf("keys: fill (d) of %d keys: %w", n, err)
	}
	log.Printf("redraft: %d keys written in %v", n, took.Round(time.Millisecond))
	for _, nd := range rd.Nodes {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := waitCaughtUp(wctx, rd, nd)
		cancel()
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	// Let every node take a snapshot of the loaded state.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = systems.WaitFor(wctx, "a snapshot on every node", func() error {
		for _, nd := range rd.Nodes {
			m, _ := filepath.Glob(filepath.Join(nd.Dir, "groups", "*", "snapshots", "*", "meta.json"))
			if len(m) == 0 {
				return fmt.Errorf("%s has no snapshot", nd.ID)
			}
		}
		return nil
	})
	cancel()
	if err != nil {
		b.note("redraft keys phase: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	leader, leads, lerr := rd.LeaderNode(ctx)
	follower, ferr := rd.Follower(ctx)
	if ferr != nil {
		// Every node leads a group: restart one anyway; its groups fail over.
		follower = rd.Nodes[len(rd.Nodes)-1]
		if follower == leader {
			follower = rd.Nodes[0]
		}
		b.note("Every redraft node leads a group: the restarted node %s is also a leader, so its restart includes a failover.", follower.ID)
	}
	// Memory: the node leading the most groups first (the one the targets use).
	if lerr == nil {
		b.redraftMemory(ctx, leader, fmt.Sprintf("%s (leads %d of the groups)", leader.ID, leads), n, before[leader.ID])
	}
	if follower != leader {
		b.redraftMemory(ctx, follower, follower.ID, n, before[follower.ID])
	}

	// Restart of a node: kill -9, start, until it serves its own state and
	// has caught up with what was committed when it died.
	for _, phase := range []struct {
		what string
		wipe bool
	}{{"node restart after kill -9 (snapshot + log replay)", false}, {"new replica: node's data wiped, full sync from the leader (snapshot install)", true}} {
		want := committed(ctx, rd, follower)
		follower.Kill()
		if phase.wipe {
			if err := follower.Wipe(); err != nil {
				return err
			}
		}
		start := time.Now()
		t := report.Timing{System: report.Redraft, What: phase.what, Keys: n}
		if err := follower.Start(); err == nil {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			t.Listening, t.Duration, err = timeToServe(wctx, start, follower.RESPAddr, func() error {
				if err := serves(wctx, follower.RESPAddr, last, val, true); err != nil {
					return err
				}
				return waitCaughtUpOnce(wctx, follower, want)
			})
			cancel()
			if err != nil {
				t.Err = err.Error()
			}
		} else {
			t.Err = err.Error()
		}
		t.Detail = fmt.Sprintf("%s; caught up with the leaders' commit indexes at the kill", follower.ID)
		if phase.wipe {
			snaps, _ := filepath.Glob(filepath.Join(follower.Dir, "groups", "*", "snapshots", "*", "meta.json"))
			if len(snaps) > 0 {
				t.Detail += fmt.Sprintf("; %d snapshot(s) on the node afterwards (installed from the leaders)", len(snaps))
			} else {
				t.Detail += "; no snapshot on the node afterwards (caught up by log replication)"
			}
		}
		if phase.wipe {
			b.res.Syncs = append(b.res.Syncs, t)
		} else {
			b.res.Restarts = append(b.res.Restarts, t)
		}
		log.Printf("redraft: %s with %d keys: %v (listening %v) %s", phase.what, n, t.Duration.Round(time.Millisecond), t.Listening.Round(time.Millisecond), t.Err)
	}
	return nil
}

// redraftMemory records the memory of node nd holding n keys: INFO
// used_memory and RSS as they are, then, when the node serves pprof, a heap
// profile taken right after a forced garbage collection, and used_memory
// after that collection (the live heap).
func (b *bench) redraftMemory(ctx context.Context, nd *systems.RedraftNode, label string, n int, before memSample) {
	after, err := sampleMem(ctx, nd.RESPAddr, nd.Proc)
	row := memRow(report.Redraft, label, n, before, after, err)
	if nd.PprofAddr != "" && err == nil {
		hp, err := heapProfile(ctx, nd.PprofAddr, filepath.Join(b.cfg.out, "heap-keys-"+nd.ID+".pprof"))
		hp.System, hp.Node, hp.Keys = report.Redraft, label, n
		if err != nil {
			hp.Err = err.Error()
		} else if live, err := sampleMem(ctx, nd.RESPAddr, nd.Proc); err == nil {
			row.LiveDelta = live.used - before.used
		}
		b.res.Heap = append(b.res.Heap, *hp)
		log.Printf("redraft: heap profile of %s: %s in use after GC, used_memory %s/key live", nd.ID, fmtMiB(hp.Total), fmtPerKey(row.LiveDelta, n))
	}
	b.res.Memory = append(b.res.Memory, row)
}

func fmtMiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func fmtPerKey(n int64, keys int) string {
	return fmt.Sprintf("%.0f B", float64(n)/float64(max(keys, 1)))
}

// committed returns, per group, the commit index of its leader among the
// nodes other than n.
func committed(ctx context.Context, rd *systems.Redraft, n *systems.RedraftNode) map[string]int64 {
	want := map[string]int64{}
	for _, o := range rd.Nodes {
		if o == n || o.Proc == nil || o.Proc.Exited() {
			continue
		}
		gs, _ := o.Groups(ctx)
		for _, g := range gs {
			want[g.Group] = max(want[g.Group], g.Commit)
		}
	}
	return want
}

// waitCaughtUpOnce checks once that n has applied want in every group.
func waitCaughtUpOnce(ctx context.Context, n *systems.RedraftNode, want map[string]int64) error {
	gs, err := n.Groups(ctx)
	if err != nil {
		return err
	}
	if len(gs) == 0 {
		return fmt.Errorf("%s reports no groups", n.ID)
	}
	for _, g := range gs {
		if g.Applied < want[g.Group] {
			return fmt.Errorf("group %s applied %d < %d", g.Group, g.Applied, want[g.Group])
		}
	}
	return nil
}

// redisLoadLine returns Redis's own account of its last load from disk,
// from its log ("DB loaded from disk: 7.434 seconds"), as "; Redis log: ...".
func redisLoadLine(n *systems.RedisNode) string {
	if n.Proc == nil {
		return ""
	}
	b, err := os.ReadFile(n.Proc.Log)
	if err != nil {
		return ""
	}
	last := ""
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "DB loaded from"); i >= 0 {
			last = strings.TrimSpace(l[i:])
		}
	}
	if last == "" {
		return ""
	}
	return "; Redis log: " + last
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
