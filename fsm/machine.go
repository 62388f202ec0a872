package fsm

import (
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Ctx carries what a command may know beyond its arguments: the time (the
// leader's clock, made monotonic) and the leader's random seed.
type Ctx struct {
	NowMs int64
	Seed  uint64
}

// Machine is a State made safe for concurrent use: one writer (the raft
// apply loop) and any number of readers.
type Machine struct {
	mu sync.RWMutex
	s  *State
}

// NewMachine returns a Machine holding an empty keyspace.
func NewMachine() *Machine { return &Machine{s: NewState()} }

// ApplyEntry decodes one committed log entry and applies its commands in
// order, returning one reply per command. An entry that cannot be decoded
// means the log is corrupt or written by an incompatible version: that is
// fatal, because skipping it would let replicas diverge, so it panics.
func (m *Machine) ApplyEntry(data []byte) []Reply {
	var e pb.Entry
	if err := proto.Unmarshal(data, &e); err != nil {
		panic(fmt.Sprintf("fsm: undecodable log entry (%d bytes): %v", len(data), err))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Reply, len(e.Commands))
	for i, c := range e.Commands {
		out[i] = m.s.Apply(c)
	}
	return out
}

// Read runs a read-only command (FlagReadonly) at time max(nowMs, clock)
// under the read lock; see State.Read. The reply may alias stored values
// (immutable) and stays valid after later writes.
func (m *Machine) Read(nowMs int64, args [][]byte) Reply {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.Read(nowMs, args)
}

// Snapshot returns a point-in-time copy of the keyspace. It is O(1)
// (copy-on-write); writing it out does not block ApplyEntry. It takes the
// write lock because taking the copy marks the live tree's nodes as shared.
// Release the snapshot when done with it.
func (m *Machine) Snapshot() *Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s.snapshot()
}

// Restore replaces the keyspace with the one read from r (written by
// Snapshot.WriteTo). The snapshot is read and verified in full before the
// lock is taken; on error (wrapping ErrCorruptSnapshot for bad data) the
// current keyspace is kept.
func (m *Machine) Restore(r io.Reader) error {
	s, err := readSnapshot(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.s = s
	m.mu.Unlock()
	return nil
}

// ExpiredKeys returns up to max keys that are expired at max(nowMs, clock)
// (their expiry time is before it: a key whose expiry equals now is still
// live), earliest expiry first, as fresh copies. The leader proposes their
// deletion as one "__expire key..." command, which deletes only those still
// expired when it applies.
func (m *Machine) ExpiredKeys(nowMs int64, max int) [][]byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.expiredKeys(nowMs, max)
}

// Digest returns a hash of the whole state (keys, values, types, expiry and
// the clock), equal on replicas that applied the same log.
func (m *Machine) Digest() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.digest()
}

// Len returns the number of keys, expired ones that are not yet deleted included.
func (m *Machine) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.len()
}

// Clock returns the state's clock: the largest command time applied.
func (m *Machine) Clock() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.clock
}
