package fsm

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// The list commands' replies and errors, as Redis 7 gives them (checked
// against redis-server 7.0; where 7.2 differs it is said).

const (
	wrongTypeErr = "(error) " + ErrWrongType
	notIntErr    = "(error) " + ErrNotInteger
)

func TestListPushPop(t *testing.T) {
	runTable(t, []tableCase{
		{"push order", []step{
			{0, "LPUSH l a b c", "(integer) 3"},
			{0, "LRANGE l 0 -1", `["c" "b" "a"]`},
			{0, "RPUSH l d e", "(integer) 5"},
			{0, "LRANGE l 0 -1", `["c" "b" "a" "d" "e"]`},
			{0, "LLEN l", "(integer) 5"},
			{0, "TYPE l", "list"},
		}},
		{"pushx", []step{
			{0, "LPUSHX l a", "(integer) 0"},
			{0, "RPUSHX l a b", "(integer) 0"},
			{0, "EXISTS l", "(integer) 0"},
			{0, "RPUSH l x", "(integer) 1"},
			{0, "LPUSHX l a b", "(integer) 3"},
			{0, "RPUSHX l y", "(integer) 4"},
			{0, "LRANGE l 0 -1", `["b" "a" "x" "y"]`},
			{0, "SET s v", "OK"},
			{0, "LPUSHX s a", wrongTypeErr},
			{0, "RPUSHX s a", wrongTypeErr},
			{0, "LPUSH s a", wrongTypeErr},
			{0, "RPUSH s a", wrongTypeErr},
		}},
		{"pop", []step{
			{0, "LPOP nokey", "(nil)"},
			{0, "LPOP nokey 0", "(nil)"},
			{0, "LPOP nokey 2", "(nil)"},
			{0, "RPUSH l a b c d e", "(integer) 5"},
			{0, "LPOP l 0", "[]"},
			{0, "LPOP l", `"a"`},
			{0, "RPOP l", `"e"`},
			{0, "LPOP l 2", `["b" "c"]`},
			{0, "RPOP l 10", `["d"]`},
			{0, "EXISTS l", "(integer) 0"},
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "RPOP l 2", `["c" "b"]`},
			{0, "LPOP l 1", `["a"]`},
			{0, "EXISTS l", "(integer) 0"},
		}},
		{"pop errors", []step{
			{0, "SET s v", "OK"},
			{0, "LPOP s", wrongTypeErr},
			{0, "RPOP s 1", wrongTypeErr},
			{0, "LPOP s x", "(error) ERR value is out of range, must be positive"},
			{0, "LPOP s -1", "(error) ERR value is out of range, must be positive"},
			{0, "LPOP nokey x", "(error) ERR value is out of range, must be positive"},
			{0, "LPOP l 1 2", "(error) ERR wrong number of arguments for 'lpop' command"},
			{0, "RPOP l 1 2", "(error) ERR wrong number of arguments for 'rpop' command"},
		}},
		{"expired list is absent", []step{
			{0, "RPUSH l a b", "(integer) 2"},
			{0, "PEXPIRE l 10", "(integer) 1"},
			{t0 + 10, "LLEN l", "(integer) 2"},
			{t0 + 11, "LLEN l", "(integer) 0"},
			{0, "LPUSHX l z", "(integer) 0"},
			{0, "RPUSH l c", "(integer) 1"},
			{0, "PTTL l", "(integer) -1"},
		}},
		{"push keeps the expiry", []step{
			{0, "RPUSH l a", "(integer) 1"},
			{0, "PEXPIRE l 100", "(integer) 1"},
			{0, "RPUSH l b", "(integer) 2"},
			{0, "LPOP l", `"a"`},
			{0, "PTTL l", "(integer) 100"},
		}},
	})
}

