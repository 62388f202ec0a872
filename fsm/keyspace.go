package fsm

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
)

// valueType tags a stored value. A new data type adds a constant here, its
// payload to value, and a case to every switch over valueType: typeName,
// the snapshot record codec (snapshot.go) and the digest (digest.go).
type valueType uint8

const (
	typeString valueType = 1 // payload in value.obj and value.n: value.str()
	typeList   valueType = 2 // payload in value.obj: *list (quicklist.go)
	typeSet    valueType = 3 // payload in value.obj: *setObj (sets.go)
	typeZSet   valueType = 4 // payload in value.obj: *zsetObj (zsetobj.go)
	typeHash   valueType = 5 // payload in value.obj: *hashObj (hashes.go)
)

// typeName is the name TYPE replies with.
func (t valueType) typeName() string {
	switch t {
	case typeString:
		return "string"
	case typeList:
		return "list"
	case typeSet:
		return "set"
	case typeZSet:
		return "zset"
	case typeHash:
		return "hash"
	}
	return "unknown"
}

// value is a stored value: a type tag and that type's payload.
//
// Ownership: a value is immutable once stored. Snapshots share it with the
// live keyspace and replies may alias it, so a command that changes a value
// builds a new one (APPEND, SETRANGE, INCR all allocate) and stores that.
//
// The collections (value.obj) are the exception, described in objects.go:
// an object is changed in place only while no snapshot can hold it (it was
// made since the last snapshot), and is first copied, in O(1) by
// copy-on-write, otherwise.
//
// A value is 24 bytes. The keyspace tree holds it inside every entry, so its
// size counts once per key, and up to about twice over with the unused
// capacity of the tree's nodes (TestEntrySize, BenchmarkMemPerKey). A string
// is therefore not kept as a []byte (24 bytes on its own) but as its length
// and, in obj, a *byte to its first byte; str rebuilds the slice.
type value struct {
	typ valueType
	n   uint32 // typeString: the length of the string
	// obj is, for typeString, a *byte to the first of the n bytes (nil
	// when n is 0); for the other types, a pointer to the type's object.
	obj any
}

// maxValueLen is the longest string a value can hold. Strings are at most
// protoMaxBulkLen long: the RESP and gRPC servers refuse longer arguments,
// and APPEND and SETRANGE refuse to grow a string past it.
const maxValueLen = math.MaxUint32

// strValue returns a string value holding b, which it aliases: b must not
// be changed afterwards. A string longer than maxValueLen cannot be
// represented and panics; the limits above keep every string far below it.
func strValue(b []byte) value {
	if len(b) == 0 {
		return value{typ: typeString}
	}
	if len(b) > maxValueLen {
		panic(fmt.Sprintf("fsm: a string of %d bytes, longer than a value can hold", len(b)))
	}
	return value{typ: typeString, n: uint32(len(b)), obj: unsafe.SliceData(b)}
}

// str returns the bytes of a string value, never nil (an empty string is a
// zero-length slice), with a capacity of its length, so that an append
// copies. The bytes must not be changed.
func (v value) str() []byte {
	p, _ := v.obj.(*byte)
	if p == nil || v.n == 0 {
		return []byte{}
	}
	return unsafe.Slice(p, v.n)
}

// entry is one key as the keyspace tree holds it (by value, so that a SET
// costs no allocation beyond the key and value bytes).
type entry struct {
	key string
	// ord is the key's place in the keyspace order (keyOrd): its slot, then
	// a hash of the key. The tree compares it before the key, so nearly every
	// comparison is of two integers held in the node, with no load of the
	// key's bytes, which live elsewhere in memory (a cache miss each).
	ord uint64
	// exp is the expiry time in Unix ms, 0 for none. The key is live at time
	// t while t <= exp (Redis's rule: a key expires once now > exp), so a key
	// stored with exp == now is still visible, with a PTTL of 0.
	exp int64
	// mod is the state's command sequence number when the key was last
	// changed (version.go): WATCH reads it, EXEC compares it. store and
	// setExpiry set it; every change of an entry goes through them.
	mod uint64
	val value
}

// liveAt reports whether e is visible at time now.
func (e *entry) liveAt(now int64) bool { return e.exp == 0 || now <= e.exp }

// expRef is an entry of the expiry index, ordered by (at, key).
type expRef struct {
	at  int64
	key string
}

// entryLess is the keyspace order: by slot, then by a hash of the key,
// then (for the rare equal hashes) by the key itself. Keys of one slot are
// thus one range of the tree (COUNTKEYSINSLOT and GETKEYSINSLOT walk only
// that range), and comparisons almost never read key bytes. Ordering by the
// key itself made keys with a common prefix, the usual Redis naming
// ("user:1000", "key:000000012345"), compare their bytes at every step.
// Nothing a client sees depends on the order: KEYS and SCAN have no defined
// order in Redis either, and the state digest and snapshots follow it on
// every replica alike.
func entryLess(a, b entry) bool {
	if a.ord != b.ord {
		return a.ord < b.ord
	}
	return a.key < b.key
}

// ordHashBits is how many low bits of ord hold the key's hash; the slot
// (14 bits) is above them.
const ordHashBits = 64 - 14

// keyOrd returns the ord of key: its slot in the top 14 bits, the top 50
// bits of its xxHash64 (fixed seed: equal on every machine) below.
func keyOrd(key []byte) uint64 {
	return uint64(KeySlot(key))<<ordHashBits | xxhash.Sum64(key)>>(64-ordHashBits)
}

// slotOrd returns the smallest ord of a key of slot.
func slotOrd(slot int) uint64 { return uint64(slot) << ordHashBits }

