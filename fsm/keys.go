package fsm

import "math"

// The commands on keys of any type: deletion, existence, type, expiry, and
// the whole keyspace.

// ExpireCommand is the name of the internal command the leader proposes for
// active expiry: "__expire key..." with keys from Machine.ExpiredKeys.
// Clients cannot call it (FlagInternal: Lookup does not find it).
const ExpireCommand = "__expire"

func init() {
	const (
		wf = FlagWrite | FlagFast
		rf = FlagReadonly | FlagFast
	)
	register(
		&Spec{Name: "del", Arity: -2, Flags: FlagWrite, FirstKey: 1, LastKey: -1, Step: 1, run: cmdDel},
		&Spec{Name: "unlink", Arity: -2, Flags: wf, FirstKey: 1, LastKey: -1, Step: 1, run: cmdDel},
		&Spec{Name: "exists", Arity: -2, Flags: rf, FirstKey: 1, LastKey: -1, Step: 1, run: cmdExists},
		&Spec{Name: "type", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdType},
		&Spec{Name: "expire", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdExpire},
		&Spec{Name: "pexpire", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPExpire},
		&Spec{Name: "expireat", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdExpireAt},
		&Spec{Name: "pexpireat", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPExpireAt},
		&Spec{Name: "ttl", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdTTL},
		&Spec{Name: "pttl", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPTTL},
		&Spec{Name: "expiretime", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdExpireTime},
		&Spec{Name: "pexpiretime", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPExpireTime},
		&Spec{Name: "persist", Arity: 2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdPersist},
		&Spec{Name: "dbsize", Arity: 1, Flags: rf, run: cmdDBSize},
		&Spec{Name: "flushall", Arity: -1, Flags: FlagWrite, run: cmdFlush},
		&Spec{Name: "flushdb", Arity: -1, Flags: FlagWrite, run: cmdFlush},
		&Spec{Name: ExpireCommand, Arity: -2, Flags: FlagWrite | FlagInternal, FirstKey: 1, LastKey: -1, Step: 1, run: cmdActiveExpire},
	)
}

// cmdDel is DEL and UNLINK: the number of keys that existed (an expired key
// is removed but not counted).
func cmdDel(s *State, c Ctx, a [][]byte) Reply {
	n := 0
	for _, k := range a[1:] {
		if s.removeKey(k, c.NowMs) {
			n++
		}
	}
	return IntReply(int64(n))
}

// cmdExists counts the live keys among its arguments, a key named twice
// counting twice.
func cmdExists(s *State, c Ctx, a [][]byte) Reply {
	n := 0
	for _, k := range a[1:] {
		if _, ok := s.lookup(k, c.NowMs); ok {
			n++
		}
	}
	return IntReply(int64(n))
}

func cmdType(s *State, c Ctx, a [][]byte) Reply {
	e, ok := s.lookup(a[1], c.NowMs)
	if !ok {
		return StatusReply("none")
	}
	return StatusReply(e.val.typ.typeName())
}

// Options of the EXPIRE family.
const (
	expNX = 1 << iota // only if the key has no expiry
	expXX             // only if it has one
	expGT             // only if the new expiry is later (no expiry counts as infinite)
	expLT             // only if the new expiry is earlier
)

func cmdExpire(s *State, c Ctx, a [][]byte) Reply {
	return s.expire(c.NowMs, a, c.NowMs, true, "expire")
}
func cmdPExpire(s *State, c Ctx, a [][]byte) Reply {
	return s.expire(c.NowMs, a, c.NowMs, false, "pexpire")
}
func cmdExpireAt(s *State, c Ctx, a [][]byte) Reply { return s.expire(c.NowMs, a, 0, true, "expireat") }
func cmdPExpireAt(s *State, c Ctx, a [][]byte) Reply {
	return s.expire(c.NowMs, a, 0, false, "pexpireat")
}

