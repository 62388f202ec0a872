package fsm

import (
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func TestRNG(t *testing.T) {
	r := newRNG(42, []byte("k"))
	const n, draws = 10, 100_000
	var hist [n]int
	for i := 0; i < draws; i++ {
		hist[r.intn(n)]++
	}
	for i, c := range hist {
		if c < draws/n*9/10 || c > draws/n*11/10 {
			t.Errorf("intn(%d) drew %d %d times in %d", n, i, c, draws)
		}
	}
	for _, k := range []int{0, 1, 5, 50, 99, 100} {
		got := newRNG(uint64(k), nil).distinct(100, k)
		seen := map[int]bool{}
		for _, x := range got {
			if x < 0 || x >= 100 || seen[x] {
				t.Fatalf("distinct(100, %d) = %v", k, got)
			}
			seen[x] = true
		}
		if len(got) != k {
			t.Fatalf("distinct(100, %d) has %d", k, len(got))
		}
	}
	// Same seed and key, same draws; another key, other draws.
	a, b, c := newRNG(7, []byte("x")), newRNG(7, []byte("x")), newRNG(7, []byte("y"))
	same, other := true, true
	for i := 0; i < 10; i++ {
		va, vb, vc := a.next(), b.next(), c.next()
		same = same && va == vb
		other = other && va == vc
	}
	if !same || other {
		t.Fatalf("seeding: same %v, other key equal %v", same, other)
	}
}

// TestRandomCommandsSeeded: applied from the log, the random commands
// depend on the command's seed only; through Read they vary call to call.
func TestRandomCommandsSeeded(t *testing.T) {
	s := NewState()
	do(t, s, t0, "SADD s a b c d e f g h i j")
	apply := func(seed uint64, line string) string {
		return s.Apply(&pb.Command{NowMs: t0, Seed: seed, Args: split(t, line)}).String()
	}
	for _, line := range []string{"SRANDMEMBER s 3", "SRANDMEMBER s -5", "SRANDMEMBER s"} {
		if apply(1, line) != apply(1, line) {
			t.Errorf("%s: same seed, different replies", line)
		}
		differ := false
		for seed := uint64(2); seed < 10; seed++ {
			differ = differ || apply(seed, line) != apply(1, line)
		}
		if !differ {
			t.Errorf("%s: the seed changes nothing", line)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		seen[s.Read(t0, split(t, "SRANDMEMBER s 2")).String()] = true
	}
	if len(seen) < 10 {
		t.Errorf("50 reads gave %d different samples", len(seen))
	}
}
