package fsm

import (
	"math"
	"math/big"
)

// The list commands. Replies and error texts are Redis 7's, and so is the
// order of the checks (arguments, then the key's type, then the values),
// which decides the error a client sees. A list is never empty: a command
// that removes the last element deletes the key.
//
// The blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) are here
// with the semantics Redis gives them inside MULTI: they never block; with
// nothing to pop they reply as a timeout would. Blocking is the front
// door's job (api/resp): it proposes the command again when a write may
// have fed one of its keys, so every pop is an ordinary, replicated write.

func init() {
	const (
		wdf = FlagWrite | FlagDenyOOM | FlagFast
		wf  = FlagWrite | FlagFast
		wd  = FlagWrite | FlagDenyOOM
		rf  = FlagReadonly | FlagFast
		wb  = FlagWrite | FlagBlocking
	)
	register(
		&Spec{Name: "lpush", Arity: -3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLPush},
		&Spec{Name: "rpush", Arity: -3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdRPush},
		&Spec{Name: "lpushx", Arity: -3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLPushX},
		&Spec{Name: "rpushx", Arity: -3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdRPushX},
		&Spec{Name: "lpop", Arity: -2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLPop},
		&Spec{Name: "rpop", Arity: -2, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdRPop},
		&Spec{Name: "llen", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLLen},
		&Spec{Name: "lrange", Arity: 4, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLRange},
		&Spec{Name: "lindex", Arity: 3, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLIndex},
		&Spec{Name: "lset", Arity: 4, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLSet},
		&Spec{Name: "linsert", Arity: 5, Flags: wd, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLInsert},
		&Spec{Name: "lrem", Arity: 4, Flags: FlagWrite, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLRem},
		&Spec{Name: "ltrim", Arity: 4, Flags: FlagWrite, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLTrim},
		&Spec{Name: "lpos", Arity: -3, Flags: FlagReadonly, FirstKey: 1, LastKey: 1, Step: 1, run: cmdLPos},
		&Spec{Name: "lmove", Arity: 5, Flags: wd, FirstKey: 1, LastKey: 2, Step: 1, run: cmdLMove},
		&Spec{Name: "rpoplpush", Arity: 3, Flags: wd, FirstKey: 1, LastKey: 2, Step: 1, run: cmdRPopLPush},
		&Spec{Name: "lmpop", Arity: -4, Flags: FlagWrite, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdLMPop},
		&Spec{Name: "blpop", Arity: -3, Flags: wb, FirstKey: 1, LastKey: -2, Step: 1, run: cmdBLPop},
		&Spec{Name: "brpop", Arity: -3, Flags: wb, FirstKey: 1, LastKey: -2, Step: 1, run: cmdBRPop},
		&Spec{Name: "blmove", Arity: 6, Flags: wb | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1, run: cmdBLMove},
		&Spec{Name: "brpoplpush", Arity: 4, Flags: wb | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1, run: cmdBRPopLPush},
		&Spec{Name: "blmpop", Arity: -5, Flags: wb, FirstKey: 3, LastKey: 3, Step: 1, keys: numKeys(2, 0), run: cmdBLMPop},
	)
}

// More of Redis's error texts.
const (
	ErrNoSuchKey     = "ERR no such key"
	ErrIndexRange    = "ERR index out of range"
	errMustBePos     = "ERR value is out of range, must be positive"
	errNumKeys       = "ERR numkeys should be greater than 0"
	errCountPositive = "ERR count should be greater than 0"
	errRankZero      = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
)

var replyNilArray = Reply{Kind: KindNilArray}

// ReplyNilArray is a null array: what a blocking command replies when it
// times out (and, inside a transaction, when it has nothing to pop).
var ReplyNilArray = replyNilArray

// readList returns the list of key at now for a read: nil if absent;
// wrong is true if the key holds another type.
func (s *State) readList(key []byte, now int64) (l *list, wrong bool) {
	e, ok := s.lookup(key, now)
	if !ok {
		return nil, false
	}
	if e.val.typ != typeList {
		return nil, true
	}
	return listOf(e), false
}

// writeList is readList for write commands (it removes an expired key); it
// returns the whole entry, found false if absent.
func (s *State) writeList(key []byte, now int64) (e entry, found, wrong bool) {
	e, found = s.lookupWrite(key, now)
	if !found {
		return entry{}, false, false
	}
	if e.val.typ != typeList {
		return entry{}, true, true
	}
	return e, true, false
}

