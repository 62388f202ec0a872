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
// the records in key order, and a CRC-32C trailer. Restore reads and checks
// the whole stream before it replaces anything; bad data is an error
// wrapping ErrCorruptSnapshot, and the state is left as it was.
// testdata/snapshot-v1.golden pins the format.
//
// # Adding a data type
//
// A type is a valueType constant with its payload in value (keyspace.go),
// handled in typeName, the snapshot record codec and the digest. Stored
// payloads must be immutable or persistent (copy-on-write), since snapshots
// share them. Commands on other types check e.val.typ and reply
// ErrWrongType, as the string commands do.
package fsm
