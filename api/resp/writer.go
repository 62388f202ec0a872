package resp

import (
	"math"
	"strconv"

	"github.com/redraft/redraft/fsm"
)

// appendReply encodes r in RESP version proto (2 or 3).
func appendReply(b []byte, r fsm.Reply, proto int) []byte {
	switch r.Kind {
	case fsm.KindNil:
		if proto >= 3 {
			return append(b, "_\r\n"...)
		}
		return append(b, "$-1\r\n"...)
	case fsm.KindNilArray:
		if proto >= 3 {
			return append(b, "_\r\n"...)
		}
		return append(b, "*-1\r\n"...)
	case fsm.KindStatus:
		return appendLine(append(b, '+'), r.Str)
	case fsm.KindError:
		return appendLine(append(b, '-'), r.Str)
	case fsm.KindInt:
		b = append(b, ':')
		b = strconv.AppendInt(b, r.Int, 10)
		return append(b, '\r', '\n')
	case fsm.KindBulk:
		return appendBulk(b, r.Bulk)
	case fsm.KindDouble:
		s := formatDouble(r.Dbl)
		if proto >= 3 {
			return appendLine(append(b, ','), s)
		}
		return appendBulk(b, []byte(s))
	case fsm.KindArray:
		b = appendLen(b, '*', len(r.Array))
		for _, e := range r.Array {
			b = appendReply(b, e, proto)
		}
		return b
	case fsm.KindMap:
		b = appendMapLen(b, len(r.Array)/2, proto)
		for _, e := range r.Array[:len(r.Array)/2*2] {
			b = appendReply(b, e, proto)
		}
		return b
	case fsm.KindSet:
		b = appendSetLen(b, len(r.Array), proto)
		for _, e := range r.Array {
			b = appendReply(b, e, proto)
		}
		return b
	case fsm.KindPairs:
		n := len(r.Array) / 2
		if proto < 3 {
			b = appendLen(b, '*', 2*n)
			for _, e := range r.Array[:2*n] {
				b = appendReply(b, e, proto)
			}
			return b
		}
		b = appendLen(b, '*', n)
		for i := 0; i < 2*n; i += 2 {
			b = appendLen(b, '*', 2)
			b = appendReply(b, r.Array[i], proto)
			b = appendReply(b, r.Array[i+1], proto)
		}
		return b
	}
	return appendLine(append(b, '-'), "ERR internal error: unknown reply kind")
}

func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', 17, 64)
}

// appendLine appends s with CR and LF replaced by spaces (a status or error
// line cannot contain them), then CRLF.
func appendLine(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, '\r', '\n')
}

func appendLen(b []byte, prefix byte, n int) []byte {
	b = append(b, prefix)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func appendBulk(b []byte, v []byte) []byte {
	b = appendLen(b, '$', len(v))
	b = append(b, v...)
	return append(b, '\r', '\n')
}

func appendBulkString(b []byte, v string) []byte {
	b = appendLen(b, '$', len(v))
	b = append(b, v...)
	return append(b, '\r', '\n')
}

// appendMapLen starts a map of n pairs: a RESP3 map, or a flat array in RESP2.
func appendMapLen(b []byte, n int, proto int) []byte {
	if proto >= 3 {
		return appendLen(b, '%', n)
	}
	return appendLen(b, '*', 2*n)
}

// appendSetLen starts a set: a RESP3 set, or an array in RESP2.
func appendSetLen(b []byte, n int, proto int) []byte {
	if proto >= 3 {
		return appendLen(b, '~', n)
	}
	return appendLen(b, '*', n)
}
