package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Store is one group's log and stable store in the WAL.
//
// Every call that changes something (StoreLog(s), DeleteRange, Set,
// SetUint64) returns once its record is on disk: its caller waits for the
// flusher's next sync, which it shares with every call of every group
// submitted meanwhile. A StoreLogs call is atomic: after a crash either all
// of its entries are there or none. Storing entries at an index at or below
// LastIndex replaces the log from that index on. The store keeps the *Log
// values it was given (for GetLog), so the caller must not change them
// afterwards.
//
// Threading: safe for concurrent use. Reads see what earlier calls that
// returned wrote; GetLog copies the entry but not its Data, which must not
// be changed. After Close, or the WAL's Close, every call fails with
// ErrClosed.
type Store struct {
	w      *WAL
	g      *group
	closed atomic.Bool
}

var (
	_ raft.LogStore    = (*Store)(nil)
	_ raft.StableStore = (*Store)(nil)
)

// ID returns the group's id.
func (s *Store) ID() string { return s.g.id }

// Close releases the handle; the group's data stays in the WAL. Calls in
// flight complete.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.w.mu.Lock()
	s.g.open = false
	s.w.mu.Unlock()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() || s.w.shut.Load() {
		return ErrClosed
	}
	return nil
}

// FirstIndex returns the first index in the log, 0 when it is empty.
func (s *Store) FirstIndex() (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	s.g.mu.RLock()
	first, _ := s.g.firstLast()
	s.g.mu.RUnlock()
	return first, nil
}

// LastIndex returns the last index in the log, 0 when it is empty.
func (s *Store) LastIndex() (uint64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	s.g.mu.RLock()
	_, last := s.g.firstLast()
	s.g.mu.RUnlock()
	return last, nil
}

// GetLog reads entry index into out: from memory for recent entries, else
// from its segment, checking the record's checksum. A missing entry is
// raft.ErrLogNotFound.
func (s *Store) GetLog(index uint64, out *raft.Log) error {
	if err := s.check(); err != nil {
		return err
	}
	g := s.g
	var prev loc
	for {
		g.mu.RLock()
		if l := g.cached(index); l != nil {
			*out = *l
			g.mu.RUnlock()
			return nil
		}
		at, ok := g.find(index)
		g.mu.RUnlock()
		if !ok || at == prev {
			return raft.ErrLogNotFound
		}
		err := s.w.readEntry(g.id, index, at, out)
		if err != errSegmentGone {
			return err
		}
		// The collector removed the segment: the entry was deleted, or
		// moved and the index now says where.
		prev = at
	}
}

// errSegmentGone: the segment of a location was removed meanwhile.
var errSegmentGone = errors.New("wal: segment removed")

// readEntry reads the entry at at, which must be entry index of group gid.
func (w *WAL) readEntry(gid string, index uint64, at loc, out *raft.Log) error {
	buf := make([]byte, at.n)
	w.segMu.RLock()
	seg := w.segs[at.seg]
	if seg == nil {
		w.segMu.RUnlock()
		return errSegmentGone
	}
	path := seg.path
	_, err := seg.f.ReadAt(buf, int64(at.off))
	w.segMu.RUnlock()
	if err != nil {
		return fileErr(fmt.Sprintf("read entry %d of group %s at offset %d of", index, gid, at.off), path, err)
	}
	body, n, st := parseFrame(buf)
	if st != frameOK || n != len(buf) {
		return corrupt(path, at.off, "entry %d of group %s: %v", index, gid, st)
	}
	rec, err := splitBody(body)
	if err != nil {
		return corrupt(path, at.off, "entry %d of group %s: %v", index, gid, err)
	}
	if (rec.typ != recEntry && rec.typ != recEntryMore && rec.typ != recMove) || string(rec.group) != gid {
		return corrupt(path, at.off, "want entry %d of group %s, found a record of type %d of group %s", index, gid, rec.typ, rec.group)
	}
	if err := decodeEntry(rec.payload, out); err != nil {
		return corrupt(path, at.off, "entry %d of group %s: %v", index, gid, err)
	}
	if out.Index != index {
		return corrupt(path, at.off, "want entry %d of group %s, found entry %d", index, gid, out.Index)
	}
	return nil
}

