package shard

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
)

// Group is one raft group hosted here: a data group, whose state machine is
// a part of the keyspace, or the metadata group.
type Group struct {
	id    string
	h     *Host
	node  *raftnode.Node
	m     *fsm.Machine
	meta  bool
	owned atomic.Bool // the machine has applied an ownership (data groups)
	// membersEpoch is the map epoch whose members the raft configuration
	// was last found to match, while led here (move.go).
	membersEpoch atomic.Uint64
}

// ID returns the group's id.
func (g *Group) ID() string { return g.id }

// Node returns the group's local raft replica.
func (g *Group) Node() *raftnode.Node { return g.node }

// Machine returns the group's local state machine (for stale local reads).
func (g *Group) Machine() *fsm.Machine { return g.m }

// Info returns the group as the current map describes it (nil for the
// metadata group).
func (g *Group) Info() *GroupInfo {
	if m := g.h.Map(); m != nil && !g.meta {
		return m.Group(g.id)
	}
	return nil
}

// Ranges returns the slot ranges the group owns in the current map.
func (g *Group) Ranges() []Range {
	if gi := g.Info(); gi != nil {
		return gi.Ranges
	}
	return nil
}

// Propose replicates commands (each args[0] the name) through g's log as one
// batch and returns their replies. The leader's clock, a random seed and the
// epoch of the map the caller routed with go into every command. A data
// group whose machine has no ownership yet gets the "__own" command of the
// map first in the same entry, so no client command is ever applied by a
// group that does not know which slots it owns. Errors are raftnode's:
// *raftnode.NotLeaderError, raftnode.ErrUnknownOutcome, raftnode.ErrShutdown.
func (g *Group) Propose(ctx context.Context, cmds ...[][]byte) ([]fsm.Reply, error) {
	now := time.Now().UnixMilli()
	var epoch uint64
	if m := g.h.Map(); m != nil {
		epoch = m.Epoch
	}
	own := g.ownArgs()
	pcs := make([]*pb.Command, 0, len(cmds)+1)
	if own != nil {
		pcs = append(pcs, &pb.Command{NowMs: now, Args: own, Epoch: epoch})
	}
	for _, a := range cmds {
		pcs = append(pcs, &pb.Command{NowMs: now, Args: a, Seed: rand.Uint64(), Epoch: epoch})
	}
	for {
		out, err := g.node.Propose(ctx, pcs)
		if !errors.Is(err, raftnode.ErrNotReady) {
			if err == nil && own != nil {
				out = out[1:]
			}
			return out, err
		}
		if err := waitRetry(ctx, 2*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// ownArgs returns the "__own" command the group still needs, or nil.
func (g *Group) ownArgs() [][]byte {
	if g.meta || g.owned.Load() {
		return nil
	}
	if _, ok := g.m.Ownership(); ok {
		g.owned.Store(true)
		return nil
	}
	m := g.h.Map()
	if m == nil {
		return nil
	}
	gi := m.Group(g.id)
	if gi == nil {
		return nil
	}
	return fsm.OwnArgs(fsm.Ownership{Epoch: m.Epoch, Ranges: gi.Ranges})
}

// Owned reports whether the group's machine has applied its ownership.
func (g *Group) Owned() bool {
	if g.meta || g.owned.Load() {
		return true
	}
	_, ok := g.m.Ownership()
	g.owned.Store(ok)
	return ok
}

// Read runs a read-only command linearizably: it is served only by the
// leader, after confirming leadership and applying everything committed.
func (g *Group) Read(ctx context.Context, args [][]byte) (fsm.Reply, error) {
	for {
		err := g.node.ReadIndex(ctx)
		if err == nil {
			return g.m.Read(time.Now().UnixMilli(), args), nil
		}
		if !errors.Is(err, raftnode.ErrNotReady) {
			return fsm.Reply{}, err
		}
		if err := waitRetry(ctx, 2*time.Millisecond); err != nil {
			return fsm.Reply{}, err
		}
	}
}

// IsLeader reports whether this replica leads the group now.
func (g *Group) IsLeader() bool { return g.node.IsLeader() }
