package raftnode

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// ErrCorruptData is returned (wrapped, naming the file) when a group's
// files on disk are damaged: a truncated or unreadable raft.db, a log with
// a hole or a gap after the last snapshot, or a snapshot whose metadata or
// state does not check out. The node refuses to start rather than serve
// from, or silently skip, damaged state; the operator moves the named file
// away or wipes the group's directory so the node resyncs from its peers.
var ErrCorruptData = errors.New("raftnode: damaged data")

// verifyGroupFiles checks a group directory before raft opens it. raft's
// own checks would otherwise fall back to an older snapshot past a corrupt
// one (or one whose meta.json does not parse), leaving a gap in the log
// that ends in a panic or, when the log still covers the gap, serving with
// the damage unreported; and bolt reads a truncated file until it faults.
// Missing files are not errors (a new group). A *.tmp snapshot directory
// is a snapshot that was being written when the node stopped: the log
// still holds what it would have covered, and raft reports and ignores it.
func verifyGroupFiles(dir string) error {
	newest, err := verifySnapshots(filepath.Join(dir, "snapshots"))
	if err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "raft.db")
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return verifyBolt(dbPath, newest)
}

// snapshotMeta is the part of the file snapshot store's meta.json checked
// here.
type snapshotMeta struct {
	ID    string
	Index uint64
	Term  uint64
	Size  int64
	CRC   []byte
}

// snapshotsRetained is how many snapshots the file snapshot store keeps
// (the retain argument in open); older ones are deleted after a new one is
// complete.
const snapshotsRetained = 2

// verifySnapshots checks every complete snapshot under dir: meta.json
// parses and names its directory, state.bin has the recorded size and
// CRC-64, and the header inside state.bin carries the index and term that
// meta.json claims. It returns the newest snapshot's index.
//
// A damaged directory older than snapshotsRetained valid snapshots is the
// leftover of a deletion the node did not finish (a crash while the store
// removed a superseded snapshot, file by file): it holds nothing the newer
// snapshots do not, and the store ignores it too.
func verifySnapshots(dir string) (newest uint64, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("raftnode: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasSuffix(e.Name(), ".tmp") {
			names = append(names, e.Name())
		}
	}
	// Newest first: names are term-index-msec.
	slices.SortFunc(names, func(a, b string) int { return cmpSnapName(b, a) })
	valid := 0
	for _, name := range names {
		meta, err := verifySnapshot(filepath.Join(dir, name))
		if err != nil {
			if valid >= snapshotsRetained {
				continue
			}
			return 0, err
		}
		valid++
		newest = max(newest, meta.Index)
	}
	return newest, nil
}

// cmpSnapName orders snapshot directory names (term-index-msec)
// numerically; names that do not parse sort first.
func cmpSnapName(a, b string) int {
	pa, pb := parseSnapName(a), parseSnapName(b)
	for i := range pa {
		if c := cmp.Compare(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func parseSnapName(s string) [3]uint64 {
	var out [3]uint64
	for i, part := range strings.SplitN(s, "-", 3) {
		v, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return [3]uint64{}
		}
		out[i] = v
	}
	return out
}

// verifySnapshot checks one snapshot directory.
func verifySnapshot(snapDir string) (snapshotMeta, error) {
	name := filepath.Base(snapDir)
	metaPath := filepath.Join(snapDir, "meta.json")
	b, err := os.ReadFile(metaPath)
	if err != nil {
		return snapshotMeta{}, fmt.Errorf("%w: snapshot %s: %v", ErrCorruptData, metaPath, err)
	}
	var meta snapshotMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return snapshotMeta{}, fmt.Errorf("%w: snapshot %s does not parse: %v", ErrCorruptData, metaPath, err)
	}
	if meta.ID != name || len(meta.CRC) != 8 {
		return snapshotMeta{}, fmt.Errorf("%w: snapshot %s: id %q, %d-byte CRC (want id %q and 8 bytes)", ErrCorruptData, metaPath, meta.ID, len(meta.CRC), name)
	}
	return meta, verifySnapshotState(filepath.Join(snapDir, "state.bin"), metaPath, meta)
}

func verifySnapshotState(path, metaPath string, meta snapshotMeta) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: snapshot %s: %v", ErrCorruptData, path, err)
	}
	defer f.Close()
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	hdr := make([]byte, snapHeaderSize)
	n, err := io.ReadFull(io.TeeReader(f, h), hdr)
	if err != nil {
		return fmt.Errorf("%w: snapshot %s: %d bytes, shorter than its header: %v", ErrCorruptData, path, n, err)
	}
	rest, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("%w: snapshot %s: %v", ErrCorruptData, path, err)
	}
	if size := int64(n) + rest; size != meta.Size {
		return fmt.Errorf("%w: snapshot %s is %d bytes; %s says %d", ErrCorruptData, path, size, metaPath, meta.Size)
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, meta.CRC) {
		return fmt.Errorf("%w: snapshot %s: CRC-64 %x, %s says %x", ErrCorruptData, path, sum, metaPath, meta.CRC)
	}
	index, term, err := decodeSnapHeader(hdr)
	if err != nil {
		return fmt.Errorf("%w: snapshot %s: %v", ErrCorruptData, path, err)
	}
	if index != meta.Index || term != meta.Term {
		return fmt.Errorf("%w: snapshot %s holds index %d term %d; %s says index %d term %d",
			ErrCorruptData, path, index, term, metaPath, meta.Index, meta.Term)
	}
	return nil
}

