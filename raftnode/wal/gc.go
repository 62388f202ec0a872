package wal

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/hashicorp/raft"
)

// Garbage collection.
//
// Segments are removed oldest first, so the segments on disk are always a
// consecutive run. A run of oldest segments can go once nothing in it is
// needed: no group's live entry and no latest stable value is in it. Groups
// compact their logs at their own pace, and an idle group keeps its last
// entries (raft's trailing logs) for ever, so waiting for old segments to
// die by themselves could keep every segment after an idle group's entries.
// So the collector cleans: it copies the live entries of the oldest
// segments to the tail (recMove records, which only relocate an entry),
// writes the stable values found there again, and removes the segments.
//
// Policy: the target is the longest run of oldest sealed segments whose
// live entries are at most a quarter of its size (cleanNum/cleanDen), so
// copying costs at most a quarter more writing than the segments it frees,
// and the log stays within about four times its live data plus the active
// segment. One round copies at most maxMove bytes, oldest first, and
// removes the segments left empty; rounds follow one another until the
// target is reached. Runs are started by a segment roll or a deletion.
//
// Why replaying what remains gives the live state: the copies are made at
// a quiet point (submissions held, everything submitted before applied),
// so each recMove names an entry live at that point of the log, and what
// follows it in the log acts on it as on the original. Records in removed
// segments only acted on entries that are dead (removed with them, or
// superseded by later records in kept segments), except for stable values,
// which are written again. Each removal is durable before the next, oldest
// first: a crash leaves a consecutive run.

const cleanNum, cleanDen = 1, 4

// maxMove is the most entry bytes one round copies: the pause it causes is
// a memory copy of that much, and the next sync writes it.
func (w *WAL) maxMove() uint64 { return uint64(w.opts.SegmentSize) / 4 }

func (w *WAL) gcLoop() {
	defer close(w.gcDone)
	for {
		select {
		case <-w.stop:
			return
		case <-w.gcKick:
		}
		more, err := w.collect()
		if err != nil && !errors.Is(err, ErrClosed) {
			w.log.Error("wal: garbage collection failed", "dir", w.dir, "error", err)
		}
		if more {
			w.kickGC()
		}
	}
}

// target returns the oldest segment and the end of the run of oldest
// sealed segments to clean (target == oldest: nothing to do).
func (w *WAL) target() (oldest, target uint32) {
	w.mu.Lock()
	active := w.tailSeq
	gs := w.groupList()
	w.mu.Unlock()
	live := map[uint32]uint64{}
	for _, g := range gs {
		g.mu.RLock()
		for seq, u := range g.use {
			live[seq] += u.bytes
		}
		g.mu.RUnlock()
	}
	type segSize struct {
		seq  uint32
		size uint64
	}
	w.segMu.RLock()
	segs := make([]segSize, 0, len(w.segs))
	for seq, s := range w.segs {
		segs = append(segs, segSize{seq, s.end.Load() - headerSize})
	}
	w.segMu.RUnlock()
	if len(segs) == 0 {
		return 0, 0
	}
	slices.SortFunc(segs, func(a, b segSize) int { return cmpSeq(a.seq, b.seq) })
	oldest, target = segs[0].seq, segs[0].seq
	var size, moved uint64
	for _, s := range segs {
		if s.seq >= active {
			break
		}
		size += s.size
		moved += live[s.seq]
		if moved*cleanDen <= size*cleanNum {
			target = s.seq + 1
		}
	}
	return oldest, target
}

func cmpSeq(a, b uint32) int { return int(int64(a) - int64(b)) }

// copyOf is a live entry in a segment to be removed, and its copy.
type copyOf struct {
	g     *group
	index uint64
	old   loc
	rec   []byte // the recMove record
}

type entryKey struct {
	g     *group
	index uint64
}

// liveBelow returns the live entries of gs in segments before end, oldest
// first. Takes each group's lock.
func liveBelow(gs []*group, end uint32) []copyOf {
	var out []copyOf
	for _, g := range gs {
		g.mu.RLock()
		old := false
		for seq := range g.use {
			old = old || seq < end
		}
		if old {
			for _, r := range g.runs {
				for k, at := range r.locs {
					if at.seg < end {
						out = append(out, copyOf{g: g, index: r.first + uint64(k), old: at})
					}
				}
			}
		}
		g.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b copyOf) int {
		if c := cmpSeq(a.old.seg, b.old.seg); c != 0 {
			return c
		}
		return int(int64(a.old.off) - int64(b.old.off))
	})
	return out
}

// groupList returns the groups. mu held.
func (w *WAL) groupList() []*group {
	gs := make([]*group, 0, len(w.groups))
	for _, g := range w.groups {
		gs = append(gs, g)
	}
	return gs
}

