package fsm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// BenchmarkMemPerKey applies 1M SETs of 16-byte keys and 16-byte values and
// reports the live heap the state holds per key, after a garbage
// collection: the in-memory cost of a key that the benchmarks' memory
// target compares with Redis. "ascending" writes the keys in order, as the
// benchmark's fill does; "random" in a random order.
//
//	go test ./fsm -run XXX -bench MemPerKey -benchtime 1x
func BenchmarkMemPerKey(b *testing.B) {
	const n = 1_000_000
	for _, order := range []string{"ascending", "random"} {
		b.Run(order, func(b *testing.B) {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			if order == "random" {
				rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
			}
			val := []byte("0123456789abcdef")
			for b.Loop() {
				before := liveHeap()
				s := NewState()
				cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), make([]byte, 16), val}}
				for _, i := range idx {
					cmd.Args[1] = fmt.Appendf(cmd.Args[1][:0], "key:%012d", i)
					if r := s.Apply(cmd); r.Kind != KindStatus {
						b.Fatal(r)
					}
				}
				after := liveHeap()
				runtime.KeepAlive(s)
				b.ReportMetric(float64(after-before)/n, "B/key")
			}
		})
	}
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestEntrySize keeps the keyspace tree's entry small: the tree stores
// entries by value, so every byte of one costs about two per key (its nodes
// are between half and fully used).
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 64 {
		t.Fatalf("an entry is %d bytes, more than 64", n)
	}
	if n := unsafe.Sizeof(value{}); n > 24 {
		t.Fatalf("a value is %d bytes, more than 24", n)
	}
}

// TestStrValue checks the string representation: the bytes come back
// unchanged, an empty string is empty but not nil (a bulk reply, not a nil
// one), and the capacity is the length, so an append never writes past the
// value into memory it shares (allocEntry puts the key and value together).
func TestStrValue(t *testing.T) {
	for _, b := range [][]byte{nil, {}, []byte("x"), []byte("0123456789abcdef0123456789abcdef")} {
		s := strValue(b).str()
		if s == nil || string(s) != string(b) || cap(s) != len(b) {
			t.Errorf("strValue(%q).str() = %q, nil %v, cap %d", b, s, s == nil, cap(s))
		}
	}
	e, v := allocEntry([]byte("key"), 3, 0)
	copy(v, "val")
	if s := e.val.str(); string(s) != "val" || cap(s) != 3 || e.key != "key" {
		t.Fatalf("allocEntry: key %q, value %q cap %d", e.key, s, cap(s))
	}
	if s := append(e.val.str(), '!'); e.key != "key" || string(e.val.str()) != "val" || string(s) != "val!" {
		t.Fatalf("append changed the entry: key %q, value %q", e.key, e.val.str())
	}
}
