package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// The collections: hashes, sets and sorted sets. Each is an object behind
// value.obj holding its elements in ordered containers (ordered.go): a
// sorted slice while small, a copy-on-write B-tree beyond.
//
// # Changing a stored object
//
// Snapshots share objects with the live keyspace, so a stored object must
// not change under a snapshot. Rather than copying an object on every
// write, the state counts snapshots (State.gen, incremented by each one)
// and stamps each object with the generation it was made in:
//
//   - an object stamped with the current generation was made after the
//     last snapshot, so nothing but its own key holds it: it is changed in
//     place;
//   - an older one may be held by a snapshot: the write first replaces it
//     by a copy stamped with the current generation. The copy is O(1) for
//     a tree, whose Copy shares every node (either side copies a node
//     before its first change to it), and copies at most orderedSmall
//     items for a slice.
//
// Keys never share an object (COPY makes a copy-on-write copy), replies
// copy nothing but alias element strings, which are immutable, and Read
// does not run concurrently with Apply (Machine's lock), so these in-place
// changes are invisible to everything but later commands.
//
// # Element order
//
// Elements are ordered by (h, element), h being the element's xxHash64. The
// hash is fixed (no per-process seed), so every replica holds the same
// order: replies that list a collection are deterministic, the HSCAN,
// SSCAN and ZSCAN cursor is a position in hash space (exact under
// concurrent changes, as Redis's is), and the snapshot records elements in
// this order (the reader checks it, which also catches a changed hash).
//
// # Encodings
//
// Redis keeps small collections in compact encodings (listpack, intset)
// and converts them, for good, once they grow. Each object keeps a large
// flag that follows the same rules, for OBJECT ENCODING and for the few
// behaviours that depend on it (a small sorted set stores -0 as 0; a small
// collection is scanned in one call). The flag is part of the state: it is
// in the snapshot and the digest.

// Redis's default thresholds of the compact encodings.
const (
	hashMaxListpackEntries = 128
	hashMaxListpackValue   = 64
	setMaxIntsetEntries    = 512
	zsetMaxListpackEntries = 128
	zsetMaxListpackValue   = 64
)

// elemHash is the order hash of an element.
func elemHash(b []byte) uint64 { return xxhash.Sum64(b) }

// bstr returns the bytes of b as a string without copying: b must not
// change while the string is in use (only for probes and for bytes that
// are never modified).
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// objOf returns the object of a stored collection entry.
func hashOf(e entry) *hashObj { return e.val.obj.(*hashObj) }
func setOf(e entry) *setObj   { return e.val.obj.(*setObj) }
func zsetOf(e entry) *zsetObj { return e.val.obj.(*zsetObj) }

// newObjEntry returns an entry for key (copied) holding obj of type t.
func newObjEntry(key []byte, exp int64, t valueType, obj any) entry {
	return entry{key: string(key), ord: keyOrd(key), exp: exp, val: value{typ: t, obj: obj}}
}

// lookupType returns the entry of key live at now for a read. found is
// false if there is none; wrong is true if it holds another type.
func (s *State) lookupType(key []byte, now int64, t valueType) (e entry, found, wrong bool) {
	e, found = s.lookup(key, now)
	if found && e.val.typ != t {
		return entry{}, false, true
	}
	return e, found, false
}

// lookupTypeWrite is lookupType for write commands (an expired key found is
// removed).
func (s *State) lookupTypeWrite(key []byte, now int64, t valueType) (e entry, found, wrong bool) {
	e, found = s.lookupWrite(key, now)
	if found && e.val.typ != t {
		return entry{}, false, true
	}
	return e, found, false
}

// saveObj stores e after its object changed, or removes the key if the
// object is now empty (Redis deletes a collection's key with its last
// element).
func (s *State) saveObj(e entry, n int) {
	if n == 0 {
		s.remove(e)
		return
	}
	s.store(e)
}

