package robustness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// A minimal RESP2 client. The suite needs to know, for every failed
// request, whether it can have reached the server: a client library's
// retries, pools and redirects would blur that, so requests go over this
// one connection, one at a time, exactly once.

type replyKind uint8

const (
	kindStatus replyKind = iota
	kindError
	kindInt
	kindBulk
	kindNil
	kindArray
)

// reply is one RESP2 reply.
type reply struct {
	Kind  replyKind
	Str   string // status, error, bulk
	Int   int64
	Array []reply
}

func (r reply) String() string {
	switch r.Kind {
	case kindStatus:
		return "+" + r.Str
	case kindError:
		return "-" + r.Str
	case kindInt:
		return ":" + strconv.FormatInt(r.Int, 10)
	case kindBulk:
		return strconv.Quote(r.Str)
	case kindNil:
		return "(nil)"
	}
	parts := make([]string, len(r.Array))
	for i, e := range r.Array {
		parts[i] = e.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// errNotSent wraps failures that happened before any byte of the request
// could reach the server (the dial failed): the request had no effect.
var errNotSent = errors.New("request not sent")

// conn is one RESP connection. Not safe for concurrent use.
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotSent, err)
	}
	return &conn{addr: addr, c: c, r: bufio.NewReaderSize(c, 16<<10), w: bufio.NewWriterSize(c, 4<<10)}, nil
}

func (c *conn) Close() { c.c.Close() }

// do sends one command and reads its reply before deadline. Any error is a
// connection error after the request may have been sent (unknown outcome);
// the connection must then be closed.
func (c *conn) do(deadline time.Time, args ...string) (reply, error) {
	_ = c.c.SetDeadline(deadline)
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	return readReply(c.r, 0)
}

func readReply(r *bufio.Reader, depth int) (reply, error) {
	if depth > 8 {
		return reply{}, errors.New("resp: nested too deep")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return reply{}, fmt.Errorf("resp: bad line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return reply{Kind: kindStatus, Str: body}, nil
	case '-':
		return reply{Kind: kindError, Str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return reply{}, fmt.Errorf("resp: bad integer %q", body)
		}
		return reply{Kind: kindInt, Int: n}, nil
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 64<<20 {
			return reply{}, fmt.Errorf("resp: bad bulk length %q", body)
		}
		if n < 0 {
			return reply{Kind: kindNil}, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return reply{}, err
		}
		return reply{Kind: kindBulk, Str: string(b[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 || n > 1<<20 {
			return reply{}, fmt.Errorf("resp: bad array length %q", body)
		}
		if n < 0 {
			return reply{Kind: kindNil}, nil
		}
		out := reply{Kind: kindArray, Array: make([]reply, 0, n)}
		for k := 0; k < n; k++ {
			e, err := readReply(r, depth+1)
			if err != nil {
				return reply{}, err
			}
			out.Array = append(out.Array, e)
		}
		return out, nil
	}
	return reply{}, fmt.Errorf("resp: unknown reply type %q", line)
}

// oneShot dials addr, runs one command and closes the connection.
func oneShot(addr string, timeout time.Duration, args ...string) (reply, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return reply{}, err
	}
	defer c.Close()
	return c.do(time.Now().Add(timeout), args...)
}

// errorClass sorts the error replies the suite expects.
type errorClass uint8

const (
	// errOther: not a redirect or availability error: a command error.
	errOther errorClass = iota
	// errMoved: -MOVED slot host:port; nothing was done.
	errMoved
	// errDown: -CLUSTERDOWN, -TRYAGAIN, -LOADING; nothing was done.
	errDown
	// errTimeout: -TIMEOUT; the write may or may not be applied.
	errTimeout
)

func classify(r reply) (errorClass, string) {
	f := strings.Fields(r.Str)
	if len(f) == 0 {
		return errOther, ""
	}
	switch f[0] {
	case "MOVED":
		if len(f) == 3 {
			return errMoved, f[2]
		}
	case "CLUSTERDOWN", "TRYAGAIN", "LOADING":
		return errDown, ""
	case "TIMEOUT":
		return errTimeout, ""
	}
	return errOther, ""
}
