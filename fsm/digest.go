package fsm

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// digest hashes the whole state with xxHash64 (fixed seed, so equal on every
// machine): the clock, then each entry in keyspace order (entryLess) with its type, expiry
// and value, every variable-length field prefixed by its length so that no
// two states hash the same input. The expiry index is derived from the
// entries and so not hashed.
func (s *State) digest() uint64 {
	h := xxhash.New()
	var buf [8]byte
	num := func(v uint64) { h.Write(binary.LittleEndian.AppendUint64(buf[:0], v)) }
	num(uint64(s.clock))
	digestOwner(h, s.own)
	s.ver.digest(h)
	s.keys.Scan(func(e entry) bool {
		num(uint64(len(e.key)))
		h.WriteString(e.key)
		h.Write(append(buf[:0], byte(e.val.typ)))
		num(uint64(e.exp))
		num(e.mod)
		switch e.val.typ {
		case typeString:
			num(uint64(len(e.val.str())))
			h.Write(e.val.str())
		case typeList:
			digestList(h, listOf(e))
		case typeSet, typeZSet, typeHash:
			digestObj(h, e.val)
		default:
			panic(fmt.Sprintf("fsm: digest of unknown value type %d", e.val.typ))
		}
		return true
	})
	return h.Sum64()
}

// Digest returns a hash of the whole state; see Machine.Digest.
func (s *State) Digest() uint64 { return s.digest() }