// expire is "EXPIRE key time [NX|XX|GT|LT]" and its variants: time counts
// from base (now, or 0 for the absolute forms), in seconds or ms. Options
// are checked first, then the time, then the key; a time at or before now
// deletes the key.
func (s *State) expire(now int64, a [][]byte, base int64, seconds bool, cmd string) Reply {
	flags := 0
	for _, o := range a[3:] {
		switch {
		case eqFold(o, "nx"):
			flags |= expNX
		case eqFold(o, "xx"):
			flags |= expXX
		case eqFold(o, "gt"):
			flags |= expGT
		case eqFold(o, "lt"):
			flags |= expLT
		default:
			return errorText("ERR Unsupported option " + string(o))
		}
	}
	if flags&expNX != 0 && flags&(expXX|expGT|expLT) != 0 {
		return ErrorReply("ERR NX and XX, GT or LT options at the same time are not compatible")
	}
	if flags&expGT != 0 && flags&expLT != 0 {
		return ErrorReply("ERR GT and LT options at the same time are not compatible")
	}
	when, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	if seconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			return invalidExpire(cmd)
		}
		when *= 1000
	}
	if when > math.MaxInt64-base {
		return invalidExpire(cmd)
	}
	when += base
	e, found := s.lookupWrite(a[1], now)
	if !found {
		return replyZero
	}
	cur := e.exp // 0: none
	switch {
	case flags&expNX != 0 && cur != 0,
		flags&expXX != 0 && cur == 0,
		flags&expGT != 0 && (cur == 0 || when <= cur),
		flags&expLT != 0 && cur != 0 && when >= cur:
		return replyZero
	}
	if when <= now {
		s.remove(e)
	} else {
		s.setExpiry(e, when)
	}
	return replyOne
}

// ttl is TTL/PTTL/EXPIRETIME/PEXPIRETIME: -2 for no key, -1 for no expiry,
// else the time left (or the expiry time if abs), in ms or rounded seconds.
func (s *State) ttl(now int64, key []byte, ms, abs bool) Reply {
	e, ok := s.lookup(key, now)
	if !ok {
		return IntReply(-2)
	}
	if e.exp == 0 {
		return IntReply(-1)
	}
	t := e.exp
	if !abs {
		t = max(e.exp-now, 0)
	}
	if !ms {
		t = (t + 500) / 1000
	}
	return IntReply(t)
}

func cmdTTL(s *State, c Ctx, a [][]byte) Reply  { return s.ttl(c.NowMs, a[1], false, false) }
func cmdPTTL(s *State, c Ctx, a [][]byte) Reply { return s.ttl(c.NowMs, a[1], true, false) }
func cmdExpireTime(s *State, c Ctx, a [][]byte) Reply {
	return s.ttl(c.NowMs, a[1], false, true)
}
func cmdPExpireTime(s *State, c Ctx, a [][]byte) Reply {
	return s.ttl(c.NowMs, a[1], true, true)
}

func cmdPersist(s *State, c Ctx, a [][]byte) Reply {
	e, ok := s.lookupWrite(a[1], c.NowMs)
	if !ok || e.exp == 0 {
		return replyZero
	}
	s.setExpiry(e, 0)
	return replyOne
}

// cmdDBSize counts the keys live at the command's time. (Redis also counts
// expired keys it has not removed yet; here removal waits for the leader's
// next __expire, so counting them would make the reply depend on when that
// ran.)
func cmdDBSize(s *State, c Ctx, a [][]byte) Reply { return IntReply(int64(s.liveCount(c.NowMs))) }

// cmdFlush is FLUSHALL and FLUSHDB [ASYNC|SYNC] (one keyspace per group, so
// they are the same; the mode changes nothing here).
func cmdFlush(s *State, c Ctx, a [][]byte) Reply {
	if len(a) > 2 || (len(a) == 2 && !eqFold(a[1], "async") && !eqFold(a[1], "sync")) {
		return replySyntax
	}
	s.flush()
	return ReplyOK
}

// cmdActiveExpire is "__expire key...": it deletes each key that is still
// expired at the command's time (the key may have been rewritten or given a
// new expiry since the leader chose it) and replies with the number deleted.
func cmdActiveExpire(s *State, c Ctx, a [][]byte) Reply {
	n := 0
	for _, k := range a[1:] {
		if e, ok := s.find(k); ok && !e.liveAt(c.NowMs) {
			s.remove(e)
			n++
		}
	}
	return IntReply(int64(n))
}