// bbolt's file layout (version 2): pages 0 and 1 are meta pages, each a
// 16-byte page header then the meta; bolt uses the valid one with the
// higher transaction id. pgid is the high-water mark: the file holds at
// least pgid pages.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltPageHeader = 16
	boltMetaSize   = 64 // magic .. checksum
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

func readBoltMeta(b []byte) (boltMeta, bool) {
	if len(b) < boltPageHeader+boltMetaSize {
		return boltMeta{}, false
	}
	m := b[boltPageHeader : boltPageHeader+boltMetaSize]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != le.Uint64(m[56:]) {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}, true
}

// verifyBolt checks raft.db before raft-boltdb opens it: a valid meta page,
// a file as long as the meta's high-water mark (bolt maps the file and
// would fault reading a page past its end), that bolt opens it, and that
// the log is contiguous and starts no later than just after the newest
// snapshot (snapIndex, 0 if none).
func verifyBolt(path string, snapIndex uint64) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("raftnode: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("raftnode: %w", err)
	}
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	m0, ok0 := readBoltMeta(head[:n])
	var m1 boltMeta
	ok1 := false
	if ok0 || n >= boltPageHeader+12 {
		ps := int64(binary.LittleEndian.Uint32(head[boltPageHeader+8:]))
		if ok0 {
			ps = int64(m0.pageSize)
		}
		if ps >= 512 && ps <= 1<<20 {
			b := make([]byte, boltPageHeader+boltMetaSize)
			if k, _ := f.ReadAt(b, ps); k == len(b) {
				m1, ok1 = readBoltMeta(b)
			}
		}
	}
	f.Close()
	if st.Size() == 0 {
		return nil // never written: bolt initialises it
	}
	var m boltMeta
	switch {
	case ok0 && (!ok1 || m0.txid >= m1.txid):
		m = m0
	case ok1:
		m = m1
	default:
		return fmt.Errorf("%w: %s (%d bytes) has no valid bolt meta page", ErrCorruptData, path, st.Size())
	}
	if need := int64(m.pgid) * int64(m.pageSize); st.Size() < need {
		return fmt.Errorf("%w: %s is truncated: %d bytes, but its meta page (transaction %d) needs %d pages of %d bytes (%d bytes)",
			ErrCorruptData, path, st.Size(), m.txid, m.pgid, m.pageSize, need)
	}

	// Bolt panics on some damaged structures instead of failing: report
	// those by name too.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: bolt: %v", ErrCorruptData, path, r)
		}
	}()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptData, path, err)
	}
	defer db.Close()
	return db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("logs"))
		if b == nil {
			return nil
		}
		// Raft needs every entry after the newest snapshot; entries it
		// covers may have holes (a follower that installed a snapshot keeps
		// its older trailing entries, then appends after the snapshot).
		var seek [8]byte
		binary.BigEndian.PutUint64(seek[:], snapIndex+1)
		want := snapIndex + 1
		c := b.Cursor()
		for k, _ := c.Seek(seek[:]); k != nil; k, _ = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("%w: %s: log key of %d bytes", ErrCorruptData, path, len(k))
			}
			idx := binary.BigEndian.Uint64(k)
			if idx != want {
				if want == snapIndex+1 {
					return fmt.Errorf("%w: %s: the log goes on at index %d but the newest snapshot ends at %d: entries %d to %d are missing",
						ErrCorruptData, path, idx, snapIndex, want, idx-1)
				}
				return fmt.Errorf("%w: %s: the log jumps from index %d to %d", ErrCorruptData, path, want-1, idx)
			}
			want++
		}
		return nil
	})
}
