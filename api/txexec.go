package api

import (
	"context"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/shard"
)

// Transactions (MULTI/EXEC with WATCH) across the executor.
//
// A transaction is proposed as one fsm.ExecCommand to the group of its
// slot, so it applies atomically in one log entry; read-only transactions
// go through the log too (simplest, and linearizable). All keys of the
// queued commands must be in one slot, as in Redis Cluster; watched keys
// must be in the group of that slot, since that group checks their
// versions as it applies the transaction.

// execSpec stands for the transaction in error mapping: a write, whose
// outcome is unknown when its proposal times out.
var execSpec = &fsm.Spec{Name: "exec", Flags: fsm.FlagWrite}

// TxCommand is one queued command of a transaction.
type TxCommand struct {
	Spec *fsm.Spec // the data command (fsm.Lookup), arity checked
	Args [][]byte  // Args[0] is the name
}

// route returns the local replica of slot's group, or the error that sends
// the client elsewhere (MovedError, ErrClusterDown), as prepare does.
func (e *Executor) route(ctx context.Context, slot int) (*shard.Group, error) {
	if e.Route != nil {
		if g := e.Route(slot); g != nil {
			return g, nil
		}
		return nil, e.moved(ctx, slot)
	}
	gi, g, err := e.Host.Route(slot)
	switch {
	case err != nil:
		return nil, ErrClusterDown
	case g == nil:
		return nil, e.movedTo(ctx, slot, gi.ID)
	}
	return g, nil
}

// keysSlot returns the one slot of keys (-1 for none), ok false when they
// are in several.
func keysSlot(keys [][]byte) (slot int, ok bool) {
	slot = -1
	for _, k := range keys {
		s := shard.Slot(k)
		if slot >= 0 && s != slot {
			return slot, false
		}
		slot = s
	}
	return slot, true
}

// cmdSlot returns the slot of one command's keys, all of them (a command
// with a numkeys argument included); ok false when they are in several.
func cmdSlot(spec *fsm.Spec, args [][]byte) (int, bool) {
	return keysSlot(spec.Keys(args))
}

// CheckQueued checks a command queued in a transaction as Redis Cluster
// does at queue time: its keys must be in one slot, served here. It
// returns the error to reply instead of QUEUED (a CROSSSLOT reply, or a
// MovedError/ErrClusterDown), after which EXEC aborts.
func (e *Executor) CheckQueued(ctx context.Context, spec *fsm.Spec, args [][]byte) Result {
	slot, ok := cmdSlot(spec, args)
	if !ok {
		return Result{Reply: CrossSlot}
	}
	if slot < 0 {
		return Result{}
	}
	g, err := e.route(ctx, slot)
	if err != nil {
		return Result{Err: err}
	}
	if !g.IsLeader() {
		return Result{Err: e.mapErr(ctx, prepared{spec: spec, slot: slot, group: g}, notLeader(g))}
	}
	return Result{}
}

// Watch reads the versions of keys for WATCH: linearizably, on the leader
// of their slot's group (keys in several slots: CROSSSLOT). The versions
// are in keys' order.
func (e *Executor) Watch(ctx context.Context, keys [][]byte) ([]fsm.Watch, Result) {
	slot, ok := keysSlot(keys)
	if !ok {
		return nil, Result{Reply: CrossSlot}
	}
	g, err := e.route(ctx, slot)
	if err != nil {
		return nil, Result{Err: err}
	}
	err = g.Node().ReadIndex(ctx)
	for tries := 0; err != nil && tries < 3 && e.becameLeader(ctx, g, err); tries++ {
		err = g.Node().ReadIndex(ctx)
	}
	if err != nil {
		p := prepared{spec: &fsm.Spec{Name: "watch", Flags: fsm.FlagReadonly}, slot: slot, group: g}
		return nil, Result{Err: e.mapErr(ctx, p, err)}
	}
	vs := g.Machine().Versions(nowMs(), keys)
	ws := make([]fsm.Watch, len(keys))
	for i, k := range keys {
		ws[i] = fsm.Watch{Key: k, Version: vs[i]}
	}
	return ws, Result{}
}

