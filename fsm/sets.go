package fsm

import "sort"

// The set type and its commands. A set is a tree of members in (hash of
// member, member) order; see objects.go for how it changes and is shared.

type setItem struct {
	h uint64 // elemHash(m)
	m string
}

func setItemLess(a, b setItem) bool {
	if a.h != b.h {
		return a.h < b.h
	}
	return a.m < b.m
}

// setObj is a set value (typeSet).
type setObj struct {
	gen   uint64 // the State.gen it was made in; see objects.go
	large bool   // hashtable encoding (else intset: integers only, few)
	t     ordered[setItem]
}

func newSetObj(gen uint64) *setObj { return &setObj{gen: gen, t: newOrdered(setItemLess)} }

func (o *setObj) clone(gen uint64) *setObj {
	return &setObj{gen: gen, large: o.large, t: o.t.copy()}
}

func (o *setObj) len() int { return o.t.Len() }

func setProbe(m []byte) setItem { return setItem{h: elemHash(m), m: bstr(m)} }

func (o *setObj) has(m []byte) bool {
	_, ok := o.t.Get(setProbe(m))
	return ok
}

// add adds m (copied) and reports whether it is new. The encoding turns
// large as in Redis: a member that is not an integer, or more than
// set-max-intset-entries members.
func (o *setObj) add(m []byte) bool {
	p := setProbe(m)
	if _, ok := o.t.Get(p); ok {
		return false
	}
	p.m = string(m)
	o.t.Set(p)
	o.noteAdded(m)
	return true
}

// addItem adds an item taken from another set (its string is shared).
func (o *setObj) addItem(it setItem) bool {
	if _, replaced := o.t.Set(it); replaced {
		return false
	}
	o.noteAdded(stringBytes(it.m))
	return true
}

func (o *setObj) noteAdded(m []byte) {
	if o.large {
		return
	}
	if o.t.Len() > setMaxIntsetEntries {
		o.large = true
	} else if _, isInt := parseInt(m); !isInt {
		o.large = true
	}
}

func (o *setObj) del(m []byte) bool {
	_, ok := o.t.Delete(setProbe(m))
	return ok
}

// members returns the members as bulk replies, in order.
func (o *setObj) members() []Reply {
	out := make([]Reply, 0, o.len())
	o.t.Scan(func(it setItem) bool {
		out = append(out, BulkReply(stringBytes(it.m)))
		return true
	})
	return out
}

func init() {
	const (
		wdf = FlagWrite | FlagDenyOOM | FlagFast
		wd  = FlagWrite | FlagDenyOOM
		wf  = FlagWrite | FlagFast
		rf  = FlagReadonly | FlagFast
		r   = FlagReadonly
	)
	register(
		&Spec{Name: "sadd", Arity: -3, Flags: wdf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSAdd},
		&Spec{Name: "srem", Arity: -3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSRem},
		&Spec{Name: "smembers", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSMembers},
		&Spec{Name: "sismember", Arity: 3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSIsMember},
		&Spec{Name: "smismember", Arity: -3, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSMIsMember},
		&Spec{Name: "scard", Arity: 2, Flags: rf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSCard},
		&Spec{Name: "spop", Arity: -2, Flags: wf | FlagRandom, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSPop},
		&Spec{Name: "srandmember", Arity: -2, Flags: r | FlagRandom, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSRandMember},
		&Spec{Name: "smove", Arity: 4, Flags: wf, FirstKey: 1, LastKey: 2, Step: 1, run: cmdSMove},
		&Spec{Name: "sinter", Arity: -2, Flags: r, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSInter},
		&Spec{Name: "sintercard", Arity: -3, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, keys: numKeys(1, 0), run: cmdSInterCard},
		&Spec{Name: "sunion", Arity: -2, Flags: r, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSUnion},
		&Spec{Name: "sdiff", Arity: -2, Flags: r, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSDiff},
		&Spec{Name: "sinterstore", Arity: -3, Flags: wd, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSInterStore},
		&Spec{Name: "sunionstore", Arity: -3, Flags: wd, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSUnionStore},
		&Spec{Name: "sdiffstore", Arity: -3, Flags: wd, FirstKey: 1, LastKey: -1, Step: 1, run: cmdSDiffStore},
		&Spec{Name: "sscan", Arity: -3, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdSScan},
	)
}

