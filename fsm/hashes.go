package fsm

import (
	"math"
	"strconv"
)

// The hash type and its commands. A hash is a tree of (field, value) items
// in (hash of field, field) order; see objects.go for how it changes and
// is shared.

type hashItem struct {
	h    uint64 // elemHash(f)
	f, v string
}

func hashItemLess(a, b hashItem) bool {
	if a.h != b.h {
		return a.h < b.h
	}
	return a.f < b.f
}

// hashObj is a hash value (typeHash).
type hashObj struct {
	gen   uint64 // the State.gen it was made in; see objects.go
	large bool   // hashtable encoding (else listpack)
	t     ordered[hashItem]
}

func newHashObj(gen uint64) *hashObj {
	return &hashObj{gen: gen, t: newOrdered(hashItemLess)}
}

func (o *hashObj) clone(gen uint64) *hashObj {
	return &hashObj{gen: gen, large: o.large, t: o.t.copy()}
}

func (o *hashObj) len() int { return o.t.Len() }

// hashProbe is a search item for field f (aliasing it: never stored).
func hashProbe(f []byte) hashItem { return hashItem{h: elemHash(f), f: bstr(f)} }

func (o *hashObj) get(f []byte) (hashItem, bool) { return o.t.Get(hashProbe(f)) }

// set sets field f to v (both copied) and reports whether f is new. The
// encoding turns large as in Redis: a field or value longer than
// hash-max-listpack-value, or more than hash-max-listpack-entries fields.
func (o *hashObj) set(f, v []byte) bool {
	if len(f) > hashMaxListpackValue || len(v) > hashMaxListpackValue {
		o.large = true
	}
	p := hashProbe(f)
	if old, ok := o.t.Get(p); ok {
		old.v = string(v)
		o.t.Set(old)
		return false
	}
	p.f, p.v = string(f), string(v)
	o.t.Set(p)
	if o.t.Len() > hashMaxListpackEntries {
		o.large = true
	}
	return true
}

func (o *hashObj) del(f []byte) bool {
	_, ok := o.t.Delete(hashProbe(f))
	return ok
}

// checkLong turns the encoding large if any of args is longer than
// hash-max-listpack-value, as Redis checks HSET's arguments before it sets
// anything.
func (o *hashObj) checkLong(args [][]byte) {
	for _, a := range args {
		if len(a) > hashMaxListpackValue {
			o.large = true
			return
		}
	}
}

func init() {
	const (
		wdf = FlagWrite | FlagDenyOOM | FlagFast
		wf  = FlagWrite | FlagFast
		rf  = FlagReadonly | FlagFast
		r   = FlagReadonly
	)
	register(
		&Spec{Name: "hset", Arity: -4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHSet},
		&Spec{Name: "hmset", Arity: -4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHMSet},
		&Spec{Name: "hsetnx", Arity: 4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHSetNX},
		&Spec{Name: "hget", Arity: 3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHGet},
		&Spec{Name: "hmget", Arity: -3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHMGet},
		&Spec{Name: "hdel", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHDel},
		&Spec{Name: "hlen", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHLen},
		&Spec{Name: "hstrlen", Arity: 3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHStrlen},
		&Spec{Name: "hexists", Arity: 3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHExists},
		&Spec{Name: "hkeys", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHKeys},
		&Spec{Name: "hvals", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHVals},
		&Spec{Name: "hgetall", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHGetAll},
		&Spec{Name: "hincrby", Arity: 4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHIncrBy},
		&Spec{Name: "hincrbyfloat", Arity: 4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHIncrByFloat},
		&Spec{Name: "hrandfield", Arity: -2, Flags: r | FlagRandom, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHRandField},
		&Spec{Name: "hscan", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdHScan},
	)
}

// hashWrite returns the hash of key ready to change at the state's
// generation, creating an empty one (not yet stored) if the key is absent.
func (s *State) hashWrite(key []byte, now int64) (entry, *hashObj, Reply, bool) {
	e, found, wrong := s.lookupTypeWrite(key, now, typeHash)
	if wrong {
		return e, nil, replyWrongType, false
	}
	if !found {
		o := newHashObj(s.gen)
		return newObjEntry(key, 0, typeHash, o), o, Reply{}, true
	}
	o := hashOf(e)
	if o.gen != s.gen {
		o = o.clone(s.gen)
		e.val.obj = o
	}
	return e, o, Reply{}, true
}

