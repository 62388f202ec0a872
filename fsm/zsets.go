package fsm

import (
	"math"
	"sort"
	"strconv"
)

// The sorted set commands (the value is in zsetobj.go). Argument checks run
// in Redis's order, since it decides which error a client sees: options,
// then the range or the scores, then the key's type.

func init() {
	const (
		wdf = FlagWrite | FlagDenyOOM | FlagFast
		wd  = FlagWrite | FlagDenyOOM
		wf  = FlagWrite | FlagFast
		w   = FlagWrite
		rf  = FlagReadonly | FlagFast
		r   = FlagReadonly
	)
	register(
		&Spec{Name: "zadd", Arity: -4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZAdd},
		&Spec{Name: "zincrby", Arity: 4, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZIncrBy},
		&Spec{Name: "zrem", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRem},
		&Spec{Name: "zscore", Arity: 3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZScore},
		&Spec{Name: "zmscore", Arity: -3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZMScore},
		&Spec{Name: "zcard", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZCard},
		&Spec{Name: "zcount", Arity: 4, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZCount},
		&Spec{Name: "zlexcount", Arity: 4, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZLexCount},
		&Spec{Name: "zrank", Arity: -3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRank},
		&Spec{Name: "zrevrank", Arity: -3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRevRank},
		&Spec{Name: "zrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRange},
		&Spec{Name: "zrevrange", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRevRange},
		&Spec{Name: "zrangebyscore", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRangeByScore},
		&Spec{Name: "zrevrangebyscore", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRevRangeByScore},
		&Spec{Name: "zrangebylex", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRangeByLex},
		&Spec{Name: "zrevrangebylex", Arity: -4, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRevRangeByLex},
		&Spec{Name: "zrangestore", Arity: -5, Flags: wd, FirstKey: 1, LastKey: 2, Step: 1, run: cmdZRangeStore},
		&Spec{Name: "zpopmin", Arity: -2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZPopMin},
		&Spec{Name: "zpopmax", Arity: -2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZPopMax},
		&Spec{Name: "zrandmember", Arity: -2, Flags: r | FlagRandom, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRandMember},
		&Spec{Name: "zremrangebyrank", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRemRangeByRank},
		&Spec{Name: "zremrangebyscore", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRemRangeByScore},
		&Spec{Name: "zremrangebylex", Arity: 4, Flags: w, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZRemRangeByLex},
		&Spec{Name: "zunionstore", Arity: -4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, keys: numKeys(2, 1), run: cmdZUnionStore},
		&Spec{Name: "zinterstore", Arity: -4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, keys: numKeys(2, 1), run: cmdZInterStore},
		&Spec{Name: "zdiffstore", Arity: -4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, keys: numKeys(2, 1), run: cmdZDiffStore},
		&Spec{Name: "zunion", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdZUnion},
		&Spec{Name: "zinter", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdZInter},
		&Spec{Name: "zdiff", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdZDiff},
		&Spec{Name: "zintercard", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdZInterCard},
		&Spec{Name: "zscan", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdZScan},
	)
}

var (
	replyNaNScore   = ErrorReply("ERR resulting score is not a number (NaN)")
	replyNotFloatMM = ErrorReply("ERR min or max is not a float")
	replyNotLexMM   = ErrorReply("ERR min or max not valid string range item")
)

func doubleReply(f float64) Reply { return Reply{Kind: KindDouble, Dbl: f} }

// formatScore renders a score as Redis does in ZSCAN and as a RESP2
// double: "%.17g", with "inf" and "-inf".
func formatScore(f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	}
	return strconv.AppendFloat(nil, f, 'g', 17, 64)
}

// zsetRead returns the sorted set of key for a read (nil if absent); ok is
// false if the key holds another type.
func (s *State) zsetRead(key []byte, now int64) (*zsetObj, bool) {
	e, found, wrong := s.lookupType(key, now, typeZSet)
	if wrong {
		return nil, false
	}
	if !found {
		return nil, true
	}
	return zsetOf(e), true
}

