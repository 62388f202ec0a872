package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Errors.
var (
	// ErrNotFound is returned by Get and GetUint64 for a key never set. Its
	// text is exactly "not found", without the package prefix, because
	// hashicorp/raft recognises a missing stable key by that text.
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned by every call after Close (of the WAL, or of
	// the Store handle used).
	ErrClosed = errors.New("wal: closed")
	// ErrCorrupt is wrapped by errors about data that fails its checksum or
	// does not parse; the message names the file and the offset.
	ErrCorrupt = errors.New("wal: corrupt")
	// ErrInUse is returned by Group while another Store of the same group
	// is open, and by Drop while any is.
	ErrInUse = errors.New("wal: group in use")
)

// Defaults for zero Options fields.
const (
	DefaultSegmentSize  = 64 << 20
	DefaultCacheEntries = 512

	minSegmentSize = 64 << 10
	maxSegmentSize = 1 << 30
	maxGroupID     = 255
)

// Options configures a WAL. The zero value means the defaults.
type Options struct {
	// SegmentSize is the size at which the active segment is closed and a
	// new one started (default 64 MiB, at least 64 KiB, at most 1 GiB). One
	// StoreLogs call never spans two segments, so a larger call makes a
	// larger segment.
	SegmentSize int64
	// CacheEntries is how many of each group's most recent entries are kept
	// in memory for GetLog (default 512; negative: none). Older entries are
	// read back from their segment.
	CacheEntries int
	// NoPreallocate turns off zero-filling of segments ahead of use. With
	// it on (the default) a write into the active segment does not change
	// the file's size, so fdatasync flushes the data without a metadata
	// update; the next segment is prepared in the background.
	NoPreallocate bool
	// Logger receives one line per event (segment created or removed, a
	// torn tail dropped, a write failure). Nil: slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize < minSegmentSize || o.SegmentSize > maxSegmentSize {
		return o, fmt.Errorf("wal: Options.SegmentSize: %d is outside %d..%d", o.SegmentSize, minSegmentSize, maxSegmentSize)
	}
	switch {
	case o.CacheEntries == 0:
		o.CacheEntries = DefaultCacheEntries
	case o.CacheEntries < 0:
		o.CacheEntries = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// WAL is a node-wide write-ahead log shared by the raft groups of a node:
// each group gets a Store (Group), and every write of every group goes
// through one flusher that writes and fdatasyncs everything submitted since
// its last round with one fsync (group commit across groups).
//
// Threading: every method is safe for concurrent use. Ownership: the WAL
// owns its directory; the caller must Close it after every Store user is
// done (a raft instance's Shutdown has returned).
type WAL struct {
	dir  string
	opts Options
	log  *slog.Logger

	// mu guards the submission side: the buffer of records not yet written,
	// the operations waiting for them, where the next record goes, and the
	// group table.
	mu      sync.Mutex
	groups  map[string]*group
	buf     []byte  // records submitted since the last flush
	chunks  []chunk // buf split by segment
	ops     []*op   // operations whose records are in buf, in order
	tailSeq uint32  // segment of the next record
	tailOff uint64  // its offset there
	err     error   // sticky: a write or sync failed, the WAL is unusable
	closed  bool
	// hold stops submissions while the collector needs the log quiet
	// (gc.go); submitters wait on holdCond.
	hold     bool
	holdCond *sync.Cond

	kick      chan struct{} // something was submitted (capacity 1)
	gcKick    chan struct{} // the garbage collector may have work (capacity 1)
	stop      chan struct{} // closed by Close
	flushDone chan struct{}
	gcDone    chan struct{}
	closeOnce sync.Once
	closeErr  error

	// segMu guards segs. Readers hold it shared while reading a segment
	// file, so the collector never closes a file under a reader.
	segMu sync.RWMutex
	segs  map[uint32]*segment

	shut atomic.Bool // Close was called

	nSyncs, nOps, nBytes, nMoved, nRemoved atomic.Uint64 // for Stats

	// activePrealloc: the active segment was zero-filled ahead (writes do
	// not grow it). rollEarly: the prepared segment of this sequence number
	// is ready and the active one is not preallocated, so the next
	// submission starts it.
	activePrealloc atomic.Bool
	rollEarly      atomic.Uint32

	// Owned by the flusher goroutine (and by Open and Close around it).
	active   *segment
	spareBuf []byte    // guarded by mu
	prep     *preparer // the next segment, zero-filled ahead of use
}

// segment is one segment file, open for reading (and, when active, for
// writing).
type segment struct {
	seq  uint32
	path string
	f    *os.File
	end  atomic.Uint64 // end of the last record written
}

// chunk is the part of buf that goes into one segment at one offset.
type chunk struct {
	seq   uint32
	off   uint64 // file offset of buf[start]
	start int    // offset in buf
}

type opKind uint8

const (
	opEntries opKind = iota
	opDelete
	opMove  // the collector's copies of live entries
	opOther // stable values, drops, barriers: nothing to apply after the sync
)

// op is one submitted operation waiting for the sync that covers its
// records. The flusher applies it (entries, deletions) and then answers.
type op struct {
	kind  opKind
	g     *group
	first uint64      // opEntries: index of the first entry
	locs  []loc       // opEntries: where each entry went
	logs  []*raft.Log // opEntries: the entries, for the cache
	lo    uint64      // opDelete
	hi    uint64      // opDelete
	moves []moved     // opMove
	done  chan error
}

// moved is one entry the collector copied: from old to new.
type moved struct {
	g        *group
	index    uint64
	old, new loc
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan error, 1)} }}