// hashRead returns the hash of key for a read, nil if absent.
func (s *State) hashRead(key []byte, now int64) (*hashObj, bool) {
	e, found, wrong := s.lookupType(key, now, typeHash)
	if wrong {
		return nil, false
	}
	if !found {
		return nil, true
	}
	return hashOf(e), true
}

func cmdHSet(s *State, c Ctx, a [][]byte) Reply {
	if len(a)%2 == 1 {
		return wrongArgs("hset")
	}
	n, r, ok := s.hset(c.NowMs, a)
	if !ok {
		return r
	}
	return IntReply(int64(n))
}

func cmdHMSet(s *State, c Ctx, a [][]byte) Reply {
	if len(a)%2 == 1 {
		return wrongArgs("hmset")
	}
	if _, r, ok := s.hset(c.NowMs, a); !ok {
		return r
	}
	return ReplyOK
}

// hset sets the field-value pairs of a[2:] in the hash a[1] and returns the
// number of new fields.
func (s *State) hset(now int64, a [][]byte) (int, Reply, bool) {
	e, o, r, ok := s.hashWrite(a[1], now)
	if !ok {
		return 0, r, false
	}
	o.checkLong(a[2:])
	n := 0
	for i := 2; i < len(a); i += 2 {
		if o.set(a[i], a[i+1]) {
			n++
		}
	}
	s.store(e)
	return n, Reply{}, true
}

func cmdHSetNX(s *State, c Ctx, a [][]byte) Reply {
	e, o, r, ok := s.hashWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	if _, exists := o.get(a[2]); exists {
		return replyZero
	}
	o.set(a[2], a[3])
	s.store(e)
	return replyOne
}

func cmdHGet(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return ReplyNil
	}
	it, found := o.get(a[2])
	if !found {
		return ReplyNil
	}
	return BulkReply(stringBytes(it.v))
}

func cmdHMGet(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	out := make([]Reply, len(a)-2)
	for i, f := range a[2:] {
		if o == nil {
			continue
		}
		if it, found := o.get(f); found {
			out[i] = BulkReply(stringBytes(it.v))
		}
	}
	return ArrayReply(out)
}

func cmdHDel(s *State, c Ctx, a [][]byte) Reply {
	e, found, wrong := s.lookupTypeWrite(a[1], c.NowMs, typeHash)
	if wrong {
		return replyWrongType
	}
	if !found {
		return replyZero
	}
	o := hashOf(e)
	if o.gen != s.gen {
		o = o.clone(s.gen)
		e.val.obj = o
	}
	n := 0
	for _, f := range a[2:] {
		if o.del(f) {
			n++
		}
	}
	if n > 0 {
		s.saveObj(e, o.len())
	}
	return IntReply(int64(n))
}

func cmdHLen(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	return IntReply(int64(o.len()))
}

func cmdHStrlen(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	it, _ := o.get(a[2])
	return IntReply(int64(len(it.v)))
}

func cmdHExists(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	if _, found := o.get(a[2]); found {
		return replyOne
	}
	return replyZero
}

// hashList replies with the fields, the values, or both (a map).
func (s *State) hashList(now int64, key []byte, fields, values bool) Reply {
	o, ok := s.hashRead(key, now)
	if !ok {
		return replyWrongType
	}
	kind := KindArray
	if fields && values {
		kind = KindMap
	}
	if o == nil {
		return Reply{Kind: kind, Array: []Reply{}}
	}
	n := o.len()
	if fields && values {
		n *= 2
	}
	out := make([]Reply, 0, n)
	o.t.Scan(func(it hashItem) bool {
		if fields {
			out = append(out, BulkReply(stringBytes(it.f)))
		}
		if values {
			out = append(out, BulkReply(stringBytes(it.v)))
		}
		return true
	})
	return Reply{Kind: kind, Array: out}
}

func cmdHKeys(s *State, c Ctx, a [][]byte) Reply   { return s.hashList(c.NowMs, a[1], true, false) }
func cmdHVals(s *State, c Ctx, a [][]byte) Reply   { return s.hashList(c.NowMs, a[1], false, true) }
func cmdHGetAll(s *State, c Ctx, a [][]byte) Reply { return s.hashList(c.NowMs, a[1], true, true) }