// zsetWrite returns the sorted set of key ready to change at the state's
// generation; found is false if the key is absent (o is then nil).
func (s *State) zsetWrite(key []byte, now int64) (e entry, o *zsetObj, found bool, r Reply, ok bool) {
	e, found, wrong := s.lookupTypeWrite(key, now, typeZSet)
	if wrong {
		return e, nil, false, replyWrongType, false
	}
	if !found {
		return e, nil, false, Reply{}, true
	}
	o = zsetOf(e)
	if o.gen != s.gen {
		o = o.clone(s.gen)
		e.val.obj = o
	}
	return e, o, true, Reply{}, true
}

// ZADD flags.
const (
	zaddNX = 1 << iota
	zaddXX
	zaddGT
	zaddLT
	zaddIncr
)

// Outcomes of zsetAdd.
const (
	zaddNop = iota
	zaddAdded
	zaddUpdated
	zaddUnchanged // present, score equal: processed but not updated
	zaddNaN
)

// add is Redis's zsetAdd: it returns the outcome and the element's score
// afterwards (for INCR).
func (o *zsetObj) add(m []byte, score float64, flags int) (int, float64) {
	if isNaN(score) {
		return zaddNaN, 0
	}
	it, found := o.dict.Get(zdProbe(m))
	if found {
		if flags&zaddNX != 0 {
			return zaddNop, 0
		}
		cur := it.score
		if flags&zaddIncr != 0 {
			score += cur
			if isNaN(score) {
				return zaddNaN, 0
			}
		}
		if (flags&zaddLT != 0 && score >= cur) || (flags&zaddGT != 0 && score <= cur) {
			return zaddNop, 0
		}
		if score != cur {
			o.update(it, score)
			return zaddUpdated, score
		}
		return zaddUnchanged, score
	}
	if flags&zaddXX != 0 {
		return zaddNop, 0
	}
	o.insert(m, score)
	return zaddAdded, score
}

func cmdZAdd(s *State, c Ctx, a [][]byte) Reply {
	flags, ch := 0, false
	i := 2
parse:
	for ; i < len(a); i++ {
		switch {
		case eqFold(a[i], "nx"):
			flags |= zaddNX
		case eqFold(a[i], "xx"):
			flags |= zaddXX
		case eqFold(a[i], "ch"):
			ch = true
		case eqFold(a[i], "incr"):
			flags |= zaddIncr
		case eqFold(a[i], "gt"):
			flags |= zaddGT
		case eqFold(a[i], "lt"):
			flags |= zaddLT
		default:
			break parse
		}
	}
	return s.zadd(c.NowMs, a[1], a[i:], flags, ch)
}

func cmdZIncrBy(s *State, c Ctx, a [][]byte) Reply {
	return s.zadd(c.NowMs, a[1], a[2:], zaddIncr, false)
}

// zadd is ZADD key with flags and score-member pairs.
func (s *State) zadd(now int64, key []byte, pairs [][]byte, flags int, ch bool) Reply {
	if len(pairs) == 0 || len(pairs)%2 != 0 {
		return replySyntax
	}
	n := len(pairs) / 2
	nx, xx, gt, lt, incr := flags&zaddNX != 0, flags&zaddXX != 0, flags&zaddGT != 0, flags&zaddLT != 0, flags&zaddIncr != 0
	if nx && xx {
		return ErrorReply("ERR XX and NX options at the same time are not compatible")
	}
	if (gt && nx) || (lt && nx) || (gt && lt) {
		return ErrorReply("ERR GT, LT, and/or NX options at the same time are not compatible")
	}
	if incr && n > 1 {
		return ErrorReply("ERR INCR option supports a single increment-element pair")
	}
	scores := make([]float64, n)
	for j := range scores {
		v, ok := parseScore(pairs[2*j])
		if !ok {
			return replyNotFloat
		}
		scores[j] = v
	}
	e, o, found, r, ok := s.zsetWrite(key, now)
	if !ok {
		return r
	}
	if !found {
		if xx {
			if incr {
				return ReplyNil
			}
			return replyZero
		}
		o = newZSetObj(s.gen)
		// Redis picks the encoding of a new sorted set by its first member.
		o.large = len(pairs[1]) > zsetMaxListpackValue
		e = newObjEntry(key, 0, typeZSet, o)
	}
	added, updated, processed := 0, 0, 0
	var score float64
	for j := 0; j < n; j++ {
		res, ns := o.add(pairs[2*j+1], scores[j], flags)
		switch res {
		case zaddNaN:
			return replyNaNScore
		case zaddAdded:
			added++
		case zaddUpdated:
			updated++
		}
		if res != zaddNop {
			processed++
			score = ns
		}
	}
	if added+updated > 0 {
		s.store(e)
	}
	if incr {
		if processed > 0 {
			return doubleReply(score)
		}
		return ReplyNil
	}
	if ch {
		return IntReply(int64(added + updated))
	}
	return IntReply(int64(added))
}