func getOp() *op { return opPool.Get().(*op) }

func putOp(o *op) {
	done := o.done
	locs := o.locs[:0]
	*o = op{done: done, locs: locs}
	opPool.Put(o)
}

// segName returns the file name of segment seq.
func segName(seq uint32) string { return fmt.Sprintf("%08x.seg", seq) }

// Open opens the log in dir (created if missing), replaying every segment
// to rebuild each group's state. A torn record at the very end of the last
// segment (a crash during a write) is cut off with a log line; any other
// damage is an error wrapping ErrCorrupt that names the file and offset.
func Open(dir string, opts Options) (*WAL, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	w := &WAL{
		dir:       dir,
		opts:      opts,
		log:       opts.Logger,
		groups:    map[string]*group{},
		segs:      map[uint32]*segment{},
		kick:      make(chan struct{}, 1),
		gcKick:    make(chan struct{}, 1),
		stop:      make(chan struct{}),
		flushDone: make(chan struct{}),
		gcDone:    make(chan struct{}),
	}
	w.holdCond = sync.NewCond(&w.mu)
	if err := w.recover(); err != nil {
		w.closeSegments()
		return nil, err
	}
	if !opts.NoPreallocate {
		w.prep = newPreparer(w, w.active.seq+1)
	}
	go w.flushLoop()
	go w.gcLoop()
	w.kickGC() // segments left over from before a restart
	return w, nil
}

