package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/tidwall/btree"
)

// Snapshot format, version 1. All integers are little-endian; varints are
// unsigned LEB128 (encoding/binary's Uvarint).
//
//	header   magic "RDRFTSNP" (8 bytes), format version (uint32), clock (int64, Unix ms)
//	records  in strictly ascending key order (version 4: keyspace order), each:
//	           type   (1 byte: 1 = string; never 0)
//	           key    (varint length, bytes)
//	           expiry (varint Unix ms; 0 = none)
//	           value  (by type; string: varint length, bytes)
//	end      a 0 byte, then the number of records (varint)
//	trailer  CRC-32C (Castagnoli) of every byte before it (uint32)
//
// Nothing may follow the trailer. The expiry index is not written: Restore
// rebuilds it. Version 2 adds the slot ownership after the header; see
// owner.go. A change to this layout needs a new version number, a reader
// for the old one, and a new golden file (see TestSnapshotGolden).
//
// Version 3, written since, is version 1 with:
//
//	after the header  ownership: a 0 byte (none) or a 1 byte and the
//	                  ownership as in version 2; then the key versions
//	                  (version.go): the command sequence (varint), the
//	                  number of deletion watermarks that are not 0
//	                  (varint), and each as bucket and watermark (varints,
//	                  buckets ascending)
//	in each record    after the expiry, the key's mod stamp (varint); type
//	                  2 = list (varint count, then each element as varint
//	                  length, bytes; lists.go), 3, 4, 5 = set, zset, hash
//	                  (objects.go)
//
// Version 4, written since, is version 3 with the records in keyspace order
// (entryLess: slot, hash of the key, key) instead of key order. Restore
// reads versions 1 to 3 too; their records must be in key order.
//
// Every snapshot is written in version 4, strings only or not: the key
// versions decide whether a transaction with WATCH applies, so a replica
// restored from a snapshot must hold the same ones as the replicas that
// applied the log. Versions 1 and 2 restore with every version 0.
const (
	snapMagic    = "RDRFTSNP"
	snapVersion  = 1
	snapVersion3 = 3
	snapVersion4 = 4
	recEnd       = 0
)

// ErrCorruptSnapshot is returned (wrapped, with the detail) by Restore when
// the data is not a snapshot this version can read: wrong magic, unknown
// format version, a checksum mismatch, truncation, or a malformed record.
// The keyspace is then left as it was.
var ErrCorruptSnapshot = errors.New("fsm: corrupt snapshot")

// ErrSnapshotReleased is returned by WriteTo after Release.
var ErrSnapshotReleased = errors.New("fsm: snapshot already released")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxSnapItem bounds key and value lengths read from a snapshot.
const maxSnapItem = protoMaxBulkLen

// Snapshot is a point-in-time copy of a State, taken in O(1): it shares the
// keyspace tree copy-on-write, and stored values are immutable. WriteTo may
// run in any goroutine, concurrently with Apply on the State it came from,
// and may be called more than once.
type Snapshot struct {
	keys  *btree.BTreeG[entry]
	clock int64
	own   *owner // immutable
	ver   versions
}

func (s *State) snapshot() *Snapshot {
	s.gen++ // the collections stored so far are now shared (objects.go)
	return &Snapshot{keys: s.keys.Copy(), clock: s.clock, own: s.own, ver: s.ver}
}

// Snapshot returns a point-in-time copy of s. The caller must not call it
// concurrently with Apply (Machine.Snapshot holds the write lock).
func (s *State) Snapshot() *Snapshot { return s.snapshot() }

// Len returns the number of keys in the snapshot.
func (sn *Snapshot) Len() int {
	if sn.keys == nil {
		return 0
	}
	return sn.keys.Len()
}

// Release drops the snapshot's hold on the keyspace, so that the nodes the
// live state has copied since can be collected. WriteTo fails afterwards.
func (sn *Snapshot) Release() { sn.keys = nil }

// snapWriter writes through a buffer, keeping the CRC and the byte count.
type snapWriter struct {
	bw      *bufio.Writer
	crc     uint32
	scratch [binary.MaxVarintLen64]byte
}

func (w *snapWriter) write(b []byte) {
	w.crc = crc32.Update(w.crc, castagnoli, b)
	w.bw.Write(b) // bufio keeps the first error; Flush returns it
}

func (w *snapWriter) uvarint(v uint64) {
	w.write(binary.AppendUvarint(w.scratch[:0], v))
}