func cmdZRem(s *State, c Ctx, a [][]byte) Reply {
	e, o, found, r, ok := s.zsetWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	if !found {
		return replyZero
	}
	n := 0
	for _, m := range a[2:] {
		if o.remove(m) {
			n++
		}
	}
	if n > 0 {
		s.saveObj(e, o.len())
	}
	return IntReply(int64(n))
}

func cmdZScore(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return ReplyNil
	}
	if v, found := o.score(a[2]); found {
		return doubleReply(v)
	}
	return ReplyNil
}

func cmdZMScore(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	out := make([]Reply, len(a)-2)
	for i, m := range a[2:] {
		if o == nil {
			continue
		}
		if v, found := o.score(m); found {
			out[i] = doubleReply(v)
		}
	}
	return ArrayReply(out)
}

func cmdZCard(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	return IntReply(int64(o.len()))
}

func cmdZCount(s *State, c Ctx, a [][]byte) Reply {
	rg, ok := parseScoreRange(a[2], a[3])
	if !ok {
		return replyNotFloatMM
	}
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	return IntReply(int64(o.countIn(rg)))
}

func cmdZLexCount(s *State, c Ctx, a [][]byte) Reply {
	rg, ok := parseLexRange(a[2], a[3])
	if !ok {
		return replyNotLexMM
	}
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	return IntReply(int64(o.lexCount(rg)))
}

func cmdZRank(s *State, c Ctx, a [][]byte) Reply    { return s.zrank(c.NowMs, a, false) }
func cmdZRevRank(s *State, c Ctx, a [][]byte) Reply { return s.zrank(c.NowMs, a, true) }

// zrank is Z[REV]RANK key member [WITHSCORE].
func (s *State) zrank(now int64, a [][]byte, rev bool) Reply {
	if len(a) > 4 {
		return wrongArgs(string(lowerName(a[0])))
	}
	with := false
	if len(a) == 4 {
		if !eqFold(a[3], "withscore") {
			return replySyntax
		}
		with = true
	}
	none := ReplyNil
	if with {
		none = Reply{Kind: KindNilArray}
	}
	o, ok := s.zsetRead(a[1], now)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return none
	}
	it, found := o.dict.Get(zdProbe(a[2]))
	if !found {
		return none
	}
	rank := o.rank(zoItem{score: it.score, m: it.m})
	if rev {
		rank = o.len() - 1 - rank
	}
	if with {
		return ArrayReply([]Reply{IntReply(int64(rank)), doubleReply(it.score)})
	}
	return IntReply(int64(rank))
}

func lowerName(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// Kinds and directions of ZRANGE.
const (
	zrAuto = iota
	zrRank
	zrScore
	zrLex
)

const (
	dirAuto = iota
	dirFwd
	dirRev
)

func cmdZRange(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrAuto, dirAuto)
}
func cmdZRevRange(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrRank, dirRev)
}
func cmdZRangeByScore(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrScore, dirFwd)
}
func cmdZRevRangeByScore(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrScore, dirRev)
}
func cmdZRangeByLex(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrLex, dirFwd)
}
func cmdZRevRangeByLex(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 1, false, zrLex, dirRev)
}
func cmdZRangeStore(s *State, c Ctx, a [][]byte) Reply {
	return s.zrangeGeneric(c.NowMs, a, 2, true, zrAuto, dirAuto)
}

