package raftnode

import (
	"errors"
	"fmt"
)

// Replication errors. Command outcomes (wrong type, syntax) are never errors
// here: they are fsm.Reply values in the result.
var (
	// ErrNotLeader is returned, wrapped in a *NotLeaderError, when this replica
	// is not the leader of its group. Nothing was submitted to the log, so the
	// caller may retry on the leader the error names.
	ErrNotLeader = errors.New("raftnode: not the leader")

	// ErrUnknownOutcome is returned when a proposal was submitted to the log
	// but this replica cannot tell whether it committed: the context ended
	// while waiting, leadership was lost after submission, or the node shut
	// down. The commands may or may not be applied; never report them as
	// "not written".
	ErrUnknownOutcome = errors.New("raftnode: outcome unknown, the entry may still commit")

	// ErrShutdown is returned by every call after Close. It may be joined with
	// ErrUnknownOutcome when Close interrupted a proposal already submitted.
	ErrShutdown = errors.New("raftnode: node is shut down")

	// ErrNotReady is returned when this replica leads the group but cannot
	// serve the request yet: the first entry of its term is not applied
	// (ReadIndex), a leadership transfer is in progress, or raft did not take
	// the entry in time. Nothing was done; callers retry shortly.
	ErrNotReady = errors.New("raftnode: leader not ready, try again")

	// ErrMuxClosed is returned when a Mux is used after Close.
	ErrMuxClosed = errors.New("raftnode: mux closed")
)

// NotLeaderError is ErrNotLeader with the leader this replica knows of.
// LeaderID and LeaderAddr (the leader's peer address, as served by its Mux)
// are empty when no leader is known. errors.Is(err, ErrNotLeader) holds.
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNotLeader.Error() + " (leader unknown)"
	}
	return fmt.Sprintf("%s (leader %s at %s)", ErrNotLeader.Error(), e.LeaderID, e.LeaderAddr)
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
