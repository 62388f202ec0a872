package raftnode

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/redraft/redraft/raftnode/wal"
)

// Peer is one member of a group: its node id and the peer address of that
// node's Mux.
type Peer struct {
	ID   string
	Addr string
}

// Config configures one replica of one group. Its zero value in any tuning
// field means the default; validate names the first bad field.
type Config struct {
	// NodeID identifies this node; it is the raft server id in every group.
	NodeID string
	// GroupID names the group; peers' Muxes route connections by it.
	GroupID string
	// Dir is the group's directory (DATA/groups/<group-id>): raft.db holds
	// the log and stable store (with LogStore "bolt"), snapshots/ the file
	// snapshots (2 retained).
	Dir string
	// LogStore selects where the group's raft log and stable store live:
	// LogStoreBolt ("bolt"; "" means it for now) is Dir/raft.db, synced on
	// its own; LogStoreWAL ("wal") is the node-wide WAL, whose one fsync
	// commits the appends of every group of the node. An existing group
	// cannot switch: Open refuses.
	LogStore string
	// WAL is the node's write-ahead log, required with LogStore "wal". The
	// owner opens it once for all groups of the node and closes it after
	// closing every Node that uses it.
	WAL *wal.WAL
	// Peers are the initial members, this node included. They are used to
	// bootstrap the group only when Dir holds no raft state and ignored
	// afterwards. Empty: do not bootstrap; the replica waits to be added by
	// the group's leader.
	Peers []Peer

	// HeartbeatTimeout is how long a follower waits without hearing from
	// the leader before it starts an election; the leader heartbeats every
	// tenth of it. ElectionTimeout bounds a candidate's election round.
	// LeaderLeaseTimeout is how long a leader stays leader without hearing
	// from a majority. Defaults (500ms, 500ms, 400ms) give failover in about
	// a second while keeping an idle group to about 13 heartbeats per follower
	// per second.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how often an idle leader tells followers its commit
	// index. Large (default 500ms) so idle groups are cheap; it only bounds how
	// long an idle follower's state lags behind the leader's.
	CommitTimeout time.Duration

	// SnapshotThreshold is how many new log entries trigger a snapshot
	// (default 8192), TrailingLogs how many entries a snapshot leaves in the
	// log for slow followers (default 10240), and SnapshotInterval how often
	// the threshold is checked (default 30s).
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration

	// MaxBatch is the most commands one log entry carries (default 1024);
	// an entry also stops growing at about 1 MiB. One Propose call is never
	// split, so a larger call makes a larger entry.
	MaxBatch int
	// MaxInflight is how many entries the proposer keeps submitted and not
	// yet applied (default 4). While that many are in flight, new proposals
	// queue and go out together in the next entry.
	MaxInflight int

	// Logger receives one line per event (elections, leadership changes,
	// snapshots, errors), never one per request. Raft's own output is passed
	// on at Warn and above. Nil: slog.Default().
	Logger *slog.Logger
}

// Defaults for zero Config fields.
const (
	DefaultHeartbeatTimeout   = 500 * time.Millisecond
	DefaultElectionTimeout    = 500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 400 * time.Millisecond
	DefaultCommitTimeout      = 500 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultTrailingLogs       = 10240
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultMaxBatch           = 1024
	DefaultMaxInflight        = 4

	// maxEntryBytes is the size at which an entry stops taking proposals.
	maxEntryBytes = 1 << 20
	// maxIDLen bounds node and group ids (they travel in the mux header).
	maxIDLen = 255
)

// withDefaults returns c with every zero tuning field set to its default.
func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDur(&c.ElectionTimeout, DefaultElectionTimeout)
	if c.LeaderLeaseTimeout == 0 {
		// The lease may not exceed the heartbeat timeout: a shorter
		// heartbeat timeout shortens the default lease with it.
		c.LeaderLeaseTimeout = min(DefaultLeaderLeaseTimeout, c.HeartbeatTimeout*4/5)
	}
	setDur(&c.CommitTimeout, DefaultCommitTimeout)
	setDur(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports the first bad field of c (defaults already applied).
func (c Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("raftnode: Config.%s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.NodeID == "":
		return bad("NodeID", "empty")
	case len(c.NodeID) > maxIDLen:
		return bad("NodeID", "longer than %d bytes", maxIDLen)
	case c.GroupID == "":
		return bad("GroupID", "empty")
	case len(c.GroupID) > maxIDLen:
		return bad("GroupID", "longer than %d bytes", maxIDLen)
	case c.Dir == "":
		return bad("Dir", "empty")
	case c.LogStore != "" && c.LogStore != LogStoreBolt && c.LogStore != LogStoreWAL:
		return bad("LogStore", "%q is neither %q nor %q", c.LogStore, LogStoreBolt, LogStoreWAL)
	case c.LogStore == LogStoreWAL && c.WAL == nil:
		return bad("WAL", "nil, but LogStore is %q", LogStoreWAL)
	case c.LogStore != LogStoreWAL && c.WAL != nil:
		return bad("WAL", "set, but LogStore is %q", c.LogStore)
	}
	if len(c.Peers) > 0 {
		seen := make(map[string]bool, len(c.Peers))
		self := false
		for i, p := range c.Peers {
			switch {
			case p.ID == "":
				return bad(fmt.Sprintf("Peers[%d].ID", i), "empty")
			case p.Addr == "":
				return bad(fmt.Sprintf("Peers[%d].Addr", i), "empty")
			case seen[p.ID]:
				return bad(fmt.Sprintf("Peers[%d].ID", i), "duplicate id %q", p.ID)
			}
			seen[p.ID] = true
			self = self || p.ID == c.NodeID
		}
		if !self {
			return bad("Peers", "does not include this node (%q)", c.NodeID)
		}
	}
	const floor = 5 * time.Millisecond
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HeartbeatTimeout", c.HeartbeatTimeout},
		{"ElectionTimeout", c.ElectionTimeout},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout},
		{"CommitTimeout", c.CommitTimeout},
		{"SnapshotInterval", c.SnapshotInterval},
	} {
		if d.v < floor {
			return bad(d.name, "%v is below %v", d.v, floor)
		}
	}
	switch {
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return bad("LeaderLeaseTimeout", "%v exceeds HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return bad("ElectionTimeout", "%v is below HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.MaxBatch < 0:
		return bad("MaxBatch", "negative (%d)", c.MaxBatch)
	case c.MaxInflight < 0:
		return bad("MaxInflight", "negative (%d)", c.MaxInflight)
	case c.MaxInflight > 64:
		return bad("MaxInflight", "%d exceeds 64", c.MaxInflight)
	}
	return nil
}