func TestListRead(t *testing.T) {
	runTable(t, []tableCase{
		{"lrange", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LRANGE l 0 -1", `["a" "b" "c"]`},
			{0, "LRANGE l -100 100", `["a" "b" "c"]`},
			{0, "LRANGE l 2 1", "[]"},
			{0, "LRANGE l -1 -2", "[]"},
			{0, "LRANGE l 5 10", "[]"},
			{0, "LRANGE l 0 0", `["a"]`},
			{0, "LRANGE l -2 -1", `["b" "c"]`},
			{0, "LRANGE l x 1", notIntErr},
			{0, "LRANGE nokey x 1", notIntErr},
			{0, "LRANGE nokey 0 -1", "[]"},
			{0, "SET s v", "OK"},
			{0, "LRANGE s 0 1", wrongTypeErr},
			{0, "LLEN s", wrongTypeErr},
			{0, "LLEN nokey", "(integer) 0"},
		}},
		{"lindex", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LINDEX l 0", `"a"`},
			{0, "LINDEX l -1", `"c"`},
			{0, "LINDEX l -3", `"a"`},
			{0, "LINDEX l -4", "(nil)"},
			{0, "LINDEX l 3", "(nil)"},
			{0, "LINDEX l x", notIntErr},
			{0, "LINDEX nokey x", "(nil)"},
			{0, "LINDEX nokey 0", "(nil)"},
			{0, "SET s v", "OK"},
			{0, "LINDEX s 0", wrongTypeErr},
			{0, "LINDEX s x", wrongTypeErr},
		}},
		{"lpos", []step{
			{0, "RPUSH l a b c a b c a", "(integer) 7"},
			{0, "LPOS l a", "(integer) 0"},
			{0, "LPOS l a RANK 2", "(integer) 3"},
			{0, "LPOS l a RANK -1", "(integer) 6"},
			{0, "LPOS l a RANK -2", "(integer) 3"},
			{0, "LPOS l a RANK 4", "(nil)"},
			{0, "LPOS l a COUNT 0", "[(integer) 0 (integer) 3 (integer) 6]"},
			{0, "LPOS l a COUNT 2", "[(integer) 0 (integer) 3]"},
			{0, "LPOS l a COUNT 2 RANK -1", "[(integer) 6 (integer) 3]"},
			{0, "LPOS l a COUNT 0 RANK 2", "[(integer) 3 (integer) 6]"},
			{0, "LPOS l a MAXLEN 1 COUNT 0", "[(integer) 0]"},
			{0, "LPOS l a MAXLEN 3 RANK 2", "(nil)"},
			{0, "LPOS l a MAXLEN 4 RANK 2", "(integer) 3"},
			{0, "LPOS l a MAXLEN 1 RANK -1", "(integer) 6"},
			{0, "LPOS l a MAXLEN 0", "(integer) 0"},
			{0, "LPOS l c RANK 1 RANK 2", "(integer) 5"},
			{0, "LPOS l zz", "(nil)"},
			{0, "LPOS l zz COUNT 1", "[]"},
			{0, "LPOS l a RANK -9223372036854775808", "(integer) 6"},
			{0, "LPOS l a RANK 0", "(error) " + errRankZero},
			{0, "LPOS l a COUNT -1", "(error) ERR COUNT can't be negative"},
			{0, "LPOS l a COUNT x", "(error) ERR COUNT can't be negative"},
			{0, "LPOS l a MAXLEN -1", "(error) ERR MAXLEN can't be negative"},
			{0, "LPOS l a MAXLEN x", "(error) ERR MAXLEN can't be negative"},
			{0, "LPOS l a RANK x", notIntErr},
			{0, "LPOS l a FOO", "(error) ERR syntax error"},
			{0, "LPOS l a COUNT", "(error) ERR syntax error"},
			{0, "LPOS nokey a", "(nil)"},
			{0, "LPOS nokey a COUNT 1", "[]"},
			{0, "SET s v", "OK"},
			{0, "LPOS s a", wrongTypeErr},
			{0, "LPOS s a RANK 0", "(error) " + errRankZero},
		}},
	})
}