// zrangeGeneric is every form of ZRANGE: the key at a[k], then min, max and
// the options; store names the destination a[1] of ZRANGESTORE.
func (s *State) zrangeGeneric(now int64, a [][]byte, k int, store bool, kind, dir int) Reply {
	withScores := false
	var offset, limit int64 = 0, -1
	for j := k + 3; j < len(a); j++ {
		left := len(a) - j - 1
		switch {
		case !store && eqFold(a[j], "withscores"):
			withScores = true
		case eqFold(a[j], "limit") && left >= 2:
			var ok1, ok2 bool
			offset, ok1 = parseInt(a[j+1])
			limit, ok2 = parseInt(a[j+2])
			if !ok1 || !ok2 {
				return replyNotInteger
			}
			j += 2
		case dir == dirAuto && eqFold(a[j], "rev"):
			dir = dirRev
		case kind == zrAuto && eqFold(a[j], "bylex"):
			kind = zrLex
		case kind == zrAuto && eqFold(a[j], "byscore"):
			kind = zrScore
		default:
			return replySyntax
		}
	}
	if dir == dirAuto {
		dir = dirFwd
	}
	if kind == zrAuto {
		kind = zrRank
	}
	if limit != -1 && kind == zrRank {
		return ErrorReply("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
	}
	if withScores && kind == zrLex {
		return ErrorReply("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
	}
	rev := dir == dirRev
	minArg, maxArg := a[k+1], a[k+2]
	if rev && kind != zrRank {
		minArg, maxArg = maxArg, minArg
	}
	var (
		start, end int64
		sr         scoreRange
		lr         lexRange
		ok         bool
	)
	switch kind {
	case zrRank:
		var ok1, ok2 bool
		start, ok1 = parseInt(minArg)
		end, ok2 = parseInt(maxArg)
		if !ok1 || !ok2 {
			return replyNotInteger
		}
	case zrScore:
		if sr, ok = parseScoreRange(minArg, maxArg); !ok {
			return replyNotFloatMM
		}
	case zrLex:
		if lr, ok = parseLexRange(minArg, maxArg); !ok {
			return replyNotLexMM
		}
	}
	var o *zsetObj
	if store {
		e, found, wrong := s.lookupTypeWrite(a[k], now, typeZSet)
		if wrong {
			return replyWrongType
		}
		if found {
			o = zsetOf(e)
		}
	} else {
		if o, ok = s.zsetRead(a[k], now); !ok {
			return replyWrongType
		}
	}
	var items []zoItem
	known := -1 // the result's length if known in advance (rank ranges)
	if o != nil {
		switch kind {
		case zrRank:
			items = o.rankRange(start, end, rev)
			known = len(items)
		case zrScore:
			items = o.scoreRangeItems(sr, offset, limit, rev)
		case zrLex:
			items = o.lexRangeItems(lr, offset, limit, rev)
		}
	}
	if store {
		return s.storeZItems(now, a[1], items, known)
	}
	return zitemsReply(items, withScores)
}

// zitemsReply lists items, with their scores as pairs if withScores.
func zitemsReply(items []zoItem, withScores bool) Reply {
	if !withScores {
		out := make([]Reply, len(items))
		for i, it := range items {
			out[i] = BulkReply(stringBytes(it.m))
		}
		return ArrayReply(out)
	}
	out := make([]Reply, 0, 2*len(items))
	for _, it := range items {
		out = append(out, BulkReply(stringBytes(it.m)), doubleReply(it.score))
	}
	return Reply{Kind: KindPairs, Array: out}
}

// storeZItems stores items, in order, as a new sorted set under dst (any
// old value and expiry go), or deletes dst if there are none, as
// ZRANGESTORE does; known > zset-max-listpack-entries starts it large.
func (s *State) storeZItems(now int64, dst []byte, items []zoItem, known int) Reply {
	if len(items) == 0 {
		s.removeKey(dst, now)
		return replyZero
	}
	o := newZSetObj(s.gen)
	o.large = known > zsetMaxListpackEntries
	for _, it := range items {
		if len(it.m) > zsetMaxListpackValue || o.len()+1 > zsetMaxListpackEntries {
			o.large = true
		}
		o.insertItem(zdItem{h: elemHash(stringBytes(it.m)), m: it.m, score: it.score})
	}
	s.store(newObjEntry(dst, 0, typeZSet, o))
	return IntReply(int64(o.len()))
}

// rankRange returns the elements of ranks start..end (negative counts from
// the end; rev: ranks in descending order).
func (o *zsetObj) rankRange(start, end int64, rev bool) []zoItem {
	n := int64(o.len())
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= n {
		return nil
	}
	if end >= n {
		end = n - 1
	}
	items := make([]zoItem, 0, end-start+1)
	collect := func(it zoItem) bool {
		items = append(items, it)
		return int64(len(items)) < end-start+1
	}
	if rev {
		o.descend(int(n-1-start), collect)
	} else {
		o.ascend(int(start), collect)
	}
	return items
}

// walkRange collects the elements from rank first (moving down if rev)
// while in(element), skipping offset of them and keeping at most limit
// (negative: no limit), as Redis's LIMIT does: a negative offset skips
// everything.
func (o *zsetObj) walkRange(first int, in func(zoItem) bool, offset, limit int64, rev bool) []zoItem {
	if first < 0 || (offset > 0 && offset >= int64(o.len())) {
		return nil
	}
	var items []zoItem
	visit := func(it zoItem) bool {
		if offset != 0 {
			offset--
			return true
		}
		if limit == 0 || !in(it) {
			return false
		}
		limit--
		items = append(items, it)
		return true
	}
	if rev {
		o.descend(first, visit)
	} else {
		o.ascend(first, visit)
	}
	return items
}

// scoreRangeItems is walkRange over a score range, which finds its start
// by a search of the tree, O(log n), rather than by rank.
func (o *zsetObj) scoreRangeItems(r scoreRange, offset, limit int64, rev bool) []zoItem {
	if r.empty() || (offset > 0 && offset >= int64(o.len())) {
		return nil
	}
	var items []zoItem
	started := false
	visit := func(it zoItem) bool {
		if !started {
			// Before the range (equal scores under an exclusive bound), or
			// past it: the range is empty.
			near, far := r.gteMin(it.score), r.lteMax(it.score)
			if rev {
				near, far = far, near
			}
			if !near {
				return true
			}
			if !far {
				return false
			}
			started = true
		}
		if offset != 0 {
			offset--
			return true
		}
		if limit == 0 || (rev && !r.gteMin(it.score)) || (!rev && !r.lteMax(it.score)) {
			return false
		}
		limit--
		items = append(items, it)
		return true
	}
	switch {
	case !rev:
		o.order.Ascend(zoItem{score: r.min}, visit) // "" sorts first among equal scores
	case math.IsInf(r.max, 1):
		if last, ok := o.order.Max(); ok {
			o.order.Descend(last, visit)
		}
	default:
		// Everything up to max, and at most the one item (score just above
		// max, member "") that visit skips.
		o.order.Descend(zoItem{score: math.Nextafter(r.max, math.Inf(1))}, visit)
	}
	return items
}

func (o *zsetObj) lexRangeItems(r lexRange, offset, limit int64, rev bool) []zoItem {
	if rev {
		return o.walkRange(o.lexLastIn(r), func(it zoItem) bool { return r.gteMin(it.m) }, offset, limit, true)
	}
	return o.walkRange(o.lexFirstIn(r), func(it zoItem) bool { return r.lteMax(it.m) }, offset, limit, false)
}

func cmdZPopMin(s *State, c Ctx, a [][]byte) Reply { return s.zpop(c.NowMs, a, false) }
func cmdZPopMax(s *State, c Ctx, a [][]byte) Reply { return s.zpop(c.NowMs, a, true) }

// zpop is ZPOPMIN/ZPOPMAX key [count]: without a count a flat [member,
// score]; with one, pairs.
func (s *State) zpop(now int64, a [][]byte, top bool) Reply {
	if len(a) > 3 {
		return replySyntax
	}
	count := int64(-1)
	if len(a) == 3 {
		n, ok := parseInt(a[2])
		if !ok || n < 0 {
			return replyNotPositive // Redis says so of a non-integer too
		}
		count = n
	}
	e, o, found, r, ok := s.zsetWrite(a[1], now)
	if !ok {
		return r
	}
	if !found || count == 0 {
		return ArrayReply([]Reply{})
	}
	k := int(min(max(count, 1), int64(o.len())))
	out := make([]Reply, 0, 2*k)
	for range k {
		var it zoItem
		if top {
			it, _ = o.order.Max()
		} else {
			it, _ = o.order.Min()
		}
		o.removeItem(it)
		out = append(out, BulkReply(stringBytes(it.m)), doubleReply(it.score))
	}
	s.saveObj(e, o.len())
	if count < 0 {
		return ArrayReply(out)
	}
	return Reply{Kind: KindPairs, Array: out}
}

func cmdZRandMember(s *State, c Ctx, a [][]byte) Reply {
	if len(a) == 2 {
		o, ok := s.zsetRead(a[1], c.NowMs)
		if !ok {
			return replyWrongType
		}
		if o == nil {
			return ReplyNil
		}
		it := o.at(newRNG(c.Seed, a[1]).intn(o.len()))
		return BulkReply(stringBytes(it.m))
	}
	count, with, r, ok := randCount(a, "withscores")
	if !ok {
		return r
	}
	o, ok := s.zsetRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil || count == 0 {
		if with {
			return Reply{Kind: KindPairs, Array: []Reply{}}
		}
		return ArrayReply([]Reply{})
	}
	idx := newRNG(c.Seed, a[1]).sample(o.len(), count)
	items := make([]zoItem, len(idx))
	for i, j := range idx {
		items[i] = o.at(j)
	}
	return zitemsReply(items, with)
}

func cmdZRemRangeByRank(s *State, c Ctx, a [][]byte) Reply {
	start, ok1 := parseInt(a[2])
	end, ok2 := parseInt(a[3])
	if !ok1 || !ok2 {
		return replyNotInteger
	}
	return s.zremRange(c.NowMs, a[1], func(o *zsetObj) []zoItem { return o.rankRange(start, end, false) })
}

func cmdZRemRangeByScore(s *State, c Ctx, a [][]byte) Reply {
	rg, ok := parseScoreRange(a[2], a[3])
	if !ok {
		return replyNotFloatMM
	}
	return s.zremRange(c.NowMs, a[1], func(o *zsetObj) []zoItem { return o.scoreRangeItems(rg, 0, -1, false) })
}

func cmdZRemRangeByLex(s *State, c Ctx, a [][]byte) Reply {
	rg, ok := parseLexRange(a[2], a[3])
	if !ok {
		return replyNotLexMM
	}
	return s.zremRange(c.NowMs, a[1], func(o *zsetObj) []zoItem { return o.lexRangeItems(rg, 0, -1, false) })
}

// zremRange removes the elements sel chooses and replies with their number.
func (s *State) zremRange(now int64, key []byte, sel func(*zsetObj) []zoItem) Reply {
	e, o, found, r, ok := s.zsetWrite(key, now)
	if !ok {
		return r
	}
	if !found {
		return replyZero
	}
	items := sel(o)
	for _, it := range items {
		o.removeItem(it)
	}
	if len(items) > 0 {
		s.saveObj(e, o.len())
	}
	return IntReply(int64(len(items)))
}

// zsrc is an input of ZUNION, ZINTER and ZDIFF: a sorted set, a set
// (every score 1), or nothing (a missing key).
type zsrc struct {
	z      *zsetObj
	set    *setObj
	weight float64
}

func (z *zsrc) len() int {
	switch {
	case z.z != nil:
		return z.z.len()
	case z.set != nil:
		return z.set.len()
	}
	return 0
}

// each visits the elements in their hash order.
func (z *zsrc) each(fn func(m string, score float64) bool) {
	switch {
	case z.z != nil:
		z.z.dict.Scan(func(it zdItem) bool { return fn(it.m, it.score) })
	case z.set != nil:
		z.set.t.Scan(func(it setItem) bool { return fn(it.m, 1) })
	}
}

func (z *zsrc) find(m string) (float64, bool) {
	switch {
	case z.z != nil:
		return z.z.score(stringBytes(m))
	case z.set != nil:
		return 1, z.set.has(stringBytes(m))
	}
	return 0, false
}

// same reports whether two inputs are the same key's value.
func (z *zsrc) same(o *zsrc) bool {
	return (z.z != nil && z.z == o.z) || (z.set != nil && z.set == o.set)
}

// Aggregates of ZUNION and ZINTER.
const (
	aggSum = iota
	aggMin
	aggMax
)

func aggregate(target *float64, v float64, agg int) {
	switch agg {
	case aggSum:
		*target += v
		// inf + -inf is NaN; Redis makes it 0.
		if isNaN(*target) {
			*target = 0
		}
	case aggMin:
		if v < *target {
			*target = v
		}
	case aggMax:
		if v > *target {
			*target = v
		}
	}
}

// zsetOpArgs are the parsed arguments of ZUNION, ZINTER, ZDIFF, ZINTERCARD
// and the STORE forms.
type zsetOpArgs struct {
	srcs       []zsrc
	keys       [][]byte
	agg        int
	withScores bool
	limit      int64
}

// parseZSetOp parses numkeys at a[nk], the keys, and the options, in
// Redis's order: numkeys, the keys' types, then the options.
func (s *State) parseZSetOp(now int64, a [][]byte, nk int, op setOp, store, card bool, name string) (zsetOpArgs, Reply, bool) {
	var z zsetOpArgs
	n, ok := parseInt(a[nk])
	if !ok {
		return z, replyNotInteger, false
	}
	if n < 1 {
		return z, ErrorReply("ERR at least 1 input key is needed for '" + name + "' command"), false
	}
	if n > int64(len(a)-nk-1) {
		return z, replySyntax, false
	}
	z.keys = a[nk+1 : nk+1+int(n)]
	all := z.keys
	if store {
		all = append([][]byte{a[1]}, z.keys...)
	}
	if s.crossSlot(all) {
		return z, replyCrossSlot, false
	}
	z.srcs = make([]zsrc, n)
	for i, k := range z.keys {
		var e entry
		var found bool
		if store {
			e, found = s.lookupWrite(k, now)
		} else {
			e, found = s.lookup(k, now)
		}
		z.srcs[i].weight = 1
		if !found {
			continue
		}
		switch e.val.typ {
		case typeZSet:
			z.srcs[i].z = zsetOf(e)
		case typeSet:
			z.srcs[i].set = setOf(e)
		default:
			return z, replyWrongType, false
		}
	}
	for j := nk + 1 + int(n); j < len(a); {
		left := len(a) - j
		switch {
		case op != opDiff && !card && left >= int(n)+1 && eqFold(a[j], "weights"):
			j++
			for i := range z.srcs {
				w, ok := parseScore(a[j])
				if !ok {
					return z, ErrorReply("ERR weight value is not a float"), false
				}
				z.srcs[i].weight = w
				j++
			}
		case op != opDiff && !card && left >= 2 && eqFold(a[j], "aggregate"):
			switch {
			case eqFold(a[j+1], "sum"):
				z.agg = aggSum
			case eqFold(a[j+1], "min"):
				z.agg = aggMin
			case eqFold(a[j+1], "max"):
				z.agg = aggMax
			default:
				return z, replySyntax, false
			}
			j += 2
		case !store && !card && eqFold(a[j], "withscores"):
			z.withScores = true
			j++
		case card && left >= 2 && eqFold(a[j], "limit"):
			l, ok := parseInt(a[j+1])
			if !ok || l < 0 {
				return z, ErrorReply("ERR LIMIT can't be negative"), false
			}
			z.limit = l
			j += 2
		default:
			return z, replySyntax, false
		}
	}
	return z, Reply{}, true
}

// zitem is an element of a result being built.
type zitem struct {
	m     string
	score float64
}

// combineZSets computes op over the inputs: the result's elements in no
// particular order (deterministic), or with card only their number, up to
// limit (0: no limit).
func combineZSets(op setOp, z *zsetOpArgs, card bool) ([]zitem, int) {
	srcs := z.srcs
	if op != opDiff {
		// Redis works from the smallest input up (which decides the order
		// of floating-point sums).
		srcs = append([]zsrc(nil), srcs...)
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].len() < srcs[j].len() })
	}
	var out []zitem
	count := 0
	switch op {
	case opInter:
		if srcs[0].len() == 0 {
			return nil, 0
		}
		srcs[0].each(func(m string, sc float64) bool {
			score := srcs[0].weight * sc
			if isNaN(score) {
				score = 0
			}
			for j := 1; j < len(srcs); j++ {
				var v float64
				if srcs[j].same(&srcs[0]) {
					v = sc * srcs[j].weight
				} else if f, ok := srcs[j].find(m); ok {
					v = f * srcs[j].weight
				} else {
					return true
				}
				aggregate(&score, v, z.agg)
			}
			count++
			if card {
				return z.limit == 0 || int64(count) < z.limit
			}
			out = append(out, zitem{m, score})
			return true
		})
	case opUnion:
		acc := map[string]int{} // member -> index in out (lookups only)
		for i := range srcs {
			srcs[i].each(func(m string, sc float64) bool {
				score := srcs[i].weight * sc
				if isNaN(score) {
					score = 0
				}
				if k, ok := acc[m]; ok {
					aggregate(&out[k].score, score, z.agg)
				} else {
					acc[m] = len(out)
					out = append(out, zitem{m, score})
				}
				return true
			})
		}
		count = len(out)
	case opDiff:
		first := &srcs[0]
		srcs[0].each(func(m string, sc float64) bool {
			for j := 1; j < len(srcs); j++ {
				if srcs[j].same(first) {
					return true
				}
				if _, ok := srcs[j].find(m); ok {
					return true
				}
			}
			out = append(out, zitem{m, sc})
			return true
		})
		count = len(out)
	}
	return out, count
}

