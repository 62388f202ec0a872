package raftnode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// BenchmarkProposeParallel proposes one SET per call from many goroutines
// (b.RunParallel) to 3-node groups over loopback TCP, and reports the
// throughput and the log entries written per command. Sub-benchmarks
// compare the log stores (raft.db per group, or the node-wide WAL) with 1
// group and with 4 groups written at once (each node then hosts 4
// replicas, which the WAL commits together). RAFTNODE_BENCH_INFLIGHT sets
// Config.MaxInflight (default when unset).
func BenchmarkProposeParallel(b *testing.B) {
	for _, groups := range []int{1, 4} {
		for _, store := range []string{LogStoreBolt, LogStoreWAL} {
			b.Run(fmt.Sprintf("groups=%d/store=%s", groups, store), func(b *testing.B) {
				benchmarkPropose(b, groups, store)
			})
		}
	}
}

func benchmarkPropose(b *testing.B, ngroups int, store string) {
	inflight, _ := strconv.Atoi(os.Getenv("RAFTNODE_BENCH_INFLIGHT"))
	var names []string
	for i := range ngroups {
		names = append(names, fmt.Sprint("g", i))
	}
	c := newClusterStore(b, 3, names, func(cfg *Config) { cfg.MaxInflight = inflight }, slog.LevelWarn, store)
	var leaders []*Node
	var before uint64
	for _, g := range names {
		n := c.nodes[c.leader(g)].nodes[g]
		leaders = append(leaders, n)
		before += n.Status().LastLogIndex
	}
	val := make([]byte, 64)
	var seq atomic.Int64
	b.SetParallelism(16) // 16 × GOMAXPROCS concurrent proposers
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb_ *testing.PB) {
		ctx := context.Background()
		for pb_.Next() {
			i := seq.Add(1)
			node := leaders[int(i)%len(leaders)]
			k := fmt.Sprint("key", i%100000)
			c := &pb.Command{NowMs: time.Now().UnixMilli(), Args: [][]byte{[]byte("SET"), []byte(k), val}}
			if _, err := node.Propose(ctx, []*pb.Command{c}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	var after uint64
	for _, n := range leaders {
		after += n.Status().LastLogIndex
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(after-before)/float64(b.N), "entries/op")
}

// BenchmarkIdleGroups measures what idle groups cost: 3 in-process nodes
// host 50 groups each, nothing is proposed, and the process's CPU time over
// a few seconds is reported per replica (heartbeats dominate). Run it with
// -benchtime=1x.
func BenchmarkIdleGroups(b *testing.B) {
	const groups = 50
	var names []string
	for i := range groups {
		names = append(names, fmt.Sprint("g", i))
	}
	c := newClusterLog(b, 3, names, nil, slog.LevelWarn)
	for _, g := range names {
		c.leader(g)
	}
	b.ResetTimer()
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	const window = 3 * time.Second
	for range b.N {
		time.Sleep(window) // measuring, not synchronising
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
	share := float64(cpu) / float64(time.Duration(b.N)*window)
	b.ReportMetric(100*share/float64(3*groups), "%core/replica")
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/float64(3*groups)/(1<<20), "heapMiB/replica")
}

// BenchmarkReadIndexParallel runs ReadIndex from many goroutines (16 ×
// GOMAXPROCS, each waiting a little between reads, as a client does between
// requests) on the leader of a 3-node group over loopback TCP, and reports
// the leadership rounds (a heartbeat to every follower each) per read.
func BenchmarkReadIndexParallel(b *testing.B) {
	c := newClusterStore(b, 3, []string{"g"}, nil, slog.LevelWarn, LogStoreWAL)
	leader := c.nodes[c.leader("g")].nodes["g"]
	ctx := context.Background()
	for leader.ReadIndex(ctx) != nil { // until the term's no-op is applied
		time.Sleep(time.Millisecond)
	}
	before := leader.verify.rounds.Load()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb_ *testing.PB) {
		for pb_.Next() {
			if err := leader.ReadIndex(ctx); err != nil {
				b.Error(err)
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(leader.verify.rounds.Load()-before)/float64(b.N), "rounds/read")
}
