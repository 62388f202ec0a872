package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// MovedError says the slot's group is led by another node.
type MovedError struct {
	Slot   int
	Group  string // the slot's group; may be empty when not known
	Leader shard.NodeInfo
}

func (e *MovedError) Error() string {
	return fmt.Sprintf("api: slot %d is served by %s (%s)", e.Slot, e.Leader.ID, e.Leader.RESPAddr)
}

var (
	// ErrClusterDown is returned when the group of a slot has no leader
	// this node can name, or is shutting down, or no slot map is known yet.
	ErrClusterDown = errors.New("api: the cluster is down")
	// ErrUnknownOutcome is returned when a write was submitted but its
	// fate is unknown (timeout, leadership lost): it may still commit.
	ErrUnknownOutcome = errors.New("api: outcome unknown, the write may or may not have been applied")
	// ErrTryAgain is returned when a command was refused without effect and
	// can be retried shortly: the group it reached does not own the slot
	// and the new owner's leader is not known yet, or a keyless command
	// met a leadership change half-way.
	ErrTryAgain = errors.New("api: refused without effect, try again")
)

// leaderWait bounds how long a request that found its group between
// leaders waits for the new leader to be known (within its own deadline),
// so that a leadership transfer or an election shows clients a MOVED
// rather than CLUSTERDOWN.
const leaderWait = 3 * time.Second

// Result is the outcome of one command of a batch: a reply, or an error
// of the kinds above.
type Result struct {
	Reply fsm.Reply
	Err   error
}

// Executor runs data commands against the groups of a Host.
//
// Keyed commands go to the group that owns their slot: run here when this
// node holds the group's leader, else MovedError naming the leader.
// Keyless commands (DBSIZE, FLUSHALL, ...) answer for this node, as a Redis
// Cluster master answers for its own slots: they run on every group this
// node leads and their replies are combined (integers added, arrays
// concatenated); a node that leads no group answers as an empty keyspace.
// All nodes together cover every slot exactly once, as CLUSTER NODES shows.
type Executor struct {
	Host *shard.Host
	// Route, when set, replaces the host's routing of a slot to a local
	// replica; tests use it to play a router with a stale view. It may
	// return nil (the slot's group has no replica here).
	Route func(slot int) *shard.Group

	waits waitQueues // clients blocked in ExecBlocking (blocking.go)
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
	slot  int          // -1: keyless
	group *shard.Group // the local replica it runs on
	reply *fsm.Reply   // set when the command was refused before routing
	err   error        // set when it must run elsewhere (MovedError) or cannot run
}

// prepare looks args up and routes them. A refusal is a reply, not an error.
func (e *Executor) prepare(ctx context.Context, args [][]byte) prepared {
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
	p.slot = slot
	if slot < 0 {
		return p
	}
	if e.Route != nil {
		p.group = e.Route(slot)
		if p.group == nil {
			p.err = e.moved(ctx, slot)
		}
		return p
	}
	gi, g, err := e.Host.Route(slot)
	switch {
	case err != nil:
		p.err = fmt.Errorf("%w: %v", ErrClusterDown, err)
	case g == nil:
		p.err = e.movedTo(ctx, slot, gi.ID)
	default:
		p.group = g
	}
	return p
}

// moved is the error for slot when it must run at its group's leader.
func (e *Executor) moved(ctx context.Context, slot int) error {
	gi, _, err := e.Host.Route(slot)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrClusterDown, err)
	}
	return e.movedTo(ctx, slot, gi.ID)
}

func (e *Executor) movedTo(ctx context.Context, slot int, gid string) error {
	li, err := e.Host.LeaderOf(ctx, gid)
	if err != nil {
		return fmt.Errorf("%w: group %s: %v", ErrClusterDown, gid, err)
	}
	return &MovedError{Slot: slot, Group: gid, Leader: li}
}

