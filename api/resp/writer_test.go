package resp

import (
	"math"
	"testing"

	"github.com/redraft/redraft/fsm"
)

func TestAppendReply(t *testing.T) {
	arr := fsm.ArrayReply([]fsm.Reply{fsm.IntReply(1), fsm.BulkReply([]byte("a")), fsm.ReplyNil})
	for _, tc := range []struct {
		r      fsm.Reply
		proto  int
		expect string
	}{
		{fsm.ReplyOK, 2, "+OK\r\n"},
		{fsm.ErrorReply("ERR x\r\ny"), 2, "-ERR x  y\r\n"},
		{fsm.IntReply(-42), 2, ":-42\r\n"},
		{fsm.BulkReply([]byte("hi")), 2, "$2\r\nhi\r\n"},
		{fsm.BulkReply([]byte{}), 2, "$0\r\n\r\n"},
		{fsm.ReplyNil, 2, "$-1\r\n"},
		{fsm.ReplyNil, 3, "_\r\n"},
		{fsm.Reply{Kind: fsm.KindNilArray}, 2, "*-1\r\n"},
		{fsm.Reply{Kind: fsm.KindDouble, Dbl: 1.5}, 3, ",1.5\r\n"},
		{fsm.Reply{Kind: fsm.KindDouble, Dbl: math.Inf(1)}, 2, "$3\r\ninf\r\n"},
		{arr, 2, "*3\r\n:1\r\n$1\r\na\r\n$-1\r\n"},
		{arr, 3, "*3\r\n:1\r\n$1\r\na\r\n_\r\n"},
	} {
		if got := string(appendReply(nil, tc.r, tc.proto)); got != tc.expect {
			t.Errorf("%v (RESP%d) = %q, want %q", tc.r, tc.proto, got, tc.expect)
		}
	}
}