func TestListEdit(t *testing.T) {
	runTable(t, []tableCase{
		{"lset", []step{
			{0, "LSET nokey 0 v", "(error) ERR no such key"},
			{0, "LSET nokey x v", "(error) ERR no such key"},
			{0, "SET s v", "OK"},
			{0, "LSET s 0 v", wrongTypeErr},
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LSET l x v", notIntErr},
			{0, "LSET l 3 v", "(error) ERR index out of range"},
			{0, "LSET l -4 v", "(error) ERR index out of range"},
			{0, "LSET l -1 last", "OK"},
			{0, "LSET l 0 first", "OK"},
			{0, "LRANGE l 0 -1", `["first" "b" "last"]`},
		}},
		{"linsert", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LINSERT l foo a x", "(error) ERR syntax error"},
			{0, "LINSERT nokey foo a x", "(error) ERR syntax error"},
			{0, "LINSERT nokey before a x", "(integer) 0"},
			{0, "EXISTS nokey", "(integer) 0"},
			{0, "LINSERT l BEFORE zz x", "(integer) -1"},
			{0, "LINSERT l AFTER b x", "(integer) 4"},
			{0, "LINSERT l before a y", "(integer) 5"},
			{0, "LINSERT l after c z", "(integer) 6"},
			{0, "LRANGE l 0 -1", `["y" "a" "b" "x" "c" "z"]`},
			{0, "SET s v", "OK"},
			{0, "LINSERT s before a x", wrongTypeErr},
		}},
		{"lrem", []step{
			{0, "RPUSH l a b a c a b", "(integer) 6"},
			{0, "LREM l x a", notIntErr},
			{0, "LREM l -1 a", "(integer) 1"},
			{0, "LRANGE l 0 -1", `["a" "b" "a" "c" "b"]`},
			{0, "LREM l 1 b", "(integer) 1"},
			{0, "LRANGE l 0 -1", `["a" "a" "c" "b"]`},
			{0, "LREM l 0 a", "(integer) 2"},
			{0, "LREM l 0 zz", "(integer) 0"},
			{0, "LRANGE l 0 -1", `["c" "b"]`},
			{0, "LREM l -9223372036854775808 c", "(integer) 1"},
			{0, "LREM l 5 b", "(integer) 1"},
			{0, "EXISTS l", "(integer) 0"},
			{0, "LREM nokey 0 a", "(integer) 0"},
			{0, "SET s v", "OK"},
			{0, "LREM s 0 a", wrongTypeErr},
		}},
		{"ltrim", []step{
			{0, "RPUSH l a b c d", "(integer) 4"},
			{0, "LTRIM l x 1", notIntErr},
			{0, "LTRIM nokey 0 1", "OK"},
			{0, "LTRIM l 1 -2", "OK"},
			{0, "LRANGE l 0 -1", `["b" "c"]`},
			{0, "LTRIM l -100 100", "OK"},
			{0, "LRANGE l 0 -1", `["b" "c"]`},
			{0, "LTRIM l -1 -1", "OK"},
			{0, "LRANGE l 0 -1", `["c"]`},
			{0, "LTRIM l 5 1", "OK"},
			{0, "EXISTS l", "(integer) 0"},
			{0, "SET s v", "OK"},
			{0, "LTRIM s 0 1", wrongTypeErr},
		}},
	})
}

