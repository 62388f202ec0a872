package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// MovedError says the slot's group is led by another node.
type MovedError struct {
	Slot   int
	Leader shard.NodeInfo
}

func (e *MovedError) Error() string {
	return fmt.Sprintf("api: slot %d is served by %s (%s)", e.Slot, e.Leader.ID, e.Leader.RESPAddr)
}

var (
	// ErrClusterDown is returned when the group of a slot has no leader
	// this node can name, or is shutting down.
	ErrClusterDown = errors.New("api: the cluster is down")
	// ErrUnknownOutcome is returned when a write was submitted but its
	// fate is unknown (timeout, leadership lost): it may still commit.
	ErrUnknownOutcome = errors.New("api: outcome unknown, the write may or may not have been applied")
)

// Result is the outcome of one command of a batch: a reply, or an error
// of the kinds above.
type Result struct {
	Reply fsm.Reply
	Err   error
}

// Executor runs data commands against the groups of a Host.
type Executor struct {
	Host *shard.Host
}

// CrossSlot is Redis's reply for a command whose keys are in several slots.
var CrossSlot = fsm.ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")

// UnknownCommand is Redis's reply for a command it does not know.
func UnknownCommand(args [][]byte) fsm.Reply {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		n := min(len(a), 128-b.Len())
		b.WriteString("'" + sanitize(a[:n]) + "' ")
	}
	name := args[0]
	if len(name) > 128 {
		name = name[:128]
	}
	return fsm.ErrorReply("ERR unknown command '" + sanitize(name) + "', with args beginning with: " + b.String())
}

// WrongArity is Redis's reply for a known command with a bad argument count.
func WrongArity(name string) fsm.Reply {
	return fsm.ErrorReply("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

func sanitize(b []byte) string {
	s := []byte(string(b))
	for i, c := range s {
		if c == '\r' || c == '\n' {
			s[i] = ' '
		}
	}
	return string(s)
}

// prepared is one command after lookup, arity and slot checks.
type prepared struct {
	spec  *fsm.Spec
	args  [][]byte
	slot  int
	group *shard.Group
	reply *fsm.Reply // set when the command was refused before routing
}

// prepare looks args up and routes them. A refusal is a reply, not an error.
func (e *Executor) prepare(args [][]byte) prepared {
	p := prepared{args: args, slot: -1}
	spec := fsm.Lookup(args[0])
	if spec == nil {
		r := UnknownCommand(args)
		p.reply = &r
		return p
	}
	p.spec = spec
	if !spec.CheckArity(len(args)) {
		r := WrongArity(spec.Name)
		p.reply = &r
		return p
	}
	slot, ok := SlotOf(spec, args)
	if !ok {
		p.reply = &CrossSlot
		return p
	}
	if slot < 0 {
		slot = 0 // keyless commands are served by the group of slot 0
	}
	p.slot = slot
	p.group = e.Host.GroupOf(slot)
	return p
}

// SlotOf returns the slot of the command's keys: -1 when it has none,
// ok=false when they hash to different slots.
func SlotOf(spec *fsm.Spec, args [][]byte) (slot int, ok bool) {
	slot = -1
	if spec.FirstKey <= 0 {
		return slot, true
	}
	last := spec.LastKey
	if last < 0 {
		last = len(args) + last
	}
	for i := spec.FirstKey; i <= last && i < len(args); i += spec.Step {
		s := shard.Slot(args[i])
		if slot >= 0 && s != slot {
			return slot, false
		}
		slot = s
	}
	return slot, true
}

// Exec runs one data command.
func (e *Executor) Exec(ctx context.Context, args [][]byte) (fsm.Reply, error) {
	var out [1]Result
	e.ExecBatch(ctx, [][][]byte{args}, out[:])
	return out[0].Reply, out[0].Err
}

// ExecBatch runs cmds in order, writing their results into out (same
// length). Consecutive writes to one group are proposed as one log entry;
// consecutive reads of one group share one linearizability check. Every
// command sees the effects of those before it.
func (e *Executor) ExecBatch(ctx context.Context, cmds [][][]byte, out []Result) {
	ps := make([]prepared, len(cmds))
	for i, a := range cmds {
		ps[i] = e.prepare(a)
	}
	for i := 0; i < len(ps); {
		p := ps[i]
		if p.reply != nil {
			out[i] = Result{Reply: *p.reply}
			i++
			continue
		}
		// Extend the run of same-kind commands for the same group.
		j := i + 1
		for j < len(ps) && ps[j].reply == nil && ps[j].group == p.group && ps[j].spec.Write() == p.spec.Write() {
			j++
		}
		if p.spec.Write() {
			e.write(ctx, ps[i:j], out[i:j])
		} else {
			e.read(ctx, ps[i:j], out[i:j])
		}
		i = j
	}
}

func (e *Executor) write(ctx context.Context, ps []prepared, out []Result) {
	args := make([][][]byte, len(ps))
	for i, p := range ps {
		args[i] = p.args
	}
	replies, err := ps[0].group.Propose(ctx, args...)
	if err != nil {
		err = e.mapErr(ctx, ps[0], err)
		for i := range out {
			out[i] = Result{Err: err}
		}
		return
	}
	for i := range out {
		out[i] = Result{Reply: replies[i]}
	}
}

func (e *Executor) read(ctx context.Context, ps []prepared, out []Result) {
	g := ps[0].group
	if err := g.Node().ReadIndex(ctx); err != nil {
		// Retry through Group.Read, which waits out a leader that is not
		// ready yet; any other error is final for the run.
		r, err := g.Read(ctx, ps[0].args)
		if err != nil {
			err = e.mapErr(ctx, ps[0], err)
			for i := range out {
				out[i] = Result{Err: err}
			}
			return
		}
		out[0] = Result{Reply: r}
		ps, out = ps[1:], out[1:]
	}
	m := g.Machine()
	now := nowMs()
	for i, p := range ps {
		out[i] = Result{Reply: m.Read(now, p.args)}
	}
}

// ReadStale runs a read-only command on this node's replica without any
// leadership check (READONLY connections).
func (e *Executor) ReadStale(args [][]byte) (fsm.Reply, bool) {
	p := e.prepare(args)
	if p.reply != nil {
		return *p.reply, true
	}
	if p.spec.Write() {
		return fsm.Reply{}, false
	}
	return p.group.Machine().Read(nowMs(), args), true
}

// mapErr turns a replication error into MovedError, ErrClusterDown or
// ErrUnknownOutcome.
func (e *Executor) mapErr(ctx context.Context, p prepared, err error) error {
	var nl *raftnode.NotLeaderError
	switch {
	case errors.As(err, &nl):
		if nl.LeaderID == "" {
			return ErrClusterDown
		}
		li, rerr := e.Host.Resolve(ctx, nl.LeaderID, nl.LeaderAddr)
		if rerr != nil {
			return ErrClusterDown
		}
		return &MovedError{Slot: p.slot, Leader: li}
	case errors.Is(err, raftnode.ErrUnknownOutcome):
		return ErrUnknownOutcome
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		if p.spec.Write() {
			return ErrUnknownOutcome
		}
		return ErrClusterDown
	default:
		return ErrClusterDown
	}
}