// StoreLog stores one entry; see StoreLogs.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries with consecutive indexes, all or nothing, and
// returns once they are durable. Entries at or below LastIndex replace the
// log from the first of them on; entries above LastIndex+1 leave a gap
// (FirstIndex and LastIndex span it; GetLog in it is ErrLogNotFound).
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if err := s.check(); err != nil {
		return err
	}
	if len(logs) == 0 {
		return nil
	}
	g, w := s.g, s.w
	first := logs[0].Index
	total := 0
	for i, l := range logs {
		if l.Index == 0 || l.Index != first+uint64(i) {
			return fmt.Errorf("wal: group %s: StoreLogs needs consecutive indexes above 0; got index %d at position %d of a call starting at %d",
				g.id, l.Index, i, first)
		}
		n := entrySize(g.id, l)
		if n-frameHeader > maxBody {
			return fmt.Errorf("wal: group %s: entry %d is %d bytes; the most is %d", g.id, l.Index, n, maxBody)
		}
		total += n
	}

	o := getOp()
	o.kind, o.g, o.first, o.logs = opEntries, g, first, logs
	if err := w.lockSubmit(); err != nil {
		putOp(o)
		return err
	}
	w.buf = w.reserve(total)
	seq, off := w.tailSeq, w.tailOff-uint64(total)
	for i, l := range logs {
		start := len(w.buf)
		w.buf = appendEntry(w.buf, g.id, l, i < len(logs)-1)
		n := len(w.buf) - start
		o.locs = append(o.locs, loc{seg: seq, off: off, n: uint32(n)})
		off += uint64(n)
	}
	w.ops = append(w.ops, o)
	w.mu.Unlock()
	w.kickFlush()
	err := <-o.done
	putOp(o)
	return err
}

// DeleteRange deletes the entries lo..hi (inclusive; a prefix after a
// snapshot, a suffix on a conflict, or any range) and returns once that is
// durable.
func (s *Store) DeleteRange(lo, hi uint64) error {
	if err := s.check(); err != nil {
		return err
	}
	if lo > hi {
		return nil
	}
	g, w := s.g, s.w
	o := getOp()
	o.kind, o.g, o.lo, o.hi = opDelete, g, lo, hi
	if err := w.lockSubmit(); err != nil {
		putOp(o)
		return err
	}
	w.buf = appendDelete(w.reserve(frameHeader+2+len(g.id)+16), g.id, lo, hi)
	w.ops = append(w.ops, o)
	w.mu.Unlock()
	w.kickFlush()
	err := <-o.done
	putOp(o)
	return err
}

// Set stores the value of key k and returns once it is durable. Get sees
// it as soon as Set is called (the value is ordered with the record); if
// the write fails, the WAL fails every later call.
func (s *Store) Set(k, v []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	g, w := s.g, s.w
	n := frameHeader + 2 + len(g.id) + 4 + len(k) + len(v)
	if n-frameHeader > maxBody {
		return fmt.Errorf("wal: group %s: value of %q is %d bytes; the most is %d", g.id, k, len(k)+len(v), maxBody)
	}
	o := getOp()
	o.kind = opOther
	if err := w.lockSubmit(); err != nil {
		putOp(o)
		return err
	}
	w.buf = appendSet(w.reserve(n), g.id, k, v)
	g.mu.Lock()
	g.stable[string(k)] = &stableValue{v: bytes.Clone(v), seg: w.tailSeq}
	g.mu.Unlock()
	w.ops = append(w.ops, o)
	w.mu.Unlock()
	w.kickFlush()
	err := <-o.done
	putOp(o)
	return err
}

// Get returns a copy of the value of key k, or ErrNotFound.
func (s *Store) Get(k []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	s.g.mu.RLock()
	sv := s.g.stable[string(k)]
	s.g.mu.RUnlock()
	if sv == nil {
		return nil, ErrNotFound
	}
	return bytes.Clone(sv.v), nil
}

// SetUint64 stores v as the value of key k (8 bytes, big-endian).
func (s *Store) SetUint64(k []byte, v uint64) error {
	return s.Set(k, binary.BigEndian.AppendUint64(nil, v))
}

// GetUint64 returns the value of key k stored by SetUint64, or ErrNotFound.
func (s *Store) GetUint64(k []byte) (uint64, error) {
	v, err := s.Get(k)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("wal: group %s: value of %q is %d bytes, not a uint64", s.g.id, k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