func TestListMove(t *testing.T) {
	runTable(t, []tableCase{
		{"lmove", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LMOVE l d up left", "(error) ERR syntax error"},
			{0, "LMOVE nokey d left left", "(nil)"},
			{0, "EXISTS d", "(integer) 0"},
			{0, "SET s v", "OK"},
			{0, "LMOVE s d left left", wrongTypeErr},
			{0, "LMOVE l s left left", wrongTypeErr},
			{0, "LRANGE l 0 -1", `["a" "b" "c"]`},
			{0, "LMOVE l l left right", `"a"`},
			{0, "LRANGE l 0 -1", `["b" "c" "a"]`},
			{0, "LMOVE l d RIGHT LEFT", `"a"`},
			{0, "LMOVE l d left right", `"b"`},
			{0, "LRANGE d 0 -1", `["a" "b"]`},
			{0, "RPOPLPUSH l d", `"c"`},
			{0, "EXISTS l", "(integer) 0"},
			{0, "LRANGE d 0 -1", `["c" "a" "b"]`},
			{0, "RPUSH one x", "(integer) 1"},
			{0, "RPOPLPUSH one one", `"x"`},
			{0, "LRANGE one 0 -1", `["x"]`},
			{0, "RPOPLPUSH nokey d", "(nil)"},
		}},
		{"lmpop", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "SET s v", "OK"},
			{0, "LMPOP 0 l left", "(error) ERR numkeys should be greater than 0"},
			{0, "LMPOP x l left", "(error) ERR numkeys should be greater than 0"},
			{0, "LMPOP 2 l left", "(error) ERR syntax error"},
			{0, "LMPOP 1 l up", "(error) ERR syntax error"},
			{0, "LMPOP 1 l left count 0", "(error) ERR count should be greater than 0"},
			{0, "LMPOP 1 l left count x", "(error) ERR count should be greater than 0"},
			{0, "LMPOP 1 l left count 1 count 1", "(error) ERR syntax error"},
			{0, "LMPOP 1 l left foo", "(error) ERR syntax error"},
			{0, "LMPOP 2 nokey s left", wrongTypeErr},
			{0, "LMPOP 2 nokey l right count 2", `["l" ["c" "b"]]`},
			{0, "LMPOP 2 l s left", `["l" ["a"]]`},
			{0, "EXISTS l", "(integer) 0"},
			{0, "LMPOP 1 nokey left", "(nil)"},
		}},
		{"blocking commands do not block when applied", []step{
			{0, "BLPOP l x", "(error) ERR timeout is not a float or out of range"},
			{0, "BLPOP l -1", "(error) ERR timeout is negative"},
			{0, "BLPOP l nan", "(error) ERR timeout is not a float or out of range"},
			{0, "BLPOP l inf", "(error) ERR timeout is out of range"}, // 7.0: is negative
			{0, "BLPOP l -inf", "(error) ERR timeout is negative"},
			{0, "BLPOP l 1e30", "(error) ERR timeout is out of range"}, // 7.0: is negative
			{0, "BLPOP l 0.01", "(nil)"},
			{0, "SET s v", "OK"},
			{0, "BLPOP nokey s 0", wrongTypeErr},
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "RPUSH m x", "(integer) 1"},
			{0, "BLPOP nokey l m 0", `["l" "a"]`},
			{0, "BRPOP nokey l m 0", `["l" "c"]`},
			{0, "BRPOP m l 1.5", `["m" "x"]`},
			{0, "BLMOVE nokey d left left 0.01", "(nil)"},
			{0, "BLMOVE nokey d left up 0.01", "(error) ERR syntax error"},
			{0, "BLMOVE nokey d left left x", "(error) ERR timeout is not a float or out of range"},
			{0, "BLMOVE l d left left 0", `"b"`},
			{0, "BRPOPLPUSH d l 0", `"b"`},
			{0, "BRPOPLPUSH nokey d x", "(error) ERR timeout is not a float or out of range"},
			{0, "BLMPOP 0.01 1 nokey left", "(nil)"},
			{0, "BLMPOP x 1 nokey left", "(error) ERR timeout is not a float or out of range"},
			{0, "BLMPOP x 0 nokey left", "(error) ERR numkeys should be greater than 0"},
			{0, "BLMPOP 0 2 nokey l right count 5", `["l" ["b"]]`},
		}},
	})
}