// putList stores l as the value of key, whose entry e is the current one if
// found (keeping its expiry); a nil l deletes the key.
func (s *State) putList(key []byte, e entry, found bool, l *list) {
	switch {
	case l == nil && found:
		s.remove(e)
	case l == nil:
	case found:
		e.val = value{typ: typeList, obj: l}
		s.store(e)
	default:
		s.store(entry{key: string(key), ord: keyOrd(key), val: value{typ: typeList, obj: l}})
	}
}

// listIndex turns a Redis index (negative counts from the end) into a
// position, ok false when out of range.
func listIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

// listRange clamps start and stop as LRANGE and LTRIM do; empty is true
// when no element is in range.
func listRange(start, stop int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if stop < 0 {
		stop += ln
	}
	start = max(start, 0)
	if start > stop || start >= ln {
		return 0, 0, true
	}
	stop = min(stop, ln-1)
	return int(start), int(stop), false
}

func cmdLPush(s *State, c Ctx, a [][]byte) Reply  { return s.push(c.NowMs, a, true, false) }
func cmdRPush(s *State, c Ctx, a [][]byte) Reply  { return s.push(c.NowMs, a, false, false) }
func cmdLPushX(s *State, c Ctx, a [][]byte) Reply { return s.push(c.NowMs, a, true, true) }
func cmdRPushX(s *State, c Ctx, a [][]byte) Reply { return s.push(c.NowMs, a, false, true) }

// push is [LR]PUSH[X] key element...: the length after the push.
func (s *State) push(now int64, a [][]byte, left, onlyIfExists bool) Reply {
	e, found, wrong := s.writeList(a[1], now)
	if wrong {
		return replyWrongType
	}
	if !found && onlyIfExists {
		return replyZero
	}
	var l *list
	if found {
		l = listOf(e)
	}
	l = l.push(a[2:], left)
	s.putList(a[1], e, found, l)
	return IntReply(int64(l.n))
}

func cmdLPop(s *State, c Ctx, a [][]byte) Reply { return s.popCmd(c.NowMs, a, true) }
func cmdRPop(s *State, c Ctx, a [][]byte) Reply { return s.popCmd(c.NowMs, a, false) }

// popCmd is [LR]POP key [count].
func (s *State) popCmd(now int64, a [][]byte, left bool) Reply {
	if len(a) > 3 {
		return wrongArgs(string(a[0]))
	}
	hasCount := len(a) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = parseInt(a[2]); !ok || count < 0 {
			return ErrorReply(errMustBePos)
		}
	}
	e, found, wrong := s.writeList(a[1], now)
	switch {
	case wrong:
		return replyWrongType
	case !found && hasCount:
		return replyNilArray
	case !found:
		return ReplyNil
	case hasCount && count == 0:
		return ArrayReply([]Reply{})
	}
	k := 1
	if hasCount {
		k = int(min(count, int64(listOf(e).n)))
	}
	out, rest := listOf(e).pop(k, left)
	s.putList(a[1], e, true, rest)
	if !hasCount {
		return BulkReply(out[0])
	}
	return bulks(out)
}

// bulks returns an array reply of bulk strings.
func bulks(vs [][]byte) Reply {
	out := make([]Reply, len(vs))
	for i, v := range vs {
		out[i] = BulkReply(v)
	}
	return ArrayReply(out)
}

