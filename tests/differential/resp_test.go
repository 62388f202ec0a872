package differential

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/fsm"
)

// rv is a RESP value as read from the wire (RESP2 or RESP3), or as the
// state machine's reply would be written.
type rv struct {
	typ   byte   // the RESP type byte: + - : $ * _ , % ~ # (
	s     string // simple strings, errors, bulk strings, doubles, big numbers
	n     int64  // integers
	null  bool   // $-1 or *-1 (RESP2)
	elems []rv   // arrays, sets, maps (keys and values alternate)
}

// String renders v canonically: equal values render equally.
func (v rv) String() string {
	switch v.typ {
	case '+':
		return "+" + v.s
	case '-':
		return "-" + v.s
	case ':':
		return ":" + strconv.FormatInt(v.n, 10)
	case '$':
		if v.null {
			return "$nil"
		}
		return strconv.Quote(v.s)
	case '_':
		return "_"
	case ',':
		return "," + v.s
	case '#', '(':
		return string(v.typ) + v.s
	case '*', '~', '%':
		if v.null {
			return "*nil"
		}
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = e.String()
		}
		return string(v.typ) + "[" + strings.Join(parts, " ") + "]"
	}
	return "?" + string(v.typ)
}

// unordered renders v with the elements of its top level in sorted order
// (map entries as pairs), for replies whose order Redis leaves open.
func (v rv) unordered() string {
	switch v.typ {
	case '*', '~':
		if v.null {
			return v.String()
		}
		parts := make([]string, len(v.elems))
		for i, e := range v.elems {
			parts[i] = e.String()
		}
		sort.Strings(parts)
		return string(v.typ) + "{" + strings.Join(parts, " ") + "}"
	case '%':
		var parts []string
		for i := 0; i+1 < len(v.elems); i += 2 {
			parts = append(parts, v.elems[i].String()+"="+v.elems[i+1].String())
		}
		sort.Strings(parts)
		return "%{" + strings.Join(parts, " ") + "}"
	}
	return v.String()
}

// isNil reports whether v is a null of either protocol.
func (v rv) isNil() bool { return v.typ == '_' || v.null }

// text returns a bulk or simple string's bytes (and doubles' text).
func (v rv) text() string { return v.s }

// formatDouble is how the RESP writer prints a double (%.17g, inf, -inf).
func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// fromReply shapes a state machine reply as the RESP writer writes it in
// protocol proto.
func fromReply(r fsm.Reply, proto int) rv {
	switch r.Kind {
	case fsm.KindNil:
		if proto >= 3 {
			return rv{typ: '_'}
		}
		return rv{typ: '$', null: true}
	case fsm.KindNilArray:
		if proto >= 3 {
			return rv{typ: '_'}
		}
		return rv{typ: '*', null: true}
	case fsm.KindStatus:
		return rv{typ: '+', s: r.Str}
	case fsm.KindError:
		return rv{typ: '-', s: r.Str}
	case fsm.KindInt:
		return rv{typ: ':', n: r.Int}
	case fsm.KindBulk:
		return rv{typ: '$', s: string(r.Bulk)}
	case fsm.KindDouble:
		if proto >= 3 {
			return rv{typ: ',', s: formatDouble(r.Dbl)}
		}
		return rv{typ: '$', s: formatDouble(r.Dbl)}
	case fsm.KindArray, fsm.KindMap, fsm.KindSet, fsm.KindPairs:
		elems := make([]rv, len(r.Array))
		for i, e := range r.Array {
			elems[i] = fromReply(e, proto)
		}
		switch {
		case proto < 3:
			return rv{typ: '*', elems: elems}
		case r.Kind == fsm.KindMap:
			return rv{typ: '%', elems: elems}
		case r.Kind == fsm.KindSet:
			return rv{typ: '~', elems: elems}
		case r.Kind == fsm.KindPairs:
			pairs := make([]rv, len(elems)/2)
			for i := range pairs {
				pairs[i] = rv{typ: '*', elems: []rv{elems[2*i], elems[2*i+1]}}
			}
			return rv{typ: '*', elems: pairs}
		}
		return rv{typ: '*', elems: elems}
	}
	return rv{typ: '?'}
}

// client is a minimal RESP client: one command at a time.
type client struct {
	conn  net.Conn
	r     *bufio.Reader
	w     *bufio.Writer
	proto int
}

func dial(addr string, proto int) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c := &client{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn), proto: 2}
	if proto == 3 {
		v, err := c.do([]byte("HELLO"), []byte("3"))
		if err != nil {
			conn.Close()
			return nil, err
		}
		if v.typ != '%' {
			conn.Close()
			return nil, fmt.Errorf("HELLO 3: %s", v)
		}
		c.proto = 3
	}
	return c, nil
}

func (c *client) close() { c.conn.Close() }

func (c *client) do(args ...[]byte) (rv, error) {
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n", len(a))
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return rv{}, err
	}
	return readValue(c.r)
}

var errProtocol = errors.New("protocol error")

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", errProtocol
	}
	return line[:len(line)-2], nil
}

func readValue(r *bufio.Reader) (rv, error) {
	line, err := readLine(r)
	if err != nil {
		return rv{}, err
	}
	if line == "" {
		return rv{}, errProtocol
	}
	typ, rest := line[0], line[1:]
	switch typ {
	case '+', '-', ',', '(', '#':
		return rv{typ: typ, s: rest}, nil
	case ':':
		n, err := strconv.ParseInt(rest, 10, 64)
		return rv{typ: ':', n: n}, err
	case '_':
		return rv{typ: '_'}, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return rv{}, err
		}
		if n < 0 {
			return rv{typ: '$', null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return rv{}, err
		}
		if !bytes.HasSuffix(buf, []byte("\r\n")) {
			return rv{}, errProtocol
		}
		if typ == '!' {
			typ = '-'
		} else {
			typ = '$'
		}
		return rv{typ: typ, s: string(buf[:n])}, nil
	case '*', '~', '%', '>':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return rv{}, err
		}
		if n < 0 {
			return rv{typ: '*', null: true}, nil
		}
		count := n
		if typ == '%' {
			count *= 2
		}
		v := rv{typ: typ, elems: make([]rv, count)}
		for i := range v.elems {
			if v.elems[i], err = readValue(r); err != nil {
				return rv{}, err
			}
		}
		return v, nil
	}
	return rv{}, fmt.Errorf("%w: type %q", errProtocol, typ)
}