func TestBlockingArgs(t *testing.T) {
	for _, c := range []struct {
		cmd     string
		keys    string
		timeout int64
		err     string
	}{
		{"BLPOP a b 0", "a b", 0, ""},
		{"BRPOP a 1.5", "a", 1500, ""},
		{"BLPOP a 0.0001", "a", 1, ""},
		{"BLMOVE s d left right 2", "s", 2000, ""},
		{"BRPOPLPUSH s d 0.25", "s", 250, ""},
		{"BLMPOP 3 2 a b left count 2", "a b", 3000, ""},
		{"BLPOP a -0.5", "", 0, "ERR timeout is negative"},
		{"BLMPOP 1 3 a b left", "", 0, "ERR syntax error"},
		{"GET a", "", 0, "ERR not a blocking command"},
	} {
		keys, ms, r, ok := BlockingArgs(split(t, c.cmd), t0)
		if c.err != "" {
			if ok || r.Str != c.err {
				t.Errorf("%s: %v %v, want error %q", c.cmd, r, ok, c.err)
			}
			continue
		}
		var ks []string
		for _, k := range keys {
			ks = append(ks, string(k))
		}
		if !ok || strings.Join(ks, " ") != c.keys || ms != c.timeout {
			t.Errorf("%s: keys %q timeout %d ok %v (%v), want %q %d", c.cmd, ks, ms, ok, r, c.keys, c.timeout)
		}
	}
}

