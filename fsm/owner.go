package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Slot ownership: a group's state machine accepts only keys of the hash
// slots it owns. What it owns is part of its replicated state, set by the
// internal command "__own" applied through the group's own log, so every
// replica accepts and refuses exactly the same commands, and a router with a
// stale view of the slot map can cause a retry but never a write in the
// wrong place.
//
// A state that has never applied "__own" owns every slot: that is a
// standalone keyspace (tests, the metadata group). Once "__own" is applied
// the state is restricted for good; a later "__own" with a higher epoch
// replaces the ranges.

// Slots is the number of hash slots, as in Redis Cluster.
const Slots = 16384

// OwnCommand is the internal command that sets the slots a group owns:
//
//	__own <epoch> <start>-<end> [<start>-<end> ...]
//
// Ranges are inclusive, ascending and disjoint; a single slot may be written
// "<slot>". It applies only if epoch is greater than the epoch of the
// ownership in force (reply 1), and is otherwise a no-op (reply 0), so the
// same command proposed twice changes nothing the second time. Malformed
// arguments get an error reply and change nothing.
const OwnCommand = "__own"

// notOwnerPrefix starts the refusal reply; IsNotOwner recognises it.
const notOwnerPrefix = "TRYAGAIN slot "

// SlotRange is an inclusive range of hash slots.
type SlotRange struct{ Start, End int }

func (r SlotRange) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// Ownership is the slot ranges a state owns and the epoch of the slot map
// they came from.
type Ownership struct {
	Epoch  uint64
	Ranges []SlotRange
}

// OwnArgs returns the "__own" command that sets o.
func OwnArgs(o Ownership) [][]byte {
	args := [][]byte{[]byte(OwnCommand), strconv.AppendUint(nil, o.Epoch, 10)}
	for _, r := range o.Ranges {
		args = append(args, []byte(r.String()))
	}
	return args
}

// owner is the ownership in force. It is immutable once built: "__own"
// replaces the pointer, so snapshots share it safely.
type owner struct {
	epoch  uint64
	ranges []SlotRange
	bits   [Slots / 64]uint64
}

func newOwner(epoch uint64, ranges []SlotRange) *owner {
	o := &owner{epoch: epoch, ranges: ranges}
	for _, r := range ranges {
		for s := r.Start; s <= r.End; s++ {
			o.bits[s/64] |= 1 << (s % 64)
		}
	}
	return o
}

func (o *owner) has(slot int) bool { return o.bits[slot/64]&(1<<(slot%64)) != 0 }

// count returns the number of slots owned.
func (o *owner) count() int {
	n := 0
	for _, w := range o.bits {
		n += bits.OnesCount64(w)
	}
	return n
}

// validRanges reports whether rs are in range, ascending and disjoint.
func validRanges(rs []SlotRange) bool {
	prev := -1
	for _, r := range rs {
		if r.Start <= prev || r.Start > r.End || r.End >= Slots {
			return false
		}
		prev = r.End
	}
	return true
}

func init() {
	register(&Spec{Name: OwnCommand, Arity: -2, Flags: FlagWrite | FlagInternal, run: cmdOwn})
}

func cmdOwn(s *State, c Ctx, a [][]byte) Reply {
	epoch, err := strconv.ParseUint(string(a[1]), 10, 64)
	if err != nil {
		return ErrorReply("ERR __own: bad epoch")
	}
	ranges := make([]SlotRange, 0, len(a)-2)
	for _, arg := range a[2:] {
		r, ok := parseRange(arg)
		if !ok {
			return errorText("ERR __own: bad slot range '" + string(clip(arg, 32)) + "'")
		}
		ranges = append(ranges, r)
	}
	if !validRanges(ranges) {
		return ErrorReply("ERR __own: slot ranges must be ascending, disjoint and within 0-16383")
	}
	if s.own != nil && epoch <= s.own.epoch {
		return replyZero
	}
	s.own = newOwner(epoch, ranges)
	return replyOne
}

// parseRange parses "a-b" or "a".
func parseRange(b []byte) (SlotRange, bool) {
	lo, hi := b, b
	if i := bytes.IndexByte(b, '-'); i >= 0 {
		lo, hi = b[:i], b[i+1:]
	}
	start, err1 := strconv.Atoi(string(lo))
	end, err2 := strconv.Atoi(string(hi))
	if err1 != nil || err2 != nil || start < 0 || end < 0 {
		return SlotRange{}, false
	}
	return SlotRange{start, end}, true
}

// refuseForeign returns the refusal reply, and true, when the state owns
// slot ranges and a key of args is in a slot outside them. Internal and
// keyless commands are never refused. It allocates only when refusing.
func (s *State) refuseForeign(spec *Spec, args [][]byte) (Reply, bool) {
	if s.own == nil || spec.FirstKey <= 0 || spec.Flags&FlagInternal != 0 {
		return Reply{}, false
	}
	last := spec.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := max(spec.Step, 1)
	for i := spec.FirstKey; i <= last && i < len(args); i += step {
		if slot := KeySlot(args[i]); !s.own.has(slot) {
			return notOwner(slot, s.own.epoch), true
		}
	}
	return Reply{}, false
}