// copyEntry reads c's entry and makes its recMove record.
func (w *WAL) copyEntry(c *copyOf) error {
	var l raft.Log
	if err := w.readEntry(c.g.id, c.index, c.old, &l); err != nil {
		return fmt.Errorf("copy entry %d of group %s: %w", c.index, c.g.id, err)
	}
	c.rec = appendEntryRecord(nil, recMove, c.g.id, &l)
	return nil
}

// collect runs one round; more says another round has work.
func (w *WAL) collect() (more bool, err error) {
	oldest, target := w.target()
	if target <= oldest {
		return false, nil
	}

	// Read the oldest live entries below the target, up to maxMove bytes,
	// before holding anything up.
	w.mu.Lock()
	gs := w.groupList()
	w.mu.Unlock()
	var chosen []copyOf
	var bytes uint64
	budgetHit := false
	for _, c := range liveBelow(gs, target) {
		if bytes >= w.maxMove() {
			budgetHit = true
			break
		}
		if err := w.copyEntry(&c); err != nil {
			return false, err
		}
		chosen = append(chosen, c)
		bytes += uint64(c.old.n)
	}

	// Hold submissions and wait until everything submitted is applied.
	if err := w.lockSubmit(); err != nil {
		return false, err
	}
	w.hold = true
	barrier := getOp()
	barrier.kind = opOther
	w.ops = append(w.ops, barrier)
	w.mu.Unlock()
	w.kickFlush()
	err = <-barrier.done
	putOp(barrier)
	w.mu.Lock()
	release := func() {
		w.hold = false
		w.holdCond.Broadcast()
		w.mu.Unlock()
	}
	if err == nil {
		err = w.usable()
	}
	if err != nil {
		release()
		return false, err
	}

	// Quiet: the state is the log's. Copy the chosen entries still live.
	// The segments before end are removed: if the budget stopped the
	// choice, end is the oldest segment holding an entry not chosen; else
	// it is the target, and entries applied since the choice (submitted
	// before the tail passed the target; few) are read and copied now.
	// Stable values before end are written again.
	byKey := make(map[entryKey]*copyOf, len(chosen))
	for k := range chosen {
		byKey[entryKey{chosen[k].g, chosen[k].index}] = &chosen[k]
	}
	live := liveBelow(w.groupList(), target)
	end := target
	for _, c := range live {
		if p := byKey[entryKey{c.g, c.index}]; p != nil && p.old != c.old {
			// Only the collector moves entries, and it is here.
			release()
			return false, fmt.Errorf("internal error: entry %d of group %s moved during a round", c.index, c.g.id)
		} else if p == nil && budgetHit {
			end = min(end, c.old.seg)
		}
	}
	o := getOp()
	o.kind = opMove
	for _, c := range live {
		p := byKey[entryKey{c.g, c.index}]
		if p == nil && c.old.seg >= end {
			continue
		}
		if p == nil {
			if err := w.copyEntry(&c); err != nil {
				putOp(o)
				release()
				return false, err
			}
			p = &c
		}
		w.buf = append(w.reserve(len(p.rec)), p.rec...)
		at := loc{seg: w.tailSeq, off: w.tailOff - uint64(len(p.rec)), n: uint32(len(p.rec))}
		o.moves = append(o.moves, moved{g: p.g, index: p.index, old: p.old, new: at})
	}
	rewritten := 0
	for _, g := range w.groups {
		g.mu.Lock()
		for k, sv := range g.stable {
			if sv.seg < end {
				w.buf = appendSet(w.reserve(frameHeader+2+len(g.id)+4+len(k)+len(sv.v)), g.id, []byte(k), sv.v)
				sv.seg = w.tailSeq
				rewritten++
			}
		}
		g.mu.Unlock()
	}
	w.ops = append(w.ops, o)
	nmoved := len(o.moves)
	release()
	w.kickFlush()
	err = <-o.done
	putOp(o)
	if err != nil {
		return false, err
	}

	if left := liveBelow(gs, end); len(left) > 0 {
		return false, fmt.Errorf("internal error: entry %d of group %s still in segment %d after copying",
			left[0].index, left[0].g.id, left[0].old.seg)
	}
	w.segMu.Lock()
	var victims []*segment
	for seq, s := range w.segs {
		if seq < end {
			victims = append(victims, s)
			delete(w.segs, seq)
		}
	}
	w.segMu.Unlock()
	slices.SortFunc(victims, func(a, b *segment) int { return cmpSeq(a.seq, b.seq) })
	for _, s := range victims {
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			return false, err
		}
		if err := syncDir(w.dir); err != nil {
			return false, err
		}
		w.nRemoved.Add(1)
	}
	w.nMoved.Add(uint64(nmoved))
	if len(victims) > 0 || nmoved > 0 {
		w.log.Debug("wal: collected", "dir", w.dir, "segments_removed", len(victims),
			"entries_copied", nmoved, "stable_values_rewritten", rewritten, "target", segName(target))
	}
	// More to do if this round stopped short of the target and moved
	// something (else it would stop short again).
	return end < target && nmoved > 0, nil
}
