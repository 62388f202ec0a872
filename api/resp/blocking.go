package resp

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
)

// Blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) and WAIT.
//
// A blocking command blocks its connection, as in Redis: replies of the
// commands before it in the pipeline are sent first, commands after it wait
// in the read buffer. api.Executor.ExecBlocking does the waiting; while it
// waits, a goroutine keeps reading the connection into its buffer so that
// a client that closes it ends the wait (nothing more is proposed for it).
// Inside MULTI a blocking command is queued like any other and does not
// block.

// cmdBlocking runs a blocking command outside MULTI.
func cmdBlocking(s *Server, c *conn, args [][]byte) {
	if len(c.out) > 0 {
		if _, err := c.bw.Write(c.out); err == nil {
			c.bw.Flush()
		}
		c.out = c.out[:0]
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := c.watchClose(cancel)
	res := s.exec.ExecBlocking(ctx, args, s.cfg.RequestTimeout)
	res = s.proxyBlocking(ctx, args, res)
	stop()
	c.out = s.appendResult(c.out, res, c.proto)
}

// proxyBlocking, on a --proxy node, serves a blocking command that belongs
// to another node's group by polling the leader through Forward (which
// runs it there without blocking) until it pops something, its timeout
// expires or the client leaves. The leader's own blocked clients are
// served first; a pop here can lag a push by one poll interval.
func (s *Server) proxyBlocking(ctx context.Context, args [][]byte, res api.Result) api.Result {
	var moved *api.MovedError
	if !s.cfg.Proxy || s.cfg.Forward == nil || !errors.As(res.Err, &moved) {
		return res
	}
	_, timeoutMs, _, _ := fsm.BlockingArgs(args, time.Now().UnixMilli())
	var expired <-chan time.Time
	if timeoutMs > 0 {
		t := time.NewTimer(time.Duration(timeoutMs) * time.Millisecond)
		defer t.Stop()
		expired = t.C
	}
	for {
		fctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		reply, err := s.cfg.Forward(fctx, moved.Leader, args)
		cancel()
		if err != nil || (reply.Kind != fsm.KindNil && reply.Kind != fsm.KindNilArray) {
			return api.Result{Reply: reply, Err: err}
		}
		t := time.NewTimer(proxyPoll)
		select {
		case <-t.C:
		case <-expired:
			t.Stop()
			return api.Result{Reply: fsm.ReplyNilArray}
		case <-ctx.Done():
			t.Stop()
			return api.Result{Err: ctx.Err()}
		}
	}
}

// proxyPoll is how often a proxied blocking command asks the leader again.
const proxyPoll = 50 * time.Millisecond

// watchClose reads from the connection into its buffer until stop is
// called, calling gone if the client closes the connection (or it fails).
// Buffered bytes stay for the connection's goroutine. The caller must not
// use c.rd until stop returns.
func (c *conn) watchClose(gone func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := c.rd.br
		for {
			n := br.Buffered() + 1
			if n > br.Size() {
				return // the buffer is full: nothing more to learn
			}
			if _, err := br.Peek(n); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					gone()
				}
				return
			}
		}
	}()
	return func() {
		c.nc.SetReadDeadline(time.Unix(1, 0)) // wake the reader
		<-done
		c.nc.SetReadDeadline(time.Time{})
	}
}

// cmdWait is WAIT numreplicas timeout.
//
// Redis's WAIT counts the replicas that acknowledged the client's writes.
// Here a write is acknowledged only once a majority of its group holds it
// in its log, so every follower of that majority already has it: WAIT
// replies at once with that guaranteed number, quorum-1 (1 of 2 followers
// with 3 replicas, 2 of 4 with 5), the smallest over the groups this node
// leads (0 if it leads none, or for a group of one). It does not wait for
// more: which followers beyond the majority have caught up is not known
// here, and the acknowledged writes are durable without them.
func cmdWait(s *Server, c *conn, args [][]byte) {
	if _, err := strconv.ParseInt(string(args[1]), 10, 64); err != nil {
		c.out = errReply(c.out, fsm.ErrNotInteger)
		return
	}
	timeout, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		c.out = errReply(c.out, "ERR timeout is not an integer or out of range")
		return
	}
	if timeout < 0 {
		c.out = errReply(c.out, "ERR timeout is negative")
		return
	}
	n := math.MaxInt
	for _, g := range s.cfg.Host.Groups() {
		if !g.IsLeader() {
			continue
		}
		voters := 0
		for _, m := range g.Node().Status().Members {
			if m.Voter {
				voters++
			}
		}
		n = min(n, voters/2)
	}
	if n == math.MaxInt {
		n = 0
	}
	c.out = appendReply(c.out, fsm.IntReply(int64(n)), c.proto)
}
