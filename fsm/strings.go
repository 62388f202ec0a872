package fsm

import (
	"math"
	"strconv"
)

// The string commands. Replies and error texts are Redis 7's; where Redis
// checks things in a particular order (argument syntax, then the key's
// type, then the value) so do these, since the order decides which error a
// client sees.

func init() {
	const (
		wd  = FlagWrite | FlagDenyOOM
		wdf = FlagWrite | FlagDenyOOM | FlagFast
		wf  = FlagWrite | FlagFast
		rf  = FlagReadonly | FlagFast
	)
	register(
		&Spec{Name: "get", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdGet},
		&Spec{Name: "set", Arity: -3, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSet},
		&Spec{Name: "setnx", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSetNX},
		&Spec{Name: "setex", Arity: 4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSetEX},
		&Spec{Name: "psetex", Arity: 4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPSetEX},
		&Spec{Name: "getset", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdGetSet},
		&Spec{Name: "getdel", Arity: 2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdGetDel},
		&Spec{Name: "getex", Arity: -2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdGetEx},
		&Spec{Name: "mget", Arity: -2, Flags: rf, FirstKey: 1, LastKey: -1, Step: 1, run: cmdMGet},
		&Spec{Name: "mset", Arity: -3, Flags: wd, FirstKey: 1, LastKey: -1, Step: 2, run: cmdMSet},
		&Spec{Name: "msetnx", Arity: -3, Flags: wd, FirstKey: 1, LastKey: -1, Step: 2, run: cmdMSetNX},
		&Spec{Name: "append", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdAppend},
		&Spec{Name: "strlen", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdStrlen},
		&Spec{Name: "getrange", Arity: 4, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, Step: 1, run: cmdGetRange},
		&Spec{Name: "setrange", Arity: 4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSetRange},
		&Spec{Name: "incr", Arity: 2, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdIncr},
		&Spec{Name: "decr", Arity: 2, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdDecr},
		&Spec{Name: "incrby", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdIncrBy},
		&Spec{Name: "decrby", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdDecrBy},
		&Spec{Name: "incrbyfloat", Arity: 3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdIncrByFloat},
	)
}

// readString returns the string value of key at now for a read. ok is false
// if the key is absent; wrong is true if it holds another type.
func (s *State) readString(key []byte, now int64) (val []byte, ok, wrong bool) {
	e, found := s.lookup(key, now)
	if !found {
		return nil, false, false
	}
	if e.val.typ != typeString {
		return nil, false, true
	}
	return e.val.str(), true, false
}

// writeString is readString for write commands (it removes an expired key);
// it returns the whole entry.
func (s *State) writeString(key []byte, now int64) (e entry, ok, wrong bool) {
	e, found := s.lookupWrite(key, now)
	if !found {
		return entry{}, false, false
	}
	if e.val.typ != typeString {
		return entry{}, false, true
	}
	return e, true, false
}

func cmdGet(s *State, c Ctx, a [][]byte) Reply {
	v, ok, wrong := s.readString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if !ok {
		return ReplyNil
	}
	return BulkReply(v)
}

func cmdSet(s *State, c Ctx, a [][]byte) Reply {
	o, ok := parseStrOpts(a[3:], false)
	if !ok {
		return replySyntax
	}
	var exp int64
	if o.unit != unitNone {
		var r Reply
		if exp, r, ok = expireAt(o.expArg, o.unit, c.NowMs, "set"); !ok {
			return r
		}
	}
	return s.set(c.NowMs, a[1], a[2], o, exp)
}

// set is SET key val with parsed options o and expiry exp (0: none).
func (s *State) set(now int64, key, val []byte, o strOpts, exp int64) Reply {
	if !o.nx && !o.xx && !o.get && !o.keepTTL {
		// The common case needs no lookup: an old value of any type, live or
		// expired, is replaced.
		s.storeString(key, val, exp, now)
		return ReplyOK
	}
	old, found := s.lookupWrite(key, now)
	reply := ReplyOK
	if o.get {
		switch {
		case !found:
			reply = ReplyNil
		case old.val.typ != typeString:
			return replyWrongType
		default:
			reply = BulkReply(old.val.str())
		}
	}
	if (o.nx && found) || (o.xx && !found) {
		if o.get {
			return reply
		}
		return ReplyNil
	}
	if o.keepTTL && found {
		exp = old.exp
	}
	s.storeString(key, val, exp, now)
	return reply
}