// sortZItems sorts a result in Redis's order.
func sortZItems(items []zitem) []zoItem {
	out := make([]zoItem, len(items))
	for i, it := range items {
		out[i] = zoItem{score: it.score, m: it.m}
	}
	sort.Slice(out, func(i, j int) bool { return zoLess(out[i], out[j]) })
	return out
}

func (s *State) zsetOpRead(now int64, a [][]byte, op setOp, name string) Reply {
	z, r, ok := s.parseZSetOp(now, a, 1, op, false, false, name)
	if !ok {
		return r
	}
	items, _ := combineZSets(op, &z, false)
	return zitemsReply(sortZItems(items), z.withScores)
}

func (s *State) zsetOpStore(now int64, a [][]byte, op setOp, name string) Reply {
	z, r, ok := s.parseZSetOp(now, a, 2, op, true, false, name)
	if !ok {
		return r
	}
	items, _ := combineZSets(op, &z, false)
	if len(items) == 0 {
		s.removeKey(a[1], now)
		return replyZero
	}
	// Redis builds the result large, then makes it compact if it fits.
	o := newZSetObj(s.gen)
	o.large = len(items) > zsetMaxListpackEntries
	for _, it := range items {
		if len(it.m) > zsetMaxListpackValue {
			o.large = true
		}
	}
	for _, it := range items {
		o.insertItem(zdItem{h: elemHash(stringBytes(it.m)), m: it.m, score: it.score})
	}
	s.store(newObjEntry(a[1], 0, typeZSet, o))
	return IntReply(int64(o.len()))
}