// SlotOf returns the slot of the command's keys: -1 when it has none,
// ok=false when they hash to different slots.
func SlotOf(spec *fsm.Spec, args [][]byte) (slot int, ok bool) {
	// Every key, those after a numkeys argument included: Redis Cluster
	// refuses keys of several slots before the command runs.
	return keysSlot(spec.Keys(args))
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
		ps[i] = e.prepare(ctx, a)
	}
	for i := 0; i < len(ps); {
		p := ps[i]
		switch {
		case p.reply != nil:
			out[i] = Result{Reply: *p.reply}
			i++
			continue
		case p.err != nil:
			out[i] = Result{Err: p.err}
			i++
			continue
		case p.slot < 0:
			out[i] = e.keyless(ctx, p)
			i++
			continue
		}
		// Extend the run of same-kind commands for the same group.
		j := i + 1
		for j < len(ps) && ps[j].reply == nil && ps[j].err == nil && ps[j].group == p.group && ps[j].spec.Write() == p.spec.Write() {
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
	g := ps[0].group
	replies, err := g.Propose(ctx, args...)
	for tries := 0; err != nil && tries < 3 && e.becameLeader(ctx, g, err); tries++ {
		replies, err = g.Propose(ctx, args...)
	}
	if err != nil {
		err = e.mapErr(ctx, ps[0], err)
		for i := range out {
			out[i] = Result{Err: err}
		}
		return
	}
	for i := range out {
		out[i] = e.result(ctx, ps[i], replies[i])
	}
}

func (e *Executor) read(ctx context.Context, ps []prepared, out []Result) {
	g := ps[0].group
	if err := g.Node().ReadIndex(ctx); err != nil {
		// Retry through Group.Read, which waits out a leader that is not
		// ready yet; any other error is final for the run.
		r, err := g.Read(ctx, ps[0].args)
		for tries := 0; err != nil && tries < 3 && e.becameLeader(ctx, g, err); tries++ {
			r, err = g.Read(ctx, ps[0].args)
		}
		if err != nil {
			err = e.mapErr(ctx, ps[0], err)
			for i := range out {
				out[i] = Result{Err: err}
			}
			return
		}
		out[0] = e.result(ctx, ps[0], r)
		ps, out = ps[1:], out[1:]
	}
	m := g.Machine()
	now := nowMs()
	for i, p := range ps {
		out[i] = e.result(ctx, p, m.Read(now, p.args))
	}
}

// result passes a reply on, except the refusal of a group that does not
// own the slot (the command was routed with a stale view and did nothing):
// that becomes a redirect to the slot's group in the current map.
func (e *Executor) result(ctx context.Context, p prepared, r fsm.Reply) Result {
	if !fsm.IsNotOwner(r) {
		return Result{Reply: r}
	}
	gi, _, err := e.Host.Route(p.slot)
	if err != nil || gi.ID == p.group.ID() {
		// The map still names this group: the router is ahead of the
		// group's log, or the other way round; either way, later.
		return Result{Err: ErrTryAgain}
	}
	if merr := e.movedTo(ctx, p.slot, gi.ID); !errors.Is(merr, ErrClusterDown) {
		return Result{Err: merr}
	}
	return Result{Err: ErrTryAgain}
}

// keyless runs a command without keys on every group this node leads and
// combines the replies; see Executor.
func (e *Executor) keyless(ctx context.Context, p prepared) Result {
	var replies []fsm.Reply
	for _, g := range e.Host.Groups() {
		if !g.IsLeader() {
			continue
		}
		var r fsm.Reply
		var err error
		if p.spec.Write() {
			var out []fsm.Reply
			if out, err = g.Propose(ctx, p.args); err == nil {
				r = out[0]
			}
		} else {
			r, err = g.Read(ctx, p.args)
		}
		if err != nil {
			if errors.Is(err, raftnode.ErrNotLeader) && !p.spec.Write() {
				continue // it moved away meanwhile: no longer this node's to count
			}
			err = e.mapErr(ctx, p, err)
			var moved *MovedError
			if errors.As(err, &moved) {
				err = ErrTryAgain
			}
			return Result{Err: err}
		}
		replies = append(replies, r)
	}
	if len(replies) == 0 {
		return Result{Reply: emptyKeyspace(p.args)}
	}
	return Result{Reply: combine(replies)}
}

// emptyKeyspace is a command's reply on a node that leads no group: what a
// node without keys answers (DBSIZE 0, FLUSHALL OK).
func emptyKeyspace(args [][]byte) fsm.Reply {
	return fsm.NewState().Apply(&pb.Command{NowMs: nowMs(), Args: args})
}

// combine merges the replies of one keyless command; see Combine.
func combine(rs []fsm.Reply) fsm.Reply {
	return Combine(rs)
}

// Combine merges the replies of one keyless command from several groups or
// nodes: the first error if any; integers added; arrays concatenated; else
// the first reply that is not nil. rs must not be empty.
func Combine(rs []fsm.Reply) fsm.Reply {
	for _, r := range rs {
		if r.Kind == fsm.KindError {
			return r
		}
	}
	out := rs[0]
	switch out.Kind {
	case fsm.KindInt:
		for _, r := range rs[1:] {
			out.Int += r.Int
		}
	case fsm.KindArray:
		out.Array = nil
		for _, r := range rs {
			out.Array = append(out.Array, r.Array...)
		}
	default:
		for _, r := range rs {
			if r.Kind != fsm.KindNil && r.Kind != fsm.KindNilArray {
				return r
			}
		}
	}
	return out
}

// Keyless reports whether args is a known data command without keys,
// which Exec answers for this node's groups only.
func Keyless(args [][]byte) bool {
	sp := fsm.Lookup(args[0])
	return sp != nil && sp.FirstKey <= 0
}

// OtherLeaders returns the nodes other than this one that lead at least one
// group, each once; ErrClusterDown when some group has no known leader.
func (e *Executor) OtherLeaders(ctx context.Context) ([]shard.NodeInfo, error) {
	m := e.Host.Map()
	if m == nil {
		return nil, fmt.Errorf("%w: %v", ErrClusterDown, shard.ErrNoMap)
	}
	seen := map[string]bool{e.Host.Self().ID: true}
	var out []shard.NodeInfo
	for _, gi := range m.Groups {
		li, err := e.Host.LeaderOf(ctx, gi.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: group %s: %v", ErrClusterDown, gi.ID, err)
		}
		if !seen[li.ID] {
			seen[li.ID] = true
			out = append(out, li)
		}
	}
	return out, nil
}

// ReadStale runs a read-only command on this node's replica without any
// leadership check (READONLY connections). A keyless command covers every
// group with a replica here. ok is false for a write, which must go through
// the leader; a keyed command whose group has no replica here gets the
// routing error.
func (e *Executor) ReadStale(ctx context.Context, args [][]byte) (Result, bool) {
	p := e.prepare(ctx, args)
	switch {
	case p.reply != nil:
		return Result{Reply: *p.reply}, true
	case p.spec.Write():
		return Result{}, false
	case p.err != nil:
		return Result{Err: p.err}, true
	case p.slot < 0:
		var rs []fsm.Reply
		for _, g := range e.Host.Groups() {
			rs = append(rs, g.Machine().Read(nowMs(), args))
		}
		if len(rs) == 0 {
			return Result{Reply: emptyKeyspace(args)}, true
		}
		return Result{Reply: combine(rs)}, true
	}
	return e.result(ctx, p, p.group.Machine().Read(nowMs(), args)), true
}

// becameLeader reports, for an error of an operation on g, whether the
// operation should be tried again here: g was between leaders (nothing was
// submitted) and this node turned out to be the new one, as when a
// transfer or an election hands it leadership.
func (e *Executor) becameLeader(ctx context.Context, g *shard.Group, err error) bool {
	var nl *raftnode.NotLeaderError
	if !errors.As(err, &nl) || (nl.LeaderID != "" && nl.LeaderID != e.Host.Self().ID) {
		return false
	}
	li, werr := e.Host.WaitLeader(ctx, g, leaderWait)
	return werr == nil && li.ID == e.Host.Self().ID
}

// mapErr turns a replication error into MovedError, ErrClusterDown or
// ErrUnknownOutcome.
func (e *Executor) mapErr(ctx context.Context, p prepared, err error) error {
	var nl *raftnode.NotLeaderError
	switch {
	case errors.As(err, &nl):
		var li shard.NodeInfo
		var rerr error
		if nl.LeaderID == "" || nl.LeaderID == e.Host.Self().ID {
			// Between leaders (a transfer or an election): wait a moment
			// for the new one rather than fail the client.
			if p.group == nil {
				return fmt.Errorf("%w: %v", ErrClusterDown, err)
			}
			li, rerr = e.Host.WaitLeader(ctx, p.group, leaderWait)
			if rerr == nil && li.ID == e.Host.Self().ID {
				return ErrTryAgain // it leads here now; the caller gave up retrying
			}
		} else {
			li, rerr = e.Host.Resolve(ctx, nl.LeaderID, nl.LeaderAddr)
		}
		if rerr != nil {
			return fmt.Errorf("%w: %v, then %v", ErrClusterDown, err, rerr)
		}
		gid := ""
		if p.group != nil {
			gid = p.group.ID()
		}
		return &MovedError{Slot: max(p.slot, 0), Group: gid, Leader: li}
	case errors.Is(err, raftnode.ErrUnknownOutcome):
		return ErrUnknownOutcome
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		if p.spec.Write() {
			return ErrUnknownOutcome
		}
		return fmt.Errorf("%w: %v", ErrClusterDown, err)
	default:
		return fmt.Errorf("%w: %v", ErrClusterDown, err)
	}
}