// notOwner is the refusal of a key in slot: a retryable error. The router
// that sent the command turns it into a redirect to the slot's group.
func notOwner(slot int, epoch uint64) Reply {
	return ErrorReply(notOwnerPrefix + strconv.Itoa(slot) + " is not served by this group (ownership epoch " +
		strconv.FormatUint(epoch, 10) + ")")
}

// IsNotOwner reports whether r is the refusal of a key whose slot the group
// does not own (see OwnCommand). Nothing was changed by the command.
func IsNotOwner(r Reply) bool {
	return r.Kind == KindError && len(r.Str) > len(notOwnerPrefix) && r.Str[:len(notOwnerPrefix)] == notOwnerPrefix
}

// Ownership returns the slots the state owns, and false if it has never
// applied "__own" (it then owns every slot).
func (s *State) Ownership() (Ownership, bool) {
	if s.own == nil {
		return Ownership{}, false
	}
	return Ownership{Epoch: s.own.epoch, Ranges: append([]SlotRange(nil), s.own.ranges...)}, true
}

// Ownership returns the slots the machine owns; see State.Ownership.
func (m *Machine) Ownership() (Ownership, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.Ownership()
}

// CountKeysInSlot returns the number of keys of slot that are live at
// max(nowMs, clock). The keys of a slot are one range of the keyspace
// order: O(log n + keys in the slot).
func (m *Machine) CountKeysInSlot(slot int, nowMs int64) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := max(nowMs, m.s.clock)
	n := 0
	m.s.slotKeys(slot, func(e entry) bool {
		if e.liveAt(now) {
			n++
		}
		return true
	})
	return n
}

// KeysInSlot returns up to limit keys of slot that are live at max(nowMs,
// clock), in keyspace order, as fresh copies: O(log n + limit) when few of
// the slot's keys have expired.
func (m *Machine) KeysInSlot(slot int, nowMs int64, limit int) [][]byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := max(nowMs, m.s.clock)
	var out [][]byte
	m.s.slotKeys(slot, func(e entry) bool {
		if len(out) >= limit {
			return false
		}
		if e.liveAt(now) {
			out = append(out, []byte(e.key))
		}
		return true
	})
	return out
}

// slotKeys calls fn with each entry of slot, live or not, in keyspace
// order, until fn returns false.
func (s *State) slotKeys(slot int, fn func(entry) bool) {
	if slot < 0 || slot >= Slots {
		return
	}
	s.keys.Ascend(entry{ord: slotOrd(slot)}, func(e entry) bool {
		if e.ord>>ordHashBits != uint64(slot) {
			return false
		}
		return fn(e)
	})
}

// Snapshot format version 2 is version 1 with the ownership right after the
// header (version 3, written now, has it after a flag byte; snapshot.go):
//
//	ownership  epoch (varint), number of ranges (varint), then each range's
//	           start and end (varints)
const snapVersionOwned = 2

func (o *owner) writeTo(w *snapWriter) {
	w.uvarint(o.epoch)
	w.uvarint(uint64(len(o.ranges)))
	for _, r := range o.ranges {
		w.uvarint(uint64(r.Start))
		w.uvarint(uint64(r.End))
	}
}

func readOwner(r *snapReader) (*owner, error) {
	epoch, err := r.uvarint("ownership epoch")
	if err != nil {
		return nil, err
	}
	n, err := r.uvarint("ownership ranges")
	if err != nil {
		return nil, err
	}
	if n > Slots {
		return nil, corrupt("%d ownership ranges", n)
	}
	ranges := make([]SlotRange, n)
	for i := range ranges {
		start, err := r.uvarint("ownership range")
		if err != nil {
			return nil, err
		}
		end, err := r.uvarint("ownership range")
		if err != nil {
			return nil, err
		}
		if start >= Slots || end >= Slots {
			return nil, corrupt("ownership range %d-%d out of bounds", start, end)
		}
		ranges[i] = SlotRange{int(start), int(end)}
	}
	if !validRanges(ranges) {
		return nil, corrupt("ownership ranges %v not ascending and disjoint", ranges)
	}
	return newOwner(epoch, ranges), nil
}

// digestOwner adds the ownership, if any, to a state digest.
func digestOwner(h *xxhash.Digest, o *owner) {
	if o == nil {
		return
	}
	var buf [8]byte
	num := func(v uint64) { h.Write(binary.LittleEndian.AppendUint64(buf[:0], v)) }
	h.WriteString("own")
	num(o.epoch)
	num(uint64(len(o.ranges)))
	for _, r := range o.ranges {
		num(uint64(r.Start))
		num(uint64(r.End))
	}
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum
// Redis Cluster hashes keys with.
func CRC16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

// KeySlot returns the hash slot of key, Redis Cluster's rule: CRC16 of the
// key modulo 16384, except that when the key holds a '{' followed later by
// a '}' with at least one byte between them, only the bytes between the
// first '{' and the first '}' after it are hashed. It lives here because
// the state machine checks ownership with it; package shard uses the same
// function.
func KeySlot(key []byte) int {
	if i := bytes.IndexByte(key, '{'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(CRC16(key) & (Slots - 1))
}

// String renders the ownership as "epoch 3: 0-5460 5461".
func (o Ownership) String() string {
	s := fmt.Sprintf("epoch %d:", o.Epoch)
	for _, r := range o.Ranges {
		s += " " + r.String()
	}
	return s
}
