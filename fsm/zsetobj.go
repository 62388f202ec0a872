package fsm

import (
	"bytes"
	"math"
)

// The sorted set value: two ordered containers (ordered.go) over the same
// elements,
//
//   - dict, by (hash of member, member), holding each member's score: the
//     lookups, and the order of ZSCAN and of the snapshot;
//   - order, by (score, member), Redis's order: ranges by score, by
//     member (when the scores are equal) and by rank.
//
// Large ones are B-trees with subtree counts, so an insertion, a removal,
// and the element at a rank cost O(log n) (a small one moves at most
// orderedSmall items). A rank (the index of an element or of a range
// bound) is found by a binary search over ranks, O(log² n): ZRANK, ZCOUNT,
// ZLEXCOUNT and the start of a rank range pay that; the rest is O(log n)
// plus the elements visited.

type zdItem struct {
	h     uint64 // elemHash(m)
	m     string
	score float64
}

func zdItemLess(a, b zdItem) bool {
	if a.h != b.h {
		return a.h < b.h
	}
	return a.m < b.m
}

type zoItem struct {
	score float64
	m     string
}

// zoLess is Redis's order: by score, then by member bytes. Scores are
// never NaN; -0 and 0 compare equal, as in C.
func zoLess(a, b zoItem) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.m < b.m
}

// zsetObj is a sorted set value (typeZSet).
type zsetObj struct {
	gen   uint64 // the State.gen it was made in; see objects.go
	large bool   // skiplist encoding (else listpack)
	dict  ordered[zdItem]
	order ordered[zoItem]
}

func newZSetObj(gen uint64) *zsetObj {
	return &zsetObj{gen: gen, dict: newOrdered(zdItemLess), order: newOrdered(zoLess)}
}

func (o *zsetObj) clone(gen uint64) *zsetObj {
	return &zsetObj{gen: gen, large: o.large, dict: o.dict.copy(), order: o.order.copy()}
}

func (o *zsetObj) len() int { return o.dict.Len() }

func zdProbe(m []byte) zdItem { return zdItem{h: elemHash(m), m: bstr(m)} }

func (o *zsetObj) score(m []byte) (float64, bool) {
	it, ok := o.dict.Get(zdProbe(m))
	return it.score, ok
}

// normScore is the score as the encoding stores it: a compact sorted set
// (listpack) stores -0 as 0, as Redis's does.
func (o *zsetObj) normScore(score float64) float64 {
	if score == 0 && !o.large {
		return 0
	}
	return score
}

// insert adds member m (copied), which must be absent. The encoding turns
// large, as in Redis, before adding a member longer than
// zset-max-listpack-value or past zset-max-listpack-entries.
func (o *zsetObj) insert(m []byte, score float64) {
	if len(m) > zsetMaxListpackValue || o.len()+1 > zsetMaxListpackEntries {
		o.large = true
	}
	o.insertItem(zdItem{h: elemHash(m), m: string(m), score: score})
}

// insertItem adds an item whose member string may be shared with another
// set (strings are immutable).
func (o *zsetObj) insertItem(it zdItem) {
	it.score = o.normScore(it.score)
	o.dict.Set(it)
	o.order.Set(zoItem{score: it.score, m: it.m})
}

// update changes the score of the present member it to score.
func (o *zsetObj) update(it zdItem, score float64) {
	o.order.Delete(zoItem{score: it.score, m: it.m})
	it.score = o.normScore(score)
	o.dict.Set(it)
	o.order.Set(zoItem{score: it.score, m: it.m})
}

// remove deletes member m and reports whether it was there.
func (o *zsetObj) remove(m []byte) bool {
	it, ok := o.dict.Delete(zdProbe(m))
	if ok {
		o.order.Delete(zoItem{score: it.score, m: it.m})
	}
	return ok
}

// removeItem deletes an element known to be present.
func (o *zsetObj) removeItem(it zoItem) {
	o.order.Delete(it)
	o.dict.Delete(zdItem{h: elemHash(stringBytes(it.m)), m: it.m})
}

// at returns the element of rank i (0 <= i < len).
func (o *zsetObj) at(i int) zoItem {
	it, _ := o.order.GetAt(i)
	return it
}

