package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBadInput: malformed frames, a huge bulk length, a wrong arity, a
// non-integer INCR and an unknown command each get Redis's exact error reply
// (and, for protocol errors, a closed connection), while another client's
// SET/GET traffic goes on without a single error and every server survives.
func TestBadInput(t *testing.T) {
	rng := newRand(t)
	// Slower raft timings than the other tests: this test counts any client
	// error as a failure, so a spurious election on a loaded machine must
	// not be one.
	c := StartCluster(t, Options{Args: []string{"--heartbeat-timeout", "1s", "--election-timeout", "1s"}})
	leader := c.Leader()
	la := c.Node(leader).RESPAddr
	cc := c.ClusterClient()

	// The bystander: SET then GET its own keys, all through the test.
	var ops atomic.Int64
	var errMu sync.Mutex
	var bgErrs []string
	stop := make(chan struct{})
	done := make(chan struct{})
	bgSeed := rng.Uint64()
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k, v := fmt.Sprintf("bystander:%d", i), fmt.Sprintf("%x-%d", bgSeed, i)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err := cc.Set(ctx, k, v, 0).Err()
			var got string
			if err == nil {
				got, err = cc.Get(ctx, k).Result()
				if err == nil && got != v {
					err = fmt.Errorf("GET %s = %q, want %q", k, got, v)
				}
			}
			cancel()
			if err != nil {
				errMu.Lock()
				bgErrs = append(bgErrs, fmt.Sprintf("%s: %v", k, err))
				errMu.Unlock()
				continue
			}
			ops.Add(1)
		}
	}()
	stopBystander := func() {
		select {
		case <-stop:
		default:
			close(stop)
			<-done
		}
	}
	t.Cleanup(stopBystander)
	waitOps := func(n int64) {
		t.Helper()
		target := ops.Load() + n
		if err := eventually(20*time.Second, 10*time.Millisecond, func() error {
			if got := ops.Load(); got < target {
				return fmt.Errorf("bystander at %d operations, waiting for %d", got, target)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitOps(20)

	// Half-sent frames held open for the whole test cost nobody anything.
	var held []*rawConn
	for _, n := range c.Nodes() {
		for _, partial := range []string{"*2\r\n$3\r\nGET\r\n$5\r\nab", "*3\r\n$3\r\nSET\r\n", "SET half"} {
			r := dialRaw(t, n.RESPAddr)
			r.send(partial)
			held = append(held, r)
		}
	}

	for _, n := range c.Nodes() {
		t.Run("protocol/"+n.ID, func(t *testing.T) {
			// A malformed bulk length: error reply, then the server closes.
			r := dialRaw(t, n.RESPAddr)
			r.send("*1\r\n$x\r\n")
			r.expect("-ERR Protocol error: invalid bulk length")
			r.expectClosed()

			// A 1 GB bulk length: refused at once, not waited for.
			r = dialRaw(t, n.RESPAddr)
			start := time.Now()
			r.send("*1\r\n$1073741824\r\n")
			r.expect("-ERR Protocol error: invalid bulk length")
			if d := time.Since(start); d > time.Second {
				t.Errorf("1 GB bulk length refused after %v; want an immediate reply", d)
			}
			r.expectClosed()

			// A bad multibulk length.
			r = dialRaw(t, n.RESPAddr)
			r.send("*x\r\n")
			r.expect("-ERR Protocol error: invalid multibulk length")
			r.expectClosed()
		})
	}

	t.Run("commands", func(t *testing.T) {
		// One connection for all of these: command errors leave it usable.
		r := dialRaw(t, la)
		r.send("*1\r\n$3\r\nGET\r\n")
		r.expect("-ERR wrong number of arguments for 'get' command")
		r.send(resp("PING"))
		r.expect("+PONG")

		r.send(resp("FOO", "a", "b"))
		r.expect("-ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
		r.send(resp("foo", "a", "b"))
		r.expect("-ERR unknown command 'foo', with args beginning with: 'a' 'b' ")

		r.send(resp("SET", "badinput:notint", "abc"))
		r.expect("+OK")
		r.send(resp("INCR", "badinput:notint"))
		r.expect("-ERR value is not an integer or out of range")
		r.send(resp("GET", "badinput:notint"))
		r.expect("$abc")

		// Inline commands work like Redis's.
		r.send("PING\r\n")
		r.expect("+PONG")
		r.send("GET\r\n")
		r.expect("-ERR wrong number of arguments for 'get' command")
		r.send(resp("PING"))
		r.expect("+PONG")
	})

	waitOps(20)
	stopBystander()
	for _, r := range held {
		r.nc.Close()
	}
	errMu.Lock()
	if len(bgErrs) > 0 {
		t.Errorf("the other client saw %d errors during the bad input; first: %s", len(bgErrs), strings.Join(head(bgErrs, 3), "; "))
	}
	errMu.Unlock()
	t.Logf("the other client did %d SET+GET pairs meanwhile", ops.Load())

	for i, n := range c.Nodes() {
		if !n.Running() {
			t.Errorf("%s is no longer running: %s", n.ID, n.exitErr())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.Node(i).Client().Ping(ctx).Err(); err != nil {
			t.Errorf("%s PING: %v", n.ID, err)
		}
		cancel()
	}
}

// resp encodes a command as a RESP array of bulk strings.
func resp(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// rawConn is a bare TCP connection speaking RESP by hand.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(r.nc, s); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one reply and renders it on one line: "+OK", "-ERR ...",
// ":1", "$value", "$nil", or "*n" for an array header.
func (r *rawConn) reply(timeout time.Duration) (string, error) {
	r.nc.SetReadDeadline(time.Now().Add(timeout))
	line, err := r.br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("reply line %q does not end in CRLF", line)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil {
		return "", fmt.Errorf("bad bulk header %q", line)
	}
	if n < 0 {
		return "$nil", nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		return "", err
	}
	return "$" + string(buf[:n]), nil
}

// expect reads one reply, due within 2 s, and compares it exactly.
func (r *rawConn) expect(want string) {
	r.t.Helper()
	got, err := r.reply(2 * time.Second)
	if err != nil {
		r.t.Fatalf("waiting for %q: %v", want, err)
	}
	if got != want {
		hint := ""
		if strings.HasPrefix(got, "-MOVED ") {
			hint = " (the leader changed; the cluster should have been quiet)"
		}
		r.t.Fatalf("reply %q, want %q%s", got, want, hint)
	}
}

// expectClosed waits (up to 2 s) for the server to close the connection,
// with nothing more sent first.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	got, err := r.reply(2 * time.Second)
	if err == nil {
		r.t.Fatalf("after a protocol error: reply %q, want the connection closed", got)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("connection still open 2s after a protocol error")
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "connection reset") {
		r.t.Fatalf("after a protocol error: %v, want EOF", err)
	}
}