// crossSlot reports whether keys span several hash slots in a state that
// owns slot ranges (a standalone state accepts any keys). Commands whose
// keys are found through a numkeys argument check this themselves, since
// routing saw only their first key.
func (s *State) crossSlot(keys [][]byte) bool {
	if s.own == nil || len(keys) < 2 {
		return false
	}
	slot := KeySlot(keys[0])
	for _, k := range keys[1:] {
		if KeySlot(k) != slot {
			return true
		}
	}
	return false
}

var replyCrossSlot = ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")

// cloneObj returns a copy-on-write copy of a collection value stamped with
// generation gen (COPY).
func cloneObj(v value, gen uint64) value {
	switch v.typ {
	case typeHash:
		v.obj = v.obj.(*hashObj).clone(gen)
	case typeSet:
		v.obj = v.obj.(*setObj).clone(gen)
	case typeZSet:
		v.obj = v.obj.(*zsetObj).clone(gen)
	}
	return v
}

// objEncoding is OBJECT ENCODING's answer for a value.
func objEncoding(v value) string {
	switch v.typ {
	case typeString:
		if len(v.str()) <= 20 {
			if _, ok := parseInt(v.str()); ok {
				return "int"
			}
		}
		if len(v.str()) <= 44 {
			return "embstr"
		}
		return "raw"
	case typeHash:
		if v.obj.(*hashObj).large {
			return "hashtable"
		}
		return "listpack"
	case typeSet:
		if v.obj.(*setObj).large {
			return "hashtable"
		}
		return "intset"
	case typeZSet:
		if v.obj.(*zsetObj).large {
			return "skiplist"
		}
		return "listpack"
	case typeList:
		return v.obj.(*list).encoding()
	}
	return "unknown"
}

// Estimated per-item costs for MEMORY USAGE: a tree slot, a string header
// and an allocation header.
const (
	memEntry    = 64 // a keyspace entry
	memElem     = 40 // a set element or a hash field with its tree slot
	memZElem    = 72 // a sorted set element: two trees
	memTreeBase = 96 // an object and its trees' headers
)

// memUsage estimates the bytes a key and its value take, for MEMORY USAGE.
func memUsage(e entry) int64 {
	n := int64(memEntry + len(e.key))
	switch e.val.typ {
	case typeString:
		n += int64(len(e.val.str()))
	case typeHash:
		n += memTreeBase
		hashOf(e).t.Scan(func(it hashItem) bool {
			n += memElem + int64(len(it.f)+len(it.v))
			return true
		})
	case typeSet:
		n += memTreeBase
		setOf(e).t.Scan(func(it setItem) bool {
			n += memElem + int64(len(it.m))
			return true
		})
	case typeZSet:
		n += 2 * memTreeBase
		zsetOf(e).dict.Scan(func(it zdItem) bool {
			n += memZElem + int64(len(it.m))
			return true
		})
	case typeList:
		n += int64(listOf(e).memory())
	}
	return n
}

// Value payloads of the collections, shared by the snapshot (version 3)
// and DUMP. Strings: see snapshot.go. Collections:
//
//	encoding  1 byte: 0 = compact (listpack or intset), 1 = large
//	count     varint, at least 1
//	elements  in the object's order, (h, element) strictly ascending:
//	            set:  member (varint length, bytes)
//	            hash: field, then value (each varint length, bytes)
//	            zset: member, then score (float64 bits, 8 bytes LE, not NaN)

// fitEncoding sets the encoding a hash of these contents gets when loaded.
func (o *hashObj) fitEncoding() {
	o.large = o.t.Len() > hashMaxListpackEntries
	o.t.Scan(func(it hashItem) bool {
		if len(it.f) > hashMaxListpackValue || len(it.v) > hashMaxListpackValue {
			o.large = true
		}
		return !o.large
	})
}

// fitEncoding sets the encoding a set of these contents gets when loaded.
func (o *setObj) fitEncoding() {
	o.large = o.t.Len() > setMaxIntsetEntries
	o.t.Scan(func(it setItem) bool {
		if _, isInt := parseInt(stringBytes(it.m)); !isInt {
			o.large = true
		}
		return !o.large
	})
}