// search returns the smallest rank whose element satisfies pred, or len if
// none does; pred must be false and then true along the order.
func (o *zsetObj) search(pred func(zoItem) bool) int {
	lo, hi := 0, o.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if pred(o.at(mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// rank returns the rank of an element known to be present.
func (o *zsetObj) rank(it zoItem) int {
	return o.search(func(x zoItem) bool { return !zoLess(x, it) })
}

// ascend visits the elements from rank i upwards while fn returns true.
func (o *zsetObj) ascend(i int, fn func(zoItem) bool) {
	if i >= o.len() {
		return
	}
	o.order.Ascend(o.at(i), fn)
}

// descend visits the elements from rank i downwards while fn returns true.
func (o *zsetObj) descend(i int, fn func(zoItem) bool) {
	if i < 0 {
		return
	}
	o.order.Descend(o.at(i), fn)
}

// scoreRange is a range of scores; an exclusive bound is written "(x".
type scoreRange struct {
	min, max     float64
	minex, maxex bool
}

// parseScoreRange parses min and max as Redis does.
func parseScoreRange(min, max []byte) (scoreRange, bool) {
	var r scoreRange
	var ok bool
	if r.min, r.minex, ok = parseScoreBound(min); !ok {
		return r, false
	}
	if r.max, r.maxex, ok = parseScoreBound(max); !ok {
		return r, false
	}
	return r, true
}

func parseScoreBound(b []byte) (float64, bool, bool) {
	ex := len(b) > 0 && b[0] == '('
	if ex {
		b = b[1:]
	}
	v, ok := parseRangeScore(b)
	return v, ex, ok
}

func (r scoreRange) gteMin(x float64) bool {
	if r.minex {
		return x > r.min
	}
	return x >= r.min
}

func (r scoreRange) lteMax(x float64) bool {
	if r.maxex {
		return x < r.max
	}
	return x <= r.max
}

func (r scoreRange) empty() bool {
	return r.min > r.max || (r.min == r.max && (r.minex || r.maxex))
}

// firstIn returns the rank of the first element in r, or -1.
func (o *zsetObj) firstIn(r scoreRange) int {
	if r.empty() {
		return -1
	}
	i := o.search(func(x zoItem) bool { return r.gteMin(x.score) })
	if i == o.len() || !r.lteMax(o.at(i).score) {
		return -1
	}
	return i
}

// lastIn returns the rank of the last element in r, or -1.
func (o *zsetObj) lastIn(r scoreRange) int {
	if r.empty() {
		return -1
	}
	i := o.search(func(x zoItem) bool { return !r.lteMax(x.score) }) - 1
	if i < 0 || !r.gteMin(o.at(i).score) {
		return -1
	}
	return i
}

// countIn returns the number of elements in r.
func (o *zsetObj) countIn(r scoreRange) int {
	first := o.firstIn(r)
	if first < 0 {
		return 0
	}
	return o.lastIn(r) - first + 1
}

// lexBound is a bound of a member range: "-" (below everything), "+"
// (above everything), "[x" (inclusive) or "(x" (exclusive).
type lexBound struct {
	s   string
	inf int8 // -1: "-", +1: "+", 0: s
	ex  bool
}

type lexRange struct{ min, max lexBound }

func parseLexBound(b []byte) (lexBound, bool) {
	if len(b) == 0 {
		return lexBound{}, false
	}
	switch b[0] {
	case '+':
		return lexBound{inf: 1, ex: true}, len(b) == 1
	case '-':
		return lexBound{inf: -1, ex: true}, len(b) == 1
	case '(':
		return lexBound{s: string(b[1:]), ex: true}, true
	case '[':
		return lexBound{s: string(b[1:])}, true
	}
	return lexBound{}, false
}

func parseLexRange(min, max []byte) (lexRange, bool) {
	lo, ok1 := parseLexBound(min)
	hi, ok2 := parseLexBound(max)
	return lexRange{lo, hi}, ok1 && ok2
}

// lexCmp compares two bounds' values as Redis does: "-" is below and "+"
// above every string, and each equals itself.
func lexCmp(a, b lexBound) int {
	switch {
	case a.inf != 0 && a.inf == b.inf:
		return 0
	case a.inf == -1 || b.inf == 1:
		return -1
	case a.inf == 1 || b.inf == -1:
		return 1
	}
	return bytes.Compare(stringBytes(a.s), stringBytes(b.s))
}

func (r lexRange) gteMin(m string) bool {
	c := lexCmp(lexBound{s: m}, r.min)
	if r.min.ex {
		return c > 0
	}
	return c >= 0
}

func (r lexRange) lteMax(m string) bool {
	c := lexCmp(lexBound{s: m}, r.max)
	if r.max.ex {
		return c < 0
	}
	return c <= 0
}

func (r lexRange) empty() bool {
	c := lexCmp(r.min, r.max)
	return c > 0 || (c == 0 && (r.min.ex || r.max.ex))
}

// A member range is meaningful when all scores are equal (the order is then
// the members' order). With mixed scores Redis's answer depends on its
// encoding: a compact sorted set is walked from an end, which these
// functions reproduce for compact ones; a large one is searched as if the
// members were in order.

// lexFirstIn returns the rank of the first element of r walking up, or -1.
func (o *zsetObj) lexFirstIn(r lexRange) int {
	n := o.len()
	if r.empty() || n == 0 || !r.gteMin(o.at(n-1).m) || !r.lteMax(o.at(0).m) {
		return -1
	}
	i := 0
	if o.large {
		i = o.search(func(x zoItem) bool { return r.gteMin(x.m) })
	} else {
		for i < n && !r.gteMin(o.at(i).m) {
			i++
		}
	}
	if i >= n || !r.lteMax(o.at(i).m) {
		return -1
	}
	return i
}

// lexLastIn returns the rank of the first element of r walking down, or -1.
func (o *zsetObj) lexLastIn(r lexRange) int {
	n := o.len()
	if r.empty() || n == 0 || !r.gteMin(o.at(n-1).m) || !r.lteMax(o.at(0).m) {
		return -1
	}
	i := n - 1
	if o.large {
		i = o.search(func(x zoItem) bool { return !r.lteMax(x.m) }) - 1
	} else {
		for i >= 0 && !r.lteMax(o.at(i).m) {
			i--
		}
	}
	if i < 0 || !r.gteMin(o.at(i).m) {
		return -1
	}
	return i
}

// lexCount returns the number of elements of r, walking up from the first.
func (o *zsetObj) lexCount(r lexRange) int {
	first := o.lexFirstIn(r)
	if first < 0 {
		return 0
	}
	if o.large {
		last := o.lexLastIn(r)
		if last < first {
			return 0
		}
		return last - first + 1
	}
	n := 0
	o.ascend(first, func(x zoItem) bool {
		if !r.lteMax(x.m) {
			return false
		}
		n++
		return true
	})
	return n
}

// isNaN is math.IsNaN, short.
func isNaN(f float64) bool { return math.IsNaN(f) }
