package fsm

import (
	"encoding/binary"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/tidwall/btree"
)

// The list value. A list is persistent: it is never changed once stored
// (snapshots and replies share it), and every operation returns a new list
// that shares what it can with the old one.
//
// Two forms, chosen by the contents alone (so every replica, and a replica
// restored from a snapshot, holds the same form):
//
//   - small (at most listSmallLen elements and listSmallBytes bytes): one
//     byte slice holding each element as a uvarint length and its bytes.
//     One allocation per list; an operation copies at most 8 KB.
//   - large: a copy-on-write B-tree of elements ordered by a position, with
//     subtree counts, so that index access, a push or a pop at either end
//     costs O(log n) and a change copies O(log n) nodes. Positions are
//     spaced listGap apart so that LINSERT usually finds a free position
//     between two neighbours; when it does not, or a push would leave the
//     int64 range, the positions are renumbered (O(n), rare).

const (
	listSmallLen   = 128
	listSmallBytes = 8 << 10
	listGap        = 1 << 16
	listPosLimit   = 1 << 62 // pushes renumber before a position passes ±listPosLimit
)

// list is a non-empty list value. Exactly one of pk and tree is set.
type list struct {
	n    int // elements
	size int // bytes of all elements
	pk   []byte
	tree *btree.BTreeG[litem]
}

// litem is an element of a large list.
type litem struct {
	pos int64
	val string
}

func litemLess(a, b litem) bool { return a.pos < b.pos }

func newItemTree() *btree.BTreeG[litem] { return btree.NewBTreeGOptions(litemLess, treeOpts) }

// small reports whether n elements of size bytes in all take the small form.
func small(n, size int) bool { return n <= listSmallLen && size <= listSmallBytes }

// newList returns the list of elems (copied), or nil if there are none.
func newList(elems [][]byte) *list {
	if len(elems) == 0 {
		return nil
	}
	size := 0
	for _, e := range elems {
		size += len(e)
	}
	if small(len(elems), size) {
		return &list{n: len(elems), size: size, pk: packElems(elems, size)}
	}
	t := newItemTree()
	buf := make([]byte, 0, size)
	base := -int64(len(elems)/2) * listGap
	for i, e := range elems {
		off := len(buf)
		buf = append(buf, e...)
		t.Load(litem{pos: base + int64(i)*listGap, val: bytesString(buf[off:len(buf):len(buf)])})
	}
	return &list{n: len(elems), size: size, tree: t}
}

// packElems encodes elems in the small form.
func packElems(elems [][]byte, size int) []byte {
	pk := make([]byte, 0, size+len(elems)*2)
	for _, e := range elems {
		pk = binary.AppendUvarint(pk, uint64(len(e)))
		pk = append(pk, e...)
	}
	return pk[:len(pk):len(pk)]
}

// bytesString returns b as a string without copying; b must never change.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// unpack returns the elements of a small list, aliasing pk.
func unpack(pk []byte, n int) [][]byte {
	out := make([][]byte, 0, n)
	for len(pk) > 0 {
		l, k := binary.Uvarint(pk)
		out = append(out, pk[k:k+int(l):k+int(l)])
		pk = pk[k+int(l):]
	}
	return out
}

// elems returns every element, aliasing the list's storage.
func (l *list) elems() [][]byte {
	if l.tree == nil {
		return unpack(l.pk, l.n)
	}
	out := make([][]byte, 0, l.n)
	l.tree.Scan(func(it litem) bool {
		out = append(out, stringBytes(it.val))
		return true
	})
	return out
}

// at returns element i, 0 <= i < l.n.
func (l *list) at(i int) []byte {
	if l.tree == nil {
		pk := l.pk
		for ; ; i-- {
			n, k := binary.Uvarint(pk)
			if i == 0 {
				return pk[k : k+int(n) : k+int(n)]
			}
			pk = pk[k+int(n):]
		}
	}
	it, _ := l.tree.GetAt(i)
	return stringBytes(it.val)
}

// each calls fn with the elements from index from to index to (inclusive,
// 0 <= from <= to < l.n) in order, or from to down to from if rev, until fn
// returns false.
func (l *list) each(from, to int, rev bool, fn func(i int, v []byte) bool) {
	if l.tree == nil {
		es := unpack(l.pk, l.n)
		if rev {
			for i := to; i >= from; i-- {
				if !fn(i, es[i]) {
					return
				}
			}
			return
		}
		for i := from; i <= to; i++ {
			if !fn(i, es[i]) {
				return
			}
		}
		return
	}
	if rev {
		start, _ := l.tree.GetAt(to)
		i := to
		l.tree.Descend(start, func(it litem) bool {
			if i < from || !fn(i, stringBytes(it.val)) {
				return false
			}
			i--
			return true
		})
		return
	}
	start, _ := l.tree.GetAt(from)
	i := from
	l.tree.Ascend(start, func(it litem) bool {
		if i > to || !fn(i, stringBytes(it.val)) {
			return false
		}
		i++
		return true
	})
}