// fitEncoding sets the encoding a sorted set of these contents gets when
// loaded; a compact one stores -0 as 0.
func (o *zsetObj) fitEncoding() {
	o.large = o.len() > zsetMaxListpackEntries
	o.dict.Scan(func(it zdItem) bool {
		if len(it.m) > zsetMaxListpackValue {
			o.large = true
		}
		return !o.large
	})
	if o.large {
		return
	}
	var negZero []zdItem
	o.dict.Scan(func(it zdItem) bool {
		if it.score == 0 && math.Signbit(it.score) {
			negZero = append(negZero, it)
		}
		return true
	})
	for _, it := range negZero {
		o.update(it, 0)
	}
}

// objWriter is where payloads go: the snapshot writer, or a DUMP buffer.
type objWriter interface {
	write(b []byte)
	uvarint(v uint64)
}

// writeObj writes the payload of a collection value.
func writeObj(w objWriter, v value) {
	var scratch [binary.MaxVarintLen64]byte
	blob := func(s string) {
		w.uvarint(uint64(len(s)))
		w.write(stringBytes(s))
	}
	flag := func(large bool) {
		b := byte(0)
		if large {
			b = 1
		}
		w.write(append(scratch[:0], b))
	}
	switch v.typ {
	case typeSet:
		o := v.obj.(*setObj)
		flag(o.large)
		w.uvarint(uint64(o.t.Len()))
		o.t.Scan(func(it setItem) bool {
			blob(it.m)
			return true
		})
	case typeHash:
		o := v.obj.(*hashObj)
		flag(o.large)
		w.uvarint(uint64(o.t.Len()))
		o.t.Scan(func(it hashItem) bool {
			blob(it.f)
			blob(it.v)
			return true
		})
	case typeZSet:
		o := v.obj.(*zsetObj)
		flag(o.large)
		w.uvarint(uint64(o.dict.Len()))
		o.dict.Scan(func(it zdItem) bool {
			blob(it.m)
			w.write(binary.LittleEndian.AppendUint64(scratch[:0], math.Float64bits(it.score)))
			return true
		})
	default:
		panic(fmt.Sprintf("fsm: writeObj of value type %d", v.typ))
	}
}

// isObjType reports whether t is a collection type read by readObj.
func isObjType(t valueType) bool { return t == typeSet || t == typeHash || t == typeZSet }

// blob reads a varint length and that many bytes as a string. A length
// above bigItem is not trusted with an allocation before the bytes arrive.
func (r *snapReader) blob(what string) (string, error) {
	n, err := r.length(what)
	if err != nil {
		return "", err
	}
	if n > bigItem {
		var b bytes.Buffer
		if _, err := io.CopyN(&b, r.br, int64(n)); err != nil {
			return "", readErr(err, what)
		}
		r.crc = crc32.Update(r.crc, castagnoli, b.Bytes())
		return b.String(), nil
	}
	buf := make([]byte, n)
	if err := r.full(buf, what); err != nil {
		return "", err
	}
	return bstr(buf), nil
}