// countWriter counts the bytes that reach the destination.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTo streams the snapshot to w in the format above. It returns the
// number of bytes written and the first write error.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	keys := sn.keys
	if keys == nil {
		return 0, ErrSnapshotReleased
	}
	cw := &countWriter{w: w}
	sw := &snapWriter{bw: bufio.NewWriterSize(cw, 64<<10)}
	var hdr [20]byte
	copy(hdr[:8], snapMagic)
	binary.LittleEndian.PutUint32(hdr[8:12], snapVersion4)
	binary.LittleEndian.PutUint64(hdr[12:20], uint64(sn.clock))
	sw.write(hdr[:])
	if sn.own != nil {
		sw.write([]byte{1})
		sn.own.writeTo(sw)
	} else {
		sw.write([]byte{0})
	}
	sn.ver.writeTo(sw)
	var count uint64
	keys.Scan(func(e entry) bool {
		sw.write(append(sw.scratch[:0], byte(e.val.typ)))
		sw.uvarint(uint64(len(e.key)))
		sw.write(stringBytes(e.key))
		sw.uvarint(uint64(e.exp))
		sw.uvarint(e.mod)
		switch e.val.typ {
		case typeString:
			sw.uvarint(uint64(len(e.val.str())))
			sw.write(e.val.str())
		case typeList:
			writeList(sw, listOf(e))
		case typeSet, typeZSet, typeHash:
			writeObj(sw, e.val)
		default:
			panic(fmt.Sprintf("fsm: snapshot of unknown value type %d", e.val.typ))
		}
		count++
		return true
	})
	sw.write(append(sw.scratch[:0], recEnd))
	sw.uvarint(count)
	var tr [4]byte
	binary.LittleEndian.PutUint32(tr[:], sw.crc)
	sw.bw.Write(tr[:])
	err := sw.bw.Flush()
	return cw.n, err
}

// snapReader reads through a buffer, keeping the CRC of what it consumed.
type snapReader struct {
	br  *bufio.Reader
	crc uint32
	one [1]byte
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// readErr turns a read error into the error Restore returns: running out of
// data is corruption (a truncated snapshot), anything else is the reader's.
func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("truncated in %s", what)
	}
	return fmt.Errorf("fsm: reading snapshot %s: %w", what, err)
}

func (r *snapReader) full(b []byte, what string) error {
	if _, err := io.ReadFull(r.br, b); err != nil {
		return readErr(err, what)
	}
	r.crc = crc32.Update(r.crc, castagnoli, b)
	return nil
}

func (r *snapReader) byte(what string) (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, readErr(err, what)
	}
	r.one[0] = c
	r.crc = crc32.Update(r.crc, castagnoli, r.one[:])
	return c, nil
}

func (r *snapReader) uvarint(what string) (uint64, error) {
	buf, err := r.br.Peek(binary.MaxVarintLen64) // fewer bytes near the end
	v, n := binary.Uvarint(buf)
	switch {
	case n > 0:
	case n == 0 && err != nil:
		return 0, readErr(err, what)
	default:
		return 0, corrupt("bad varint in %s", what)
	}
	r.crc = crc32.Update(r.crc, castagnoli, buf[:n])
	r.br.Discard(n)
	return v, nil
}

// length reads a varint length of at most maxSnapItem.
func (r *snapReader) length(what string) (int, error) {
	n, err := r.uvarint(what)
	if err != nil {
		return 0, err
	}
	if n > maxSnapItem {
		return 0, corrupt("%s length %d exceeds %d", what, n, maxSnapItem)
	}
	return int(n), nil
}

// bigItem is the size above which a length read from the snapshot is not
// trusted with an allocation of that size before the bytes have arrived.
const bigItem = 1 << 20