func cmdHIncrBy(s *State, c Ctx, a [][]byte) Reply {
	incr, ok := parseInt(a[3])
	if !ok {
		return replyNotInteger
	}
	e, o, r, ok := s.hashWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	var cur int64
	if it, found := o.get(a[2]); found {
		if cur, ok = parseInt(stringBytes(it.v)); !ok {
			return ErrorReply("ERR hash value is not an integer")
		}
	}
	if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
		return ErrorReply(ErrOverflow)
	}
	n := cur + incr
	var buf [20]byte
	o.set(a[2], strconv.AppendInt(buf[:0], n, 10))
	s.store(e)
	return IntReply(n)
}

func cmdHIncrByFloat(s *State, c Ctx, a [][]byte) Reply {
	incr, ok := parseLongDouble(a[3])
	if !ok {
		return replyNotFloat
	}
	if incr.inf {
		return ErrorReply("ERR value is NaN or Infinity")
	}
	e, o, r, ok := s.hashWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	cur := []byte("0")
	if it, found := o.get(a[2]); found {
		cur = stringBytes(it.v)
		if _, ok := parseLongDouble(cur); !ok {
			return ErrorReply("ERR hash value is not a float")
		}
	}
	sum, r, ok := addFloats(cur, a[3])
	if !ok {
		if r.Str == ErrNotFloat { // cannot happen: both parsed above
			return ErrorReply("ERR hash value is not a float")
		}
		return r
	}
	o.set(a[2], sum)
	s.store(e)
	return BulkReply(sum)
}

// randCount parses the count of HRANDFIELD, ZRANDMEMBER and SRANDMEMBER:
// an integer in [-MaxInt64, MaxInt64], and with WITHVALUES/WITHSCORES
// within half of that, as Redis checks.
func randCount(a [][]byte, withOpt string) (count int64, with bool, r Reply, ok bool) {
	count, ok = parseInt(a[2])
	if !ok {
		return 0, false, replyNotInteger, false
	}
	if count == math.MinInt64 {
		return 0, false, ErrorReply("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"), false
	}
	if count < -maxRandomReply {
		return 0, false, ErrorReply("ERR value is out of range"), false
	}
	if len(a) > 4 || (len(a) == 4 && !eqFold(a[3], withOpt)) {
		return 0, false, replySyntax, false
	}
	if len(a) == 4 {
		if count < -math.MaxInt64/2 || count > math.MaxInt64/2 {
			return 0, false, ErrorReply("ERR value is out of range"), false
		}
		with = true
	}
	return count, with, Reply{}, true
}

func cmdHRandField(s *State, c Ctx, a [][]byte) Reply {
	if len(a) == 2 {
		o, ok := s.hashRead(a[1], c.NowMs)
		if !ok {
			return replyWrongType
		}
		if o == nil {
			return ReplyNil
		}
		rg := newRNG(c.Seed, a[1])
		it, _ := o.t.GetAt(rg.intn(o.len()))
		return BulkReply(stringBytes(it.f))
	}
	count, with, r, ok := randCount(a, "withvalues")
	if !ok {
		return r
	}
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	kind := KindArray
	if with {
		kind = KindPairs
	}
	if o == nil || count == 0 {
		return Reply{Kind: kind, Array: []Reply{}}
	}
	rg := newRNG(c.Seed, a[1])
	idx := rg.sample(o.len(), count)
	out := make([]Reply, 0, len(idx)*2)
	for _, i := range idx {
		it, _ := o.t.GetAt(i)
		out = append(out, BulkReply(stringBytes(it.f)))
		if with {
			out = append(out, BulkReply(stringBytes(it.v)))
		}
	}
	return Reply{Kind: kind, Array: out}
}

func cmdHScan(s *State, c Ctx, a [][]byte) Reply {
	cursor, ok := parseScanCursor(a[2])
	if !ok {
		return replyInvalidCursor
	}
	o, ok := s.hashRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return emptyScan()
	}
	opts, r, ok := parseScanOpts(a[3:], false)
	if !ok {
		return r
	}
	var out []Reply
	visit := func(it hashItem) {
		if opts.match(stringBytes(it.f)) {
			out = append(out, BulkReply(stringBytes(it.f)), BulkReply(stringBytes(it.v)))
		}
	}
	if !o.large {
		o.t.Scan(func(it hashItem) bool {
			visit(it)
			return true
		})
		return scanReply(0, out)
	}
	sc := scanCursor{count: opts.count}
	o.t.Ascend(hashItem{h: cursor}, func(it hashItem) bool {
		if !sc.step(it.h) {
			return false
		}
		visit(it)
		return true
	})
	return scanReply(sc.next, out)
}
