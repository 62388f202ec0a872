package fsm

import (
	"bytes"
	"flag"
	"math"
	"math/rand"
	"strconv"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

var stepsFlag = flag.Int("steps", 20000, "commands per randomized run")

// model is a second, deliberately naive implementation of the string
// commands: a map from key to value and expiry, where an expired entry is
// simply never looked at. It knows nothing of trees, indexes, lazy deletion
// or sharing.
type model struct {
	m     map[string]mentry
	clock int64
}

type mentry struct {
	v   string
	exp int64 // 0: none
}

func (m *model) get(k string, now int64) (mentry, bool) {
	e, ok := m.m[k]
	if !ok || (e.exp != 0 && now > e.exp) {
		return mentry{}, false
	}
	return e, true
}

func (m *model) live(now int64) map[string]mentry {
	out := map[string]mentry{}
	for k := range m.m {
		if e, ok := m.get(k, now); ok {
			out[k] = e
		}
	}
	return out
}

func mInt(n int64) Reply { return IntReply(n) }

// randCmd is a random command in the form both sides take: the model as a
// closure, the State as arguments.
type randCmd struct {
	args  []string
	model func(m *model, now int64) Reply
}

type gen struct {
	r *rand.Rand
}

func (g *gen) key() string { return "k" + strconv.Itoa(g.r.Intn(8)) }

func (g *gen) val() string {
	switch g.r.Intn(6) {
	case 0:
		return strconv.Itoa(g.r.Intn(200) - 100)
	case 1:
		return ""
	case 2:
		return "9223372036854775800"
	}
	b := make([]byte, g.r.Intn(6))
	for i := range b {
		b[i] = "ab 0\x00z"[g.r.Intn(6)]
	}
	return string(b)
}

func (g *gen) next(now int64) randCmd {
	k := g.key()
	switch g.r.Intn(24) {
	case 0, 1, 2:
		return g.set(k, now)
	case 3, 4:
		return randCmd{[]string{"GET", k}, func(m *model, now int64) Reply {
			if e, ok := m.get(k, now); ok {
				return BulkReply([]byte(e.v))
			}
			return ReplyNil
		}}
	case 5:
		k2 := g.key()
		return randCmd{[]string{"DEL", k, k2}, func(m *model, now int64) Reply {
			n := 0
			for _, x := range []string{k, k2} {
				if _, ok := m.get(x, now); ok {
					n++
				}
				delete(m.m, x)
			}
			return mInt(int64(n))
		}}
	case 6:
		k2 := g.key()
		return randCmd{[]string{"EXISTS", k, k2, k}, func(m *model, now int64) Reply {
			n := 0
			for _, x := range []string{k, k2, k} {
				if _, ok := m.get(x, now); ok {
					n++
				}
			}
			return mInt(int64(n))
		}}
	case 7:
		v := g.val()
		return randCmd{[]string{"APPEND", k, v}, func(m *model, now int64) Reply {
			e, _ := m.get(k, now)
			e.v += v
			m.m[k] = e
			return mInt(int64(len(e.v)))
		}}
	case 8:
		d := int64(g.r.Intn(21) - 10)
		if g.r.Intn(10) == 0 {
			d = math.MaxInt64 - int64(g.r.Intn(3))
		}
		return randCmd{[]string{"INCRBY", k, strconv.FormatInt(d, 10)}, func(m *model, now int64) Reply {
			e, _ := m.get(k, now)
			cur := int64(0)
			if _, ok := m.get(k, now); ok {
				n, err := strconv.ParseInt(e.v, 10, 64)
				if err != nil || strconv.FormatInt(n, 10) != e.v {
					return ErrorReply(ErrNotInteger)
				}
				cur = n
			}
			sum := cur + d
			if (d > 0 && sum < cur) || (d < 0 && sum > cur) {
				return ErrorReply(ErrOverflow)
			}
			e.v = strconv.FormatInt(sum, 10)
			m.m[k] = e
			return mInt(sum)
		}}
	case 9:
		return randCmd{[]string{"GETDEL", k}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			delete(m.m, k)
			if !ok {
				return ReplyNil
			}
			return BulkReply([]byte(e.v))
		}}
	case 10:
		v := g.val()
		return randCmd{[]string{"SETNX", k, v}, func(m *model, now int64) Reply {
			if _, ok := m.get(k, now); ok {
				return mInt(0)
			}
			m.m[k] = mentry{v: v}
			return mInt(1)
		}}
	case 11:
		k2, v1, v2 := g.key(), g.val(), g.val()
		return randCmd{[]string{"MSET", k, v1, k2, v2}, func(m *model, now int64) Reply {
			m.m[k] = mentry{v: v1}
			m.m[k2] = mentry{v: v2}
			return ReplyOK
		}}
	case 12:
		k2 := g.key()
		return randCmd{[]string{"MGET", k, k2}, func(m *model, now int64) Reply {
			out := make([]Reply, 2)
			for i, x := range []string{k, k2} {
				if e, ok := m.get(x, now); ok {
					out[i] = BulkReply([]byte(e.v))
				}
			}
			return ArrayReply(out)
		}}
	case 13, 14:
		return g.expire(k, now)
	case 15:
		return randCmd{[]string{"PERSIST", k}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			if !ok || e.exp == 0 {
				return mInt(0)
			}
			e.exp = 0
			m.m[k] = e
			return mInt(1)
		}}
	case 16:
		return randCmd{[]string{"PTTL", k}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			switch {
			case !ok:
				return mInt(-2)
			case e.exp == 0:
				return mInt(-1)
			}
			return mInt(e.exp - now)
		}}
	case 17:
		return randCmd{[]string{"PEXPIRETIME", k}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			switch {
			case !ok:
				return mInt(-2)
			case e.exp == 0:
				return mInt(-1)
			}
			return mInt(e.exp)
		}}
	case 18:
		start, end := g.r.Intn(16)-8, g.r.Intn(16)-8
		return randCmd{[]string{"GETRANGE", k, strconv.Itoa(start), strconv.Itoa(end)}, func(m *model, now int64) Reply {
			e, _ := m.get(k, now)
			n := len(e.v)
			if start < 0 && end < 0 && start > end {
				return BulkReply([]byte{})
			}
			s, t := start, end
			if s < 0 {
				s = max(n+s, 0)
			}
			if t < 0 {
				t = max(n+t, 0)
			}
			t = min(t, n-1)
			if s > t {
				return BulkReply([]byte{})
			}
			return BulkReply([]byte(e.v[s : t+1]))
		}}
	case 19:
		off, v := g.r.Intn(8), g.val()
		return randCmd{[]string{"SETRANGE", k, strconv.Itoa(off), v}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			if v == "" {
				return mInt(int64(len(e.v)))
			}
			if !ok {
				e = mentry{}
			}
			b := []byte(e.v)
			for len(b) < off+len(v) {
				b = append(b, 0)
			}
			copy(b[off:], v)
			e.v = string(b)
			m.m[k] = e
			return mInt(int64(len(b)))
		}}
	case 20:
		return randCmd{[]string{"DBSIZE"}, func(m *model, now int64) Reply {
			return mInt(int64(len(m.live(now))))
		}}
	case 21:
		return g.getex(k, now)
	case 22:
		v := g.val()
		return randCmd{[]string{"GETSET", k, v}, func(m *model, now int64) Reply {
			e, ok := m.get(k, now)
			m.m[k] = mentry{v: v}
			if !ok {
				return ReplyNil
			}
			return BulkReply([]byte(e.v))
		}}
	default:
		return randCmd{[]string{"STRLEN", k}, func(m *model, now int64) Reply {
			e, _ := m.get(k, now)
			return mInt(int64(len(e.v)))
		}}
	}
}

