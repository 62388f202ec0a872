package loadgen

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// op is one command of a batch and, after exec, its outcome.
type op struct {
	write bool
	key   []byte
	val   []byte // SET's value; shared, never modified
	slot  int

	ok   bool
	done time.Time // when its reply (or WAIT's) arrived
	err  string    // the error's first word, or "conn" / "wait" / "timeout"
	got  []byte    // GET's value when the client keeps values
}

// client runs batches of ops against a cluster through a Router: one
// connection per address, MOVED followed (and learnt), connection failures
// and retryable errors answered with a refresh of the topology and a short
// pause. A client belongs to one goroutine.
type client struct {
	router    Router
	conns     map[string]*Conn
	timeout   time.Duration // per batch, for dial, write and read
	waitN     int           // >0: WAIT waitN waitMS after each address's writes
	waitMS    string
	keepVals  bool // store GET values in op.got
	redirects int64
	errCodes  map[string]int64
	groups    []addrGroup // scratch
}

type addrGroup struct {
	addr string
	idx  []int
}

func newClient(r Router, timeout time.Duration) *client {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &client{router: r, conns: map[string]*Conn{}, timeout: timeout, errCodes: map[string]int64{}}
}

func (c *client) setWait(n int, timeout time.Duration) {
	c.waitN = n
	c.waitMS = strconv.FormatInt(timeout.Milliseconds(), 10)
}

func (c *client) close() {
	for a, conn := range c.conns {
		conn.Close()
		delete(c.conns, a)
	}
}

func (c *client) conn(ctx context.Context, addr string) (*Conn, error) {
	if conn := c.conns[addr]; conn != nil {
		return conn, nil
	}
	conn, err := Dial(ctx, addr, min(c.timeout, time.Second))
	if err != nil {
		return nil, err
	}
	c.conns[addr] = conn
	return conn, nil
}

func (c *client) drop(addr string) {
	if conn := c.conns[addr]; conn != nil {
		conn.Close()
		delete(c.conns, addr)
	}
}

var (
	cmdGet = []byte("GET")
	cmdSet = []byte("SET")
)

// exec sends ops (grouped by the address serving each one's slot, each
// group pipelined on its connection), reads every reply and fills in each
// op's outcome. Ops redirected by MOVED are retried up to three times.
// A failure costs a topology refresh and a pause of 10 ms.
func (c *client) exec(ctx context.Context, ops []op) {
	c.execDepth(ctx, ops, 0)
}

func (c *client) execDepth(ctx context.Context, ops []op, depth int) {
	c.groups = c.groups[:0]
	for i := range ops {
		ops[i].ok, ops[i].err = false, ""
		addr := c.router.Addr(ops[i].slot)
		g := -1
		for j := range c.groups {
			if c.groups[j].addr == addr {
				g = j
				break
			}
		}
		if g < 0 {
			c.groups = append(c.groups, addrGroup{addr: addr})
			g = len(c.groups) - 1
		}
		c.groups[g].idx = append(c.groups[g].idx, i)
	}
	groups := append([]addrGroup(nil), c.groups...) // exec may recurse
	deadline := time.Now().Add(c.timeout)
	failed := false
	var retry []int

	// Write every group, then read every group: the groups' round trips overlap.
	sent := make([]bool, len(groups))
	for gi, g := range groups {
		conn, err := c.conn(ctx, g.addr)
		if err != nil {
			c.fail(ops, g.idx, "conn", time.Now())
			failed = true
			continue
		}
		conn.SetDeadline(deadline)
		writes := false
		for _, i := range g.idx {
			if ops[i].write {
				conn.WriteCommand(cmdSet, ops[i].key, ops[i].val)
				writes = true
			} else {
				conn.WriteCommand(cmdGet, ops[i].key)
			}
		}
		if writes && c.waitN > 0 {
			conn.WriteArgs("WAIT", strconv.Itoa(c.waitN), c.waitMS)
		}
		if err := conn.Flush(); err != nil {
			c.drop(g.addr)
			c.fail(ops, g.idx, "conn", time.Now())
			failed = true
			continue
		}
		sent[gi] = true
	}
	for gi, g := range groups {
		if !sent[gi] {
			continue
		}
		conn := c.conns[g.addr]
		writes := false
		broken := false
		for k, i := range g.idx {
			o := &ops[i]
			writes = writes || o.write
			var typ byte
			var text string
			var err error
			if c.keepVals && !o.write {
				var r Reply
				r, err = conn.ReadReply()
				typ, text = r.Type, r.Str
				if err == nil && r.Type == '$' && !r.Nil {
					o.got = append(o.got[:0], r.Str...)
				} else {
					o.got = nil
				}
			} else {
				typ, text, _, err = conn.Skip()
			}
			o.done = time.Now()
			if err != nil {
				code := "conn"
				if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
					code = "timeout"
				}
				c.drop(g.addr)
				c.fail(ops, g.idx[k:], code, o.done)
				failed, broken = true, true
				break
			}
			if typ != '-' {
				o.ok = true
				continue
			}
			se := ServerError(text)
			if slot, addr, ok := se.Moved(); ok && se.Code() == "MOVED" {
				c.redirects++
				c.router.Moved(slot, addr)
				retry = append(retry, i)
				continue
			}
			o.err = se.Code()
			c.errCodes[o.err]++
			switch o.err {
			case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "READONLY", "MASTERDOWN", "NOREPLICAS":
				failed = true
			}
		}
		if broken || !writes || c.waitN <= 0 {
			continue
		}
		typ, _, n, err := conn.Skip()
		now := time.Now()
		if err != nil {
			c.drop(g.addr)
			failed = true
		}
		for _, i := range g.idx {
			o := &ops[i]
			if !o.write || !o.ok {
				continue
			}
			o.done = now
			switch {
			case err != nil:
				o.ok, o.err = false, "conn"
			case typ != ':' || n < int64(c.waitN):
				o.ok, o.err = false, "wait"
			}
			if !o.ok {
				c.errCodes[o.err]++
			}
		}
	}
	if failed {
		_ = c.router.Refresh(ctx)
		sleepCtx(ctx, 10*time.Millisecond)
	}
	if len(retry) > 0 {
		if depth >= 3 {
			c.fail(ops, retry, "MOVED", time.Now())
			return
		}
		sub := make([]op, len(retry))
		for k, i := range retry {
			sub[k] = ops[i]
		}
		c.execDepth(ctx, sub, depth+1)
		for k, i := range retry {
			ops[i] = sub[k]
		}
	}
}

func (c *client) fail(ops []op, idx []int, code string, at time.Time) {
	for _, i := range idx {
		ops[i].ok, ops[i].err, ops[i].done = false, code, at
		c.errCodes[code]++
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
