package wal

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// The flusher: one goroutine takes everything submitted since its last
// round, writes it, fdatasyncs once, applies it to the groups' indexes and
// answers every waiting caller. While it syncs, new submissions pile up in
// the next buffer and share the next sync: that is the group commit, across
// every group of the node.
//
// Callers answered by a round submit their next call a few microseconds
// later; a round started at once would take only the first of them, and
// the rest would wait for the round after, so steady writers split into
// two alternating halves. So a round waits until as many calls are
// pending as the last round answered, but no longer than gatherWait or
// half the last sync: with one writer it never waits, and a writer that
// went away costs one short wait. (Measured with 8 groups: about 7.5 calls
// per sync instead of 4.)

const (
	// maxSpareBuf is the largest buffer kept for reuse between rounds.
	maxSpareBuf = 16 << 20
	// gatherWait bounds how long a round waits for calls to gather.
	gatherWait = 500 * time.Microsecond
)

func (w *WAL) flushLoop() {
	defer close(w.flushDone)
	var last int               // calls answered by the last round
	var lastSync time.Duration // how long its write and sync took
	for {
		select {
		case <-w.kick:
			w.gather(last, min(gatherWait, lastSync/2))
			last, lastSync = w.flushOnce()
		case <-w.stop:
			// Close set closed before closing stop: nothing more can be
			// submitted, so one round drains everything.
			w.flushOnce()
			return
		}
	}
}

// gather waits until want calls are pending, for at most wait.
func (w *WAL) gather(want int, wait time.Duration) {
	if want <= 1 || wait <= 0 {
		return
	}
	var timer *time.Timer
	for {
		w.mu.Lock()
		n := len(w.ops)
		w.mu.Unlock()
		if n >= want {
			break
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		}
		select {
		case <-w.kick:
		case <-timer.C:
			return
		case <-w.stop:
			timer.Stop()
			w.kickFlush() // the loop drains on stop
			return
		}
	}
	if timer != nil {
		timer.Stop()
	}
}

// flushOnce runs one round and returns how many calls it answered and how
// long its write and sync took.
func (w *WAL) flushOnce() (answered int, took time.Duration) {
	w.mu.Lock()
	buf, chunks, ops := w.buf, w.chunks, w.ops
	w.buf, w.chunks, w.ops = w.spareBuf[:0], nil, nil
	w.spareBuf = nil
	failed := w.err
	w.mu.Unlock()
	if len(ops) == 0 && len(buf) == 0 {
		w.mu.Lock()
		w.spareBuf = buf
		w.mu.Unlock()
		return 0, 0
	}

	err := failed
	rolled := false
	if err == nil && len(buf) > 0 {
		start := time.Now()
		rolled, err = w.write(buf, chunks)
		took = time.Since(start)
		if err != nil {
			w.fail(err)
		}
	}
	if err == nil && len(buf) > 0 {
		w.nSyncs.Add(1)
		w.nBytes.Add(uint64(len(buf)))
	}
	w.nOps.Add(uint64(len(ops)))
	collect := rolled
	for _, o := range ops {
		if err == nil {
			switch o.kind {
			case opEntries:
				o.g.mu.Lock()
				o.g.applyEntries(o.first, o.locs, o.logs)
				o.g.mu.Unlock()
			case opDelete:
				o.g.mu.Lock()
				o.g.deleteRange(o.lo, o.hi)
				o.g.mu.Unlock()
				collect = true
			case opMove:
				for _, m := range o.moves {
					m.g.mu.Lock()
					if at, ok := m.g.find(m.index); ok && at == m.old {
						m.g.setLoc(m.index, m.new)
					}
					m.g.mu.Unlock()
				}
			}
		}
		o.done <- err // the last touch: the waiter recycles o
	}
	if cap(buf) <= maxSpareBuf {
		w.mu.Lock()
		w.spareBuf = buf[:0]
		w.mu.Unlock()
	}
	if collect && err == nil {
		w.kickGC()
	}
	return len(ops), took
}

// fail makes err sticky: every later call fails with it. After a failed
// write or sync the state of the file is unknown (a failed fsync may have
// dropped the dirty pages), so the only safe continuation is a reopen,
// which replays what is really on disk.
func (w *WAL) fail(err error) {
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first {
		w.log.Error("wal: write failed; every further write fails until the log is reopened", "dir", w.dir, "error", err)
	}
}

