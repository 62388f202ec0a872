package api

import (
	"context"
	"sync"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP).
//
// Applied, a blocking command never blocks: with nothing to pop it replies
// as a timeout would (fsm, lists.go). ExecBlocking makes it block on the
// leader of its keys' group:
//
//  1. It registers the client in a FIFO queue per key it waits for.
//  2. It takes the group's "applied" channel (raftnode.Node.Applied), then
//     looks at the local state machine: if a key it waits for exists and
//     the client is first in that key's queue, it proposes the command
//     through the log, an ordinary write, so the pop is linearizable. A
//     reply with nothing popped means another client won the race (a plain
//     LPOP, say): it goes on waiting.
//  3. Otherwise it waits until the group applies another entry (the write
//     that may have fed the key, or a pop that made it first in a queue),
//     the timeout expires (null array), the context ends (the client went
//     away), or the poll interval passes.
//  4. At every wake-up it checks that this replica still leads the group
//     and that the slot is still the group's. If not, it proposes the
//     command once more and returns what that gives: a MOVED to the new
//     leader (or CLUSTERDOWN), or the pop if leadership came back. A
//     blocked client never hangs on a replica that lost its leadership.
//
// Taking the channel before looking at the state means no write can slip
// in unseen between the look and the wait.

// blockPoll bounds how long a blocked client goes without checking the
// group's leadership and routing.
const blockPoll = 100 * time.Millisecond

// waitQueues are the blocked clients of an Executor, in arrival order per
// key. The zero value is ready to use.
type waitQueues struct {
	mu sync.Mutex
	q  map[string][]*waiter
	n  int
}

type waiter struct{ keys []string }

func (wq *waitQueues) add(keys [][]byte) *waiter {
	w := &waiter{}
	wq.mu.Lock()
	defer wq.mu.Unlock()
	if wq.q == nil {
		wq.q = map[string][]*waiter{}
	}
	for _, k := range keys {
		ks := string(k)
		dup := false
		for _, have := range w.keys {
			dup = dup || have == ks
		}
		if !dup {
			w.keys = append(w.keys, ks)
			wq.q[ks] = append(wq.q[ks], w)
		}
	}
	wq.n++
	return w
}

func (wq *waitQueues) remove(w *waiter) {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	for _, k := range w.keys {
		q := wq.q[k]
		for i, o := range q {
			if o == w {
				q = append(q[:i:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(wq.q, k)
		} else {
			wq.q[k] = q
		}
	}
	wq.n--
}

// firstIn returns the keys of w whose queue w heads.
func (wq *waitQueues) firstIn(w *waiter) []string {
	wq.mu.Lock()
	defer wq.mu.Unlock()
	var out []string
	for _, k := range w.keys {
		if q := wq.q[k]; len(q) > 0 && q[0] == w {
			out = append(out, k)
		}
	}
	return out
}

// Blocked returns the number of clients blocked in ExecBlocking.
func (e *Executor) Blocked() int {
	e.waits.mu.Lock()
	defer e.waits.mu.Unlock()
	return e.waits.n
}

// notLeader is the error of an operation on g attempted where g has no
// leader.
func notLeader(g *shard.Group) error {
	id, addr := g.Node().Leader()
	return &raftnode.NotLeaderError{LeaderID: id, LeaderAddr: addr}
}

// ExecBlocking runs a blocking command (fsm.FlagBlocking), waiting as
// described above until it pops something, its timeout expires (reply: a
// null array), or ctx ends (Err: ctx.Err(); the client is gone, nothing
// more is proposed). Each proposal is bounded by proposeTimeout. Argument
// errors, WRONGTYPE and routing errors come back at once, as for Exec.
func (e *Executor) ExecBlocking(ctx context.Context, args [][]byte, proposeTimeout time.Duration) Result {
	p := e.prepare(ctx, args)
	switch {
	case p.reply != nil:
		return Result{Reply: *p.reply}
	case p.err != nil:
		return Result{Err: p.err}
	case p.spec.Flags&fsm.FlagBlocking == 0 || p.slot < 0:
		r, err := e.Exec(ctx, args)
		return Result{Reply: r, Err: err}
	}
	keys, timeoutMs, r, ok := fsm.BlockingArgs(args, nowMs())
	if !ok {
		return Result{Reply: r}
	}
	var expired <-chan time.Time
	if timeoutMs > 0 {
		t := time.NewTimer(time.Duration(timeoutMs) * time.Millisecond)
		defer t.Stop()
		expired = t.C
	}
	w := e.waits.add(keys)
	defer e.waits.remove(w)
	poll := time.NewTicker(blockPoll)
	defer poll.Stop()
	g := p.group
	propose := func() Result {
		pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
		defer cancel()
		var out [1]Result
		e.write(pctx, []prepared{p}, out[:])
		return out[0]
	}
	for {
		_, applied := g.Node().Applied()
		if ctx.Err() != nil {
			return Result{Err: ctx.Err()}
		}
		_, rg, rerr := e.Host.Route(p.slot)
		moved := e.Route == nil && (rerr != nil || rg != g)
		forced := !g.IsLeader() || moved
		if forced || e.fed(w, g) {
			res := propose()
			if res.Err != nil || !popNothing(res.Reply) {
				return res
			}
			if !forced {
				continue // another client took it: wait again
			}
			// This replica still serves the slot after all (the map
			// changed ahead of the group's log, or leadership came
			// back): look again at the next poll, not at the next
			// entry, which may be this very proposal.
			applied = nil
		}
		select {
		case <-applied:
		case <-poll.C:
		case <-expired:
			return Result{Reply: fsm.ReplyNilArray}
		case <-ctx.Done():
			return Result{Err: ctx.Err()}
		}
	}
}

// fed reports whether a key w waits for, and whose queue it heads, exists
// in g's state (of any type: a key of another type gets its WRONGTYPE).
func (e *Executor) fed(w *waiter, g *shard.Group) bool {
	first := e.waits.firstIn(w)
	if len(first) == 0 {
		return false
	}
	args := make([][]byte, 0, len(first)+1)
	args = append(args, []byte("exists"))
	for _, k := range first {
		args = append(args, []byte(k))
	}
	r := g.Machine().Read(nowMs(), args)
	return r.Kind != fsm.KindInt || r.Int > 0
}

// popNothing reports whether a blocking command's reply says it found
// nothing to pop.
func popNothing(r fsm.Reply) bool { return r.Kind == fsm.KindNil || r.Kind == fsm.KindNilArray }

// IsBlocking reports whether args is a blocking command.
func IsBlocking(args [][]byte) bool {
	spec := fsm.Lookup(args[0])
	return spec != nil && spec.Flags&fsm.FlagBlocking != 0
}
