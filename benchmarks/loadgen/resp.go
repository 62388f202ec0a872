package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Conn is one RESP2 connection with explicit pipelining: Write* buffers
// commands, Flush sends them, and each Read* returns the next reply in order.
//
// Threading: one goroutine may write while another reads (the open loop
// does); otherwise a Conn is used by one goroutine at a time.
type Conn struct {
	addr string
	nc   net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	num  []byte // scratch for lengths
}

// Dial connects to a RESP server within timeout.
func Dial(ctx context.Context, addr string, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &Conn{addr: addr, nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 64<<10)}, nil
}

// Addr is the address the connection was dialled to.
func (c *Conn) Addr() string { return c.addr }

// Close closes the connection; pending replies are lost.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline bounds every read and write until the next call; zero: none.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline bounds reads only.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// WriteCommand buffers one command given as byte-slice arguments.
func (c *Conn) WriteCommand(args ...[]byte) {
	c.header('*', len(args))
	for _, a := range args {
		c.header('$', len(a))
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
}

// WriteArgs buffers one command given as strings.
func (c *Conn) WriteArgs(args ...string) {
	c.header('*', len(args))
	for _, a := range args {
		c.header('$', len(a))
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

func (c *Conn) header(kind byte, n int) {
	c.num = append(c.num[:0], kind)
	c.num = strconv.AppendInt(c.num, int64(n), 10)
	c.num = append(c.num, '\r', '\n')
	c.w.Write(c.num)
}

// Flush sends everything buffered. Errors from buffered writes surface here.
func (c *Conn) Flush() error { return c.w.Flush() }

// Do sends one command and reads its reply. A server error is returned as
// the reply (Type '-'), not as err; err is a connection or protocol failure.
func (c *Conn) Do(args ...string) (Reply, error) {
	c.WriteArgs(args...)
	if err := c.Flush(); err != nil {
		return Reply{}, err
	}
	return c.ReadReply()
}

// Reply is one RESP2 reply. Type is '+' (Str), '-' (Str holds the error
// text), ':' (Int), '$' (Str; Nil for a null bulk) or '*' (Array; Nil for a
// null array).
type Reply struct {
	Type  byte
	Str   string
	Int   int64
	Array []Reply
	Nil   bool
}

// Err returns the server error the reply carries, or nil.
func (r Reply) Err() error {
	if r.Type == '-' {
		return ServerError(r.Str)
	}
	return nil
}

// ErrProtocol is returned when the server sends something that is not RESP.
var ErrProtocol = errors.New("loadgen: protocol error")

// ReadReply reads one whole reply.
func (c *Conn) ReadReply() (Reply, error) {
	line, err := c.line()
	if err != nil {
		return Reply{}, err
	}
	r := Reply{Type: line[0]}
	body := line[1:]
	switch line[0] {
	case '+', '-':
		r.Str = string(body)
	case ':':
		r.Int, err = strconv.ParseInt(string(body), 10, 64)
	case '$':
		n, perr := strconv.Atoi(string(body))
		if perr != nil {
			return r, fmt.Errorf("%w: bulk length %q", ErrProtocol, body)
		}
		if n < 0 {
			r.Nil = true
			return r, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return r, err
		}
		r.Str = string(buf[:n])
	case '*':
		n, perr := strconv.Atoi(string(body))
		if perr != nil {
			return r, fmt.Errorf("%w: array length %q", ErrProtocol, body)
		}
		if n < 0 {
			r.Nil = true
			return r, nil
		}
		r.Array = make([]Reply, n)
		for i := range r.Array {
			if r.Array[i], err = c.ReadReply(); err != nil {
				return r, err
			}
		}
	default:
		return r, fmt.Errorf("%w: reply type %q", ErrProtocol, line[0])
	}
	return r, err
}

// Skip reads one reply and keeps only what a load generator needs: its
// type, the text of an error, the value of an integer. Bulk and array
// contents are discarded without allocating.
func (c *Conn) Skip() (typ byte, errText string, n int64, err error) {
	line, err := c.line()
	if err != nil {
		return 0, "", 0, err
	}
	typ = line[0]
	body := line[1:]
	switch typ {
	case '+':
	case '-':
		errText = string(body)
	case ':':
		n, err = strconv.ParseInt(string(body), 10, 64)
	case '$':
		l, perr := strconv.Atoi(string(body))
		if perr != nil {
			return typ, "", 0, fmt.Errorf("%w: bulk length %q", ErrProtocol, body)
		}
		n = int64(l)
		if l >= 0 {
			_, err = c.r.Discard(l + 2)
		}
	case '*':
		l, perr := strconv.Atoi(string(body))
		if perr != nil {
			return typ, "", 0, fmt.Errorf("%w: array length %q", ErrProtocol, body)
		}
		n = int64(l)
		for range max(l, 0) {
			if _, _, _, err = c.Skip(); err != nil {
				break
			}
		}
	default:
		err = fmt.Errorf("%w: reply type %q", ErrProtocol, typ)
	}
	return typ, errText, n, err
}

// line returns the next CRLF-terminated line without the CRLF; valid until
// the next read.
func (c *Conn) line() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, c.r.Size())
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: bad line %q", ErrProtocol, line)
	}
	return line[:len(line)-2], nil
}

// ServerError is an error reply from the server, e.g. "MOVED 3999 127.0.0.1:7002".
type ServerError string

func (e ServerError) Error() string { return string(e) }

// Moved parses a MOVED or ASK redirection: the slot and the address to go to.
func (e ServerError) Moved() (slot int, addr string, ok bool) {
	f := strings.Fields(string(e))
	if len(f) != 3 || (f[0] != "MOVED" && f[0] != "ASK") {
		return 0, "", false
	}
	slot, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, "", false
	}
	return slot, f[2], true
}

// Code is the first word of the error: MOVED, TRYAGAIN, CLUSTERDOWN,
// READONLY, LOADING, ERR, ...
func (e ServerError) Code() string {
	code, _, _ := strings.Cut(string(e), " ")
	return code
}
