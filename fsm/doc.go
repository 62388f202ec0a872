// Package fsm is the keyspace of one raft group: data types, expiry, the
// command implementations, and the snapshot format.
//
// The package is pure and deterministic. It reads no clock, draws no random
// numbers, starts no goroutines and does no I/O beyond the readers and
// writers handed to it. Time arrives inside each command (the leader's clock,
// made monotonic here), so the same log applied on any replica produces the
// same state and the same replies.
//
// Threading: State is not safe for concurrent use. Machine wraps a State with
// a read/write lock: ApplyEntry takes the write lock, Read the read lock, and
// Snapshot returns a point-in-time copy (copy-on-write) that can be written
// out while later entries are applied.
package fsm