func expLess(a, b expRef) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

// Both trees are guarded by the Machine's lock, so their own locks are off.
// The degree is the library default.
var treeOpts = btree.Options{NoLocks: true}

func newKeyTree() *btree.BTreeG[entry] { return btree.NewBTreeGOptions(entryLess, treeOpts) }

func newExpTree() *btree.BTreeG[expRef] { return btree.NewBTreeGOptions(expLess, treeOpts) }

// probe returns an entry that can only serve as a search key: its key
// aliases b without copying, so it must never be stored. The trees compare
// with it and return the stored entry, whose key is its own.
func probe(b []byte) entry {
	return entry{key: unsafe.String(unsafe.SliceData(b), len(b)), ord: keyOrd(b)}
}

// stringBytes returns the bytes of s without copying; they must not be
// modified.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// allocEntry returns an entry for key holding a string value of n bytes, and
// that value's bytes for the caller to fill in before storing the entry.
// The key and the value share one allocation: one allocation per stored
// value. The value's capacity is its length, so an append can never write
// into the key.
func allocEntry(key []byte, n int, exp int64) (entry, []byte) {
	if len(key)+n == 0 {
		return entry{ord: keyOrd(nil), exp: exp, val: strValue(nil)}, nil
	}
	buf := make([]byte, len(key)+n)
	copy(buf, key)
	v := buf[len(key):len(buf):len(buf)]
	return entry{
		key: unsafe.String(unsafe.SliceData(buf), len(key)),
		ord: keyOrd(key),
		exp: exp,
		val: strValue(v),
	}, v
}

// stringEntry returns an entry holding a copy of key and val.
func stringEntry(key, val []byte, exp int64) entry {
	e, v := allocEntry(key, len(val), exp)
	copy(v, val)
	return e
}

// find returns the stored entry of key, live or not.
func (s *State) find(key []byte) (entry, bool) { return s.keys.Get(probe(key)) }

// lookup returns the entry of key if it is live at now. It does not change
// the state, so read-only commands use it.
func (s *State) lookup(key []byte, now int64) (entry, bool) {
	e, ok := s.keys.Get(probe(key))
	if !ok || !e.liveAt(now) {
		return entry{}, false
	}
	return e, true
}

// lookupWrite is lookup for write commands: a key found expired at now is
// removed, as a write in Redis removes an expired key it touches. Every
// replica applies the same command at the same time, so this is
// deterministic.
func (s *State) lookupWrite(key []byte, now int64) (entry, bool) {
	e, ok := s.keys.Get(probe(key))
	if !ok {
		return entry{}, false
	}
	if !e.liveAt(now) {
		s.remove(e)
		return entry{}, false
	}
	return e, true
}

// store inserts or replaces e (the key's old expiry, if any, leaves the
// index).
func (s *State) store(e entry) {
	e.mod = s.ver.seq
	prev, replaced := s.keys.Set(e)
	if replaced && prev.exp != 0 && prev.exp != e.exp {
		s.exps.Delete(expRef{at: prev.exp, key: prev.key})
	}
	if e.exp != 0 {
		// Set also replaces an equal ref, so the index never keeps the old
		// entry's key bytes alive.
		s.exps.Set(expRef{at: e.exp, key: e.key})
	}
}

// remove deletes the stored entry e.
func (s *State) remove(e entry) {
	if prev, ok := s.keys.Delete(e); ok {
		s.ver.deleted(prev, s.clock)
	}
	if e.exp != 0 {
		s.exps.Delete(expRef{at: e.exp, key: e.key})
	}
}

// removeKey deletes key if it is stored, live or not, and reports whether
// it was live at now.
func (s *State) removeKey(key []byte, now int64) bool {
	e, ok := s.keys.Delete(probe(key))
	if !ok {
		return false
	}
	s.ver.deleted(e, s.clock)
	if e.exp != 0 {
		s.exps.Delete(expRef{at: e.exp, key: e.key})
	}
	return e.liveAt(now)
}

// setExpiry changes the expiry of the stored entry e to exp (0: none).
func (s *State) setExpiry(e entry, exp int64) {
	if e.exp == 0 && exp == 0 {
		return // nothing to persist: not a change
	}
	// Setting an expiry is a change even if it is the one the key had (a
	// transaction watching the key aborts, as in Redis).
	if e.exp != 0 {
		s.exps.Delete(expRef{at: e.exp, key: e.key})
	}
	e.exp = exp
	e.mod = s.ver.seq
	s.keys.Set(e)
	if exp != 0 {
		s.exps.Set(expRef{at: exp, key: e.key})
	}
}

// expiredCount returns how many keys are expired at now (stored with an
// expiry before now), in O(log² n): a binary search over the index's ranks.
func (s *State) expiredCount(now int64) int {
	lo, hi := 0, s.exps.Len() // the answer is in [lo, hi]
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		r, _ := s.exps.GetAt(mid)
		if r.at < now {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// liveCount returns the number of keys live at now.
func (s *State) liveCount(now int64) int { return s.keys.Len() - s.expiredCount(now) }

// expiredKeys returns copies of up to max keys expired at now, oldest
// expiry first.
func (s *State) expiredKeys(now int64, max int) [][]byte {
	if now < s.clock {
		now = s.clock
	}
	var out [][]byte
	s.exps.Scan(func(r expRef) bool {
		if len(out) >= max || r.at >= now {
			return false
		}
		out = append(out, []byte(r.key))
		return true
	})
	return out
}

// flush empties the keyspace. Snapshots taken before keep their copy.
func (s *State) flush() {
	s.keys = newKeyTree()
	s.exps = newExpTree()
	s.ver.flushed()
}