// numKeys returns the key function of a command whose keys follow a
// numkeys argument at position pos, preceded by fixed keys at positions
// 1..fixed (the destination of a STORE form). Bad numkeys (not an
// integer, below 1, or more than the arguments): no keys at all, the fixed
// ones included, as Redis finds none (the command then reports the error).
func numKeys(pos, fixed int) func(args [][]byte) [][]byte {
	return func(args [][]byte) [][]byte {
		if pos >= len(args) {
			return nil
		}
		n, ok := parseInt(args[pos])
		if !ok || n < 1 || n > int64(len(args)-pos-1) {
			return nil
		}
		var keys [][]byte
		for i := 1; i <= fixed && i < len(args); i++ {
			keys = append(keys, args[i])
		}
		return append(keys, args[pos+1:pos+1+int(n)]...)
	}
}

// setWrite returns the set of key ready to change at the state's
// generation; if the key is absent, found is false and the entry and
// object are new (not stored).
func (s *State) setWrite(key []byte, now int64) (e entry, o *setObj, found bool, r Reply, ok bool) {
	e, found, wrong := s.lookupTypeWrite(key, now, typeSet)
	if wrong {
		return e, nil, false, replyWrongType, false
	}
	if !found {
		o = newSetObj(s.gen)
		return newObjEntry(key, 0, typeSet, o), o, false, Reply{}, true
	}
	o = setOf(e)
	if o.gen != s.gen {
		o = o.clone(s.gen)
		e.val.obj = o
	}
	return e, o, true, Reply{}, true
}

// setRead returns the set of key for a read (nil if absent); ok is false
// if the key holds another type.
func (s *State) setRead(key []byte, now int64) (o *setObj, ok bool) {
	e, found, wrong := s.lookupType(key, now, typeSet)
	if wrong {
		return nil, false
	}
	if !found {
		return nil, true
	}
	return setOf(e), true
}

func cmdSAdd(s *State, c Ctx, a [][]byte) Reply {
	e, o, _, r, ok := s.setWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	n := 0
	for _, m := range a[2:] {
		if o.add(m) {
			n++
		}
	}
	if n > 0 {
		s.store(e)
	}
	return IntReply(int64(n))
}

func cmdSRem(s *State, c Ctx, a [][]byte) Reply {
	e, o, found, r, ok := s.setWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	if !found {
		return replyZero
	}
	n := 0
	for _, m := range a[2:] {
		if o.del(m) {
			n++
		}
	}
	if n > 0 {
		s.saveObj(e, o.len())
	}
	return IntReply(int64(n))
}

func cmdSMembers(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.setRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return Reply{Kind: KindSet, Array: []Reply{}}
	}
	return Reply{Kind: KindSet, Array: o.members()}
}

func cmdSIsMember(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.setRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o != nil && o.has(a[2]) {
		return replyOne
	}
	return replyZero
}

func cmdSMIsMember(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.setRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	out := make([]Reply, len(a)-2)
	for i, m := range a[2:] {
		out[i] = replyZero
		if o != nil && o.has(m) {
			out[i] = replyOne
		}
	}
	return ArrayReply(out)
}

func cmdSCard(s *State, c Ctx, a [][]byte) Reply {
	o, ok := s.setRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil {
		return replyZero
	}
	return IntReply(int64(o.len()))
}

var replyNotPositive = ErrorReply("ERR value is out of range, must be positive")

func cmdSPop(s *State, c Ctx, a [][]byte) Reply {
	if len(a) > 3 {
		return replySyntax
	}
	count := int64(-1) // no count argument
	if len(a) == 3 {
		n, ok := parseInt(a[2])
		if !ok || n < 0 {
			return replyNotPositive // Redis says so of a non-integer too
		}
		count = n
	}
	e, o, found, r, ok := s.setWrite(a[1], c.NowMs)
	if !ok {
		return r
	}
	if !found {
		if count < 0 {
			return ReplyNil
		}
		return Reply{Kind: KindSet, Array: []Reply{}}
	}
	if count == 0 {
		return Reply{Kind: KindSet, Array: []Reply{}}
	}
	rg := newRNG(c.Seed, a[1])
	if count < 0 {
		it, _ := o.t.DeleteAt(rg.intn(o.len()))
		s.saveObj(e, o.len())
		return BulkReply(stringBytes(it.m))
	}
	if count >= int64(o.len()) {
		out := o.members()
		s.remove(e)
		return Reply{Kind: KindSet, Array: out}
	}
	items := make([]setItem, 0, count)
	for _, i := range rg.distinct(o.len(), int(count)) {
		it, _ := o.t.GetAt(i)
		items = append(items, it)
	}
	out := make([]Reply, len(items))
	for i, it := range items {
		o.t.Delete(it)
		out[i] = BulkReply(stringBytes(it.m))
	}
	s.saveObj(e, o.len())
	return Reply{Kind: KindSet, Array: out}
}

