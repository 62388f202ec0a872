package wal

import (
	"slices"
	"sort"
	"sync"

	"github.com/hashicorp/raft"
)

// loc is where one entry's record lives: segment, offset of the frame and
// the frame's size.
type loc struct {
	off uint64
	seg uint32
	n   uint32
}

// run is a stretch of consecutive indexes: entry first+i is at locs[i].
type run struct {
	first uint64
	locs  []loc
}

func (r *run) last() uint64 { return r.first + uint64(len(r.locs)) - 1 }

// segUse is how much of one segment a group's live entries take.
type segUse struct {
	entries int
	bytes   uint64
}

// group is the in-memory state of one group: where its live entries are,
// how much of each segment they take, the most recent entries themselves,
// and the stable-store values.
//
// Locking: mu guards runs, use and cache (written by the flusher after a
// record is durable, and by recovery) and stable (written with WAL.mu held
// too, at submission, so that submission order is the order of the
// values). open is guarded by WAL.mu.
type group struct {
	id string

	mu     sync.RWMutex
	runs   []run             // sorted by index, disjoint; usually one
	use    map[uint32]segUse // live entries by segment, for the collector
	cache  []*raft.Log       // ring by index; nil entries are empty slots
	stable map[string]*stableValue

	open bool // a Store handle is open
}

// stableValue is a group's latest value of a key and the segment holding
// its latest record (the collector writes it again before dropping that
// segment).
type stableValue struct {
	v   []byte
	seg uint32
}

func newGroup(id string, cacheEntries int) *group {
	g := &group{id: id, stable: map[string]*stableValue{}, use: map[uint32]segUse{}}
	if cacheEntries > 0 {
		g.cache = make([]*raft.Log, cacheEntries)
	}
	return g
}

// firstLast returns the first and last index, 0 and 0 when empty. mu held.
func (g *group) firstLast() (uint64, uint64) {
	if len(g.runs) == 0 {
		return 0, 0
	}
	return g.runs[0].first, g.runs[len(g.runs)-1].last()
}

// find returns the location of entry i. mu held.
func (g *group) find(i uint64) (loc, bool) {
	k := g.runAt(i)
	if k == len(g.runs) || g.runs[k].first > i {
		return loc{}, false
	}
	return g.runs[k].locs[i-g.runs[k].first], true
}

// runAt returns the index of the first run ending at or after i. mu held.
func (g *group) runAt(i uint64) int {
	runs := g.runs
	return sort.Search(len(runs), func(k int) bool { return runs[k].last() >= i })
}

// cached returns entry i from the cache, or nil. mu held.
func (g *group) cached(i uint64) *raft.Log {
	if len(g.cache) == 0 {
		return nil
	}
	if l := g.cache[i%uint64(len(g.cache))]; l != nil && l.Index == i {
		return l
	}
	return nil
}

// account adds (sign 1) or removes (sign -1) locs from the segment usage.
// mu held.
func (g *group) account(locs []loc, sign int) {
	for _, l := range locs {
		u := g.use[l.seg]
		if sign > 0 {
			u.entries++
			u.bytes += uint64(l.n)
		} else {
			u.entries--
			u.bytes -= uint64(l.n)
		}
		if u.entries == 0 {
			delete(g.use, l.seg)
		} else {
			g.use[l.seg] = u
		}
	}
}

// applyEntries records appended entries starting at first: the log from
// first on is replaced. logs, when not nil, are the entries themselves, for
// the cache. mu held.
func (g *group) applyEntries(first uint64, locs []loc, logs []*raft.Log) {
	g.deleteFrom(first)
	if n := len(g.runs); n > 0 && g.runs[n-1].last()+1 == first {
		g.runs[n-1].locs = append(g.runs[n-1].locs, locs...)
	} else {
		g.runs = append(g.runs, run{first: first, locs: slices.Clone(locs)})
	}
	g.account(locs, 1)
	if len(g.cache) > 0 {
		for _, l := range logs {
			g.cache[l.Index%uint64(len(g.cache))] = l
		}
	}
}

// deleteFrom removes every entry at or above i. mu held.
func (g *group) deleteFrom(i uint64) {
	if _, last := g.firstLast(); len(g.runs) == 0 || last < i {
		return
	}
	g.deleteRange(i, ^uint64(0))
}

// deleteRange removes the entries lo..hi (inclusive). mu held.
func (g *group) deleteRange(lo, hi uint64) {
	if lo > hi {
		return
	}
	k := g.runAt(lo)
	if k == len(g.runs) || g.runs[k].first > hi {
		return // nothing in range
	}
	out := slices.Clone(g.runs[:k])
	for _, r := range g.runs[k:] {
		if r.last() < lo || r.first > hi {
			out = append(out, r)
			continue
		}
		from, to := max(lo, r.first)-r.first, min(hi, r.last())-r.first
		g.account(r.locs[from:to+1], -1)
		if from > 0 { // keep the part below lo (clipped: appends copy)
			out = append(out, run{first: r.first, locs: slices.Clip(r.locs[:from])})
		}
		if r.last() > hi { // keep the part above hi
			out = append(out, run{first: hi + 1, locs: r.locs[to+1:]})
		}
	}
	g.runs = out
	for k, l := range g.cache {
		if l != nil && l.Index >= lo && l.Index <= hi {
			g.cache[k] = nil
		}
	}
}

// setLoc makes at the location of entry i, which the collector moved
// there: in place if i is present, else inserted (a replay after the
// original record's segment was removed). Other entries are untouched.
// mu held.
func (g *group) setLoc(i uint64, at loc) {
	k := g.runAt(i)
	if k < len(g.runs) && g.runs[k].first <= i {
		r := &g.runs[k]
		g.account(r.locs[i-r.first:i-r.first+1], -1)
		r.locs[i-r.first] = at
		g.account([]loc{at}, 1)
		return
	}
	g.account([]loc{at}, 1)
	// Runs k-1 (ends before i) and k (starts after i) may touch i.
	joinsPrev := k > 0 && g.runs[k-1].last()+1 == i
	joinsNext := k < len(g.runs) && g.runs[k].first == i+1
	switch {
	case joinsPrev && joinsNext:
		prev := &g.runs[k-1]
		prev.locs = append(append(prev.locs, at), g.runs[k].locs...)
		g.runs = slices.Delete(g.runs, k, k+1)
	case joinsPrev:
		g.runs[k-1].locs = append(g.runs[k-1].locs, at)
	case joinsNext:
		g.runs[k] = run{first: i, locs: append([]loc{at}, g.runs[k].locs...)}
	default:
		g.runs = slices.Insert(g.runs, k, run{first: i, locs: []loc{at}})
	}
}

// applyDrop forgets every entry. mu held.
func (g *group) applyDrop() {
	g.runs = nil
	clear(g.use)
	clear(g.cache)
}
