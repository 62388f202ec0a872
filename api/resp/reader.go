package resp

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// Limits, as Redis's defaults.
const (
	maxMultibulk = 1024 * 1024       // elements in one command
	maxBulk      = 512 * 1024 * 1024 // proto-max-bulk-len
	maxInline    = 64 * 1024         // inline command line
)

// ProtocolError is a malformed request; its text is Redis's. The
// connection is closed after the error is sent, as Redis does.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "ERR Protocol error: " + e.Msg }

var (
	errMultibulkLen = &ProtocolError{"invalid multibulk length"}
	errBulkLen      = &ProtocolError{"invalid bulk length"}
	errInlineTooBig = &ProtocolError{"too big inline request"}
	errUnbalanced   = &ProtocolError{"unbalanced quotes in request"}
)

// reader parses commands from a client. Arguments are copied into an
// arena that is only ever appended to: bytes handed out are never written
// again, so an argument stays valid for as long as it is referenced (a
// command queued by MULTI outlives its batch), and small commands share one
// 16 KiB allocation instead of taking one each.
type reader struct {
	br    *bufio.Reader
	arena []byte
}

func newReader(r io.Reader) *reader {
	return &reader{br: bufio.NewReaderSize(r, 64*1024)}
}

// reset starts a new batch. The arena is kept: arguments of earlier
// batches stay intact, since new ones go after them.
func (r *reader) reset() {}

// buffered reports whether bytes of another command are already here.
func (r *reader) buffered() bool { return r.br.Buffered() > 0 }

// alloc returns n bytes from the batch arena.
func (r *reader) alloc(n int) []byte {
	if n > 4096 {
		return make([]byte, n)
	}
	if cap(r.arena)-len(r.arena) < n {
		r.arena = make([]byte, 0, 16*1024)
	}
	l := len(r.arena)
	r.arena = r.arena[:l+n]
	return r.arena[l : l+n : l+n]
}

// readCommand returns the next command; nil args (and nil error) for an
// empty inline line, which Redis ignores.
func (r *reader) readCommand() ([][]byte, error) {
	c, err := r.br.Peek(1)
	if err != nil {
		return nil, err
	}
	if c[0] != '*' {
		return r.readInline()
	}
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	n, ok := parseInt(line[1:])
	if !ok || n > maxMultibulk {
		return nil, errMultibulkLen
	}
	if n <= 0 {
		return nil, nil
	}
	args := make([][]byte, n)
	for i := range args {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 || line[0] != '$' {
			return nil, &ProtocolError{"expected '$', got '" + printable(line) + "'"}
		}
		size, ok := parseInt(line[1:])
		if !ok || size < 0 || size > maxBulk {
			return nil, errBulkLen
		}
		arg := r.alloc(size)
		if _, err := io.ReadFull(r.br, arg); err != nil {
			return nil, err
		}
		// The CRLF after the bulk: skipped unread, as Redis does.
		if _, err := r.br.Discard(2); err != nil {
			return nil, err
		}
		args[i] = arg
	}
	return args, nil
}

func printable(b []byte) string {
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// readLine reads up to \r\n (or \n), without it. Lines longer than the
// inline limit are a protocol error.
func (r *reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errInlineTooBig
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readInline parses a space-separated command line with quoting.
func (r *reader) readInline() ([][]byte, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	var args [][]byte
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		var arg []byte
		switch q := line[i]; q {
		case '"', '\'':
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == q {
					closed = true
					i++
					break
				}
				if c == '\\' && q == '"' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'x':
						if i+2 < len(line) {
							if v, err := strconv.ParseUint(string(line[i+1:i+3]), 16, 8); err == nil {
								c = byte(v)
								i += 2
								break
							}
						}
						c = 'x'
					default:
						c = line[i]
					}
				} else if c == '\\' && q == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					c = '\''
				}
				arg = append(arg, c)
				i++
			}
			if !closed || (i < len(line) && line[i] != ' ' && line[i] != '\t') {
				return nil, errUnbalanced
			}
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				arg = append(arg, line[i])
				i++
			}
		}
		if arg == nil {
			arg = []byte{}
		}
		args = append(args, arg)
	}
	return args, nil
}

// parseInt parses a decimal integer as Redis's string2ll does for lengths.
func parseInt(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
