package raftnode

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// ReadIndex is a linearizable read fence: when it returns nil, the
// Machine reflects every write acknowledged (by any replica) before
// ReadIndex was called, and the caller may Read it. It writes nothing to
// the log:
//
//  1. this replica must be leader, and its state machine must have applied
//     an entry of the current term (the no-op proposed on election), else
//     ErrNotReady; that makes the commit index reflect every earlier term;
//  2. the read index is the current commit index;
//  3. leadership is confirmed by a heartbeat round to a majority started
//     after step 2 (one round serves every caller that arrived before it
//     started), and the term must not have changed;
//  4. it waits until the state machine has applied the read index.
//
// Errors: *NotLeaderError, ErrNotReady (retry), ErrShutdown, or the
// context's error. A deposed or partitioned leader fails instead of
// answering stale.
func (n *Node) ReadIndex(ctx context.Context) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	if localReadsPlanted() {
		return nil // a planted bug (faultinject.go): no read check at all
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	term := n.raft.CurrentTerm()
	if _, t := n.sm.appliedIndex(); t != term {
		return ErrNotReady
	}
	// A process that has just resumed from a stall may count heartbeat
	// answers sent before it as confirmation (see stall.go): refuse until
	// answers sent after the stall have arrived.
	if n.stallSuspect() {
		return ErrNotReady
	}
	index := n.raft.CommitIndex()
	if err := n.verify.round(ctx); err != nil {
		return n.controlErr("verify leadership", err)
	}
	if n.raft.CurrentTerm() != term {
		return n.notLeader()
	}
	if n.stallSuspect() {
		return ErrNotReady
	}
	if err := n.sm.waitApplied(ctx, index, n.stop); err != nil {
		if err == ErrShutdown {
			return err
		}
		return fmt.Errorf("raftnode: wait for apply of index %d: %w", index, err)
	}
	return nil
}

// stallSuspect reports whether the process may have stalled during the
// last heartbeat timeout (or lease, if longer).
func (n *Node) stallSuspect() bool {
	window := n.cfg.HeartbeatTimeout
	if n.cfg.LeaderLeaseTimeout > window {
		window = n.cfg.LeaderLeaseTimeout
	}
	return processStalls().suspect(time.Now(), n.cfg.HeartbeatTimeout/4, window)
}

// verifier coalesces VerifyLeader calls. A caller joins the next round to
// start; rounds run one at a time, so a round serves exactly the callers
// that joined before it began.
type verifier struct {
	n       *Node
	mu      sync.Mutex
	running bool
	closed  bool // set by Close: no new rounds
	next    *verifyRound
	rounds  atomic.Uint64 // VerifyLeader calls made, for tests
}

type verifyRound struct {
	done chan struct{}
	err  error
}

// round waits for a leadership confirmation that started after the call.
func (v *verifier) round(ctx context.Context) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return raft.ErrRaftShutdown
	}
	r := v.next
	if r == nil {
		r = &verifyRound{done: make(chan struct{})}
		v.next = r
	}
	if !v.running {
		v.running = true
		v.n.loops.Add(1)
		go v.run()
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run executes pending rounds until none is left.
func (v *verifier) run() {
	defer v.n.loops.Done()
	for {
		v.mu.Lock()
		r := v.next
		v.next = nil
		if r == nil {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		v.rounds.Add(1)
		r.err = v.n.waitFuture(context.Background(), v.n.raft.VerifyLeader())
		close(r.done)
	}
}

// shutdown refuses new rounds; it runs before Close waits for its goroutines.
func (v *verifier) shutdown() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
}
