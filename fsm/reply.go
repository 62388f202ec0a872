package fsm

import (
	"sort"
	"strconv"
	"strings"
)

// Kind is the shape of a Reply, mirroring RESP's reply types.
type Kind uint8

const (
	KindNil      Kind = iota // a null bulk string (RESP2 $-1, RESP3 _)
	KindStatus               // a simple string in Str, e.g. "OK"
	KindError                // an error in Str with its prefix, e.g. "ERR syntax error"
	KindInt                  // an integer in Int
	KindBulk                 // a bulk string in Bulk
	KindArray                // an array in Array
	KindNilArray             // a null array (RESP2 *-1, RESP3 _)
	KindDouble               // a double in Dbl (RESP3 ','; RESP2 writes it as a bulk string)
	// KindMap is a map whose keys and values alternate in Array (2n
	// items): RESP3 '%' with n pairs, RESP2 a flat array of 2n (HGETALL).
	KindMap
	// KindSet is an unordered collection in Array: RESP3 '~', RESP2 an
	// array (SMEMBERS, SINTER, SPOP with a count).
	KindSet
	// KindPairs is a list of pairs alternating in Array (2n items): RESP3
	// an array of n two-element arrays, RESP2 a flat array of 2n, as Redis
	// replies to ZRANGE ... WITHSCORES or HRANDFIELD ... WITHVALUES.
	KindPairs
)

// Reply is the outcome of one command, independent of the wire protocol.
// A Reply never aliases memory owned by the caller's request, so it may be
// kept after the request buffers are reused; Bulk may alias stored values,
// which are immutable once stored.
type Reply struct {
	Kind  Kind
	Int   int64
	Dbl   float64
	Str   string
	Bulk  []byte
	Array []Reply
}

// Common replies.
var (
	ReplyOK  = Reply{Kind: KindStatus, Str: "OK"}
	ReplyNil = Reply{Kind: KindNil}
)

// Redis's error texts used by more than one command.
const (
	ErrWrongType     = "WRONGTYPE Operation against a key holding the wrong kind of value"
	ErrSyntax        = "ERR syntax error"
	ErrNotInteger    = "ERR value is not an integer or out of range"
	ErrNotFloat      = "ERR value is not a valid float"
	ErrOverflow      = "ERR increment or decrement would overflow"
	ErrInvalidExpire = "ERR invalid expire time in '%s' command"
)

// More of Redis's error texts.
const (
	ErrStringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	ErrNaNOrInf      = "ERR increment would produce NaN or Infinity"
)

// ErrorReply returns an error reply with the given text (prefix included).
func ErrorReply(text string) Reply { return Reply{Kind: KindError, Str: text} }

// errorText returns an error reply for a text that quotes client input: as
// Redis does, line breaks become spaces so the reply stays one RESP line.
func errorText(text string) Reply {
	b := []byte(text)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return ErrorReply(string(b))
}

var (
	replyWrongType  = ErrorReply(ErrWrongType)
	replySyntax     = ErrorReply(ErrSyntax)
	replyNotInteger = ErrorReply(ErrNotInteger)
	replyNotFloat   = ErrorReply(ErrNotFloat)
	replyZero       = IntReply(0)
	replyOne        = IntReply(1)
	replyEmptyBulk  = Reply{Kind: KindBulk, Bulk: []byte{}}
)

// IntReply returns an integer reply.
func IntReply(n int64) Reply { return Reply{Kind: KindInt, Int: n} }

// BulkReply returns a bulk string reply.
func BulkReply(b []byte) Reply { return Reply{Kind: KindBulk, Bulk: b} }

// StatusReply returns a simple string reply.
func StatusReply(s string) Reply { return Reply{Kind: KindStatus, Str: s} }

// ArrayReply returns an array reply.
func ArrayReply(items []Reply) Reply { return Reply{Kind: KindArray, Array: items} }

// IsError reports whether r is an error reply.
func (r Reply) IsError() bool { return r.Kind == KindError }

// String renders r for tests and logs (not a wire format).
func (r Reply) String() string {
	switch r.Kind {
	case KindNil, KindNilArray:
		return "(nil)"
	case KindStatus:
		return r.Str
	case KindError:
		return "(error) " + r.Str
	case KindInt:
		return "(integer) " + strconv.FormatInt(r.Int, 10)
	case KindBulk:
		return strconv.Quote(string(r.Bulk))
	case KindDouble:
		return "(double) " + strconv.FormatFloat(r.Dbl, 'g', -1, 64)
	case KindArray:
		s := "["
		for i, e := range r.Array {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	case KindMap, KindSet:
		// Unordered: rendered sorted (by key for a map), so that a test can
		// compare the text.
		var items []string
		step := 1
		if r.Kind == KindMap {
			step = 2
		}
		for i := 0; i+step <= len(r.Array); i += step {
			s := r.Array[i].String()
			if step == 2 {
				s += " " + r.Array[i+1].String()
			}
			items = append(items, s)
		}
		sort.Strings(items)
		prefix := "set["
		if r.Kind == KindMap {
			prefix = "map["
		}
		return prefix + strings.Join(items, " ") + "]"
	case KindPairs:
		s := "pairs["
		for i, e := range r.Array {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	}
	return "?"
}
