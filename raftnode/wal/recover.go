package wal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// sectorSize is the unit a torn write is recognised by: a crash during a
// write leaves some sectors of the unsynced tail unwritten (zero), while
// bit rot in synced data does not zero a whole sector.
const sectorSize = 512

// recover replays every segment in order, rebuilding the groups, and sets
// up the active segment and the tail. Called by Open before the flusher
// starts.
func (w *WAL) recover() error {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	var seqs []uint32
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".seg.tmp"):
			// A segment being preallocated when the process stopped.
			if err := os.Remove(w.pathOf(name)); err != nil {
				return fileErr("remove leftover", w.pathOf(name), err)
			}
		case strings.HasSuffix(name, ".seg"):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 16, 32)
			if err != nil || len(name) != 12 || seq == 0 {
				return fmt.Errorf("wal: %s: not a segment name (want 8 hex digits, not all zero, and .seg)", w.pathOf(name))
			}
			seqs = append(seqs, uint32(seq))
		}
	}
	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			return fmt.Errorf("%w: %s follows %s: the segments between them are missing",
				ErrCorrupt, w.segPath(seqs[i]), w.segPath(seqs[i-1]))
		}
	}
	if len(seqs) == 0 {
		return w.startSegment(1)
	}
	for i, seq := range seqs {
		last := i == len(seqs)-1
		end, size, sealed, err := w.replay(seq, last)
		if err != nil {
			return err
		}
		if !last && !sealed {
			return corrupt(w.segPath(seq), end, "the segment ends without its seal record: it was cut short")
		}
		if last && sealed {
			// The process stopped between sealing this segment and creating
			// the next one.
			return w.startSegment(seq + 1)
		}
		if last {
			w.active = w.segs[seq]
			w.tailSeq, w.tailOff = seq, end
			w.activePrealloc.Store(size >= w.opts.SegmentSize)
		}
	}
	for id, g := range w.groups {
		if len(g.runs) == 0 && len(g.stable) == 0 {
			delete(w.groups, id)
		}
	}
	return nil
}

func (w *WAL) pathOf(name string) string { return w.dir + string(os.PathSeparator) + name }

// startSegment creates segment seq (not preallocated; the preparer's
// segment replaces it soon) and makes it the active one.
func (w *WAL) startSegment(seq uint32) error {
	f, err := createSegment(w.segPath(seq), seq, 0)
	if err != nil {
		return err
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return fileErr("sync directory", w.dir, err)
	}
	w.active = &segment{seq: seq, path: w.segPath(seq), f: f}
	w.active.end.Store(headerSize)
	w.segs[seq] = w.active
	w.tailSeq, w.tailOff = seq, headerSize
	return nil
}