// write writes buf, split by chunks, moving to the next segment where a
// chunk says so, and syncs. It reports whether a new segment was started.
func (w *WAL) write(buf []byte, chunks []chunk) (rolled bool, err error) {
	for i, c := range chunks {
		end := len(buf)
		if i+1 < len(chunks) {
			end = chunks[i+1].start
		}
		if c.seq != w.active.seq {
			if err := w.roll(c.seq); err != nil {
				return rolled, err
			}
			rolled = true
		}
		if _, err := w.active.f.WriteAt(buf[c.start:end], int64(c.off)); err != nil {
			return rolled, fileErr("write", w.active.path, err)
		}
		w.active.end.Store(c.off + uint64(end-c.start))
	}
	if err := fdatasync(w.active.f); err != nil {
		return rolled, fileErr("sync", w.active.path, err)
	}
	return rolled, nil
}

// roll syncs the active segment and makes segment seq (the next one)
// active: the prepared file if there is one, else a new file.
func (w *WAL) roll(seq uint32) error {
	if seq != w.active.seq+1 {
		return fmt.Errorf("wal: internal error: roll from segment %d to %d", w.active.seq, seq)
	}
	if err := fdatasync(w.active.f); err != nil {
		return fileErr("sync", w.active.path, err)
	}
	path := w.segPath(seq)
	var f *os.File
	prealloc := false
	if w.prep != nil && w.prep.seq == seq {
		pf, err := w.prep.take()
		if err == nil {
			err = os.Rename(pf.Name(), path)
			if err != nil {
				pf.Close()
				os.Remove(pf.Name())
			}
		}
		if err != nil {
			w.log.Warn("wal: preallocated segment unusable, creating it directly", "file", path, "error", err)
		} else {
			f, prealloc = pf, true
		}
	}
	if f == nil {
		var err error
		if f, err = createSegment(path, seq, 0); err != nil {
			return err
		}
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return fileErr("sync directory", w.dir, err)
	}
	seg := &segment{seq: seq, path: path, f: f}
	seg.end.Store(headerSize)
	w.segMu.Lock()
	w.segs[seq] = seg
	w.segMu.Unlock()
	w.active = seg
	w.activePrealloc.Store(prealloc)
	w.log.Debug("wal: new segment", "file", path, "preallocated", prealloc)
	if !w.opts.NoPreallocate {
		w.prep = newPreparer(w, seq+1)
	}
	return nil
}

// createSegment creates the file of segment seq with its header, zero
// filled to size (0: just the header), and syncs it. On error nothing is
// left behind.
func createSegment(path string, seq uint32, size int64, stop ...*atomic.Bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fileErr("create", path, err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if _, err := f.Write(encodeHeader(seq)); err != nil {
		return fail(fileErr("write", path, err))
	}
	if size > headerSize {
		zeros := make([]byte, 1<<20)
		for off := int64(headerSize); off < size; {
			if len(stop) > 0 && stop[0].Load() {
				return fail(errCancelled)
			}
			n := min(int64(len(zeros)), size-off)
			if _, err := f.Write(zeros[:n]); err != nil {
				return fail(fileErr("preallocate", path, err))
			}
			off += n
			// Sync as we go: a long run of dirty pages would otherwise be
			// flushed by the next journal commit, which the active
			// segment's sync may be waiting for.
			if err := fdatasync(f); err != nil {
				return fail(fileErr("sync", path, err))
			}
		}
	}
	if err := f.Sync(); err != nil {
		return fail(fileErr("sync", path, err))
	}
	return f, nil
}

var errCancelled = fmt.Errorf("wal: preallocation cancelled")

// preparer zero-fills the next segment in the background, under a
// temporary name, so that rolling costs a rename and writes into the
// active segment never change its size.
type preparer struct {
	seq    uint32
	tmp    string
	stop   atomic.Bool
	done   chan struct{}
	f      *os.File
	err    error
	onDone func()
}

func newPreparer(w *WAL, seq uint32) *preparer {
	p := &preparer{seq: seq, tmp: w.segPath(seq) + ".tmp", done: make(chan struct{})}
	size := w.opts.SegmentSize
	go func() {
		defer close(p.done)
		p.f, p.err = createSegment(p.tmp, seq, size, &p.stop)
		if p.err != nil && p.err != errCancelled {
			w.log.Warn("wal: preallocating the next segment failed", "file", p.tmp, "error", p.err)
		}
		if p.err == nil && !w.activePrealloc.Load() {
			// The active segment grows with every write (a fresh log, or
			// one cut at a torn tail): move to this one at the next write.
			w.rollEarly.Store(seq)
		}
	}()
	return p
}

// take waits for the file and hands it over.
func (p *preparer) take() (*os.File, error) {
	<-p.done
	f := p.f
	p.f = nil
	if f == nil && p.err == nil {
		return nil, errCancelled
	}
	return f, p.err
}

// close cancels the preparation and removes the file.
func (p *preparer) close() {
	p.stop.Store(true)
	<-p.done
	if p.f != nil {
		p.f.Close()
		os.Remove(p.tmp)
		p.f = nil
	}
}