// Group returns the Store of group id, creating the group if the log holds
// nothing of it. Only one Store per group may be open at a time
// (ErrInUse); Close it to open another.
func (w *WAL) Group(id string) (*Store, error) {
	if id == "" || len(id) > maxGroupID {
		return nil, fmt.Errorf("wal: group id %q: want 1 to %d bytes", id, maxGroupID)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	g := w.groups[id]
	if g == nil {
		g = newGroup(id, w.opts.CacheEntries)
		w.groups[id] = g
	}
	if g.open {
		return nil, fmt.Errorf("%w: %s", ErrInUse, id)
	}
	g.open = true
	return &Store{w: w, g: g}, nil
}

// Groups returns the ids of the groups the log holds entries or values of,
// sorted.
func (w *WAL) Groups() []string {
	w.mu.Lock()
	gs := make([]*group, 0, len(w.groups))
	for _, g := range w.groups {
		gs = append(gs, g)
	}
	w.mu.Unlock()
	var ids []string
	for _, g := range gs {
		g.mu.RLock()
		has := len(g.runs) > 0 || len(g.stable) > 0
		g.mu.RUnlock()
		if has {
			ids = append(ids, g.id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Drop forgets group id: its entries and stable values are gone once Drop
// returns (durably), and the segments that held them become garbage. For a
// replica removed from this node. It fails with ErrInUse while a Store of
// the group is open.
func (w *WAL) Drop(id string) error {
	w.mu.Lock()
	g := w.groups[id]
	if g == nil {
		w.mu.Unlock()
		return nil
	}
	if g.open {
		w.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrInUse, id)
	}
	w.mu.Unlock()
	if err := w.lockSubmit(); err != nil {
		return err
	}
	if w.groups[id] != g || g.open { // changed while the collector held us
		w.mu.Unlock()
		return w.Drop(id)
	}
	o := getOp()
	o.kind = opOther
	w.buf = appendDrop(w.reserve(frameHeader+2+len(id)), id)
	w.ops = append(w.ops, o)
	// Nothing of the group is pending (no Store is open), so it can leave
	// the table now; a later Group(id) starts from nothing, after the drop
	// record in the log.
	delete(w.groups, id)
	g.mu.Lock()
	g.applyDrop()
	clear(g.stable)
	g.mu.Unlock()
	w.mu.Unlock()
	w.kickFlush()
	err := <-o.done
	putOp(o)
	if err == nil {
		w.kickGC()
	}
	return err
}

// Close flushes what was submitted, stops the flusher and the collector,
// and closes the segment files. Stores fail with ErrClosed afterwards.
func (w *WAL) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.shut.Store(true)
		w.holdCond.Broadcast()
		w.mu.Unlock()
		close(w.stop)
		<-w.gcDone
		<-w.flushDone
		if w.prep != nil {
			w.prep.close()
		}
		w.closeErr = w.closeSegments()
	})
	return w.closeErr
}

func (w *WAL) closeSegments() error {
	w.segMu.Lock()
	defer w.segMu.Unlock()
	var errs []error
	for seq, s := range w.segs {
		if err := s.f.Close(); err != nil {
			errs = append(errs, fileErr("close", s.path, err))
		}
		delete(w.segs, seq)
	}
	return errors.Join(errs...)
}

// usable returns why nothing can be submitted, or nil. mu held.
func (w *WAL) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

// lockSubmit locks mu for a submission: once the collector does not hold
// submissions, and if the log is usable. On error mu is not held.
func (w *WAL) lockSubmit() error {
	w.mu.Lock()
	for w.hold && !w.closed {
		w.holdCond.Wait()
	}
	if err := w.usable(); err != nil {
		w.mu.Unlock()
		return err
	}
	return nil
}

// reserve makes room for n bytes of records at the tail and returns buf
// for the caller to append them to. A reservation never spans two
// segments: if the active one cannot take n more bytes (and holds at least
// one record), it is sealed and the records go to the start of the next
// one. mu held.
func (w *WAL) reserve(n int) []byte {
	full := w.tailOff > headerSize && w.tailOff+uint64(n) > uint64(w.opts.SegmentSize)
	if full || w.rollEarly.Load() == w.tailSeq+1 {
		w.chunkAt()
		w.buf = appendSeal(w.buf, w.tailSeq)
		w.tailSeq++
		w.tailOff = headerSize
	}
	w.chunkAt()
	w.tailOff += uint64(n)
	return w.buf
}

// chunkAt makes sure the buffer's last chunk is for the tail segment. mu
// held.
func (w *WAL) chunkAt() {
	if k := len(w.chunks); k == 0 || w.chunks[k-1].seq != w.tailSeq {
		w.chunks = append(w.chunks, chunk{seq: w.tailSeq, off: w.tailOff, start: len(w.buf)})
	}
}

func (w *WAL) kickFlush() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *WAL) kickGC() {
	select {
	case w.gcKick <- struct{}{}:
	default:
	}
}

// Stats are counters since Open.
type Stats struct {
	Syncs    uint64 // flusher rounds that wrote and synced
	Ops      uint64 // calls answered (StoreLogs, DeleteRange, Set, ...)
	Bytes    uint64 // record bytes written
	Moved    uint64 // live entries the collector copied forward
	Removed  uint64 // segments the collector removed
	Segments int    // segment files now
}

// Stats returns the counters; Ops/Syncs is how many calls shared a sync.
func (w *WAL) Stats() Stats {
	w.segMu.RLock()
	n := len(w.segs)
	w.segMu.RUnlock()
	return Stats{Syncs: w.nSyncs.Load(), Ops: w.nOps.Load(), Bytes: w.nBytes.Load(),
		Moved: w.nMoved.Load(), Removed: w.nRemoved.Load(), Segments: n}
}

// corrupt returns an ErrCorrupt error naming path and off.
func corrupt(path string, off uint64, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d: %s", ErrCorrupt, path, off, fmt.Sprintf(format, args...))
}

// fileErr is err, from operation op on path, naming the path once (the
// error of an *os.File names the file it was opened as, which for a
// preallocated segment is its temporary name).
func fileErr(op, path string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("wal: %s %s: %w", op, path, err)
}

// syncDir makes the directory's entries (created, removed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// segPath returns the path of segment seq.
func (w *WAL) segPath(seq uint32) string { return filepath.Join(w.dir, segName(seq)) }
