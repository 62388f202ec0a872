package wal

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// The conformance tests run against the WAL and against raft-boltdb, the
// store raft is known to work with: whatever raft can observe must match.

type storeKind struct {
	name string
	// open opens the store in dir (again after a close); close closes it.
	open func(t *testing.T, dir string) (s kvlog, close func())
}

var kinds = []storeKind{
	{"wal", func(t *testing.T, dir string) (kvlog, func()) {
		w, err := Open(filepath.Join(dir, "wal"), Options{Logger: quiet(), CacheEntries: 4, SegmentSize: minSegmentSize})
		if err != nil {
			t.Fatal(err)
		}
		s := mustGroup(t, w, "g")
		return s, func() {
			s.Close()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"bolt", func(t *testing.T, dir string) (kvlog, func()) {
		s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			t.Fatal(err)
		}
		return s, func() {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}},
}

func forKinds(t *testing.T, f func(t *testing.T, k storeKind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

func TestConformanceEmpty(t *testing.T) {
	forKinds(t, func(t *testing.T, k storeKind) {
		s, done := k.open(t, t.TempDir())
		defer done()
		if i, err := s.FirstIndex(); i != 0 || err != nil {
			t.Fatalf("FirstIndex = %d, %v", i, err)
		}
		if i, err := s.LastIndex(); i != 0 || err != nil {
			t.Fatalf("LastIndex = %d, %v", i, err)
		}
		var l raft.Log
		if err := s.GetLog(1, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(1) = %v, want ErrLogNotFound", err)
		}
		// raft recognises a missing stable key by this exact text.
		if _, err := s.Get([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
			t.Fatalf("Get of a missing key: %v, want \"not found\"", err)
		}
		if _, err := s.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
			t.Fatalf("GetUint64 of a missing key: %v, want \"not found\"", err)
		}
		if has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); has || err != nil {
			t.Fatalf("HasExistingState on an empty store = %v, %v", has, err)
		}
		if err := s.DeleteRange(1, 10); err != nil {
			t.Fatalf("DeleteRange on an empty store: %v", err)
		}
	})
}

func TestConformanceStoreAndGet(t *testing.T) {
	forKinds(t, func(t *testing.T, k storeKind) {
		s, done := k.open(t, t.TempDir())
		defer done()
		want := entries("g", 1, 20, 3, 100)
		if err := s.StoreLog(want[0]); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreLogs(want[1:10]); err != nil {
			t.Fatal(err)
		}
		for _, l := range want[10:] {
			if err := s.StoreLogs([]*raft.Log{l}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.StoreLogs(nil); err != nil {
			t.Fatalf("StoreLogs(nil): %v", err)
		}
		if i, _ := s.FirstIndex(); i != 1 {
			t.Fatalf("FirstIndex = %d", i)
		}
		if i, _ := s.LastIndex(); i != 20 {
			t.Fatalf("LastIndex = %d", i)
		}
		for _, w := range want {
			var got raft.Log
			if err := s.GetLog(w.Index, &got); err != nil {
				t.Fatalf("GetLog(%d): %v", w.Index, err)
			}
			if err := sameLog(&got, w); err != nil {
				t.Fatal(err)
			}
		}
		var l raft.Log
		if err := s.GetLog(21, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(21) = %v", err)
		}
		if has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); !has || err != nil {
			t.Fatalf("HasExistingState = %v, %v", has, err)
		}
	})
}

func TestConformanceDeleteRange(t *testing.T) {
	forKinds(t, func(t *testing.T, k storeKind) {
		s, done := k.open(t, t.TempDir())
		defer done()
		if err := s.StoreLogs(entries("g", 1, 30, 1, 50)); err != nil {
			t.Fatal(err)
		}
		check := func(first, last uint64) {
			t.Helper()
			if i, _ := s.FirstIndex(); i != first {
				t.Fatalf("FirstIndex = %d, want %d", i, first)
			}
			if i, _ := s.LastIndex(); i != last {
				t.Fatalf("LastIndex = %d, want %d", i, last)
			}
			for i := uint64(1); i <= 40; i++ {
				var l raft.Log
				err := s.GetLog(i, &l)
				if i >= first && i <= last && first > 0 {
					if err != nil {
						t.Fatalf("GetLog(%d): %v", i, err)
					}
					if l.Index != i {
						t.Fatalf("GetLog(%d) returned entry %d", i, l.Index)
					}
				} else if !errors.Is(err, raft.ErrLogNotFound) {
					t.Fatalf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
				}
			}
		}
		// Prefix: compaction after a snapshot.
		if err := s.DeleteRange(1, 10); err != nil {
			t.Fatal(err)
		}
		check(11, 30)
		// Suffix: a conflict; then the new leader's entries.
		if err := s.DeleteRange(25, 30); err != nil {
			t.Fatal(err)
		}
		check(11, 24)
		if err := s.StoreLogs(entries("g", 25, 27, 2, 50)); err != nil {
			t.Fatal(err)
		}
		check(11, 27)
		var l raft.Log
		if err := s.GetLog(26, &l); err != nil || l.Term != 2 {
			t.Fatalf("GetLog(26) = term %d, %v; want the new term 2", l.Term, err)
		}
		// A prefix starting below the first index, as raft's compaction
		// may ask.
		if err := s.DeleteRange(1, 15); err != nil {
			t.Fatal(err)
		}
		check(16, 27)
		// Everything.
		if err := s.DeleteRange(16, 27); err != nil {
			t.Fatal(err)
		}
		check(0, 0)
		if err := s.StoreLogs(entries("g", 28, 29, 3, 50)); err != nil {
			t.Fatal(err)
		}
		check(28, 29)
	})
}

func TestConformanceStable(t *testing.T) {
	forKinds(t, func(t *testing.T, k storeKind) {
		dir := t.TempDir()
		s, done := k.open(t, dir)
		if err := s.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 1<<40+9); err != nil {
			t.Fatal(err)
		}
		if err := s.Set([]byte{0, 1, 2}, bytes.Repeat([]byte("v"), 10000)); err != nil {
			t.Fatal(err)
		}
		check := func() {
			t.Helper()
			if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "n2" {
				t.Fatalf("Get = %q, %v", v, err)
			}
			if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+9 {
				t.Fatalf("GetUint64 = %d, %v", v, err)
			}
			if v, err := s.Get([]byte{0, 1, 2}); err != nil || !bytes.Equal(v, bytes.Repeat([]byte("v"), 10000)) {
				t.Fatalf("Get of a binary key = %d bytes, %v", len(v), err)
			}
			if _, err := s.Get([]byte("LastVoteTerm")); err == nil || err.Error() != "not found" {
				t.Fatalf("Get of a missing key: %v", err)
			}
			if has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore()); !has || err != nil {
				t.Fatalf("HasExistingState = %v, %v", has, err)
			}
		}
		check()
		// The value returned is the caller's to change.
		v, _ := s.Get([]byte("LastVoteCand"))
		v[0] = 'X'
		check()
		done()
		s, done = k.open(t, dir)
		defer done()
		check()
	})
}

// TestConformanceReopen checks that a reopened store has exactly the state
// the closed one had.
func TestConformanceReopen(t *testing.T) {
	forKinds(t, func(t *testing.T, k storeKind) {
		dir := t.TempDir()
		s, done := k.open(t, dir)
		for i := uint64(0); i < 10; i++ {
			if err := s.StoreLogs(entries("g", 10*i+1, 10*i+10, i+1, 300)); err != nil {
				t.Fatal(err)
			}
			if err := s.SetUint64([]byte("CurrentTerm"), i+1); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteRange(1, 35); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRange(90, 100); err != nil {
			t.Fatal(err)
		}
		if err := s.StoreLogs(entries("g", 90, 95, 11, 20)); err != nil {
			t.Fatal(err)
		}
		before := dump(t, s, "CurrentTerm", "LastVoteTerm")
		done()
		s, done = k.open(t, dir)
		defer done()
		if after := dump(t, s, "CurrentTerm", "LastVoteTerm"); after != before {
			t.Fatalf("state after reopen:\n%s\nbefore:\n%s", after, before)
		}
		if !strings.Contains(before, "first=36 last=95") {
			t.Fatalf("unexpected state:\n%s", before)
		}
	})
}

// The tests below are for what only the WAL promises or does.

func TestStoreOverwriteAndGaps(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{CacheEntries: 4})
	s := mustGroup(t, w, "g")
	if err := s.StoreLogs(entries("g", 1, 10, 1, 10)); err != nil {
		t.Fatal(err)
	}
	// Storing at or below the last index replaces the log from there.
	if err := s.StoreLogs(entries("g", 6, 7, 2, 10)); err != nil {
		t.Fatal(err)
	}
	if last, _ := s.LastIndex(); last != 7 {
		t.Fatalf("LastIndex after an overwrite at 6..7 = %d, want 7", last)
	}
	var l raft.Log
	if err := s.GetLog(6, &l); err != nil || l.Term != 2 {
		t.Fatalf("entry 6: term %d, %v", l.Term, err)
	}
	// A gap: after a snapshot install raft may store far above the last
	// index.
	if err := s.StoreLogs(entries("g", 100, 102, 3, 10)); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.FirstIndex(); f != 1 {
		t.Fatalf("FirstIndex = %d", f)
	}
	if last, _ := s.LastIndex(); last != 102 {
		t.Fatalf("LastIndex = %d", last)
	}
	if err := s.GetLog(50, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog in the gap: %v", err)
	}
	// A middle range.
	if err := s.DeleteRange(3, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(3, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(3) after deleting 3..4: %v", err)
	}
	if err := s.GetLog(5, &l); err != nil || l.Index != 5 {
		t.Fatalf("GetLog(5): %v", err)
	}
	// Compaction past the gap.
	if err := s.DeleteRange(1, 100); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.FirstIndex(); f != 101 {
		t.Fatalf("FirstIndex after compaction = %d", f)
	}
	// Bad calls.
	if err := s.StoreLogs([]*raft.Log{{Index: 103}, {Index: 105}}); err == nil {
		t.Fatal("StoreLogs with non-consecutive indexes succeeded")
	}
	if err := s.StoreLogs([]*raft.Log{{Index: 0}}); err == nil {
		t.Fatal("StoreLogs of index 0 succeeded")
	}
}

func TestStoreReadsBackFromDisk(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{CacheEntries: -1})
	s := mustGroup(t, w, "g")
	want := entries("g", 1, 50, 1, 1000)
	if err := s.StoreLogs(want[:25]); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(want[25:]); err != nil {
		t.Fatal(err)
	}
	for _, e := range want {
		var got raft.Log
		if err := s.GetLog(e.Index, &got); err != nil {
			t.Fatal(err)
		}
		if err := sameLog(&got, e); err != nil {
			t.Fatal(err)
		}
	}
	// A damaged record is reported with the file and offset, not served.
	g := s.g
	g.mu.RLock()
	at, _ := g.find(30)
	g.mu.RUnlock()
	path := filepath.Join(dir, segName(at.seg))
	flipByte(t, path, int64(at.off)+int64(at.n)-1)
	var got raft.Log
	err := s.GetLog(30, &got)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("GetLog of a damaged entry: %v, want ErrCorrupt naming %s", err, path)
	}
}

func TestGroupsAreSeparate(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{})
	a, b := mustGroup(t, w, "a"), mustGroup(t, w, "b")
	if _, err := w.Group("a"); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Group(a): %v, want ErrInUse", err)
	}
	if _, err := w.Group(strings.Repeat("x", 256)); err == nil {
		t.Fatal("Group with a 256-byte id succeeded")
	}
	if err := a.StoreLogs(entries("a", 1, 5, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := b.StoreLogs(entries("b", 1, 3, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if last, _ := b.LastIndex(); last != 3 {
		t.Fatalf("b's LastIndex = %d", last)
	}
	if _, err := b.GetUint64([]byte("CurrentTerm")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b sees a's value: %v", err)
	}
	if err := w.Drop("a"); !errors.Is(err, ErrInUse) {
		t.Fatalf("Drop of an open group: %v", err)
	}
	a.Close()
	if _, err := a.LastIndex(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed Store: %v", err)
	}
	if got := w.Groups(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Groups = %v", got)
	}
	if err := w.Drop("a"); err != nil {
		t.Fatal(err)
	}
	if got := w.Groups(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("Groups after Drop(a) = %v", got)
	}
	w.Close()
	if _, err := b.LastIndex(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Store of a closed WAL: %v", err)
	}

	w = openWAL(t, dir, Options{})
	a = mustGroup(t, w, "a")
	if last, _ := a.LastIndex(); last != 0 {
		t.Fatalf("dropped group has entries up to %d after reopen", last)
	}
	if _, err := a.GetUint64([]byte("CurrentTerm")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dropped group's value after reopen: %v", err)
	}
	b = mustGroup(t, w, "b")
	if last, _ := b.LastIndex(); last != 3 {
		t.Fatalf("b's LastIndex after reopen = %d", last)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := Open(t.TempDir(), Options{SegmentSize: 100}); err == nil || !strings.Contains(err.Error(), "SegmentSize") {
		t.Fatalf("Open with a tiny SegmentSize: %v", err)
	}
}

// TestSyncIsShared checks the group commit: calls from many groups
// submitted together complete with fewer syncs than calls.
func TestSyncIsShared(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{})
	const groups = 32
	stores := make([]*Store, groups)
	for i := range stores {
		stores[i] = mustGroup(t, w, string(rune('A'+i)))
	}
	start := time.Now()
	errc := make(chan error, groups)
	for round := uint64(1); round <= 20; round++ {
		for _, s := range stores {
			go func() { errc <- s.StoreLogs(entries(s.ID(), round, round, 1, 100)) }()
		}
		for range stores {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	}
	st := w.Stats()
	t.Logf("%d StoreLogs calls in %v: %+v", 20*groups, time.Since(start), st)
	if st.Ops < 20*groups || st.Syncs*2 > st.Ops {
		t.Fatalf("%d calls took %d syncs: not shared", st.Ops, st.Syncs)
	}
}

// TestWriteFailureIsSticky: after a failed write every call fails (the
// file's state is unknown), and a reopen recovers what was synced.
func TestWriteFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{NoPreallocate: true})
	s := mustGroup(t, w, "g")
	if err := s.StoreLogs(entries("g", 1, 5, 1, 10)); err != nil {
		t.Fatal(err)
	}
	want := dump(t, s)
	// Break the active segment's file under the flusher.
	w.segMu.RLock()
	w.segs[w.tailSeq].f.Close()
	w.segMu.RUnlock()
	err := s.StoreLogs(entries("g", 6, 6, 1, 10))
	if err == nil {
		t.Fatal("StoreLogs on a broken file succeeded")
	}
	if err2 := s.SetUint64([]byte("CurrentTerm"), 2); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("call after the failure: %v, want the first failure %v", err2, err)
	}
	w.Close()
	w = openWAL(t, dir, Options{NoPreallocate: true})
	if got := dump(t, mustGroup(t, w, "g")); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
}