// TxSlot returns the one slot of a transaction's commands (-1 for none),
// ok false when their keys are in several slots.
func TxSlot(cmds []TxCommand) (slot int, ok bool) {
	slot = -1
	for _, c := range cmds {
		s, ok := cmdSlot(c.Spec, c.Args)
		if !ok || (s >= 0 && slot >= 0 && s != slot) {
			return slot, false
		}
		if s >= 0 {
			slot = s
		}
	}
	return slot, true
}

// WatchChanged reports whether a watched key changed since WATCH, read
// linearizably on the leader of the keys' group (false when that cannot
// be read: the caller then answers as if nothing changed).
func (e *Executor) WatchChanged(ctx context.Context, watches []fsm.Watch) bool {
	read := map[*shard.Group]bool{} // groups past their read barrier
	for _, w := range watches {
		g, err := e.route(ctx, shard.Slot(w.Key))
		if err != nil {
			continue
		}
		if _, done := read[g]; !done {
			read[g] = g.Node().ReadIndex(ctx) == nil
		}
		if read[g] && g.Machine().Changed(nowMs(), []fsm.Watch{w}) {
			return true
		}
	}
	return false
}

// ExecTx runs a transaction: cmds in order, atomically, if no watched key
// changed since Watch read it. The reply is the array of the commands'
// replies (errors of single commands included), a null array when a
// watched key changed, or CROSSSLOT. Replication errors are as for Exec.
//
// A transaction whose commands have no keys and that watches nothing runs
// on every group this node leads, one entry each, and the replies are
// combined per command as for keyless commands (Executor): atomic per
// group only.
func (e *Executor) ExecTx(ctx context.Context, watches []fsm.Watch, cmds []TxCommand) Result {
	slot, ok := TxSlot(cmds)
	if !ok {
		return Result{Reply: CrossSlot}
	}
	args := make([][][]byte, len(cmds))
	for i, c := range cmds {
		args[i] = c.Args
	}
	if slot < 0 && len(watches) == 0 {
		return e.keylessTx(ctx, args)
	}
	if slot < 0 {
		slot = shard.Slot(watches[0].Key)
	}
	g, err := e.route(ctx, slot)
	if err != nil {
		return Result{Err: err}
	}
	for _, w := range watches {
		if ws := shard.Slot(w.Key); ws != slot {
			wg, err := e.route(ctx, ws)
			if err != nil || wg != g {
				return Result{Reply: CrossSlot}
			}
		}
	}
	p := prepared{spec: execSpec, args: fsm.ExecArgs(watches, args), slot: slot, group: g}
	var out [1]Result
	e.write(ctx, []prepared{p}, out[:])
	return out[0]
}

// keylessTx runs a transaction of keyless commands on every group this
// node leads (see ExecTx).
func (e *Executor) keylessTx(ctx context.Context, cmds [][][]byte) Result {
	if len(cmds) == 0 {
		return Result{Reply: fsm.ArrayReply([]fsm.Reply{})}
	}
	tx := fsm.ExecArgs(nil, cmds)
	var per []fsm.Reply // one array reply per group
	for _, g := range e.Host.Groups() {
		if !g.IsLeader() {
			continue
		}
		out, err := g.Propose(ctx, tx)
		if err != nil {
			err = e.mapErr(ctx, prepared{spec: execSpec, group: g}, err)
			if _, moved := err.(*MovedError); moved {
				err = ErrTryAgain
			}
			return Result{Err: err}
		}
		if out[0].Kind != fsm.KindArray {
			return Result{Reply: out[0]}
		}
		per = append(per, out[0])
	}
	if len(per) == 0 {
		return Result{Reply: emptyKeyspace(tx)}
	}
	replies := make([]fsm.Reply, len(cmds))
	for i := range cmds {
		col := make([]fsm.Reply, len(per))
		for j, r := range per {
			col[j] = r.Array[i]
		}
		replies[i] = combine(col)
	}
	return Result{Reply: fsm.ArrayReply(replies)}
}
