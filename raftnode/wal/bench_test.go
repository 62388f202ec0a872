package wal

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// BenchmarkStoreLogs appends one 128-byte entry per call, as a raft leader
// does under light load, from goroutines spread over 1 or 8 groups; each
// group has one writer at a time (as raft's main loop is). It compares the
// WAL (all groups in one log) with raft-boltdb (one file per group, as
// raftnode has it) in the same run: the bolt sub-benchmark reports the
// ratio of the WAL's throughput to its own as "wal/bolt".
func BenchmarkStoreLogs(b *testing.B) {
	for _, groups := range []int{1, 8} {
		var walOps float64
		for _, kind := range []string{"wal", "bolt"} {
			b.Run(fmt.Sprintf("groups=%d/%s", groups, kind), func(b *testing.B) {
				stores := benchStores(b, kind, groups)
				var before Stats
				if s, ok := stores[0].(*Store); ok {
					before = s.w.Stats()
				}
				ops := benchAppend(b, stores)
				if s, ok := stores[0].(*Store); ok {
					after := s.w.Stats()
					b.ReportMetric(float64(after.Ops-before.Ops)/float64(after.Syncs-before.Syncs), "calls/sync")
				}
				if kind == "wal" {
					walOps = ops
				} else if walOps > 0 {
					b.ReportMetric(walOps/ops, "wal/bolt")
				}
			})
		}
	}
}

// benchStores opens groups stores of kind in a fresh directory.
func benchStores(b *testing.B, kind string, groups int) []raft.LogStore {
	dir := b.TempDir()
	var stores []raft.LogStore
	switch kind {
	case "wal":
		w := openWAL(b, filepath.Join(dir, "wal"), Options{})
		for i := range groups {
			stores = append(stores, mustGroup(b, w, fmt.Sprint("g", i)))
		}
		// Let the first preallocated segment get ready, as on a running
		// node.
		deadline := time.Now().Add(5 * time.Second)
		for w.rollEarly.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	case "bolt":
		for i := range groups {
			s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, fmt.Sprint("g", i, ".db"))})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			stores = append(stores, s)
		}
	}
	return stores
}

// benchAppend runs the appends and returns the calls per second.
func benchAppend(b *testing.B, stores []raft.LogStore) float64 {
	type writer struct {
		mu   sync.Mutex
		next uint64
		s    raft.LogStore
	}
	ws := make([]*writer, len(stores))
	for i, s := range stores {
		ws[i] = &writer{next: 1, s: s}
	}
	data := make([]byte, 128)
	var gid atomic.Int64
	// At least one goroutine per group.
	b.SetParallelism(max(1, (len(stores)+1)/2))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := ws[int(gid.Add(1)-1)%len(ws)]
		for pb.Next() {
			w.mu.Lock()
			l := &raft.Log{Index: w.next, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
			err := w.s.StoreLogs([]*raft.Log{l})
			w.next++
			w.mu.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	ops := float64(b.N) / time.Since(start).Seconds()
	b.ReportMetric(ops, "ops/s")
	return ops
}
