package fsm

import (
	"encoding/binary"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// Key versions, for WATCH.
//
// EXEC must fail if a watched key changed between WATCH and EXEC, and every
// replica must come to the same verdict. So versions are replicated state,
// derived from the log alone:
//
//   - seq numbers the commands applied (State.Apply increments it first);
//   - each entry carries mod, the seq of the command that last stored it
//     or changed its expiry (store and setExpiry set it);
//   - a deletion cannot stamp an entry that is gone, so it raises the
//     watermark of the key's bucket (one of verBuckets, by key hash) to the
//     seq of the deleting command. No tombstones are kept.
//
// WATCH (on the leader, after a linearizable read barrier) reads a Version
// per key: Present with the key's mod if the key is live, else Absent with
// the current seq. EXEC carries them and the state checks them when the
// transaction applies (Changed):
//
//   - Present m: changed unless the key is live with mod m. A rewrite
//     changes mod; a deletion, or an expiry (the key is no longer live),
//     removes it.
//   - Absent at seq c: changed if the key is stored with mod > c (created
//     since, and maybe expired since), or if its bucket's watermark passed
//     c (it may have been
//     created and deleted since: conservative, another key of the bucket
//     deleted meanwhile aborts the transaction too).
//
// Removing a key that had already expired is not a change, as in Redis:
// the key vanished logically when it expired. Such a removal raises the
// watermark only to the key's own mod, which is enough to catch a key that
// was created after WATCH and expired before EXEC.

// verBuckets is the number of deletion watermarks.
const verBuckets = 1024

// versions is the WATCH bookkeeping of a State.
type versions struct {
	seq  uint64
	dels [verBuckets]uint64
}

func verBucket(key string) int { return int(xxhash.Sum64String(key) % verBuckets) }

// deleted records that the stored entry e was removed at time now.
func (v *versions) deleted(e entry, now int64) {
	at := v.seq
	if !e.liveAt(now) {
		at = e.mod
	}
	if b := verBucket(e.key); v.dels[b] < at {
		v.dels[b] = at
	}
}

// flushed records that every key was removed.
func (v *versions) flushed() {
	for i := range v.dels {
		v.dels[i] = v.seq
	}
}

// Version is what WATCH remembers of a key.
type Version struct {
	Present bool   // the key was live
	Seq     uint64 // Present: its mod; else the state's seq at the read
}

// String encodes v for the EXEC command: "p<mod>" or "a<seq>".
func (v Version) String() string {
	if v.Present {
		return "p" + strconv.FormatUint(v.Seq, 10)
	}
	return "a" + strconv.FormatUint(v.Seq, 10)
}

func parseVersion(b []byte) (Version, bool) {
	if len(b) < 2 || (b[0] != 'p' && b[0] != 'a') {
		return Version{}, false
	}
	n, err := strconv.ParseUint(string(b[1:]), 10, 64)
	if err != nil {
		return Version{}, false
	}
	return Version{Present: b[0] == 'p', Seq: n}, true
}

// version returns the Version of key at time now.
func (s *State) version(key []byte, now int64) Version {
	if e, ok := s.lookup(key, now); ok {
		return Version{Present: true, Seq: e.mod}
	}
	return Version{Seq: s.ver.seq}
}

// changed reports whether key changed since WATCH read v, at time now.
func (s *State) changed(key []byte, v Version, now int64) bool {
	if v.Present {
		e, live := s.lookup(key, now)
		return !live || e.mod != v.Seq
	}
	// Stored since WATCH, live or expired by now: changed either way.
	if e, ok := s.find(key); ok && e.mod > v.Seq {
		return true
	}
	return s.ver.dels[verBucket(bytesString(key))] > v.Seq
}

// Versions returns the WATCH versions of keys at time max(nowMs, clock).
// Call it on the leader after a linearizable read barrier, so that it
// reflects every write acknowledged before WATCH.
func (m *Machine) Versions(nowMs int64, keys [][]byte) []Version {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := max(nowMs, m.s.clock)
	out := make([]Version, len(keys))
	for i, k := range keys {
		out[i] = m.s.version(k, now)
	}
	return out
}

// Changed reports whether any watched key changed since WATCH read its
// version, as a transaction applied at time max(nowMs, clock) would find.
// Call it on the leader after a linearizable read barrier.
func (m *Machine) Changed(nowMs int64, ws []Watch) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := max(nowMs, m.s.clock)
	for _, w := range ws {
		if m.s.changed(w.Key, w.Version, now) {
			return true
		}
	}
	return false
}

// writeTo writes the versions for a snapshot (format 3): the sequence,
// then the watermarks that are not 0 as a count and (bucket, watermark)
// pairs in ascending bucket order.
func (v *versions) writeTo(w *snapWriter) {
	w.uvarint(v.seq)
	n := 0
	for _, d := range v.dels {
		if d != 0 {
			n++
		}
	}
	w.uvarint(uint64(n))
	for i, d := range v.dels {
		if d != 0 {
			w.uvarint(uint64(i))
			w.uvarint(d)
		}
	}
}

// readFrom reads what writeTo wrote.
func (v *versions) readFrom(r *snapReader) error {
	var err error
	if v.seq, err = r.uvarint("command sequence"); err != nil {
		return err
	}
	n, err := r.uvarint("deletion watermarks")
	if err != nil {
		return err
	}
	if n > verBuckets {
		return corrupt("%d deletion watermarks", n)
	}
	next := uint64(0)
	for range n {
		b, err := r.uvarint("watermark bucket")
		if err != nil {
			return err
		}
		d, err := r.uvarint("deletion watermark")
		if err != nil {
			return err
		}
		if b < next || b >= verBuckets || d == 0 || d > v.seq {
			return corrupt("deletion watermark %d of bucket %d (sequence %d)", d, b, v.seq)
		}
		v.dels[b] = d
		next = b + 1
	}
	return nil
}

// digest adds the versions to a state digest.
func (v *versions) digest(h *xxhash.Digest) {
	var buf [8]byte
	h.WriteString("ver")
	h.Write(binary.LittleEndian.AppendUint64(buf[:0], v.seq))
	for _, d := range v.dels {
		h.Write(binary.LittleEndian.AppendUint64(buf[:0], d))
	}
}
