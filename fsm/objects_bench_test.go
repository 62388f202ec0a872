package fsm

import (
	"strconv"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// benchZSet returns a state holding a sorted set "z" of n members.
func benchZSet(n int) *State {
	s := NewState()
	args := [][]byte{[]byte("ZADD"), []byte("z")}
	for i := 0; i < n; i++ {
		args = append(args, strconv.AppendInt(nil, int64(i*7919%n), 10), []byte("member:"+strconv.Itoa(i)))
	}
	s.Apply(&pb.Command{NowMs: t0, Args: args})
	return s
}

func benchApply(b *testing.B, s *State, mk func(i int) [][]byte) {
	cmd := &pb.Command{NowMs: t0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd.Args = mk(i)
		if r := s.Apply(cmd); r.Kind == KindError {
			b.Fatal(r)
		}
	}
}

const benchN = 100_000

func memberArg(i int) []byte { return []byte("member:" + strconv.Itoa(i%benchN)) }

// BenchmarkZAddUpdate changes the score of a member of a 100k sorted set.
func BenchmarkZAddUpdate(b *testing.B) {
	s := benchZSet(benchN)
	benchApply(b, s, func(i int) [][]byte {
		return [][]byte{[]byte("ZADD"), []byte("z"), strconv.AppendInt(nil, int64(i), 10), memberArg(i * 13)}
	})
}

// BenchmarkZRank is ZRANK in a 100k sorted set (a binary search over ranks).
func BenchmarkZRank(b *testing.B) {
	s := benchZSet(benchN)
	benchApply(b, s, func(i int) [][]byte {
		return [][]byte{[]byte("ZRANK"), []byte("z"), memberArg(i * 13)}
	})
}

// BenchmarkZRangeByScore is a 10-element score range of a 100k sorted set.
func BenchmarkZRangeByScore(b *testing.B) {
	s := benchZSet(benchN)
	benchApply(b, s, func(i int) [][]byte {
		lo := strconv.Itoa(i % benchN)
		return [][]byte{[]byte("ZRANGEBYSCORE"), []byte("z"), []byte(lo), []byte("+inf"), []byte("LIMIT"), []byte("0"), []byte("10")}
	})
}

// BenchmarkHSet sets a field of a 100k-field hash.
func BenchmarkHSet(b *testing.B) {
	s := NewState()
	for i := 0; i < benchN; i++ {
		s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("HSET"), []byte("h"), memberArg(i), []byte("v")}})
	}
	benchApply(b, s, func(i int) [][]byte {
		return [][]byte{[]byte("HSET"), []byte("h"), memberArg(i * 13), []byte("value")}
	})
}

// BenchmarkSAddSRem adds and removes members of a 100k-member set.
func BenchmarkSAddSRem(b *testing.B) {
	s := NewState()
	for i := 0; i < benchN; i++ {
		s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("SADD"), []byte("s"), memberArg(i)}})
	}
	benchApply(b, s, func(i int) [][]byte {
		name := "SREM"
		if i%2 == 1 {
			name = "SADD"
		}
		return [][]byte{[]byte(name), []byte("s"), memberArg(i / 2 * 13)}
	})
}

// BenchmarkZAddAfterSnapshot is the first write to a 100k sorted set after
// a snapshot: the O(1) copy and the copied tree paths.
func BenchmarkZAddAfterSnapshot(b *testing.B) {
	s := benchZSet(benchN)
	cmd := &pb.Command{NowMs: t0}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sn := s.Snapshot()
		cmd.Args = [][]byte{[]byte("ZADD"), []byte("z"), strconv.AppendInt(nil, int64(i), 10), memberArg(i * 13)}
		s.Apply(cmd)
		sn.Release()
	}
}