// set is a random valid SET with options.
func (g *gen) set(k string, now int64) randCmd {
	v := g.val()
	args := []string{"SET", k, v}
	nx, xx, get, keep := false, false, g.r.Intn(4) == 0, false
	switch g.r.Intn(4) {
	case 0:
		nx = true
		args = append(args, "NX")
	case 1:
		xx = true
		args = append(args, "XX")
	}
	if get {
		args = append(args, "GET")
	}
	var exp int64
	switch g.r.Intn(5) {
	case 0:
		d := int64(1 + g.r.Intn(100))
		args = append(args, "PX", strconv.FormatInt(d, 10))
		exp = now + d
	case 1:
		d := int64(1 + g.r.Intn(3))
		args = append(args, "EX", strconv.FormatInt(d, 10))
		exp = now + d*1000
	case 2:
		// An absolute time, possibly already past: the command carries the
		// time it was built at, applied at the state's clock.
		exp = now + int64(g.r.Intn(100)-20)
		args = append(args, "PXAT", strconv.FormatInt(exp, 10))
	case 3:
		keep = true
		args = append(args, "KEEPTTL")
	}
	return randCmd{args, func(m *model, now int64) Reply {
		e, found := m.get(k, now)
		reply := ReplyOK
		if get {
			reply = ReplyNil
			if found {
				reply = BulkReply([]byte(e.v))
			}
		}
		if (nx && found) || (xx && !found) {
			if get {
				return reply
			}
			return ReplyNil
		}
		ne := mentry{v: v, exp: exp}
		if keep && found {
			ne.exp = e.exp
		}
		m.m[k] = ne
		return reply
	}}
}

// expire is a random PEXPIRE or PEXPIREAT with options.
func (g *gen) expire(k string, now int64) randCmd {
	d := int64(g.r.Intn(120) - 20)
	abs := g.r.Intn(2) == 0
	args := []string{"PEXPIRE", k, strconv.FormatInt(d, 10)}
	if abs {
		args = []string{"PEXPIREAT", k, strconv.FormatInt(now+d, 10)}
	}
	opt := []string{"", "NX", "XX", "GT", "LT"}[g.r.Intn(5)]
	if opt != "" {
		args = append(args, opt)
	}
	return randCmd{args, func(m *model, now int64) Reply {
		when := now + d
		if abs {
			when, _ = strconv.ParseInt(args[2], 10, 64)
		}
		e, ok := m.get(k, now)
		if !ok {
			return mInt(0)
		}
		switch {
		case opt == "NX" && e.exp != 0, opt == "XX" && e.exp == 0,
			opt == "GT" && (e.exp == 0 || when <= e.exp), opt == "LT" && e.exp != 0 && when >= e.exp:
			return mInt(0)
		}
		if when <= now {
			delete(m.m, k)
		} else {
			e.exp = when
			m.m[k] = e
		}
		return mInt(1)
	}}
}