func cmdLLen(s *State, c Ctx, a [][]byte) Reply {
	l, wrong := s.readList(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if l == nil {
		return replyZero
	}
	return IntReply(int64(l.n))
}

func cmdLRange(s *State, c Ctx, a [][]byte) Reply {
	start, ok1 := parseInt(a[2])
	stop, ok2 := parseInt(a[3])
	if !ok1 || !ok2 {
		return replyNotInteger
	}
	l, wrong := s.readList(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if l == nil {
		return ArrayReply([]Reply{})
	}
	from, to, empty := listRange(start, stop, l.n)
	if empty {
		return ArrayReply([]Reply{})
	}
	out := make([]Reply, 0, to-from+1)
	l.each(from, to, false, func(_ int, v []byte) bool {
		out = append(out, BulkReply(v))
		return true
	})
	return ArrayReply(out)
}

// cmdLIndex is LINDEX key index. Unlike LRANGE, it looks the key up
// before it parses the index: an absent key is nil whatever the index.
func cmdLIndex(s *State, c Ctx, a [][]byte) Reply {
	l, wrong := s.readList(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if l == nil {
		return ReplyNil
	}
	idx, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	i, ok := listIndex(idx, l.n)
	if !ok {
		return ReplyNil
	}
	return BulkReply(l.at(i))
}

func cmdLSet(s *State, c Ctx, a [][]byte) Reply {
	e, found, wrong := s.writeList(a[1], c.NowMs)
	switch {
	case wrong:
		return replyWrongType
	case !found:
		return ErrorReply(ErrNoSuchKey)
	}
	idx, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	i, ok := listIndex(idx, listOf(e).n)
	if !ok {
		return ErrorReply(ErrIndexRange)
	}
	s.putList(a[1], e, true, listOf(e).set(i, a[3]))
	return ReplyOK
}

func cmdLInsert(s *State, c Ctx, a [][]byte) Reply {
	var after bool
	switch {
	case eqFold(a[2], "after"):
		after = true
	case eqFold(a[2], "before"):
	default:
		return replySyntax
	}
	e, found, wrong := s.writeList(a[1], c.NowMs)
	switch {
	case wrong:
		return replyWrongType
	case !found:
		return replyZero
	}
	l := listOf(e)
	at := -1
	l.each(0, l.n-1, false, func(i int, v []byte) bool {
		if string(v) == string(a[3]) {
			at = i
			return false
		}
		return true
	})
	if at < 0 {
		return IntReply(-1)
	}
	if after {
		at++
	}
	l = l.insert(at, a[4])
	s.putList(a[1], e, true, l)
	return IntReply(int64(l.n))
}

func cmdLRem(s *State, c Ctx, a [][]byte) Reply {
	count, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	e, found, wrong := s.writeList(a[1], c.NowMs)
	switch {
	case wrong:
		return replyWrongType
	case !found:
		return replyZero
	}
	l := listOf(e)
	var idx []int
	limit := count
	if limit < 0 {
		limit = -limit // MinInt64 stays negative: no limit, as for 0
	}
	match := func(i int, v []byte) bool {
		if string(v) == string(a[3]) {
			idx = append(idx, i)
		}
		return limit <= 0 || int64(len(idx)) < limit
	}
	l.each(0, l.n-1, count < 0, match)
	if len(idx) == 0 {
		return replyZero
	}
	if count < 0 {
		for i, j := 0, len(idx)-1; i < j; i, j = i+1, j-1 {
			idx[i], idx[j] = idx[j], idx[i]
		}
	}
	s.putList(a[1], e, true, l.without(idx))
	return IntReply(int64(len(idx)))
}

func cmdLTrim(s *State, c Ctx, a [][]byte) Reply {
	start, ok1 := parseInt(a[2])
	stop, ok2 := parseInt(a[3])
	if !ok1 || !ok2 {
		return replyNotInteger
	}
	e, found, wrong := s.writeList(a[1], c.NowMs)
	switch {
	case wrong:
		return replyWrongType
	case !found:
		return ReplyOK
	}
	l := listOf(e)
	from, to, empty := listRange(start, stop, l.n)
	if empty {
		s.remove(e)
		return ReplyOK
	}
	s.putList(a[1], e, true, l.slice(from, to))
	return ReplyOK
}

// cmdLPos is LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
func cmdLPos(s *State, c Ctx, a [][]byte) Reply {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for j := 3; j < len(a); j++ {
		more := j+1 < len(a)
		switch {
		case eqFold(a[j], "rank") && more:
			j++
			v, ok := parseInt(a[j])
			if !ok {
				return replyNotInteger
			}
			if v == 0 {
				return ErrorReply(errRankZero)
			}
			rank = v
		case eqFold(a[j], "count") && more:
			j++
			v, ok := parseInt(a[j])
			if !ok || v < 0 {
				return ErrorReply("ERR COUNT can't be negative")
			}
			count = v
		case eqFold(a[j], "maxlen") && more:
			j++
			v, ok := parseInt(a[j])
			if !ok || v < 0 {
				return ErrorReply("ERR MAXLEN can't be negative")
			}
			maxlen = v
		default:
			return replySyntax
		}
	}
	rev := rank < 0
	if rev {
		// Redis negates the rank; the negation of the smallest int64 is
		// itself, which then matches from the first match on.
		rank = -rank
		if rank < 0 {
			rank = 1
		}
	}
	l, wrong := s.readList(a[1], c.NowMs)
	if wrong {
		return replyWrongType
	}
	if l == nil {
		if count != -1 {
			return ArrayReply([]Reply{})
		}
		return ReplyNil
	}
	var out []Reply
	matches, compared := int64(0), int64(0)
	l.each(0, l.n-1, rev, func(i int, v []byte) bool {
		if maxlen != 0 && compared >= maxlen {
			return false
		}
		compared++
		if string(v) == string(a[2]) {
			matches++
			if matches >= rank {
				out = append(out, IntReply(int64(i)))
				if count != 0 && int64(len(out)) >= max(count, 1) {
					return false
				}
			}
		}
		return true
	})
	if count == -1 {
		if len(out) == 0 {
			return ReplyNil
		}
		return out[0]
	}
	if out == nil {
		out = []Reply{}
	}
	return ArrayReply(out)
}

// whereArg parses LEFT or RIGHT.
func whereArg(b []byte) (left, ok bool) {
	switch {
	case eqFold(b, "left"):
		return true, true
	case eqFold(b, "right"):
		return false, true
	}
	return false, false
}

func cmdLMove(s *State, c Ctx, a [][]byte) Reply {
	from, ok1 := whereArg(a[3])
	to, ok2 := whereArg(a[4])
	if !ok1 || !ok2 {
		return replySyntax
	}
	return s.move(c.NowMs, a[1], a[2], from, to)
}

func cmdRPopLPush(s *State, c Ctx, a [][]byte) Reply {
	return s.move(c.NowMs, a[1], a[2], false, true)
}

// move is LMOVE src dst: the element moved, or nil when src is absent. The
// destination's type is checked before anything is popped; src == dst
// rotates the list.
func (s *State) move(now int64, src, dst []byte, fromLeft, toLeft bool) Reply {
	se, found, wrong := s.writeList(src, now)
	switch {
	case wrong:
		return replyWrongType
	case !found:
		return ReplyNil
	}
	de, dfound, dwrong := s.writeList(dst, now)
	if dwrong {
		return replyWrongType
	}
	out, rest := listOf(se).pop(1, fromLeft)
	v := out[0]
	if string(src) == string(dst) {
		if rest == nil {
			// A single element moved onto itself: the list is as it was,
			// but Redis counts it as a change (WATCH sees one).
			s.store(se)
			return BulkReply(v)
		}
		s.putList(src, se, true, rest.push([][]byte{v}, toLeft))
		return BulkReply(v)
	}
	s.putList(src, se, true, rest)
	var dl *list
	if dfound {
		dl = listOf(de)
	}
	s.putList(dst, de, dfound, dl.push([][]byte{v}, toLeft))
	return BulkReply(v)
}

// mpopArgs are the parsed arguments of LMPOP/BLMPOP from numkeys on.
type mpopArgs struct {
	keys  [][]byte
	left  bool
	count int64
}

// parseMPop parses "numkeys key... LEFT|RIGHT [COUNT count]", as Redis
// does: numkeys, then the direction, then the options.
func parseMPop(a [][]byte) (mpopArgs, Reply, bool) {
	var m mpopArgs
	n, ok := parseInt(a[0])
	if !ok || n < 1 {
		return m, ErrorReply(errNumKeys), false
	}
	if n >= int64(len(a))-1 {
		return m, replySyntax, false
	}
	m.keys = a[1 : 1+n]
	left, ok := whereArg(a[1+n])
	if !ok {
		return m, replySyntax, false
	}
	m.left = left
	m.count = -1
	for j := int(n) + 2; j < len(a); j++ {
		if m.count == -1 && eqFold(a[j], "count") && j+1 < len(a) {
			j++
			v, ok := parseInt(a[j])
			if !ok || v < 1 {
				return m, ErrorReply(errCountPositive), false
			}
			m.count = v
			continue
		}
		return m, replySyntax, false
	}
	if m.count == -1 {
		m.count = 1
	}
	return m, Reply{}, true
}

func cmdLMPop(s *State, c Ctx, a [][]byte) Reply {
	m, r, ok := parseMPop(a[1:])
	if !ok {
		return r
	}
	return s.mpop(c.NowMs, m)
}

// mpop pops up to m.count elements from the first non-empty list of
// m.keys: [key, [elements]], or a null array when every key is absent. A
// key of another type met first is an error.
func (s *State) mpop(now int64, m mpopArgs) Reply {
	if s.crossSlot(m.keys) {
		return replyCrossSlot
	}
	for _, k := range m.keys {
		e, found, wrong := s.writeList(k, now)
		if wrong {
			return replyWrongType
		}
		if !found {
			continue
		}
		out, rest := listOf(e).pop(int(min(m.count, int64(listOf(e).n))), m.left)
		s.putList(k, e, true, rest)
		return ArrayReply([]Reply{BulkReply(stringBytes(e.key)), bulks(out)})
	}
	return replyNilArray
}

// BlockingArgs checks the arguments of a blocking command (BLPOP BRPOP
// BLMOVE BRPOPLPUSH BLMPOP; args[0] is the name, arity already checked) as
// the command itself does, without looking at any key, and returns the keys
// whose lists it waits for and its timeout in ms (0: none). For bad
// arguments it returns the error reply and ok false. nowMs is only used to
// refuse a timeout that would overflow when added to it.
func BlockingArgs(args [][]byte, nowMs int64) (keys [][]byte, timeoutMs int64, r Reply, ok bool) {
	spec := findSpec(args[0])
	if spec == nil || spec.Flags&FlagBlocking == 0 {
		return nil, 0, ErrorReply("ERR not a blocking command"), false
	}
	switch spec.Name {
	case "blpop", "brpop":
		keys = args[1 : len(args)-1]
		timeoutMs, r, ok = parseTimeout(args[len(args)-1], nowMs)
	case "blmove":
		_, ok1 := whereArg(args[3])
		_, ok2 := whereArg(args[4])
		if !ok1 || !ok2 {
			return nil, 0, replySyntax, false
		}
		keys = args[1:2]
		timeoutMs, r, ok = parseTimeout(args[5], nowMs)
	case "brpoplpush":
		keys = args[1:2]
		timeoutMs, r, ok = parseTimeout(args[3], nowMs)
	case "blmpop":
		m, mr, mok := parseMPop(args[2:])
		if !mok {
			return nil, 0, mr, false
		}
		keys = m.keys
		timeoutMs, r, ok = parseTimeout(args[1], nowMs)
	}
	if !ok {
		return nil, 0, r, false
	}
	return keys, timeoutMs, Reply{}, true
}

// parseTimeout parses a blocking command's timeout in seconds (a long
// double, as Redis reads it) into ms rounded up. Errors are Redis 7.2's: a
// value that does not fit in int64 ms is out of range (7.0 called it
// negative).
func parseTimeout(b []byte, nowMs int64) (int64, Reply, bool) {
	f, ok := parseLongDouble(b)
	if !ok {
		return 0, ErrorReply("ERR timeout is not a float or out of range"), false
	}
	if f.inf {
		if len(b) > 0 && b[0] == '-' {
			return 0, ErrorReply("ERR timeout is negative"), false
		}
		return 0, ErrorReply("ERR timeout is out of range"), false
	}
	ms := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Mul(f.f, big.NewFloat(1000))
	if ms.Cmp(new(big.Float).SetInt64(math.MaxInt64)) > 0 {
		return 0, ErrorReply("ERR timeout is out of range"), false
	}
	iv, acc := ms.Int64() // truncates toward zero
	if acc == big.Below { // ms > iv: round up
		iv++
	}
	if iv < 0 {
		return 0, ErrorReply("ERR timeout is negative"), false
	}
	if iv > 0 && iv > math.MaxInt64-nowMs {
		return 0, ErrorReply("ERR timeout is out of range"), false
	}
	return iv, Reply{}, true
}

func cmdBLPop(s *State, c Ctx, a [][]byte) Reply { return s.bpop(c.NowMs, a, true) }
func cmdBRPop(s *State, c Ctx, a [][]byte) Reply { return s.bpop(c.NowMs, a, false) }

// bpop is BLPOP/BRPOP without blocking: [key, element] from the first
// non-empty list, or a null array.
func (s *State) bpop(now int64, a [][]byte, left bool) Reply {
	keys, _, r, ok := BlockingArgs(a, now)
	if !ok {
		return r
	}
	if s.crossSlot(keys) {
		return replyCrossSlot
	}
	for _, k := range keys {
		e, found, wrong := s.writeList(k, now)
		if wrong {
			return replyWrongType
		}
		if !found {
			continue
		}
		out, rest := listOf(e).pop(1, left)
		s.putList(k, e, true, rest)
		return ArrayReply([]Reply{BulkReply(stringBytes(e.key)), BulkReply(out[0])})
	}
	return replyNilArray
}

func cmdBLMove(s *State, c Ctx, a [][]byte) Reply {
	if _, _, r, ok := BlockingArgs(a, c.NowMs); !ok {
		return r
	}
	from, _ := whereArg(a[3])
	to, _ := whereArg(a[4])
	return s.move(c.NowMs, a[1], a[2], from, to)
}

func cmdBRPopLPush(s *State, c Ctx, a [][]byte) Reply {
	if _, _, r, ok := BlockingArgs(a, c.NowMs); !ok {
		return r
	}
	return s.move(c.NowMs, a[1], a[2], false, true)
}

func cmdBLMPop(s *State, c Ctx, a [][]byte) Reply {
	if _, _, r, ok := BlockingArgs(a, c.NowMs); !ok {
		return r
	}
	m, _, _ := parseMPop(a[2:])
	return s.mpop(c.NowMs, m)
}

// listOf returns the list of a stored list entry.
func listOf(e entry) *list { return e.val.obj.(*list) }