// readObj reads the payload of a collection of type t, stamped with
// generation gen.
func readObj(r *snapReader, t valueType, gen uint64) (value, error) {
	enc, err := r.byte("encoding")
	if err != nil {
		return value{}, err
	}
	if enc > 1 {
		return value{}, corrupt("bad encoding %d", enc)
	}
	n, err := r.uvarint("element count")
	if err != nil {
		return value{}, err
	}
	if n == 0 {
		return value{}, corrupt("empty collection")
	}
	large := enc == 1
	switch t {
	case typeSet:
		o := newSetObj(gen)
		o.large = large
		var prev setItem
		for i := uint64(0); i < n; i++ {
			m, err := r.blob("member")
			if err != nil {
				return value{}, err
			}
			it := setItem{h: elemHash(stringBytes(m)), m: m}
			if i > 0 && !setItemLess(prev, it) {
				return value{}, corrupt("set members out of order")
			}
			o.t.Load(it)
			prev = it
		}
		return value{typ: t, obj: o}, nil
	case typeHash:
		o := newHashObj(gen)
		o.large = large
		var prev hashItem
		for i := uint64(0); i < n; i++ {
			f, err := r.blob("field")
			if err != nil {
				return value{}, err
			}
			v, err := r.blob("field value")
			if err != nil {
				return value{}, err
			}
			it := hashItem{h: elemHash(stringBytes(f)), f: f, v: v}
			if i > 0 && !hashItemLess(prev, it) {
				return value{}, corrupt("hash fields out of order")
			}
			o.t.Load(it)
			prev = it
		}
		return value{typ: t, obj: o}, nil
	case typeZSet:
		o := newZSetObj(gen)
		o.large = large
		var prev zdItem
		var sb [8]byte
		for i := uint64(0); i < n; i++ {
			m, err := r.blob("member")
			if err != nil {
				return value{}, err
			}
			if err := r.full(sb[:], "score"); err != nil {
				return value{}, err
			}
			score := math.Float64frombits(binary.LittleEndian.Uint64(sb[:]))
			if math.IsNaN(score) {
				return value{}, corrupt("NaN score")
			}
			it := zdItem{h: elemHash(stringBytes(m)), m: m, score: score}
			if i > 0 && !zdItemLess(prev, it) {
				return value{}, corrupt("sorted set members out of order")
			}
			o.dict.Load(it)
			o.order.Set(zoItem{score: score, m: m})
			prev = it
		}
		return value{typ: t, obj: o}, nil
	}
	return value{}, corrupt("unknown value type %d", t)
}

// digestObj adds a collection value to a digest: encoding, count, then the
// elements in order, each length-prefixed.
func digestObj(h *xxhash.Digest, v value) {
	var buf [8]byte
	num := func(x uint64) { h.Write(binary.LittleEndian.AppendUint64(buf[:0], x)) }
	str := func(s string) {
		num(uint64(len(s)))
		h.WriteString(s)
	}
	flag := func(large bool) {
		if large {
			num(1)
		} else {
			num(0)
		}
	}
	switch v.typ {
	case typeSet:
		o := v.obj.(*setObj)
		flag(o.large)
		num(uint64(o.t.Len()))
		o.t.Scan(func(it setItem) bool {
			str(it.m)
			return true
		})
	case typeHash:
		o := v.obj.(*hashObj)
		flag(o.large)
		num(uint64(o.t.Len()))
		o.t.Scan(func(it hashItem) bool {
			str(it.f)
			str(it.v)
			return true
		})
	case typeZSet:
		o := v.obj.(*zsetObj)
		flag(o.large)
		num(uint64(o.dict.Len()))
		o.dict.Scan(func(it zdItem) bool {
			str(it.m)
			num(math.Float64bits(it.score))
			return true
		})
	default:
		panic(fmt.Sprintf("fsm: digest of value type %d", v.typ))
	}
}

// scanCursor is the cursor arithmetic of HSCAN, SSCAN and ZSCAN over a
// large collection: from the first element whose hash is at least cursor,
// visit count elements, then the rest of those that share the last one's
// hash, so that the next cursor (the hash of the element after them, 0 at
// the end) is strictly greater. An element present during a whole
// iteration is returned at least once, whatever changes in between.
type scanCursor struct {
	count   int
	visited int
	lastH   uint64
	next    uint64 // the cursor to return; 0 when the end was reached
}

// step is called with each element's hash in order from the cursor; it
// reports whether to visit the element (false: stop, the cursor is set).
func (c *scanCursor) step(h uint64) bool {
	if c.visited >= c.count && h != c.lastH {
		c.next = h
		return false
	}
	c.visited++
	c.lastH = h
	return true
}