// storeString stores a copy of val under key with expiry exp, replacing any
// value. An absolute expiry already in the past (SET ... PXAT) leaves the key
// absent, which is what a reader would see anyway.
func (s *State) storeString(key, val []byte, exp, now int64) {
	if exp != 0 && exp < now {
		s.removeKey(key, now)
		return
	}
	s.store(stringEntry(key, val, exp))
}

func cmdSetNX(s *State, c Ctx, a [][]byte) Reply {
	if _, found := s.lookupWrite(a[1], c.NowMs); found {
		return replyZero
	}
	s.store(stringEntry(a[1], a[2], 0))
	return replyOne
}

func cmdSetEX(s *State, c Ctx, a [][]byte) Reply  { return setWithExpiry(s, c, a, unitEX, "setex") }
func cmdPSetEX(s *State, c Ctx, a [][]byte) Reply { return setWithExpiry(s, c, a, unitPX, "psetex") }

// setWithExpiry is SETEX/PSETEX key time value.
func setWithExpiry(s *State, c Ctx, a [][]byte, unit int, cmd string) Reply {
	exp, r, ok := expireAt(a[2], unit, c.NowMs, cmd)
	if !ok {
		return r
	}
	s.storeString(a[1], a[3], exp, c.NowMs)
	return ReplyOK
}

func cmdGetSet(s *State, c Ctx, a [][]byte) Reply {
	return s.set(c.NowMs, a[1], a[2], strOpts{get: true}, 0)
}

func cmdGetDel(s *State, c Ctx, a [][]byte) Reply {
	e, ok, wrong := s.writeString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if !ok {
		return ReplyNil
	}
	s.remove(e)
	return BulkReply(e.val.str())
}

func cmdGetEx(s *State, c Ctx, a [][]byte) Reply {
	o, ok := parseStrOpts(a[2:], true)
	if !ok {
		return replySyntax
	}
	// Redis looks the key up before it validates the expiry: GETEX of an
	// absent key with a bad time is a nil, not an error.
	e, ok, wrong := s.writeString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if !ok {
		return ReplyNil
	}
	switch {
	case o.unit != unitNone:
		exp, r, ok := expireAt(o.expArg, o.unit, c.NowMs, "getex")
		if !ok {
			return r
		}
		if exp <= c.NowMs { // only an absolute time can be
			s.remove(e)
		} else {
			s.setExpiry(e, exp)
		}
	case o.persist:
		s.setExpiry(e, 0)
	}
	return BulkReply(e.val.str())
}

func cmdMGet(s *State, c Ctx, a [][]byte) Reply {
	out := make([]Reply, len(a)-1)
	for i, k := range a[1:] {
		if v, ok, _ := s.readString(k, c.NowMs); ok {
			out[i] = BulkReply(v)
		} // absent or another type: nil
	}
	return ArrayReply(out)
}

func cmdMSet(s *State, c Ctx, a [][]byte) Reply {
	if len(a)%2 == 0 {
		return wrongArgs("mset")
	}
	for i := 1; i < len(a); i += 2 {
		s.store(stringEntry(a[i], a[i+1], 0))
	}
	return ReplyOK
}

func cmdMSetNX(s *State, c Ctx, a [][]byte) Reply {
	if len(a)%2 == 0 {
		return wrongArgs("msetnx")
	}
	for i := 1; i < len(a); i += 2 {
		if _, found := s.lookupWrite(a[i], c.NowMs); found {
			return replyZero
		}
	}
	for i := 1; i < len(a); i += 2 {
		s.store(stringEntry(a[i], a[i+1], 0))
	}
	return replyOne
}