// readSnapshot reads a snapshot written by WriteTo into a new State. It
// returns an error wrapping ErrCorruptSnapshot for anything but a complete,
// well-formed snapshot with a matching checksum, and never a partial State.
func readSnapshot(rd io.Reader) (*State, error) {
	r := &snapReader{br: bufio.NewReaderSize(rd, 64<<10)}
	var hdr [20]byte
	if err := r.full(hdr[:], "header"); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != snapMagic {
		return nil, corrupt("bad magic %q", hdr[:8])
	}
	version := binary.LittleEndian.Uint32(hdr[8:12])
	if version < snapVersion || version > snapVersion4 {
		return nil, corrupt("unsupported format version %d (this version reads 1 to 4)", version)
	}
	// v3 is the layout of versions 3 and 4; ordered, that records are in
	// keyspace order (version 4) rather than key order.
	v3, ordered := version >= snapVersion3, version == snapVersion4
	s := NewState()
	s.clock = int64(binary.LittleEndian.Uint64(hdr[12:20]))
	if s.clock < 0 {
		return nil, corrupt("negative clock %d", s.clock)
	}
	owned := version == snapVersionOwned
	if v3 {
		b, err := r.byte("ownership flag")
		if err != nil {
			return nil, err
		}
		if b > 1 {
			return nil, corrupt("bad ownership flag %d", b)
		}
		owned = b == 1
	}
	if owned {
		own, err := readOwner(r)
		if err != nil {
			return nil, err
		}
		s.own = own
	}
	if v3 {
		if err := s.ver.readFrom(r); err != nil {
			return nil, err
		}
	}
	var (
		count uint64
		key   []byte // scratch
		prev  entry  // the last record's
		big   bytes.Buffer
	)
	for {
		t, err := r.byte("record type")
		if err != nil {
			return nil, err
		}
		if t == recEnd {
			break
		}
		if valueType(t) != typeString && (!v3 || !isValueType(valueType(t))) {
			return nil, corrupt("record %d: unknown value type %d", count, t)
		}
		kn, err := r.length("key")
		if err != nil {
			return nil, err
		}
		if kn > bigItem {
			big.Reset()
			if _, err := io.CopyN(&big, r.br, int64(kn)); err != nil {
				return nil, readErr(err, "key")
			}
			r.crc = crc32.Update(r.crc, castagnoli, big.Bytes())
			key = append(key[:0], big.Bytes()...)
		} else {
			if cap(key) < kn {
				key = make([]byte, kn)
			}
			key = key[:kn]
			if err := r.full(key, "key"); err != nil {
				return nil, err
			}
		}
		exp, err := r.uvarint("expiry")
		if err != nil {
			return nil, err
		}
		if exp > math.MaxInt64 {
			return nil, corrupt("record %d: expiry %d out of range", count, exp)
		}
		var mod uint64
		if v3 {
			if mod, err = r.uvarint("mod stamp"); err != nil {
				return nil, err
			}
			if mod > s.ver.seq {
				return nil, corrupt("record %d: mod stamp %d after the command sequence %d", count, mod, s.ver.seq)
			}
		}
		var e entry
		if valueType(t) != typeString {
			v, err := readValue(r, valueType(t), s.gen)
			if err != nil {
				return nil, err
			}
			e = entry{key: string(key), ord: keyOrd(key), exp: int64(exp), val: v}
		} else if vn, err := r.length("value"); err != nil {
			return nil, err
		} else if vn > bigItem {
			// Read first, then allocate the entry: a corrupt length must
			// not cost a huge allocation before the data runs out.
			var vb bytes.Buffer
			if _, err := io.CopyN(&vb, r.br, int64(vn)); err != nil {
				return nil, readErr(err, "value")
			}
			r.crc = crc32.Update(r.crc, castagnoli, vb.Bytes())
			e = stringEntry(key, vb.Bytes(), int64(exp))
		} else {
			var v []byte
			e, v = allocEntry(key, vn, int64(exp))
			if err := r.full(v, "value"); err != nil {
				return nil, err
			}
		}
		// Records come in the order of their version: keyspace order
		// (entryLess) from version 4, key order before.
		if count > 0 && (ordered && !entryLess(prev, e) || !ordered && prev.key >= e.key) {
			return nil, corrupt("record %d: keys out of order", count)
		}
		e.mod = mod
		s.keys.Load(e)
		if e.exp != 0 {
			s.exps.Set(expRef{at: e.exp, key: e.key})
		}
		prev = e
		count++
	}
	n, err := r.uvarint("record count")
	if err != nil {
		return nil, err
	}
	if n != count {
		return nil, corrupt("record count %d, found %d", n, count)
	}
	want := r.crc
	var tr [4]byte
	if _, err := io.ReadFull(r.br, tr[:]); err != nil {
		return nil, readErr(err, "checksum")
	}
	if got := binary.LittleEndian.Uint32(tr[:]); got != want {
		return nil, corrupt("checksum %08x, computed %08x", got, want)
	}
	if _, err := r.br.ReadByte(); err != io.EOF {
		if err != nil {
			return nil, readErr(err, "end")
		}
		return nil, corrupt("data after the checksum")
	}
	return s, nil
}

// isValueType reports whether t is a value type of format 3 records.
func isValueType(t valueType) bool { return t == typeString || t == typeList || isObjType(t) }

// readValue reads the payload of a format 3 record of type t, not a string.
func readValue(r *snapReader, t valueType, gen uint64) (value, error) {
	switch {
	case t == typeList:
		return readList(r)
	case isObjType(t):
		return readObj(r, t, gen)
	}
	return value{}, corrupt("unknown value type %d", t)
}

// Restore replaces s's contents with the snapshot read from r. On error s
// is unchanged.
func (s *State) Restore(r io.Reader) error {
	ns, err := readSnapshot(r)
	if err != nil {
		return err
	}
	*s = *ns
	return nil
}
