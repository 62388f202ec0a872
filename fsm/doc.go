// Package fsm is the keyspace of one raft group: data types, expiry, the
// command implementations, and the snapshot format.
//
// # Determinism
//
// The package is pure. It reads no clock, draws no random numbers, starts no
// goroutines and does no I/O beyond the readers and writers handed to it;
// map iteration order never reaches the state or a reply. Time arrives
// inside each command (pb.Command.NowMs, the leader's clock), so the same
// log applied on any replica produces the same state, the same replies and
// the same Digest.
//
// # Time and expiry
//
//  1. The state has a clock: the largest NowMs applied (never negative, and
//     never going back, even if a new leader's clock is behind). Apply runs
//     each command at max(NowMs, clock); Read runs at max(nowMs, clock).
//  2. A key with expiry time exp is live at time t while t <= exp, as in
//     Redis: at t == exp it is still visible, with a PTTL of 0.
//  3. An expired key is invisible to reads at once. A write command that
//     finds one treats it as absent and removes it (every replica applies
//     that command at the same time, so this is deterministic). An
//     EXPIRE-family time, or an absolute GETEX/SET time, at or before now
//     deletes the key.
//  4. Active expiry: the leader calls Machine.ExpiredKeys(now, max) and
//     proposes "__expire key..." (ExpireCommand; FlagInternal, so Lookup
//     hides it from clients). Applying it deletes each key that is still
//     expired at the command's time, and nothing else.
//  5. DBSIZE counts the keys live at its time; Machine.Len counts every
//     stored key, expired ones not yet removed included.
//
// # Replies
//
// Replies and error texts are Redis 7's, byte for byte where the protocol
// layer writes them as they are (Reply is protocol-neutral). INCRBYFLOAT
// computes in the 80-bit long double format, as Redis does on x86-64.
// A Reply may alias stored values, which are immutable once stored, and
// never aliases the command's arguments.
//
// # Threading
//
// State is not safe for concurrent use. Machine wraps a State with a
// read/write lock: ApplyEntry, Snapshot and Restore's final swap take the
// write lock, Read, ExpiredKeys, Digest and Len the read lock. Snapshot is
// O(1): the keyspace is a copy-on-write B-tree, so the Snapshot it returns
// is a point-in-time copy that WriteTo streams out from any goroutine while
// later entries are applied.
//
// # Snapshots
//
// The format is described in snapshot.go: a header (magic, version, clock),
// the records in keyspace order (slot, hash of the key, key), and a CRC-32C
// trailer. Restore reads and checks the whole stream before it replaces
// anything; bad data is an error wrapping ErrCorruptSnapshot, and the state
// is left as it was. testdata/snapshot-v4.golden pins the format;
// snapshot-v1.golden and snapshot-v3.golden (records in key order) must
// stay readable.
//
// # Hashes, sets and sorted sets
//
// Each is an object behind value.obj holding its elements in a sorted slice
// while small and a copy-on-write B-tree beyond (ordered.go, objects.go,
// hashes.go, sets.go, zsetobj.go): O(log n) per element changed, O(1) to
// share. An object is changed in place while no snapshot
// can hold it, and copied (in O(1)) by the first write after a snapshot:
// State.gen counts snapshots and each object records the one it was made
// in. Elements are kept in the order of a fixed hash of the element, so
// listing replies are deterministic and HSCAN, SSCAN and ZSCAN cursors are
// exact under concurrent changes; a sorted set also keeps Redis's (score,
// member) order, with subtree counts for ranks. The compact encodings
// Redis reports (listpack, intset) are followed as a flag with Redis's
// thresholds and conversion rules, for OBJECT ENCODING and the few
// behaviours that depend on it.
//
// Commands whose keys follow a numkeys argument (ZUNION, SINTERCARD, ...)
// name their first key in Spec.FirstKey for routing; Spec.Keys lists them
// all, and the command refuses keys in other slots (CROSSSLOT) when the
// state owns slot ranges.
//
// # Randomness
//
// SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER and RANDOMKEY (FlagRandom)
// draw from a splitmix64 generator (random.go). Applied from the log it is
// seeded by pb.Command.Seed, chosen by the leader, and the key: every
// replica draws the same, so SPOP removes the same members everywhere. The
// read-only ones stay read-only, as in Redis: Read serves them without a
// log entry (the cost of a write for every SRANDMEMBER would be an fsync
// and a round trip), seeded by the read's time and a counter of such reads
// that is not replicated state. Replicas need not agree on a read's
// sample, since it changes nothing; the counter makes repeated reads, even
// pipelined within one millisecond, draw afresh. Within a transaction
// applied from the log they are deterministic again.
//
// # Lists
//
// A list (quicklist.go, lists.go) is persistent: never changed once stored,
// each command builds a new one sharing what it can. A small list (at most
// 128 elements and 8 KB) is one packed byte slice; a larger one is a
// copy-on-write B-tree of elements ordered by spaced positions, with
// subtree counts, so a push, a pop or an index costs O(log n). The form
// follows from the contents alone. The blocking commands (FlagBlocking)
// never block when applied: with nothing to pop they reply as a timeout
// does, as inside MULTI; the front door waits and proposes them again.
//
// # Transactions and key versions
//
// EXEC is one internal command, "__exec" (tx.go), carrying the queued
// commands and the versions WATCH read: it applies atomically in one log
// entry, after checking that every key is owned and no watched key
// changed. Versions (version.go) are replicated state, in the snapshot
// and the digest: a count of applied commands, each entry's stamp of the
// command that last changed it (set by store and setExpiry, which every
// change must go through), and per-bucket watermarks of deletions.
//
// # Adding a data type
//
// A type is a valueType constant with its payload in value (keyspace.go),
// handled in typeName, the snapshot record codec and the digest. Stored
// payloads must be immutable or persistent (copy-on-write), since snapshots
// share them, or follow the generation rule of objects.go. Commands on
// other types check e.val.typ and reply ErrWrongType, as the string
// commands do.
package fsm