// TestListForms drives lists across the small/large boundary and checks
// every operation against a plain slice model, with snapshots in between.
func TestListForms(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	s := NewState()
	var model []string
	now := int64(t0)
	elem := func() string {
		if r.Intn(10) == 0 {
			return strings.Repeat("x", r.Intn(300)) // large elements cross the byte limit
		}
		return strconv.Itoa(r.Intn(20))
	}
	check := func(i int, what string) {
		t.Helper()
		got := do(t, s, now, "LRANGE l 0 -1")
		want := make([]Reply, len(model))
		for j, m := range model {
			want[j] = BulkReply([]byte(m))
		}
		if got.String() != ArrayReply(want).String() {
			t.Fatalf("step %d (%s): LRANGE\n got %s\nwant %s", i, what, got, ArrayReply(want))
		}
		if len(model) > 0 {
			j := r.Intn(len(model))
			if got := do(t, s, now, fmt.Sprintf("LINDEX l %d", j)); string(got.Bulk) != model[j] {
				t.Fatalf("step %d (%s): LINDEX %d = %s, want %q", i, what, j, got, model[j])
			}
		}
	}
	apply := func(args ...string) Reply {
		b := make([][]byte, len(args))
		for i, a := range args {
			b[i] = []byte(a)
		}
		return s.Apply(&pb.Command{NowMs: now, Args: b})
	}
	for i := 0; i < 4000; i++ {
		var what string
		switch op := r.Intn(100); {
		case op < 30: // push a few
			n := 1 + r.Intn(8)
			if len(model) > 400 {
				n = 1
			}
			args := []string{"RPUSH", "l"}
			left := r.Intn(2) == 0
			if left {
				args[0] = "LPUSH"
			}
			for range n {
				e := elem()
				args = append(args, e)
				if left {
					model = append([]string{e}, model...)
				} else {
					model = append(model, e)
				}
			}
			what = args[0]
			apply(args...)
		case op < 50: // pop a few
			k := 1 + r.Intn(10)
			k = min(k, len(model))
			if r.Intn(2) == 0 {
				what = "LPOP"
				c := k
				if k == len(model) {
					c += r.Intn(2) // asking for more than there is
				}
				apply("LPOP", "l", strconv.Itoa(c))
				model = model[k:]
			} else {
				what = "RPOP"
				apply("RPOP", "l", strconv.Itoa(k))
				model = model[:len(model)-k]
			}
		case op < 60 && len(model) > 0:
			what = "LSET"
			j := r.Intn(len(model))
			e := elem()
			apply("LSET", "l", strconv.Itoa(j-len(model)*r.Intn(2)), e)
			model[j] = e
		case op < 72 && len(model) > 0:
			what = "LINSERT"
			pivot := model[r.Intn(len(model))]
			e := elem()
			after := r.Intn(2) == 0
			j := 0
			for model[j] != pivot {
				j++
			}
			if after {
				j++
				apply("LINSERT", "l", "AFTER", pivot, e)
			} else {
				apply("LINSERT", "l", "BEFORE", pivot, e)
			}
			model = append(model[:j], append([]string{e}, model[j:]...)...)
		case op < 80 && len(model) > 0:
			what = "LREM"
			e := model[r.Intn(len(model))]
			count := r.Intn(5) - 2
			apply("LREM", "l", strconv.Itoa(count), e)
			var idx []int
			for j := range model {
				if model[j] == e {
					idx = append(idx, j)
				}
			}
			switch {
			case count > 0 && len(idx) > count:
				idx = idx[:count]
			case count < 0 && len(idx) > -count:
				idx = idx[len(idx)+count:]
			}
			for k := len(idx) - 1; k >= 0; k-- {
				model = append(model[:idx[k]], model[idx[k]+1:]...)
			}
		case op < 85 && len(model) > 0:
			what = "LTRIM"
			a, b := r.Intn(len(model)+2)-1, r.Intn(len(model)+2)-1
			if r.Intn(3) == 0 {
				a, b = r.Intn(3), len(model)-1-r.Intn(3)
			}
			apply("LTRIM", "l", strconv.Itoa(a), strconv.Itoa(b))
			from, to, empty := listRange(int64(a), int64(b), len(model))
			if empty {
				model = nil
			} else {
				model = model[from : to+1]
			}
		case op < 90 && len(model) > 0:
			what = "LMOVE"
			apply("LMOVE", "l", "l", "LEFT", "RIGHT")
			model = append(model[1:], model[0])
		case op < 93: // snapshot and restore
			what = "snapshot"
			d := s.digest()
			var buf strings.Builder
			if _, err := s.Snapshot().WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			s = NewState()
			if err := s.Restore(strings.NewReader(buf.String())); err != nil {
				t.Fatal(err)
			}
			if s.digest() != d {
				t.Fatalf("step %d: digest changed by snapshot and restore", i)
			}
		default:
			what = "LPOS"
			if len(model) > 0 {
				e := model[r.Intn(len(model))]
				got := do(t, s, now, "LPOS l "+strconv.Quote(e)+" RANK -1")
				j := len(model) - 1
				for model[j] != e {
					j--
				}
				if got.Int != int64(j) {
					t.Fatalf("step %d: LPOS %s RANK -1 = %s, want %d", i, e, got, j)
				}
			}
		}
		check(i, what)
		if e, ok := s.find([]byte("l")); ok {
			l := listOf(e)
			if (l.tree == nil) != small(l.n, l.size) || l.n != len(model) {
				t.Fatalf("step %d (%s): form tree=%v n=%d size=%d, model %d", i, what, l.tree != nil, l.n, l.size, len(model))
			}
		}
	}
}

// TestListRenumber forces positions to be renumbered: inserts at one spot
// until the gap is used up, and pushes beyond the position limit.
func TestListRenumber(t *testing.T) {
	var elems [][]byte
	for i := range 300 {
		elems = append(elems, []byte(strconv.Itoa(i)))
	}
	l := newList(elems)
	if l.tree == nil {
		t.Fatal("300 elements in the small form")
	}
	want := append([][]byte(nil), elems...)
	for i := range 40 { // each insert halves the gap after element 0
		v := []byte("i" + strconv.Itoa(i))
		l = l.insert(1, v)
		want = append(want[:1], append([][]byte{v}, want[1:]...)...)
	}
	// Push positions near the limit.
	lo, _ := l.tree.Min()
	t2 := l.tree.Copy()
	t2.Delete(lo)
	t2.Set(litem{pos: -listPosLimit + 1, val: lo.val})
	l = &list{n: l.n, size: l.size, tree: t2}
	l = l.push([][]byte{[]byte("head")}, true)
	want = append([][]byte{[]byte("head")}, want...)
	got := l.elems()
	if len(got) != len(want) {
		t.Fatalf("%d elements, want %d", len(got), len(want))
	}
	for i := range got {
		if string(got[i]) != string(want[i]) {
			t.Fatalf("element %d = %q, want %q", i, got[i], want[i])
		}
	}
	prev := int64(-1 << 63)
	l.tree.Scan(func(it litem) bool {
		if it.pos <= prev || it.pos < -listPosLimit || it.pos > listPosLimit {
			t.Fatalf("position %d after %d", it.pos, prev)
		}
		prev = it.pos
		return true
	})
}

