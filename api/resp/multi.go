package resp

import (
	"context"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//
// Between MULTI and EXEC every command but EXEC, DISCARD, MULTI, WATCH,
// QUIT and RESET is checked and queued (reply QUEUED), as Redis does. A
// command that fails the check (unknown, wrong arity, keys in several
// slots or not served here) gets its error and makes EXEC abort with
// EXECABORT; the commands after it are answered QUEUED but not kept. At
// EXEC, the kept commands' keys in several slots get CROSSSLOT first, as
// in Redis Cluster. EXEC sends the queued data commands to the executor as one
// transaction (one log entry, api.Executor.ExecTx) guarded by the versions
// WATCH read; server commands queued among them (PING, ECHO, ...) run here
// at EXEC, their replies in their places in the array.
//
// The transaction state is the connection's own: only its goroutine
// touches it.

// txState is a connection's transaction and watched keys.
type txState struct {
	multi   bool
	dirty   bool       // a command failed its queue-time check
	queue   [][][]byte // copies of the queued commands
	watches []fsm.Watch
}

const (
	errNestedMulti  = "ERR MULTI calls can not be nested"
	errExecNoMulti  = "ERR EXEC without MULTI"
	errDiscardMulti = "ERR DISCARD without MULTI"
	errWatchInMulti = "ERR WATCH inside MULTI is not allowed"
	errExecAbort    = "EXECABORT Transaction discarded because of previous errors."
)

// handlerOf returns the handler of args on c when the server handles it
// itself: queued in a transaction, blocking, or a server command. It
// returns nil for a data command that runs through the executor.
func (s *Server) handlerOf(c *conn, args [][]byte) handler {
	if c.tx.multi && !txImmediate(args[0]) {
		return queueCommand
	}
	if api.IsBlocking(args) {
		return cmdBlocking
	}
	return serverCommand(args[0])
}

// txImmediate reports whether name runs at once inside MULTI.
func txImmediate(name []byte) bool {
	switch lower(name) {
	case "exec", "discard", "multi", "watch", "quit", "reset":
		return true
	}
	return false
}

// copyArgs returns a deep copy of args (the reader reuses its buffers).
func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// queueCommand checks a command inside MULTI and queues it.
func queueCommand(s *Server, c *conn, args [][]byte) {
	fail := func(b []byte) {
		c.out = b
		c.tx.dirty = true
	}
	if sp := serverTable[lower(args[0])]; sp != nil {
		if (sp.arity >= 0 && len(args) != sp.arity) || (sp.arity < 0 && len(args) < -sp.arity) {
			fail(errReply(c.out, "ERR wrong number of arguments for '"+sp.name+"' command"))
			return
		}
	} else if spec := fsm.Lookup(args[0]); spec != nil {
		if !spec.CheckArity(len(args)) {
			fail(appendReply(c.out, api.WrongArity(spec.Name), c.proto))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		res := s.exec.CheckQueued(ctx, spec, args)
		cancel()
		if res.Err != nil || res.Reply.Kind == fsm.KindError {
			fail(s.appendResult(c.out, res, c.proto))
			return
		}
	} else {
		fail(appendReply(c.out, api.UnknownCommand(args), c.proto))
		return
	}
	if !c.tx.dirty {
		// As Redis, nothing is kept after a queue-time error: EXEC will
		// abort, and only the commands before it count for CROSSSLOT.
		c.tx.queue = append(c.tx.queue, copyArgs(args))
	}
	c.out = append(c.out, "+QUEUED\r\n"...)
}

func txMulti(s *Server, c *conn, args [][]byte) {
	if c.tx.multi {
		c.out = errReply(c.out, errNestedMulti)
		return
	}
	c.tx.multi = true
	c.out = okReply(c.out)
}

func txDiscard(s *Server, c *conn, args [][]byte) {
	if !c.tx.multi {
		c.out = errReply(c.out, errDiscardMulti)
		return
	}
	c.tx = txState{}
	c.out = okReply(c.out)
}

func txWatch(s *Server, c *conn, args [][]byte) {
	if c.tx.multi {
		c.out = errReply(c.out, errWatchInMulti)
		return
	}
	keys := copyArgs(args[1:])
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	ws, res := s.exec.Watch(ctx, keys)
	if res.Err != nil || res.Reply.Kind == fsm.KindError {
		c.out = s.appendResult(c.out, res, c.proto)
		return
	}
	c.tx.watches = append(c.tx.watches, ws...)
	c.out = okReply(c.out)
}

func txUnwatch(s *Server, c *conn, args [][]byte) {
	c.tx.watches = nil
	c.out = okReply(c.out)
}

func txExec(s *Server, c *conn, args [][]byte) {
	if !c.tx.multi {
		c.out = errReply(c.out, errExecNoMulti)
		return
	}
	tx := c.tx
	c.tx = txState{} // EXEC ends the transaction and unwatches, whatever happens
	var data []api.TxCommand
	for _, a := range tx.queue {
		if serverTable[lower(a[0])] == nil {
			data = append(data, api.TxCommand{Spec: fsm.Lookup(a[0]), Args: a})
		}
	}
	// As Redis Cluster: the queued commands' keys in several slots refuse
	// EXEC with CROSSSLOT, before a queue-time error aborts it; but once a
	// watched key changed Redis queues nothing more, so the transaction
	// fails as a changed one does.
	if _, ok := api.TxSlot(data); !ok {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		changed := s.exec.WatchChanged(ctx, tx.watches)
		cancel()
		switch {
		case !changed:
			c.out = appendReply(c.out, api.CrossSlot, c.proto)
			return
		case !tx.dirty:
			c.out = appendReply(c.out, fsm.ReplyNilArray, c.proto)
			return
		}
	}
	if tx.dirty {
		c.out = errReply(c.out, errExecAbort)
		return
	}
	var replies []fsm.Reply
	if len(data) > 0 || len(tx.watches) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		res := s.exec.ExecTx(ctx, tx.watches, data)
		cancel()
		if res.Err != nil || res.Reply.Kind != fsm.KindArray {
			// A redirect or CROSSSLOT, or a watched key changed (a null
			// array): nothing ran.
			c.out = s.appendResult(c.out, res, c.proto)
			return
		}
		replies = res.Reply.Array
	}
	c.out = appendLen(c.out, '*', len(tx.queue))
	for _, a := range tx.queue {
		if h := serverCommand(a[0]); h != nil {
			h(s, c, a)
			continue
		}
		c.out = appendReply(c.out, replies[0], c.proto)
		replies = replies[1:]
	}
}