func cmdSRandMember(s *State, c Ctx, a [][]byte) Reply {
	if len(a) > 3 {
		return replySyntax
	}
	if len(a) == 2 {
		o, ok := s.setRead(a[1], c.NowMs)
		if !ok {
			return replyWrongType
		}
		if o == nil {
			return ReplyNil
		}
		it, _ := o.t.GetAt(newRNG(c.Seed, a[1]).intn(o.len()))
		return BulkReply(stringBytes(it.m))
	}
	count, _, r, ok := randCount(a, "")
	if !ok {
		return r
	}
	o, ok := s.setRead(a[1], c.NowMs)
	if !ok {
		return replyWrongType
	}
	if o == nil || count == 0 {
		return ArrayReply([]Reply{})
	}
	idx := newRNG(c.Seed, a[1]).sample(o.len(), count)
	out := make([]Reply, len(idx))
	for i, j := range idx {
		it, _ := o.t.GetAt(j)
		out[i] = BulkReply(stringBytes(it.m))
	}
	return ArrayReply(out)
}

func cmdSMove(s *State, c Ctx, a [][]byte) Reply {
	src, srcFound, wrong := s.lookupTypeWrite(a[1], c.NowMs, typeSet)
	dst, dstFound, dstWrong := s.lookupTypeWrite(a[2], c.NowMs, typeSet)
	if !srcFound && !wrong {
		return replyZero
	}
	if wrong || dstWrong {
		return replyWrongType
	}
	if string(a[1]) == string(a[2]) {
		if setOf(src).has(a[3]) {
			return replyOne
		}
		return replyZero
	}
	so := setOf(src)
	if !so.has(a[3]) {
		return replyZero
	}
	if so.gen != s.gen {
		so = so.clone(s.gen)
		src.val.obj = so
	}
	so.del(a[3])
	s.saveObj(src, so.len())
	var do *setObj
	if dstFound {
		do = setOf(dst)
		if do.gen != s.gen {
			do = do.clone(s.gen)
			dst.val.obj = do
		}
	} else {
		do = newSetObj(s.gen)
		dst = newObjEntry(a[2], 0, typeSet, do)
	}
	if do.add(a[3]) || !dstFound {
		s.store(dst)
	}
	return replyOne
}

// setOp is an operation over several sets.
type setOp int

const (
	opInter setOp = iota
	opUnion
	opDiff
)

// setInputs looks up keys as sets, a missing key being nil (empty). ok is
// false if one holds another type.
func (s *State) setInputs(keys [][]byte, now int64, write bool) ([]*setObj, bool) {
	sets := make([]*setObj, len(keys))
	for i, k := range keys {
		var e entry
		var found, wrong bool
		if write {
			e, found, wrong = s.lookupTypeWrite(k, now, typeSet)
		} else {
			e, found, wrong = s.lookupType(k, now, typeSet)
		}
		if wrong {
			return nil, false
		}
		if found {
			sets[i] = setOf(e)
		}
	}
	return sets, true
}

// combineSets computes op over sets (nil: empty) into a new set object
// stamped gen, and stops an intersection at limit members (0: none).
// The result's encoding follows Redis's: it starts as an intset and turns
// large as members are added; a difference that Redis computes by removal
// (its second algorithm) has added all of the first set's members first.
func combineSets(op setOp, sets []*setObj, gen uint64, limit int) *setObj {
	out := newSetObj(gen)
	switch op {
	case opInter:
		for _, o := range sets {
			if o == nil {
				return out
			}
		}
		ord := append([]*setObj(nil), sets...)
		sort.SliceStable(ord, func(i, j int) bool { return ord[i].len() < ord[j].len() })
		ord[0].t.Scan(func(it setItem) bool {
			for _, o := range ord[1:] {
				if o == ord[0] {
					continue
				}
				if _, ok := o.t.Get(it); !ok {
					return true
				}
			}
			out.addItem(it)
			return limit == 0 || out.len() < limit
		})
	case opUnion:
		for _, o := range sets {
			if o == nil {
				continue
			}
			o.t.Scan(func(it setItem) bool {
				out.addItem(it)
				return true
			})
		}
	case opDiff:
		first := sets[0]
		if first == nil {
			return out
		}
		for _, o := range sets[1:] {
			if o == first {
				return out // a set minus itself
			}
		}
		one, two := 0, 0
		for _, o := range sets {
			if o != nil {
				one += first.len()
				two += o.len()
			}
		}
		if one/2 > two {
			// Redis's second algorithm: add the first set, remove the others.
			first.t.Scan(func(it setItem) bool {
				out.addItem(it)
				return true
			})
			for _, o := range sets[1:] {
				if o == nil {
					continue
				}
				o.t.Scan(func(it setItem) bool {
					out.t.Delete(it)
					return out.len() > 0
				})
				if out.len() == 0 {
					break
				}
			}
			return out
		}
		first.t.Scan(func(it setItem) bool {
			for _, o := range sets[1:] {
				if o == nil {
					continue
				}
				if _, ok := o.t.Get(it); ok {
					return true
				}
			}
			out.addItem(it)
			return true
		})
	}
	return out
}