func cmdAppend(s *State, c Ctx, a [][]byte) Reply {
	e, ok, wrong := s.writeString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if !ok {
		s.store(stringEntry(a[1], a[2], 0))
		return IntReply(int64(len(a[2])))
	}
	old := e.val.str()
	total := int64(len(old)) + int64(len(a[2]))
	if total > maxStringLen {
		return ErrorReply(ErrStringTooLong)
	}
	ne, v := allocEntry(a[1], int(total), e.exp)
	copy(v, old)
	copy(v[len(old):], a[2])
	s.store(ne)
	return IntReply(total)
}

func cmdStrlen(s *State, c Ctx, a [][]byte) Reply {
	v, _, wrong := s.readString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	return IntReply(int64(len(v)))
}

func cmdGetRange(s *State, c Ctx, a [][]byte) Reply {
	start, ok1 := parseInt(a[2])
	end, ok2 := parseInt(a[3])
	if !ok1 || !ok2 {
		return replyNotInteger
	}
	v, ok, wrong := s.readString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if !ok {
		return replyEmptyBulk
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		return replyEmptyBulk
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	start = max(start, 0)
	end = max(end, 0)
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		return replyEmptyBulk
	}
	return BulkReply(v[start : end+1])
}

func cmdSetRange(s *State, c Ctx, a [][]byte) Reply {
	off, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	if off < 0 {
		return ErrorReply("ERR offset is out of range")
	}
	val := a[3]
	e, found, wrong := s.writeString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	var old []byte
	if found {
		old = e.val.str()
	}
	if len(val) == 0 {
		// Setting nothing changes nothing and creates no key.
		return IntReply(int64(len(old)))
	}
	if off > maxStringLen || off+int64(len(val)) > maxStringLen {
		return ErrorReply(ErrStringTooLong)
	}
	n := max(int64(len(old)), off+int64(len(val)))
	ne, v := allocEntry(a[1], int(n), e.exp) // zeroed: the padding
	copy(v, old)
	copy(v[off:], val)
	s.store(ne)
	return IntReply(n)
}

func cmdIncr(s *State, c Ctx, a [][]byte) Reply { return s.incrBy(c.NowMs, a[1], 1) }
func cmdDecr(s *State, c Ctx, a [][]byte) Reply { return s.incrBy(c.NowMs, a[1], -1) }

func cmdIncrBy(s *State, c Ctx, a [][]byte) Reply {
	d, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	return s.incrBy(c.NowMs, a[1], d)
}

func cmdDecrBy(s *State, c Ctx, a [][]byte) Reply {
	d, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	if d == math.MinInt64 {
		return ErrorReply("ERR decrement would overflow")
	}
	return s.incrBy(c.NowMs, a[1], -d)
}

// incrBy adds d to the integer in key (0 if absent), keeping its expiry.
func (s *State) incrBy(now int64, key []byte, d int64) Reply {
	e, found, wrong := s.writeString(key, now)
	if wrong {
		return replyWrongType
	}
	var cur int64
	if found {
		var ok bool
		if cur, ok = parseInt(e.val.str()); !ok {
			return replyNotInteger
		}
	}
	if (d < 0 && cur < 0 && d < math.MinInt64-cur) || (d > 0 && cur > 0 && d > math.MaxInt64-cur) {
		return ErrorReply(ErrOverflow)
	}
	n := cur + d
	var buf [20]byte
	digits := strconv.AppendInt(buf[:0], n, 10)
	s.store(stringEntry(key, digits, e.exp))
	return IntReply(n)
}

func cmdIncrByFloat(s *State, c Ctx, a [][]byte) Reply {
	e, found, wrong := s.writeString(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	cur := []byte("0")
	if found {
		cur = e.val.str()
	}
	sum, r, ok := addFloats(cur, a[2])
	if !ok {
		return r
	}
	ne := stringEntry(a[1], sum, e.exp)
	s.store(ne)
	return BulkReply(ne.val.str())
}
