// Package raftnode runs one replica of one raft group on this node, and the
// peer transport that all groups of the node share.
//
// It is the only package that imports hashicorp/raft; no raft type appears
// in its API. A group's state machine is an fsm.Machine; a log entry is a
// protobuf pb.Entry holding a batch of commands.
//
// # Transport
//
// A node has ONE peer listener, the Mux. Every dialled connection starts
// with a small header naming its purpose: raft traffic of group G (the
// connection is then handed to G's raft transport), or a request for the
// node's info (SetInfo / FetchInfo). A connection for a group not open here
// is refused and closed; header reads and writes are bounded by a deadline.
// Partition and Heal cut a node off from chosen peers, for fault tests.
//
// # Writes
//
// Propose queues the caller's commands; one loop per Node packs everything
// queued (up to Config.MaxBatch commands, about 1 MiB) into one log entry
// and submits it, keeping at most Config.MaxInflight entries in flight, so
// concurrent callers share entries and fsyncs (group commit). Each caller
// receives its slice of the entry's replies once the entry is applied here.
//
// # Reads
//
// ReadIndex is a linearizable fence without a log write per read: on
// becoming leader a replica commits one empty entry; ReadIndex then takes
// the commit index, confirms leadership with one heartbeat round (shared by
// all callers that arrived before it started), and waits until the state
// machine has applied that index. The caller then reads the Machine.
// Follower reads (Machine().Read without ReadIndex) are stale by design.
//
// # Threading and ownership
//
// Mux and Node methods are safe for concurrent use. Raft applies entries,
// takes snapshots and restores from one goroutine; a snapshot is a
// point-in-time copy written out while later entries are applied. The Node
// owns its directory (raft.db, snapshots/), its raft instance and its
// stream layer; the Machine is shared with the owner, who reads it and
// changes it only through Propose. Close a group's Node before the Mux.
// Propose keeps no reference to its arguments after it returns.
//
// # Log store
//
// Config.LogStore chooses where raft's log and stable store live: raft.db
// in the group's directory (raft-boltdb, two fsyncs per append, each group
// on its own), or the node-wide write-ahead log of package wal, which the
// owner opens once for all groups (Config.WAL) and which commits the
// appends of every group with one fsync. A group cannot switch; with the
// WAL, a group directory without its marker file (new or wiped) drops
// what the WAL held of the group, so a wiped replica starts over as with
// raft.db.
//
// # Failure
//
// Replication failures are errors: *NotLeaderError (ErrNotLeader) and
// ErrNotReady mean nothing was submitted and the caller may retry;
// ErrUnknownOutcome means the entry was submitted and may or may not
// commit — never report it as "not written"; ErrShutdown follows Close.
// Command outcomes (wrong type, syntax) are fsm.Reply values, not errors. A
// committed entry that cannot be decoded panics in the Machine and stops
// the node, since skipping it would let replicas diverge; so does a
// snapshot that cannot be installed. A replica whose directory was wiped
// bootstraps again with the same Peers and catches up from the leader,
// through a snapshot install when the leader's log was compacted.
//
// Raft's own log output goes to Config.Logger at Warn and above, with
// repeated messages rate-limited; the Node logs one line per event
// (bootstrap, leadership, snapshots, errors), never one per request.
package raftnode
