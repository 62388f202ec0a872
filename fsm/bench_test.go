package fsm

import (
	"fmt"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

const benchKeys = 100_000

// benchKeyNamesPadded are keys as redis-benchmark -r names them
// ("key:000000012345"): every key shares its first 8 bytes.
func benchKeyNamesPadded() [][]byte {
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key:%012d", i*7919%benchKeys)
	}
	return keys
}

func benchKeyNames() [][]byte {
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i*7919%benchKeys))
	}
	return keys
}

// BenchmarkApplySet is SET of a 32-byte value over 100k existing keys: the
// one allocation per op is the stored key+value.
func BenchmarkApplySet(b *testing.B) {
	keys := benchKeyNames()
	s := NewState()
	val := []byte("0123456789abcdef0123456789abcdef")
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, val}}
	for _, k := range keys {
		cmd.Args[1] = k
		s.Apply(cmd)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd.Args[1] = keys[i%benchKeys]
		if r := s.Apply(cmd); r.Kind != KindStatus {
			b.Fatal(r)
		}
	}
}

// BenchmarkApplySetPadded is BenchmarkApplySet with redis-benchmark's key
// names, visited in a scattered order.
func BenchmarkApplySetPadded(b *testing.B) {
	keys := benchKeyNamesPadded()
	s := NewState()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte("0123456789abcdef")}}
	for _, k := range keys {
		cmd.Args[1] = k
		s.Apply(cmd)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd.Args[1] = keys[i*31%benchKeys]
		if r := s.Apply(cmd); r.Kind != KindStatus {
			b.Fatal(r)
		}
	}
}

// BenchmarkReadGetPadded is BenchmarkReadGet with redis-benchmark's key
// names, visited in a scattered order.
func BenchmarkReadGetPadded(b *testing.B) {
	keys := benchKeyNamesPadded()
	m := NewMachine()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte("0123456789abcdef")}}
	for _, k := range keys {
		cmd.Args[1] = k
		m.s.Apply(cmd)
	}
	args := [][]byte{[]byte("GET"), nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i*31%benchKeys]
		if r := m.Read(t0, args); r.Kind != KindBulk {
			b.Fatal(r)
		}
	}
}

// BenchmarkApplySetNew is SET of new keys (the tree grows).
func BenchmarkApplySetNew(b *testing.B) {
	keys := make([][]byte, b.N)
	for i := range keys {
		keys[i] = []byte("key:" + strconv.Itoa(i))
	}
	s := NewState()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte("0123456789abcdef0123456789abcdef")}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd.Args[1] = keys[i]
		s.Apply(cmd)
	}
}

// BenchmarkApplyEntrySet is a batch of 16 SETs through Machine.ApplyEntry,
// protobuf decoding included, per SET.
func BenchmarkApplyEntrySet(b *testing.B) {
	keys := benchKeyNames()
	m := NewMachine()
	var entries [][]byte
	for i := 0; i < 1024; i++ {
		e := &pb.Entry{}
		for j := 0; j < 16; j++ {
			e.Commands = append(e.Commands, &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), keys[(i*16+j)%benchKeys], []byte("0123456789abcdef0123456789abcdef")}})
		}
		data, _ := proto.Marshal(e)
		entries = append(entries, data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 16 {
		m.ApplyEntry(entries[(i/16)%len(entries)])
	}
}

// BenchmarkReadGet is GET through Machine.Read (read lock included) over
// 100k keys: no allocation.
func BenchmarkReadGet(b *testing.B) {
	keys := benchKeyNames()
	m := NewMachine()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte("0123456789abcdef0123456789abcdef")}}
	for _, k := range keys {
		cmd.Args[1] = k
		m.s.Apply(cmd)
	}
	args := [][]byte{[]byte("GET"), nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i%benchKeys]
		if r := m.Read(t0, args); r.Kind != KindBulk {
			b.Fatal(r)
		}
	}
}

// BenchmarkSnapshotWrite is writing a snapshot of 100k keys.
func BenchmarkSnapshotWrite(b *testing.B) {
	keys := benchKeyNames()
	m := NewMachine()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte("0123456789abcdef0123456789abcdef")}}
	for _, k := range keys {
		cmd.Args[1] = k
		m.s.Apply(cmd)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sn := m.Snapshot()
		n, err := sn.WriteTo(discard{})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(n)
		sn.Release()
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