// getex is a random GETEX.
func (g *gen) getex(k string, now int64) randCmd {
	args := []string{"GETEX", k}
	kind := g.r.Intn(3)
	d := int64(1 + g.r.Intn(100))
	switch kind {
	case 1:
		args = append(args, "PX", strconv.FormatInt(d, 10))
	case 2:
		args = append(args, "PERSIST")
	}
	return randCmd{args, func(m *model, now int64) Reply {
		e, ok := m.get(k, now)
		if !ok {
			return ReplyNil
		}
		switch kind {
		case 1:
			e.exp = now + d
		case 2:
			e.exp = 0
		}
		m.m[k] = e
		return BulkReply([]byte(e.v))
	}}
}

func toArgs(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestModel applies random command sequences to a State and to the model
// and compares every reply and the final contents. Along the way it runs
// active expiry as a leader would, and replaces the State by a restored
// snapshot of itself now and then.
func TestModel(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	g := &gen{r: r}
	s := NewState()
	m := &model{m: map[string]mentry{}}
	now := int64(t0)
	for i := 0; i < *stepsFlag; i++ {
		// Time moves forward mostly, backwards sometimes (a new leader
		// whose clock is behind): both sides must use the monotonic clock.
		now += int64(r.Intn(12)) - 2
		switch r.Intn(50) {
		case 0: // active expiry, as the leader does it
			keys := s.expiredKeys(now, 1+r.Intn(4))
			for _, k := range keys {
				if _, ok := m.get(string(k), max(m.clock, now)); ok {
					t.Fatalf("step %d: ExpiredKeys returned live key %q", i, k)
				}
			}
			args := append([][]byte{[]byte(ExpireCommand)}, keys...)
			s.Apply(&pb.Command{NowMs: now, Args: args})
			m.clock = max(m.clock, now)
			continue
		case 1: // snapshot, restore, go on with the restored state
			var buf bytes.Buffer
			if _, err := s.Snapshot().WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			d := s.digest()
			s = NewState()
			if err := s.Restore(&buf); err != nil {
				t.Fatalf("step %d: restore: %v", i, err)
			}
			if s.digest() != d {
				t.Fatalf("step %d: digest changed by snapshot and restore", i)
			}
			continue
		}
		c := g.next(max(m.clock, now))
		args := toArgs(c.args)
		var got, want Reply
		if spec := findSpec(args[0]); spec.Flags&FlagReadonly != 0 && r.Intn(2) == 0 {
			// A read at max(now, clock), which it does not advance.
			got = s.Read(now, args)
			want = c.model(m, max(m.clock, now))
		} else {
			got = s.Apply(&pb.Command{NowMs: now, Args: args})
			m.clock = max(m.clock, now)
			want = c.model(m, m.clock)
		}
		if got.String() != want.String() {
			t.Fatalf("step %d @%d: %q\n got: %s\nwant: %s", i, m.clock-t0, c.args, got, want)
		}
		if s.clock != m.clock {
			t.Fatalf("step %d: clock %d, model %d", i, s.clock, m.clock)
		}
	}
	checkContents(t, s, m)
}

// checkContents compares the live keys of s and m at the model's clock,
// and checks the expiry index against the entries.
func checkContents(t *testing.T, s *State, m *model) {
	t.Helper()
	live := m.live(m.clock)
	n := 0
	s.keys.Scan(func(e entry) bool {
		if !e.liveAt(m.clock) {
			return true
		}
		n++
		me, ok := live[e.key]
		if !ok {
			t.Errorf("key %q live in the state, not in the model", e.key)
		} else if string(e.val.str()) != me.v || e.exp != me.exp {
			t.Errorf("key %q: state %q exp %d, model %q exp %d", e.key, e.val.str(), e.exp, me.v, me.exp)
		}
		return true
	})
	if n != len(live) {
		t.Errorf("%d live keys in the state, %d in the model", n, len(live))
	}
	checkIndex(t, s)
}

// checkIndex checks that the expiry index holds exactly the stored keys
// that have an expiry.
func checkIndex(t *testing.T, s *State) {
	t.Helper()
	n := 0
	s.keys.Scan(func(e entry) bool {
		if e.exp != 0 {
			n++
			if _, ok := s.exps.Get(expRef{at: e.exp, key: e.key}); !ok {
				t.Errorf("key %q (exp %d) missing from the expiry index", e.key, e.exp)
			}
		}
		return true
	})
	if n != s.exps.Len() {
		t.Errorf("expiry index has %d refs, %d keys have an expiry", s.exps.Len(), n)
	}
}
