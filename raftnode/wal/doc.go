// Package wal is a node-wide write-ahead log for the raft groups of a
// node: every group gets a Store (a raft log store and stable store), and
// the writes of all groups share one file and one fsync.
//
// # Why
//
// A replicated write costs the leader's sync and then the followers'. With
// a store per group, each group syncs on its own, so many groups each with
// a little traffic sync many times for little data. Here every call that
// must be durable appends its records to a shared buffer under a mutex and
// waits; one flusher goroutine writes everything submitted since its last
// round and fdatasyncs once, then answers every waiter. While it syncs, the
// next round's records pile up: group commit across groups, one sync per
// round.
//
// # Files
//
// The directory holds segment files 00000001.seg, 00000002.seg, ... (hex
// sequence numbers), each a header and then records; the newest is the
// active one, and a new one is started once the active one reaches
// Options.SegmentSize, after a seal record closes the old one. Each record
// carries a length and a CRC-32C of its content (format.go has the
// layout): log entries (one record per entry; a StoreLogs call is a run of
// records applied only when complete), stable values, range deletions,
// group drops, entries moved by the collector, seals. Segments are
// zero-filled ahead of use in the background (the next one is prepared
// while the active one fills), so a write does not change the file's size
// and fdatasync has no metadata to write.
//
// # Memory
//
// Per group: for every live entry its location (segment, offset, size; 16
// bytes), the most recent Options.CacheEntries entries themselves, and the
// stable values. GetLog serves recent entries from memory and reads older
// ones back from their segment, checking the checksum again.
//
// # Recovery
//
// Open replays the segments in order, checking every checksum, and
// rebuilds each group. A crash can only tear the end of the newest segment
// (everything before was synced and sealed before the next segment was
// started), so a damaged record there that looks torn (the file ends
// inside it, its header is zero, or a sector of it is zero) is cut off,
// with the incomplete StoreLogs call it belongs to, and a warning is
// logged. Anything else fails Open with an error wrapping ErrCorrupt that
// names the file and offset: a checksum mismatch followed by data, an
// older segment cut short (at any byte: it lacks its seal), a missing
// segment. An operator must decide, since synced data was lost.
//
// # Garbage collection
//
// Segments are removed oldest first, once nothing in them is needed. An
// idle group keeps its last entries for ever (raft's trailing logs), so
// the collector also cleans: it copies the few live entries of old,
// mostly dead segments to the tail, and the latest stable values with
// them, and removes the segments. It copies at most a quarter of what it
// frees, so the log stays within about four times the live data plus the
// active segment. gc.go explains why replaying what remains gives the live
// state.
//
// # Threading and failure
//
// Every method is safe for concurrent use. A write or sync error is
// sticky: every later write fails with it (a failed fsync may have lost
// data the page cache still shows), and the log must be reopened, which
// replays what is really on disk.
package wal
