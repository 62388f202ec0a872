package fsm

import (
	"math"
	"math/bits"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Randomness. SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER and RANDOMKEY
// (FlagRandom) draw from a small generator seeded by the command:
//
//   - applied from the log, the seed is Ctx.Seed, the one the leader put
//     in the entry, mixed with the key: every replica draws the same
//     numbers, so SPOP removes the same members everywhere;
//   - served by Read (the read-only ones, as Redis serves them, without a
//     log entry), the seed comes from readSeed: the read's time and a
//     counter of such reads, so that repeated calls, even pipelined in one
//     millisecond, give fresh samples. Nothing depends on those draws
//     agreeing across replicas, since a read changes nothing.

// rng is splitmix64: tiny, fast, and good enough for sampling.
type rng struct{ x uint64 }

// newRNG seeds a generator from a command's seed and key.
func newRNG(seed uint64, key []byte) *rng {
	return &rng{x: seed ^ bits.RotateLeft64(xxhash.Sum64(key), 17) ^ 0x6a09e667f3bcc909}
}

func (r *rng) next() uint64 {
	r.x += 0x9e3779b97f4a7c15
	z := r.x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform integer in [0, n), n > 0 (unbiased: Lemire's
// multiply-and-reject).
func (r *rng) intn(n int) int {
	un := uint64(n)
	hi, lo := bits.Mul64(r.next(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), un)
		}
	}
	return int(hi)
}

// distinct returns k distinct indexes of [0, n) in random order (k <= n),
// by Floyd's algorithm: O(k) draws whatever k is. The map only answers
// membership; the order returned is the order drawn.
func (r *rng) distinct(n, k int) []int {
	out := make([]int, 0, k)
	seen := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		t := r.intn(j + 1)
		if _, dup := seen[t]; dup {
			t = j
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	// Floyd's order is biased towards the end for the late picks; shuffle.
	for i := len(out) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// maxRandomReply bounds the reply of a negative count (elements may
// repeat), which Redis does not bound: beyond it the command is refused
// (randCount) rather than building a reply of that size.
const maxRandomReply = 1 << 24

// sample returns the indexes of SRANDMEMBER/HRANDFIELD/ZRANDMEMBER with a
// count among n elements: count > 0, distinct ones (all of them, in order,
// if count >= n); count < 0, -count with repetition. count != 0, n > 0.
func (r *rng) sample(n int, count int64) []int {
	if count < 0 {
		k := int(min(-count, maxRandomReply))
		out := make([]int, k)
		for i := range out {
			out[i] = r.intn(n)
		}
		return out
	}
	if count >= int64(n) {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return r.distinct(n, int(count))
}

// readSeed returns a seed for a random command served by Read at time
// now. It may be called concurrently (Read holds only the read lock).
func (s *State) readSeed(now int64) uint64 {
	n := atomic.AddUint64(&s.readNonce, 1)
	x := uint64(now)*0x9e3779b97f4a7c15 ^ n*0xd1b54a32d192ed03
	if x == 0 {
		x = math.MaxUint64
	}
	return x
}