// replay reads segment seq and applies its records. It returns the offset
// where the next record goes, the file's size afterwards, and whether the
// segment is sealed. last says whether this is the newest segment, the
// only one a crash can have left a torn tail in.
func (w *WAL) replay(seq uint32, last bool) (end uint64, size int64, sealed bool, err error) {
	path := w.segPath(seq)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, false, fmt.Errorf("wal: %w", err)
	}
	seg := &segment{seq: seq, path: path, f: f}
	w.segs[seq] = seg
	defer func() { seg.end.Store(end) }()
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, 0, false, fileErr("read", path, err)
	}
	size = int64(len(data))

	if err := checkHeader(data, seq); err != nil {
		// A crash while the segment was being created (before anything
		// could be written to it) leaves a prefix of the header, or zeros.
		head := encodeHeader(seq)
		n := min(len(data), headerSize)
		fresh := allZero(data) || (len(data) < headerSize && bytes.Equal(data, head[:n]))
		if !last || !fresh {
			return 0, 0, false, corrupt(path, 0, "%v", err)
		}
		w.log.Warn("wal: rewriting the header of a segment whose creation was interrupted", "file", path)
		if err := rewrite(f, head); err != nil {
			return 0, 0, false, err
		}
		return headerSize, headerSize, false, nil
	}

	// An entry batch (one StoreLogs call) is applied when its closing
	// record is read.
	var (
		batchG     *group
		batchFirst uint64
		batchLocs  []loc
		batchStart uint64
	)
	off := uint64(headerSize)
	for off < uint64(len(data)) {
		rest := data[off:]
		if sealed {
			if !allZero(rest) {
				return 0, 0, false, corrupt(path, off, "data after the segment's seal record")
			}
			break
		}
		body, n, st := parseFrame(rest)
		if st != frameOK {
			if allZero(rest) {
				break // never written: the preallocated remainder
			}
			if last && torn(st, rest, off) {
				cut := off
				if batchG != nil {
					cut = batchStart
				}
				return cut, int64(cut), false, w.cutTail(f, path, cut, uint64(len(data)), st.String())
			}
			return 0, 0, false, corrupt(path, off, "%v", st)
		}
		rec, err := splitBody(body)
		if err != nil {
			return 0, 0, false, corrupt(path, off, "%v", err)
		}
		if rec.typ == recSeal {
			if batchG != nil {
				return 0, 0, false, corrupt(path, off, "the seal record interrupts an entry batch")
			}
			if len(rec.payload) != 4 || binary.LittleEndian.Uint32(rec.payload) != seq {
				return 0, 0, false, corrupt(path, off, "the seal record is not this segment's")
			}
			sealed = true
			off += uint64(n)
			continue
		}
		g := w.groupFor(rec.group)
		switch rec.typ {
		case recEntry, recEntryMore:
			idx, err := entryIndex(rec.payload)
			if err != nil {
				return 0, 0, false, corrupt(path, off, "%v", err)
			}
			if batchG == nil {
				batchG, batchFirst, batchStart, batchLocs = g, idx, off, batchLocs[:0]
			} else if g != batchG || idx != batchFirst+uint64(len(batchLocs)) {
				return 0, 0, false, corrupt(path, off, "entry %d of group %s breaks the batch of group %s from entry %d",
					idx, rec.group, batchG.id, batchFirst)
			}
			if idx == 0 {
				return 0, 0, false, corrupt(path, off, "entry index 0")
			}
			batchLocs = append(batchLocs, loc{seg: seq, off: off, n: uint32(n)})
			if rec.typ == recEntry {
				batchG.applyEntries(batchFirst, batchLocs, nil)
				batchG = nil
			}
		case recMove:
			if batchG != nil {
				return 0, 0, false, corrupt(path, off, "a moved entry interrupts an entry batch")
			}
			idx, err := entryIndex(rec.payload)
			if err != nil || idx == 0 {
				return 0, 0, false, corrupt(path, off, "moved entry: bad index (%v)", err)
			}
			g.setLoc(idx, loc{seg: seq, off: off, n: uint32(n)})
		default:
			if batchG != nil {
				return 0, 0, false, corrupt(path, off, "a record of type %d interrupts an entry batch", rec.typ)
			}
			switch rec.typ {
			case recSet:
				k, v, err := decodeSet(rec.payload)
				if err != nil {
					return 0, 0, false, corrupt(path, off, "%v", err)
				}
				g.stable[string(k)] = &stableValue{v: bytes.Clone(v), seg: seq}
			case recDelete:
				lo, hi, err := decodeDelete(rec.payload)
				if err != nil {
					return 0, 0, false, corrupt(path, off, "%v", err)
				}
				g.deleteRange(lo, hi)
			case recDrop:
				g.applyDrop()
				clear(g.stable)
			}
		}
		off += uint64(n)
	}
	if batchG != nil {
		if !last {
			return 0, 0, false, corrupt(path, batchStart, "the entry batch starting here is not closed before the end of the segment")
		}
		return batchStart, int64(batchStart), false, w.cutTail(f, path, batchStart, uint64(len(data)), "entry batch not closed")
	}
	return off, size, sealed, nil
}

// torn reports whether the failed frame at the start of rest (file offset
// off), in the last segment, looks like a write cut short by a crash rather
// than damage to synced data: the file ends inside it, its header is zero,
// or one of the sectors it covers is entirely zero.
func torn(st frameStatus, rest []byte, off uint64) bool {
	switch st {
	case frameShort, frameTooLong, frameZero:
		return true
	case frameBadCRC:
	default:
		return false
	}
	n := frameHeader + int(uint32(rest[0])|uint32(rest[1])<<8|uint32(rest[2])<<16|uint32(rest[3])<<24)
	frame := rest[:n] // parseFrame checked that it fits
	for start := 0; start < len(frame); {
		end := start + int(sectorSize-(off+uint64(start))%sectorSize)
		end = min(end, len(frame))
		if allZero(frame[start:end]) {
			return true
		}
		start = end
	}
	return false
}

// cutTail truncates the last segment at cut, dropping a torn tail that no
// caller was ever told is durable.
func (w *WAL) cutTail(f *os.File, path string, cut, size uint64, why string) error {
	w.log.Warn("wal: dropping the torn tail of the last segment (a write interrupted by a crash)",
		"file", path, "offset", cut, "bytes", size-cut, "reason", why)
	if err := f.Truncate(int64(cut)); err != nil {
		return fileErr("truncate", path, err)
	}
	if err := f.Sync(); err != nil {
		return fileErr("sync", path, err)
	}
	return nil
}

// rewrite replaces the content of f with b, durably.
func rewrite(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return fileErr("truncate", f.Name(), err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fileErr("write", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fileErr("sync", f.Name(), err)
	}
	return nil
}

// groupFor returns the group named id, creating it. Recovery only.
func (w *WAL) groupFor(id []byte) *group {
	g := w.groups[string(id)]
	if g == nil {
		g = newGroup(string(id), w.opts.CacheEntries)
		w.groups[g.id] = g
	}
	return g
}
