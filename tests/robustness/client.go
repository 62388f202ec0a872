package robustness

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// outcome is what a client knows of an operation's effect.
type outcome uint8

const (
	// outOK: the server answered; the reply is the operation's result.
	outOK outcome = iota
	// outFailed: every attempt was refused before it could take effect
	// (MOVED, CLUSTERDOWN, TRYAGAIN, a failed dial), so the operation
	// had no effect. The checker holds the server to that: a refused
	// write that shows up later is a violation.
	outFailed
	// outUnknown: a write reached a server that did not confirm it
	// (-TIMEOUT, a connection lost or timed out after sending). It may or
	// may not take effect, at any time from its invocation on.
	outUnknown
)

// Client runs one operation at a time against the cluster, following
// MOVED and retrying while nothing can have happened. Not safe for
// concurrent use.
type Client struct {
	addrs []string // RESP addresses of every node
	rng   *rand.Rand
	conns map[string]*conn
	hint  map[int]string // slot -> RESP address that last served it
	// readonly makes every connection READONLY (follower reads).
	readonly bool
	// ioTimeout bounds one attempt.
	ioTimeout time.Duration
}

func newClient(addrs []string, rng *rand.Rand) *Client {
	return &Client{
		addrs:     addrs,
		rng:       rng,
		conns:     map[string]*conn{},
		hint:      map[int]string{},
		ioTimeout: 3 * time.Second,
	}
}

func (cl *Client) Close() {
	for _, c := range cl.conns {
		c.Close()
	}
	clear(cl.conns)
}

func (cl *Client) conn(addr string, deadline time.Time) (*conn, error) {
	if c := cl.conns[addr]; c != nil {
		return c, nil
	}
	c, err := dial(addr, min(500*time.Millisecond, max(time.Until(deadline), time.Millisecond)))
	if err != nil {
		return nil, err
	}
	if cl.readonly {
		r, err := c.do(time.Now().Add(time.Second), "READONLY")
		if err != nil || r.Kind != kindStatus {
			c.Close()
			return nil, errors.Join(errNotSent, err)
		}
	}
	cl.conns[addr] = c
	return c, nil
}

func (cl *Client) drop(addr string) {
	if c := cl.conns[addr]; c != nil {
		c.Close()
		delete(cl.conns, addr)
	}
}

// Do runs one command whose first argument after the name is its key,
// for up to budget. A write (write=true) is sent again only after refusals
// that prove the previous attempt did nothing; a read is retried after any
// failure, since a read has no effect. It returns the reply (outOK), or
// outFailed / outUnknown, and the address that answered.
func (cl *Client) Do(ctx context.Context, write bool, budget time.Duration, args ...string) (reply, outcome, string) {
	deadline := time.Now().Add(budget)
	slot := keySlot(args[1])
	addr := cl.hint[slot]
	if addr == "" {
		addr = cl.addrs[cl.rng.IntN(len(cl.addrs))]
	}
	moves := 0
	for ctx.Err() == nil && time.Now().Before(deadline) {
		c, err := cl.conn(addr, deadline)
		if err != nil {
			addr = cl.other(addr)
			sleepCtx(ctx, 20*time.Millisecond)
			continue
		}
		r, err := c.do(minTime(deadline, time.Now().Add(cl.ioTimeout)), args...)
		if err != nil {
			cl.drop(addr)
			if write {
				// The node may be stopped or cut off: next time, ask
				// another one where the slot's leader is.
				delete(cl.hint, slot)
				return reply{}, outUnknown, addr
			}
			delete(cl.hint, slot)
			addr = cl.other(addr)
			continue
		}
		if r.Kind != kindError {
			cl.hint[slot] = addr
			return r, outOK, addr
		}
		class, to := classify(r)
		switch class {
		case errMoved:
			cl.hint[slot] = to
			addr = to
			moves++
			if moves > 3 {
				// Nodes disagree on the leader (an election is under
				// way): wait a little rather than bounce.
				sleepCtx(ctx, 25*time.Millisecond)
			}
			continue
		case errDown:
			delete(cl.hint, slot)
			addr = cl.other(addr)
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		case errTimeout:
			if write {
				delete(cl.hint, slot)
				return r, outUnknown, addr
			}
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		return r, outOK, addr // a command error is a result
	}
	return reply{}, outFailed, addr
}

// other picks a node other than addr.
func (cl *Client) other(addr string) string {
	if len(cl.addrs) == 1 {
		return cl.addrs[0]
	}
	for {
		a := cl.addrs[cl.rng.IntN(len(cl.addrs))]
		if a != addr {
			return a
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// keySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the
// key, or of its {hash tag}, modulo 16384.
func keySlot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for k := 0; k < len(key); k++ {
		crc ^= uint16(key[k]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) & 16383
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
