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
	benchApplySet(b, benchKeyNames(), "0123456789abcdef0123456789abcdef", 1)
}

// BenchmarkApplySetPadded is BenchmarkApplySet with redis-benchmark's key
// names and 16-byte values, keys visited in a scattered order.
func BenchmarkApplySetPadded(b *testing.B) {
	benchApplySet(b, benchKeyNamesPadded(), "0123456789abcdef", 31)
}

// benchApplySet sets every key to val, then times SETs of key i*stride.
func benchApplySet(b *testing.B, keys [][]byte, val string, stride int) {
	s := benchState(keys, val).s
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte(val)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd.Args[1] = keys[i*stride%len(keys)]
		if r := s.Apply(cmd); r.Kind != KindStatus {
			b.Fatal(r)
		}
	}
}

// benchState returns a Machine holding every key set to val.
func benchState(keys [][]byte, val string) *Machine {
	m := NewMachine()
	cmd := &pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), nil, []byte(val)}}
	for _, k := range keys {
		cmd.Args[1] = k
		m.s.Apply(cmd)
	}
	return m
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
	benchReadGet(b, benchKeyNames(), 1)
}

// BenchmarkReadGetPadded is BenchmarkReadGet with redis-benchmark's key
// names, visited in a scattered order.
func BenchmarkReadGetPadded(b *testing.B) {
	benchReadGet(b, benchKeyNamesPadded(), 31)
}

// benchReadGet times GETs of key i*stride.
func benchReadGet(b *testing.B, keys [][]byte, stride int) {
	m := benchState(keys, "0123456789abcdef0123456789abcdef")
	args := [][]byte{[]byte("GET"), nil}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		args[1] = keys[i*stride%len(keys)]
		if r := m.Read(t0, args); r.Kind != KindBulk {
			b.Fatal(r)
		}
	}
}

// BenchmarkSnapshotWrite is writing a snapshot of 100k keys.
func BenchmarkSnapshotWrite(b *testing.B) {
	m := benchState(benchKeyNames(), "0123456789abcdef0123456789abcdef")
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