// rebuilt returns the list of elems (copied; they may alias the list they
// came from).
func rebuilt(elems [][]byte) *list { return newList(elems) }

// push returns l (nil: empty) with elems added one by one at the head
// (left) or the tail, as LPUSH and RPUSH add them.
func (l *list) push(elems [][]byte, left bool) *list {
	add := 0
	for _, e := range elems {
		add += len(e)
	}
	n, size := len(elems), add
	if l != nil {
		n += l.n
		size += l.size
	}
	if small(n, size) {
		var old []byte
		if l != nil {
			old = l.pk
		}
		pk := make([]byte, 0, len(old)+add+len(elems)*2)
		if left {
			for i := len(elems) - 1; i >= 0; i-- {
				pk = binary.AppendUvarint(pk, uint64(len(elems[i])))
				pk = append(pk, elems[i]...)
			}
			pk = append(pk, old...)
		} else {
			pk = append(pk, old...)
			for _, e := range elems {
				pk = binary.AppendUvarint(pk, uint64(len(e)))
				pk = append(pk, e...)
			}
		}
		return &list{n: n, size: size, pk: pk[:len(pk):len(pk)]}
	}
	if l == nil || l.tree == nil {
		// Crossing into the large form: build it whole.
		var all [][]byte
		if left {
			for i := len(elems) - 1; i >= 0; i-- {
				all = append(all, elems[i])
			}
			if l != nil {
				all = append(all, l.elems()...)
			}
		} else {
			if l != nil {
				all = l.elems()
			}
			all = append(all, elems...)
		}
		return newList(all)
	}
	t := l.tree.Copy()
	lo, _ := t.Min()
	hi, _ := t.Max()
	if (left && lo.pos-int64(len(elems))*listGap < -listPosLimit) || (!left && hi.pos+int64(len(elems))*listGap > listPosLimit) {
		t = renumber(t)
		lo, _ = t.Min()
		hi, _ = t.Max()
	}
	buf := make([]byte, 0, add)
	for _, e := range elems {
		off := len(buf)
		buf = append(buf, e...)
		v := bytesString(buf[off:len(buf):len(buf)])
		if left {
			lo.pos -= listGap
			t.Set(litem{pos: lo.pos, val: v})
		} else {
			hi.pos += listGap
			t.Set(litem{pos: hi.pos, val: v})
		}
	}
	return &list{n: n, size: size, tree: t}
}

// renumber returns a new tree with the items of t spaced listGap apart
// around 0.
func renumber(t *btree.BTreeG[litem]) *btree.BTreeG[litem] {
	nt := newItemTree()
	pos := -int64(t.Len()/2) * listGap
	t.Scan(func(it litem) bool {
		nt.Load(litem{pos: pos, val: it.val})
		pos += listGap
		return true
	})
	return nt
}

// pop removes up to k elements from the head (left) or the tail and
// returns them in the order popped, and the rest (nil when empty).
func (l *list) pop(k int, left bool) ([][]byte, *list) {
	k = min(k, l.n)
	if k == l.n {
		es := l.elems()
		if !left {
			reverse(es)
		}
		return es, nil
	}
	if l.tree == nil {
		es := unpack(l.pk, l.n)
		var out, rest [][]byte
		if left {
			out, rest = es[:k], es[k:]
		} else {
			out, rest = es[l.n-k:], es[:l.n-k]
			reverse(out)
		}
		// The rest is a contiguous part of pk: share it.
		pk := l.pk
		if left {
			skip := 0
			for _, e := range out {
				skip += uvarintLen(len(e)) + len(e)
			}
			pk = pk[skip:]
		} else {
			cut := 0
			for _, e := range out {
				cut += uvarintLen(len(e)) + len(e)
			}
			pk = pk[: len(pk)-cut : len(pk)-cut]
		}
		size := 0
		for _, e := range rest {
			size += len(e)
		}
		return out, &list{n: len(rest), size: size, pk: pk}
	}
	t := l.tree.Copy()
	out := make([][]byte, 0, k)
	size := l.size
	for range k {
		var it litem
		if left {
			it, _ = t.PopMin()
		} else {
			it, _ = t.PopMax()
		}
		out = append(out, stringBytes(it.val))
		size -= len(it.val)
	}
	return out, shrink(&list{n: l.n - k, size: size, tree: t})
}

// shrink returns l in the small form if it now fits it.
func shrink(l *list) *list {
	if l.tree != nil && small(l.n, l.size) {
		return newList(l.elems())
	}
	return l
}

func uvarintLen(n int) int {
	var b [binary.MaxVarintLen64]byte
	return len(binary.AppendUvarint(b[:0], uint64(n)))
}

