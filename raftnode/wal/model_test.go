package wal

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var stepsFlag = flag.Int("steps", 3000, "operations per randomized run")

// model is a plain-map version of one group's store.
type model struct {
	logs   map[uint64]*raft.Log
	stable map[string][]byte
}

func newModel() *model { return &model{logs: map[uint64]*raft.Log{}, stable: map[string][]byte{}} }

func (m *model) firstLast() (uint64, uint64) {
	var first, last uint64
	for i := range m.logs {
		if first == 0 || i < first {
			first = i
		}
		if i > last {
			last = i
		}
	}
	return first, last
}

func (m *model) store(ls []*raft.Log) {
	for i := range m.logs {
		if i >= ls[0].Index {
			delete(m.logs, i)
		}
	}
	for _, l := range ls {
		m.logs[l.Index] = l
	}
}

func (m *model) deleteRange(lo, hi uint64) {
	for i := range m.logs {
		if i >= lo && i <= hi {
			delete(m.logs, i)
		}
	}
}

// check compares s with m entirely.
func (m *model) check(t *testing.T, id string, s *Store) {
	t.Helper()
	first, last := m.firstLast()
	if f, err := s.FirstIndex(); f != first || err != nil {
		t.Fatalf("%s: FirstIndex = %d, %v; model %d", id, f, err, first)
	}
	if l, err := s.LastIndex(); l != last || err != nil {
		t.Fatalf("%s: LastIndex = %d, %v; model %d", id, l, err, last)
	}
	lo := max(first, 1) - 1
	for i := lo; i <= last+1; i++ {
		var got raft.Log
		err := s.GetLog(i, &got)
		want, ok := m.logs[i]
		switch {
		case !ok && !errors.Is(err, raft.ErrLogNotFound):
			t.Fatalf("%s: GetLog(%d) = %v, model has no entry", id, i, err)
		case ok && err != nil:
			t.Fatalf("%s: GetLog(%d): %v", id, i, err)
		case ok:
			if err := sameLog(&got, want); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	keys := make([]string, 0, len(m.stable))
	for k := range m.stable {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range append(keys, "never-set") {
		v, err := s.Get([]byte(k))
		want, ok := m.stable[k]
		if ok != (err == nil) || string(v) != string(want) {
			t.Fatalf("%s: Get(%s) = %q, %v; model %q (set: %v)", id, k, v, err, want, ok)
		}
	}
}

// TestModel runs random operations, shaped like raft's, on several groups
// and compares every group with a plain-map model after each, reopening the
// log now and then. Small segments and a small cache make it roll, collect
// and read back from disk all the time.
func TestModel(t *testing.T) {
	rng := testRand(t)
	dir := t.TempDir()
	opts := Options{SegmentSize: minSegmentSize, CacheEntries: 8}
	w := openWAL(t, dir, opts)
	ids := []string{"g1", "g2", "g3", "meta"}
	models := map[string]*model{}
	stores := map[string]*Store{}
	for _, id := range ids {
		models[id] = newModel()
		stores[id] = mustGroup(t, w, id)
	}
	term := uint64(1)
	var moved uint64 // entries the collector copied, over every Open
	for step := range *stepsFlag {
		id := ids[rng.IntN(len(ids))]
		m, s := models[id], stores[id]
		first, last := m.firstLast()
		var what string
		switch p := rng.IntN(100); {
		case p < 55: // append
			n := 1 + rng.IntN(6)
			from := last + 1
			if rng.IntN(30) == 0 {
				from += uint64(1 + rng.IntN(50)) // a gap, as after a snapshot install
			}
			ls := entries(id, from, from+uint64(n)-1, term, rng.IntN(3000))
			what = fmt.Sprintf("store %d..%d", from, from+uint64(n)-1)
			if err := s.StoreLogs(ls); err != nil {
				t.Fatalf("step %d %s %s: %v", step, id, what, err)
			}
			m.store(ls)
		case p < 65 && last > 0 && id != "meta": // compact a prefix; meta never does
			hi := first + uint64(rng.IntN(int(last-first+1)))
			what = fmt.Sprintf("delete prefix ..%d", hi)
			if err := s.DeleteRange(first, hi); err != nil {
				t.Fatal(err)
			}
			m.deleteRange(first, hi)
		case p < 72 && last > 0: // conflict: drop a suffix, new term
			lo := first + uint64(rng.IntN(int(last-first+1)))
			what = fmt.Sprintf("delete suffix %d..", lo)
			if err := s.DeleteRange(lo, last); err != nil {
				t.Fatal(err)
			}
			m.deleteRange(lo, last)
			term++
		case p < 75 && last > 0: // overwrite without a delete first
			lo := first + uint64(rng.IntN(int(last-first+1)))
			term++
			ls := entries(id, lo, lo+1, term, 100)
			what = fmt.Sprintf("overwrite %d..", lo)
			if err := s.StoreLogs(ls); err != nil {
				t.Fatal(err)
			}
			m.store(ls)
		case p < 90:
			k := []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}[rng.IntN(3)]
			v := fmt.Appendf(nil, "%s-%d", k, step)
			what = "set " + k
			if err := s.Set([]byte(k), v); err != nil {
				t.Fatal(err)
			}
			m.stable[k] = v
		case p < 92: // the group leaves the node and comes back empty
			what = "drop"
			s.Close()
			if err := w.Drop(id); err != nil {
				t.Fatal(err)
			}
			models[id] = newModel()
			stores[id] = mustGroup(t, w, id)
		case p < 95:
			what = "reopen"
			moved += w.Stats().Moved
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w = openWAL(t, dir, opts)
			for _, id := range ids {
				stores[id] = mustGroup(t, w, id)
			}
		default:
			continue
		}
		for _, id := range ids {
			if t.Failed() {
				break
			}
			func() {
				defer func() {
					if t.Failed() {
						t.Logf("after step %d (%s on %s)", step, what, id)
					}
				}()
				models[id].check(t, id, stores[id])
			}()
		}
	}
	st := w.Stats()
	t.Logf("%+v", st)
	if moved += st.Moved; moved == 0 && *stepsFlag >= 1000 {
		t.Error("the collector never copied an entry (the idle group's)")
	}
	// Compact everything: the log shrinks to the active segment and the
	// one before at most.
	for _, id := range ids {
		if _, last := models[id].firstLast(); last > 0 {
			if err := stores[id].DeleteRange(1, last); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitSegments(t, w, 2)
}

// TestConcurrentGroups: many groups write, compact and read at once (run
// it with -race); every read sees a whole entry, and after a reopen each
// group holds exactly what its writer stored.
func TestConcurrentGroups(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 256 << 10, CacheEntries: 16}
	w := openWAL(t, dir, opts)
	const groups, perGroup = 16, 300
	mk := func(id string, i uint64) *raft.Log { return entry(id, i, 1+i/100, int(i%64)*16) }
	var wg sync.WaitGroup
	var stop atomic.Bool
	errc := make(chan error, 2*groups)
	stores := make([]*Store, groups)
	for g := range groups {
		id := fmt.Sprintf("group-%02d", g)
		s := mustGroup(t, w, id)
		stores[g] = s
		wg.Add(2)
		go func() { // the raft main loop: appends, terms, compaction
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			next := uint64(1)
			for next <= perGroup {
				n := uint64(1 + rng.IntN(4))
				var ls []*raft.Log
				for i := next; i < next+n; i++ {
					ls = append(ls, mk(id, i))
				}
				if err := s.StoreLogs(ls); err != nil {
					errc <- err
					return
				}
				next += n
				if err := s.SetUint64([]byte("CurrentTerm"), next); err != nil {
					errc <- err
					return
				}
				if rng.IntN(10) == 0 && next > 50 {
					if err := s.DeleteRange(1, next-50); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
		go func() { // replication: reads of anything in the log
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for !stop.Load() {
				time.Sleep(50 * time.Microsecond) // a follower's pace, not a spin
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if last == 0 {
					continue
				}
				i := first + uint64(rng.IntN(int(last-first+1)))
				var l raft.Log
				err := s.GetLog(i, &l)
				if errors.Is(err, raft.ErrLogNotFound) {
					if f, _ := s.FirstIndex(); f > i {
						continue // compacted meanwhile
					}
				}
				if err != nil {
					errc <- fmt.Errorf("%s: GetLog(%d) in %d..%d: %w", id, i, first, last, err)
					return
				}
				if err := sameLog(&l, mk(id, i)); err != nil {
					errc <- fmt.Errorf("%s: %w", id, err)
					return
				}
			}
		}()
	}
	go func() {
		// Stop the readers once the writers are done.
		for _, s := range stores {
			for {
				if last, _ := s.LastIndex(); last >= perGroup {
					break
				}
				select {
				case err := <-errc:
					errc <- err
					stop.Store(true)
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		stop.Store(true)
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := w.Stats()
	t.Logf("%+v (%.1f calls per sync)", st, float64(st.Ops)/float64(st.Syncs))
	want := make([]string, groups)
	for g, s := range stores {
		want[g] = dump(t, s, "CurrentTerm")
	}
	w.Close()
	w = openWAL(t, dir, opts)
	for g := range groups {
		s := mustGroup(t, w, fmt.Sprintf("group-%02d", g))
		if got := dump(t, s, "CurrentTerm"); got != want[g] {
			t.Fatalf("group %d after reopen:\n%s\nwant:\n%s", g, got, want[g])
		}
	}
}
