package raftnode

import (
	"sync"
	"time"
)

// Process stalls and linearizable reads.
//
// A process that stops running for a while (SIGSTOP, a frozen VM, a long
// stop-the-world pause) resumes with raft's view of the world as it was
// when it stopped: a leader still believes it leads until its lease check
// or a follower's answer says otherwise, and the answers its followers
// sent to heartbeats and appends before the stall, read only now, count in
// hashicorp/raft's VerifyLeader as if they answered a round that began
// after it (a follower's answer votes for every round registered when it
// is read, whenever it was sent). Meanwhile the followers may have elected
// a new leader that acknowledged writes: a ReadIndex on the old leader
// right after it resumes can then confirm a leadership it no longer has
// and serve stale state. The robustness campaign found this with a paused
// leader.
//
// The stall watch ticks every stallTick and records every gap of at least
// stallMinGap between ticks. ReadIndex refuses (ErrNotReady, the caller
// retries) while the watch has not ticked for the node's stall threshold,
// or within a heartbeat timeout (or lease, if longer) after a stall of at
// least that threshold: by then the resumed leader has heard from its
// followers and stepped down, or confirmed its leadership with answers
// sent after the stall.
//
// The threshold is a quarter of the heartbeat timeout. A shorter stall
// cannot hide a change of leader: followers start an election only after a
// heartbeat timeout without hearing from the leader, and the leader
// heartbeats every tenth of it, so it must stop for most of a heartbeat
// timeout. Ignoring shorter stalls keeps scheduling hiccups of a loaded
// machine from refusing reads.
const (
	stallTick   = 10 * time.Millisecond
	stallMinGap = 25 * time.Millisecond
	stallKeep   = 10 * time.Second // how long a stall is remembered
)

// stallWatch is the process's stall detector: one per process, started on
// first use, running for the life of the process (one ticker, however many
// groups).
type stallWatch struct {
	mu     sync.Mutex
	last   time.Time // the latest tick
	stalls []stall   // recent stalls, oldest first
}

type stall struct {
	at  time.Time // when the process ran again
	gap time.Duration
}

var processStalls = sync.OnceValue(func() *stallWatch {
	w := newStallWatch(time.Now())
	go func() {
		t := time.NewTicker(stallTick)
		for now := range t.C {
			w.tick(now)
		}
	}()
	return w
})

func newStallWatch(start time.Time) *stallWatch {
	return &stallWatch{last: start}
}

// tick records that the process runs at now.
func (w *stallWatch) tick(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gap := now.Sub(w.last); gap >= stallMinGap {
		w.stalls = append(w.stalls, stall{at: now, gap: gap})
	}
	w.last = now
	for len(w.stalls) > 0 && now.Sub(w.stalls[0].at) > stallKeep {
		w.stalls = w.stalls[1:]
	}
}

// suspect reports whether, at now, the process may be resuming from a
// stall of at least gap, or resumed from one less than window ago.
func (w *stallWatch) suspect(now time.Time, gap, window time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.Sub(w.last) >= gap {
		return true
	}
	for i := len(w.stalls) - 1; i >= 0; i-- {
		s := w.stalls[i]
		if now.Sub(s.at) >= window {
			break
		}
		if s.gap >= gap {
			return true
		}
	}
	return false
}