func reverse(es [][]byte) {
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
}

// set returns l with element i (0 <= i < l.n) replaced by v.
func (l *list) set(i int, v []byte) *list {
	size := l.size - len(l.at(i)) + len(v)
	if l.tree != nil && !small(l.n, size) {
		t := l.tree.Copy()
		it, _ := t.GetAt(i)
		t.Set(litem{pos: it.pos, val: string(v)})
		return &list{n: l.n, size: size, tree: t}
	}
	es := l.elems()
	es[i] = v
	return rebuilt(es)
}

// insert returns l with v inserted before index i (0 <= i <= l.n).
func (l *list) insert(i int, v []byte) *list {
	if i == 0 {
		return l.push([][]byte{v}, true)
	}
	if i == l.n {
		return l.push([][]byte{v}, false)
	}
	if l.tree == nil {
		es := l.elems()
		out := make([][]byte, 0, l.n+1)
		out = append(out, es[:i]...)
		out = append(out, v)
		out = append(out, es[i:]...)
		return rebuilt(out)
	}
	t := l.tree.Copy()
	prev, _ := t.GetAt(i - 1)
	next, _ := t.GetAt(i)
	if next.pos-prev.pos < 2 {
		t = renumber(t)
		prev, _ = t.GetAt(i - 1)
		next, _ = t.GetAt(i)
	}
	t.Set(litem{pos: prev.pos + (next.pos-prev.pos)/2, val: string(v)})
	return &list{n: l.n + 1, size: l.size + len(v), tree: t}
}

// without returns l without the elements at the ascending indexes idx (nil
// when none is left).
func (l *list) without(idx []int) *list {
	if len(idx) == 0 {
		return l
	}
	if len(idx) == l.n {
		return nil
	}
	if l.tree == nil || len(idx) > l.n/4 {
		es := l.elems()
		out := make([][]byte, 0, l.n-len(idx))
		j := 0
		for i, e := range es {
			if j < len(idx) && idx[j] == i {
				j++
				continue
			}
			out = append(out, e)
		}
		return rebuilt(out)
	}
	t := l.tree.Copy()
	size := l.size
	for k := len(idx) - 1; k >= 0; k-- { // from the back, so indexes stay valid
		it, _ := t.DeleteAt(idx[k])
		size -= len(it.val)
	}
	return shrink(&list{n: l.n - len(idx), size: size, tree: t})
}

// slice returns the elements from start to stop inclusive (0 <= start <=
// stop < l.n) as a list.
func (l *list) slice(start, stop int) *list {
	keep := stop - start + 1
	if keep == l.n {
		return l
	}
	if l.tree == nil || keep <= l.n-keep {
		out := make([][]byte, 0, keep)
		l.each(start, stop, false, func(_ int, v []byte) bool {
			out = append(out, v)
			return true
		})
		return rebuilt(out)
	}
	t := l.tree.Copy()
	size := l.size
	for range start {
		it, _ := t.PopMin()
		size -= len(it.val)
	}
	for range l.n - 1 - stop {
		it, _ := t.PopMax()
		size -= len(it.val)
	}
	return shrink(&list{n: keep, size: size, tree: t})
}

// encoding is the name OBJECT ENCODING gives the list's form.
func (l *list) encoding() string {
	if l.tree == nil {
		return "listpack"
	}
	return "quicklist"
}

// memory estimates the bytes the list takes, for MEMORY USAGE and INFO.
func (l *list) memory() int {
	if l.tree == nil {
		return 48 + cap(l.pk)
	}
	return 48 + l.size + l.n*40
}

// writeList writes a list's snapshot payload: the count, then each element
// (varint length, bytes), head first.
func writeList(w objWriter, l *list) {
	w.uvarint(uint64(l.n))
	l.each(0, l.n-1, false, func(_ int, v []byte) bool {
		w.uvarint(uint64(len(v)))
		w.write(v)
		return true
	})
}

// readList reads what writeList wrote.
func readList(r *snapReader) (value, error) {
	n, err := r.uvarint("list length")
	if err != nil {
		return value{}, err
	}
	if n == 0 {
		return value{}, corrupt("empty list")
	}
	var elems [][]byte
	for i := uint64(0); i < n; i++ {
		el, err := r.blob("list element")
		if err != nil {
			return value{}, err
		}
		elems = append(elems, stringBytes(el))
	}
	return value{typ: typeList, obj: newList(elems)}, nil
}

// digestList adds a list to a state digest: the count, then each element
// length-prefixed.
func digestList(h *xxhash.Digest, l *list) {
	var buf [8]byte
	h.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(l.n)))
	l.each(0, l.n-1, false, func(_ int, v []byte) bool {
		h.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(len(v))))
		h.Write(v)
		return true
	})
}
