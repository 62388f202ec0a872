package raftnode

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Group commit. Propose encodes its commands (in the caller's goroutine) as
// a pb.Entry and queues them. One loop per Node takes whatever is queued,
// up to MaxBatch commands or about 1 MiB, and submits it to raft as ONE log
// entry: the concatenation of the queued encodings, which protobuf decodes
// as one Entry holding all their commands in order. At most MaxInflight
// entries are submitted and not yet applied; while that many are in flight,
// new proposals accumulate and leave together. A waiter goroutine takes the
// submitted entries in log order, waits for each, and hands every caller
// its slice of the entry's replies.

// proposal is one Propose call.
type proposal struct {
	data    []byte // the commands as an encoded pb.Entry
	n       int    // number of commands
	done    chan struct{}
	replies []fsm.Reply
	err     error

	taken     bool // guarded by Node.qmu: picked for an entry
	cancelled bool // guarded by Node.qmu: the caller gave up before it was taken
}

// batch is one submitted entry.
type batch struct {
	props []*proposal
	cmds  int
	f     raft.ApplyFuture
}

// Propose replicates cmds through the group's log and returns one reply
// per command, in order, once they are applied on this replica (the
// leader). Concurrent calls share log entries; one call's commands are
// never split between entries. Propose keeps no reference to cmds after it
// returns.
//
// Errors: *NotLeaderError (ErrNotLeader) or ErrNotReady: nothing was
// submitted, retry. A context error alone: the proposal was withdrawn
// before it was submitted. ErrUnknownOutcome: submitted, but whether it
// committed is unknown (the context ended while waiting, leadership was
// lost, or the node shut down meanwhile). ErrShutdown: the Node is closed.
// Zero commands return (nil, nil) at once.
func (n *Node) Propose(ctx context.Context, cmds []*pb.Command) ([]fsm.Reply, error) {
	if n.closed.Load() {
		return nil, ErrShutdown
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n.raft.State() != raft.Leader {
		return nil, n.notLeader()
	}
	data, err := proto.Marshal(&pb.Entry{Commands: cmds})
	if err != nil {
		return nil, fmt.Errorf("raftnode: encode commands: %w", err)
	}
	p := &proposal{data: data, n: len(cmds), done: make(chan struct{})}

	n.qmu.Lock()
	if n.qclosed {
		n.qmu.Unlock()
		return nil, ErrShutdown
	}
	n.queue = append(n.queue, p)
	n.qmu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	if r := earlyAckReplies(cmds); r != nil {
		return r, nil // a planted bug (faultinject.go): acknowledged before commit
	}

	select {
	case <-p.done:
		return p.replies, p.err
	case <-ctx.Done():
	}
	select {
	case <-p.done:
		return p.replies, p.err
	default:
	}
	n.qmu.Lock()
	if !p.taken {
		p.cancelled = true
		n.qmu.Unlock()
		return nil, fmt.Errorf("raftnode: proposal withdrawn before submission: %w", ctx.Err())
	}
	n.qmu.Unlock()
	return nil, fmt.Errorf("%w: %w", ErrUnknownOutcome, ctx.Err())
}

// proposeLoop builds entries from the queue and submits them.
func (n *Node) proposeLoop() {
	defer n.loops.Done()
	defer close(n.batches)
	for {
		select {
		case <-n.stop:
			return
		case n.slots <- struct{}{}:
		}
		var b batch
		for {
			b.props, b.cmds = n.take()
			if len(b.props) > 0 {
				break
			}
			select {
			case <-n.wake:
			case <-n.stop:
				return
			}
		}
		select {
		case <-n.stop:
			n.finish(&b, nil, ErrShutdown) // never submitted
			return
		default:
		}
		b.f = n.raft.Apply(encodeBatch(b.props), enqueueTimeout)
		n.batches <- &b // never blocks: capacity == slots
	}
}

// take removes from the queue the proposals of the next entry.
func (n *Node) take() ([]*proposal, int) {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	var out []*proposal
	cmds, size, i := 0, 0, 0
	for ; i < len(n.queue); i++ {
		p := n.queue[i]
		if p.cancelled {
			continue
		}
		if len(out) > 0 && (cmds+p.n > n.cfg.MaxBatch || size+len(p.data) > maxEntryBytes) {
			break
		}
		p.taken = true
		out = append(out, p)
		cmds += p.n
		size += len(p.data)
	}
	rest := copy(n.queue, n.queue[i:])
	clear(n.queue[rest:])
	n.queue = n.queue[:rest]
	return out, cmds
}

// encodeBatch concatenates the proposals' encoded entries into one.
func encodeBatch(props []*proposal) []byte {
	if len(props) == 1 {
		return props[0].data
	}
	size := 0
	for _, p := range props {
		size += len(p.data)
	}
	data := make([]byte, 0, size)
	for _, p := range props {
		data = append(data, p.data...)
	}
	return data
}

// waitLoop completes submitted entries in log order.
func (n *Node) waitLoop() {
	defer n.loops.Done()
	for b := range n.batches {
		err := n.waitFuture(context.Background(), b.f)
		var replies []fsm.Reply
		if err == nil {
			r, ok := b.f.Response().([]fsm.Reply)
			if !ok || len(r) != b.cmds {
				err = fmt.Errorf("%w: got %d replies for %d commands", errBadReplies, len(r), b.cmds)
			}
			replies = r
		}
		n.finish(b, replies, n.proposeErr(err))
		<-n.slots
	}
}

// finish hands each proposal of b its replies (or err) and wakes it.
func (n *Node) finish(b *batch, replies []fsm.Reply, err error) {
	off := 0
	for _, p := range b.props {
		if err == nil {
			p.replies = replies[off : off+p.n : off+p.n]
			off += p.n
		}
		p.err = err
		close(p.done)
	}
}

// proposeErr maps the outcome of a submitted entry to this package's errors.
func (n *Node) proposeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		// Rejected by a follower or candidate loop: never appended.
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrNotReady, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrUnknownOutcome, ErrShutdown)
	}
	return fmt.Errorf("%w: %v", ErrUnknownOutcome, err)
}

// failQueued fails every proposal not yet taken, and any later one, with
// ErrShutdown.
func (n *Node) failQueued() {
	n.qmu.Lock()
	q := n.queue
	n.queue = nil
	n.qclosed = true
	n.qmu.Unlock()
	for _, p := range q {
		if !p.cancelled {
			p.err = ErrShutdown
			close(p.done)
		}
	}
}
