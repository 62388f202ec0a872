package fsm

import "github.com/tidwall/btree"

// ordered is the container of a collection's elements: a sorted slice while
// it holds at most orderedSmall items (one allocation, binary search,
// insertion by moving at most that many items), a copy-on-write B-tree with
// subtree counts beyond. It offers the subset of the B-tree's operations
// the collections use, with the same meaning, whichever the form.
//
// Sharing: copy returns an independent container in O(1) for the tree (its
// nodes are copied on their first change on either side) and O(small) for
// the slice. A container that once became a tree stays one.
type ordered[T any] struct {
	less  func(a, b T) bool
	small []T
	tree  *btree.BTreeG[T] // nil while small
}

// orderedSmall is the most items the slice form holds.
const orderedSmall = 128

func newOrdered[T any](less func(a, b T) bool) ordered[T] { return ordered[T]{less: less} }

func (o *ordered[T]) Len() int {
	if o.tree != nil {
		return o.tree.Len()
	}
	return len(o.small)
}

// search returns the index of the first item not less than key, and
// whether it equals key.
func (o *ordered[T]) search(key T) (int, bool) {
	lo, hi := 0, len(o.small)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if o.less(o.small[mid], key) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(o.small) && !o.less(key, o.small[lo])
}

func (o *ordered[T]) Get(key T) (T, bool) {
	if o.tree != nil {
		return o.tree.Get(key)
	}
	if i, ok := o.search(key); ok {
		return o.small[i], true
	}
	var zero T
	return zero, false
}

// Set inserts item or replaces the equal one, returning it.
func (o *ordered[T]) Set(item T) (T, bool) {
	if o.tree != nil {
		return o.tree.Set(item)
	}
	i, ok := o.search(item)
	if ok {
		prev := o.small[i]
		o.small[i] = item
		return prev, true
	}
	var zero T
	if len(o.small) >= orderedSmall {
		o.toTree()
		o.tree.Set(item)
		return zero, false
	}
	o.small = append(o.small, zero)
	copy(o.small[i+1:], o.small[i:])
	o.small[i] = item
	return zero, false
}

// Load appends an item greater than every item held (as when reading a
// sorted stream).
func (o *ordered[T]) Load(item T) {
	if o.tree == nil && len(o.small) >= orderedSmall {
		o.toTree()
	}
	if o.tree != nil {
		o.tree.Load(item)
		return
	}
	o.small = append(o.small, item)
}

func (o *ordered[T]) toTree() {
	t := btree.NewBTreeGOptions(o.less, treeOpts)
	for _, it := range o.small {
		t.Load(it)
	}
	o.tree, o.small = t, nil
}

func (o *ordered[T]) Delete(key T) (T, bool) {
	if o.tree != nil {
		return o.tree.Delete(key)
	}
	i, ok := o.search(key)
	if !ok {
		var zero T
		return zero, false
	}
	return o.DeleteAt(i)
}

func (o *ordered[T]) GetAt(i int) (T, bool) {
	if o.tree != nil {
		return o.tree.GetAt(i)
	}
	if i < 0 || i >= len(o.small) {
		var zero T
		return zero, false
	}
	return o.small[i], true
}

func (o *ordered[T]) DeleteAt(i int) (T, bool) {
	if o.tree != nil {
		return o.tree.DeleteAt(i)
	}
	var zero T
	if i < 0 || i >= len(o.small) {
		return zero, false
	}
	prev := o.small[i]
	copy(o.small[i:], o.small[i+1:])
	o.small[len(o.small)-1] = zero // let the string go
	o.small = o.small[:len(o.small)-1]
	return prev, true
}

// Scan visits every item in order while fn returns true.
func (o *ordered[T]) Scan(fn func(T) bool) {
	if o.tree != nil {
		o.tree.Scan(fn)
		return
	}
	for _, it := range o.small {
		if !fn(it) {
			return
		}
	}
}

// Ascend visits the items not less than pivot, upwards, while fn returns
// true.
func (o *ordered[T]) Ascend(pivot T, fn func(T) bool) {
	if o.tree != nil {
		o.tree.Ascend(pivot, fn)
		return
	}
	i, _ := o.search(pivot)
	for ; i < len(o.small); i++ {
		if !fn(o.small[i]) {
			return
		}
	}
}

// Descend visits the items not greater than pivot, downwards, while fn
// returns true.
func (o *ordered[T]) Descend(pivot T, fn func(T) bool) {
	if o.tree != nil {
		o.tree.Descend(pivot, fn)
		return
	}
	i, eq := o.search(pivot)
	if !eq {
		i--
	}
	for ; i >= 0; i-- {
		if !fn(o.small[i]) {
			return
		}
	}
}

func (o *ordered[T]) Min() (T, bool) { return o.GetAt(0) }

func (o *ordered[T]) Max() (T, bool) { return o.GetAt(o.Len() - 1) }

// copy returns an independent copy; see ordered.
func (o *ordered[T]) copy() ordered[T] {
	if o.tree != nil {
		return ordered[T]{less: o.less, tree: o.tree.Copy()}
	}
	return ordered[T]{less: o.less, small: append([]T(nil), o.small...)}
}