func cmdZUnion(s *State, c Ctx, a [][]byte) Reply { return s.zsetOpRead(c.NowMs, a, opUnion, "zunion") }
func cmdZInter(s *State, c Ctx, a [][]byte) Reply { return s.zsetOpRead(c.NowMs, a, opInter, "zinter") }
func cmdZDiff(s *State, c Ctx, a [][]byte) Reply  { return s.zsetOpRead(c.NowMs, a, opDiff, "zdiff") }
func cmdZUnionStore(s *State, c Ctx, a [][]byte) Reply {
	return s.zsetOpStore(c.NowMs, a, opUnion, "zunionstore")
}
func cmdZInterStore(s *State, c Ctx, a [][]byte) Reply {
	return s.zsetOpStore(c.NowMs, a, opInter, "zinterstore")
}
func cmdZDiffStore(s *State, c Ctx, a [][]byte) Reply {
	return s.zsetOpStore(c.NowMs, a, opDiff, "zdiffstore")
}

func cmdZInterCard(s *State, c Ctx, a [][]byte) Reply {
	z, r, ok := s.parseZSetOp(c.NowMs, a, 1, opInter, false, true, "zintercard")
	if !ok {
		return r
	}
	_, n := combineZSets(opInter, &z, true)
	return IntReply(int64(n))
}

func cmdZScan(s *State, c Ctx, a [][]byte) Reply {
	cursor, ok := parseScanCursor(a[2])
	if !ok {
		return replyInvalidCursor
	}
	o, ok := s.zsetRead(a[1], c.NowMs)
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
	visit := func(it zdItem) {
		if opts.match(stringBytes(it.m)) {
			out = append(out, BulkReply(stringBytes(it.m)), BulkReply(formatScore(it.score)))
		}
	}
	if !o.large {
		o.dict.Scan(func(it zdItem) bool {
			visit(it)
			return true
		})
		return scanReply(0, out)
	}
	sc := scanCursor{count: opts.count}
	o.dict.Ascend(zdItem{h: cursor}, func(it zdItem) bool {
		if !sc.step(it.h) {
			return false
		}
		visit(it)
		return true
	})
	return scanReply(sc.next, out)
}
