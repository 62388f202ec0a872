package wal

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// waitSegments polls until the WAL has at most n segments, open and on
// disk.
func waitSegments(t *testing.T, w *WAL, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := max(w.Stats().Segments, len(segments(t, w.dir)))
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d segments, want at most %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGCRemovesOldSegmentsKeepsStable: once the groups compacted past
// them, old segments go; the stable values that were in them survive, in
// memory and across a reopen; so does the entry of an idle group that never
// compacts (it is copied forward rather than keeping every segment).
func TestGCRemovesOldSegmentsKeepsStable(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		t.Run(fmt.Sprintf("prealloc=%v", prealloc), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: minSegmentSize, NoPreallocate: !prealloc}
			w := openWAL(t, dir, opts)
			ids := []string{"a", "b", "c"}
			stores := map[string]*Store{}
			for _, id := range ids {
				s := mustGroup(t, w, id)
				stores[id] = s
				// Written once, at the start: they live in the first segment.
				if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
					t.Fatal(err)
				}
				if err := s.Set([]byte("LastVoteCand"), []byte("n-"+id)); err != nil {
					t.Fatal(err)
				}
			}
			pin := mustGroup(t, w, "pin")
			if err := pin.StoreLogs(entries("pin", 1, 1, 1, 10)); err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 200; i++ {
				for _, id := range ids {
					if err := stores[id].StoreLogs(entries(id, i, i, 1, 1000)); err != nil {
						t.Fatal(err)
					}
				}
			}
			full := w.Stats().Segments
			if full < 8 {
				t.Fatalf("only %d segments written", full)
			}
			for _, id := range ids {
				if err := stores[id].DeleteRange(1, 195); err != nil {
					t.Fatal(err)
				}
			}
			// "pin" still has entry 1 in the first segment: it is copied.
			waitSegments(t, w, 2)
			if n := len(segments(t, dir)); n > 2 {
				t.Fatalf("%d segment files on disk after collection", n)
			}
			want := map[string]string{"pin": dump(t, pin, "CurrentTerm")}
			if !strings.Contains(want["pin"], "first=1 last=1\n1: t1") {
				t.Fatalf("the idle group's entry after collection:\n%s", want["pin"])
			}
			for _, id := range ids {
				want[id] = dump(t, stores[id], "CurrentTerm", "LastVoteCand")
				if v, err := stores[id].GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
					t.Fatalf("%s: CurrentTerm after GC = %d, %v", id, v, err)
				}
			}
			w.Close()

			w = openWAL(t, dir, opts)
			for _, id := range ids {
				s := mustGroup(t, w, id)
				if got := dump(t, s, "CurrentTerm", "LastVoteCand"); got != want[id] {
					t.Fatalf("%s after reopen:\n%s\nwant:\n%s", id, got, want[id])
				}
			}
			if got := dump(t, mustGroup(t, w, "pin"), "CurrentTerm"); got != want["pin"] {
				t.Fatalf("pin after reopen:\n%s\nwant:\n%s", got, want["pin"])
			}
			if got := w.Groups(); len(got) != 4 {
				t.Fatalf("groups after reopen: %v", got)
			}
		})
	}
}

// TestGCRepeated: many rounds of writing and compacting keep the number of
// segments bounded, and the stable values rewritten again and again stay
// right.
func TestGCRepeated(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: minSegmentSize})
	s := mustGroup(t, w, "g")
	var next uint64 = 1
	for round := range 30 {
		if err := s.SetUint64([]byte("CurrentTerm"), uint64(round)); err != nil {
			t.Fatal(err)
		}
		for range 40 {
			if err := s.StoreLogs(entries("g", next, next+1, uint64(round), 1000)); err != nil {
				t.Fatal(err)
			}
			next += 2
		}
		if err := s.DeleteRange(1, next-10); err != nil {
			t.Fatal(err)
		}
		// Set once in the first round, never again.
		if round == 0 {
			if err := s.Set([]byte("once"), []byte("kept")); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSegments(t, w, 3)
	want := dump(t, s, "CurrentTerm", "once")
	w.Close()
	w = openWAL(t, dir, Options{SegmentSize: minSegmentSize})
	if got := dump(t, mustGroup(t, w, "g"), "CurrentTerm", "once"); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
}

// TestGCIdleGroupDoesNotPin: an idle group with much live data in the
// oldest segments does not keep the log growing while a busy group writes
// and compacts: its entries are copied forward a budget at a time, and
// the log stays within the cleaning bound.
func TestGCIdleGroupDoesNotPin(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: minSegmentSize}
	w := openWAL(t, dir, opts)
	idle, busy := mustGroup(t, w, "idle"), mustGroup(t, w, "busy")
	// 150 KiB live, more than two segments and far more than one round's
	// budget (a quarter segment).
	for i := uint64(1); i <= 150; i += 10 {
		if err := idle.StoreLogs(entries("idle", i, i+9, 1, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, idle)
	for i := uint64(1); i <= 3000; i++ {
		if err := busy.StoreLogs(entries("busy", i, i, 1, 1000)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			if err := busy.DeleteRange(1, i-20); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Live: 150 KiB idle + about 70 KiB busy; bound: four times that,
	// plus the active segment, in 64 KiB segments.
	waitSegments(t, w, 4*220/64+2)
	st := w.Stats()
	t.Logf("%+v", st)
	if st.Moved < 150 {
		t.Fatalf("%d entries copied; the idle group's 150 at least", st.Moved)
	}
	if got := dump(t, idle); got != want {
		t.Fatalf("idle group after collection:\n%s\nwant:\n%s", got, want)
	}
	w.Close()
	w = openWAL(t, dir, opts)
	if got := dump(t, mustGroup(t, w, "idle")); got != want {
		t.Fatalf("idle group after reopen:\n%s\nwant:\n%s", got, want)
	}
}

// TestReadsDuringCollection: an idle group's old entries are read without
// a miss while the collector moves them and removes their segments.
func TestReadsDuringCollection(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{SegmentSize: minSegmentSize, CacheEntries: -1})
	idle, busy := mustGroup(t, w, "idle"), mustGroup(t, w, "busy")
	want := entries("idle", 1, 40, 1, 1000)
	if err := idle.StoreLogs(want); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	errc := make(chan error, 1)
	reads := 0
	go func() {
		defer close(errc)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var l raft.Log
			if err := idle.GetLog(want[i%40].Index, &l); err != nil {
				errc <- err
				return
			}
			if err := sameLog(&l, want[i%40]); err != nil {
				errc <- err
				return
			}
			reads++
			if reads%8 == 0 {
				time.Sleep(time.Microsecond) // leave the writer and the collector their share
			}
		}
	}()
	for i := uint64(1); i <= 800; i++ {
		if err := busy.StoreLogs(entries("busy", i, i, 1, 1000)); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			if err := busy.DeleteRange(1, i-5); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatalf("read during collection: %v", err)
	}
	st := w.Stats()
	t.Logf("%d reads; %+v", reads, st)
	if st.Moved < 40 || st.Removed == 0 {
		t.Fatalf("the collector did not move the idle group's entries: %+v", st)
	}
}
