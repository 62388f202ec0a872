package fsm

import (
	"math/rand"
	"testing"

	"github.com/tidwall/btree"
)

// TestOrdered runs random operations on an ordered container and on a
// B-tree and checks that they agree, across the change of form, and that
// a copy is independent of its original.
func TestOrdered(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	less := func(a, b int) bool { return a < b }
	for round := 0; round < 50; round++ {
		o := newOrdered(less)
		ref := btree.NewBTreeGOptions(less, treeOpts)
		var copies []ordered[int]
		var refs [][]int
		span := 10 + r.Intn(400)
		for step := 0; step < 2000; step++ {
			k := r.Intn(span)
			switch r.Intn(8) {
			case 0, 1, 2:
				p1, ok1 := o.Set(k)
				p2, ok2 := ref.Set(k)
				if ok1 != ok2 || p1 != p2 {
					t.Fatalf("Set(%d): %v %v, want %v %v", k, p1, ok1, p2, ok2)
				}
			case 3:
				p1, ok1 := o.Delete(k)
				p2, ok2 := ref.Delete(k)
				if ok1 != ok2 || p1 != p2 {
					t.Fatalf("Delete(%d)", k)
				}
			case 4:
				if ref.Len() > 0 {
					i := r.Intn(ref.Len())
					p1, _ := o.DeleteAt(i)
					p2, _ := ref.DeleteAt(i)
					if p1 != p2 {
						t.Fatalf("DeleteAt(%d)", i)
					}
				}
			case 5:
				var a, b []int
				n := r.Intn(10)
				o.Ascend(k, func(x int) bool { a = append(a, x); return len(a) < n })
				ref.Ascend(k, func(x int) bool { b = append(b, x); return len(b) < n })
				if !equalInts(a, b) {
					t.Fatalf("Ascend(%d): %v, want %v", k, a, b)
				}
				a, b = nil, nil
				o.Descend(k, func(x int) bool { a = append(a, x); return len(a) < n })
				ref.Descend(k, func(x int) bool { b = append(b, x); return len(b) < n })
				if !equalInts(a, b) {
					t.Fatalf("Descend(%d): %v, want %v", k, a, b)
				}
			case 6:
				if r.Intn(20) == 0 {
					copies = append(copies, o.copy())
					refs = append(refs, ref.Items())
				}
			case 7:
				v1, ok1 := o.Get(k)
				v2, ok2 := ref.Get(k)
				i := r.Intn(span)
				a1, b1 := o.GetAt(i)
				a2, b2 := ref.GetAt(i)
				if v1 != v2 || ok1 != ok2 || a1 != a2 || b1 != b2 {
					t.Fatalf("Get(%d) or GetAt(%d)", k, i)
				}
			}
			if o.Len() != ref.Len() {
				t.Fatalf("Len %d, want %d", o.Len(), ref.Len())
			}
		}
		var all []int
		o.Scan(func(x int) bool { all = append(all, x); return true })
		if !equalInts(all, ref.Items()) {
			t.Fatal("Scan differs")
		}
		for i, c := range copies {
			var got []int
			c.Scan(func(x int) bool { got = append(got, x); return true })
			if !equalInts(got, refs[i]) {
				t.Fatalf("copy %d changed", i)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