func (s *State) setOpRead(now int64, keys [][]byte, op setOp) Reply {
	sets, ok := s.setInputs(keys, now, false)
	if !ok {
		return replyWrongType
	}
	res := combineSets(op, sets, s.gen, 0)
	return Reply{Kind: KindSet, Array: res.members()}
}

func cmdSInter(s *State, c Ctx, a [][]byte) Reply { return s.setOpRead(c.NowMs, a[1:], opInter) }
func cmdSUnion(s *State, c Ctx, a [][]byte) Reply { return s.setOpRead(c.NowMs, a[1:], opUnion) }
func cmdSDiff(s *State, c Ctx, a [][]byte) Reply  { return s.setOpRead(c.NowMs, a[1:], opDiff) }

// setOpStore is SINTERSTORE, SUNIONSTORE and SDIFFSTORE: the result
// replaces a[1] (any type, and its expiry), or deletes it if empty.
func (s *State) setOpStore(now int64, a [][]byte, op setOp) Reply {
	sets, ok := s.setInputs(a[2:], now, true)
	if !ok {
		return replyWrongType
	}
	res := combineSets(op, sets, s.gen, 0)
	if res.len() == 0 {
		s.removeKey(a[1], now)
		return replyZero
	}
	s.store(newObjEntry(a[1], 0, typeSet, res))
	return IntReply(int64(res.len()))
}

func cmdSInterStore(s *State, c Ctx, a [][]byte) Reply { return s.setOpStore(c.NowMs, a, opInter) }
func cmdSUnionStore(s *State, c Ctx, a [][]byte) Reply { return s.setOpStore(c.NowMs, a, opUnion) }
func cmdSDiffStore(s *State, c Ctx, a [][]byte) Reply  { return s.setOpStore(c.NowMs, a, opDiff) }

func cmdSInterCard(s *State, c Ctx, a [][]byte) Reply {
	n, ok := parseInt(a[1])
	if !ok || n < 1 {
		return ErrorReply("ERR numkeys should be greater than 0")
	}
	if n > int64(len(a)-2) {
		return ErrorReply("ERR Number of keys can't be greater than number of args")
	}
	keys := a[2 : 2+n]
	var limit int64
	for j := 2 + int(n); j < len(a); j++ {
		if eqFold(a[j], "limit") && j+1 < len(a) {
			j++
			l, ok := parseInt(a[j])
			if !ok || l < 0 {
				return ErrorReply("ERR LIMIT can't be negative")
			}
			limit = l
			continue
		}
		return replySyntax
	}
	if s.crossSlot(keys) {
		return replyCrossSlot
	}
	sets, ok := s.setInputs(keys, c.NowMs, false)
	if !ok {
		return replyWrongType
	}
	lim := 0
	if limit > 0 && limit < int64(1<<31) {
		lim = int(limit)
	}
	return IntReply(int64(combineSets(opInter, sets, s.gen, lim).len()))
}

func cmdSScan(s *State, c Ctx, a [][]byte) Reply {
	cursor, ok := parseScanCursor(a[2])
	if !ok {
		return replyInvalidCursor
	}
	o, ok := s.setRead(a[1], c.NowMs)
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
	visit := func(it setItem) {
		if opts.match(stringBytes(it.m)) {
			out = append(out, BulkReply(stringBytes(it.m)))
		}
	}
	if !o.large {
		o.t.Scan(func(it setItem) bool {
			visit(it)
			return true
		})
		return scanReply(0, out)
	}
	sc := scanCursor{count: opts.count}
	o.t.Ascend(setItem{h: cursor}, func(it setItem) bool {
		if !sc.step(it.h) {
			return false
		}
		visit(it)
		return true
	})
	return scanReply(sc.next, out)
}
