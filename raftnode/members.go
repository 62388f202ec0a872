package raftnode

import (
	"context"

	"github.com/hashicorp/raft"
)

// Configuration returns the latest membership this replica knows of, and
// whether this replica leads the group and knows that membership to be
// committed: an entry of its own term is applied here (so every entry of
// earlier terms, configurations included, is committed) and no membership
// change it started (AddVoter, RemoveMember) is still pending. A follower
// cannot tell, and reports false. It does not wait for raft's main loop.
func (n *Node) Configuration() (members []Member, committed bool, err error) {
	if n.closed.Load() {
		return nil, false, ErrShutdown
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, false, n.controlErr("read configuration", err)
	}
	for _, s := range f.Configuration().Servers {
		members = append(members, Member{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
	}
	term := n.raft.CurrentTerm()
	_, appliedTerm := n.sm.appliedIndex()
	committed = n.raft.State() == raft.Leader && appliedTerm == term && n.changes.Load() == 0 &&
		n.raft.CurrentTerm() == term
	return members, committed, nil
}

// waitChange is waitFuture for a membership change counted in n.changes:
// the change stays counted as pending until f is done, however long the
// caller waits for it.
func (n *Node) waitChange(ctx context.Context, f raft.Future) error {
	return n.waitFutureThen(ctx, f, func() { n.changes.Add(-1) })
}