// TestListPersistent checks that a stored list never changes: a snapshot
// taken before writes still holds the old contents.
func TestListPersistent(t *testing.T) {
	s := NewState()
	for i := range 500 {
		do(t, s, t0, "RPUSH big "+strconv.Itoa(i))
	}
	do(t, s, t0, "RPUSH small a b c")
	sn := s.Snapshot()
	for _, c := range []string{"LPOP big 3", "RPOP big", "LSET big 10 x", "LINSERT big BEFORE 20 y", "LREM big 0 30", "LTRIM big 5 -5", "LPUSH big z",
		"LPOP small", "RPUSH small d", "LSET small 0 q"} {
		do(t, s, t0, c)
	}
	r := NewState()
	var buf strings.Builder
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(strings.NewReader(buf.String())); err != nil {
		t.Fatal(err)
	}
	if got := do(t, r, t0, "LRANGE small 0 -1").String(); got != `["a" "b" "c"]` {
		t.Errorf("snapshot's small list: %s", got)
	}
	got := do(t, r, t0, "LRANGE big 0 -1")
	if len(got.Array) != 500 {
		t.Fatalf("snapshot's big list has %d elements", len(got.Array))
	}
	for i, e := range got.Array {
		if string(e.Bulk) != strconv.Itoa(i) {
			t.Fatalf("snapshot's big list element %d = %s", i, e)
		}
	}
}

func TestListSpecKeys(t *testing.T) {
	for _, c := range []struct{ cmd, keys string }{
		{"BLPOP a b 0", "a b"},
		{"BRPOP a 1", "a"},
		{"LMOVE a b LEFT RIGHT", "a b"},
		{"BLMOVE a b LEFT RIGHT 0", "a b"},
		{"RPOPLPUSH a b", "a b"},
		{"LMPOP 2 a b LEFT COUNT 3", "a b"},
		{"LMPOP 9 a b LEFT", ""},
		{"BLMPOP 0 3 a b c RIGHT", "a b c"},
	} {
		args := split(t, c.cmd)
		var got []string
		for _, k := range Lookup(args[0]).Keys(args) {
			got = append(got, string(k))
		}
		if strings.Join(got, " ") != c.keys {
			t.Errorf("Keys(%s) = %q, want %q", c.cmd, got, c.keys)
		}
	}
}

// TestListCrossSlot: with slot ownership, LMPOP and BLPOP-like commands
// refuse keys of several slots (routing saw only the first key of LMPOP).
func TestListCrossSlot(t *testing.T) {
	s := NewState()
	s.Apply(&pb.Command{NowMs: t0, Args: OwnArgs(Ownership{Epoch: 1, Ranges: []SlotRange{{0, Slots - 1}}})})
	for _, c := range []string{"LMPOP 2 a b LEFT", "BLMPOP 0 2 a b LEFT", "BLPOP a b 0"} {
		if got := do(t, s, t0, c).String(); got != "(error) CROSSSLOT Keys in request don't hash to the same slot" {
			t.Errorf("%s = %s", c, got)
		}
	}
	do(t, s, t0, "RPUSH {t}b x")
	if got := do(t, s, t0, "LMPOP 2 {t}a {t}b LEFT").String(); got != `["{t}b" ["x"]]` {
		t.Errorf("LMPOP in one slot = %s", got)
	}
}
