package fsm

import (
	"bytes"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// collCmd returns a random command over hashes, sets, sorted sets, their
// random and store commands, and the keyspace commands that move values
// around, on a few keys so that they collide.
func collCmd(r *rand.Rand) []string {
	key := func(p string) string { return p + strconv.Itoa(r.Intn(4)) }
	m := func() string {
		if r.Intn(20) == 0 {
			return strings.Repeat("L", 70)
		}
		return strconv.Itoa(r.Intn(40))
	}
	ms := func(n int) []string {
		out := make([]string, 1+r.Intn(n))
		for i := range out {
			out[i] = m()
		}
		return out
	}
	sc := func() string { return strconv.Itoa(r.Intn(21)-10) + []string{"", ".5", ".25"}[r.Intn(3)] }
	anyKey := func() string { return key([]string{"h", "s", "z", "k"}[r.Intn(4)]) }
	n := 1
	if r.Intn(30) == 0 {
		n = 200 // past the compact encodings
	}
	switch r.Intn(30) {
	case 0, 1:
		args := []string{"HSET", key("h")}
		for i := 0; i < n; i++ {
			args = append(args, m(), m())
		}
		return args
	case 2:
		return append([]string{"HDEL", key("h")}, ms(3)...)
	case 3:
		return []string{"HINCRBY", key("h"), m(), strconv.Itoa(r.Intn(100))}
	case 4:
		return []string{"HINCRBYFLOAT", key("h"), m(), "0.1"}
	case 5, 6:
		args := []string{"SADD", key("s")}
		for i := 0; i < n; i++ {
			args = append(args, m())
		}
		return args
	case 7:
		return append([]string{"SREM", key("s")}, ms(3)...)
	case 8:
		return []string{"SPOP", key("s"), strconv.Itoa(r.Intn(4))}
	case 9:
		return []string{"SPOP", key("s")}
	case 10:
		return []string{"SMOVE", key("s"), key("s"), m()}
	case 11:
		return []string{[]string{"SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"}[r.Intn(3)], key("s"), key("s"), key("s")}
	case 12, 13:
		args := []string{"ZADD", key("z")}
		for i := 0; i < n; i++ {
			args = append(args, sc(), m())
		}
		return args
	case 14:
		return []string{"ZINCRBY", key("z"), sc(), m()}
	case 15:
		return append([]string{"ZREM", key("z")}, ms(3)...)
	case 16:
		return []string{[]string{"ZPOPMIN", "ZPOPMAX"}[r.Intn(2)], key("z"), strconv.Itoa(r.Intn(3))}
	case 17:
		return []string{"ZREMRANGEBYSCORE", key("z"), sc(), sc()}
	case 18:
		return []string{[]string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}[r.Intn(3)], key("z"), "2", key("z"), key("s")}
	case 19:
		return []string{"ZRANGESTORE", key("z"), key("z"), "0", strconv.Itoa(r.Intn(5))}
	case 20:
		return []string{"SRANDMEMBER", key("s"), strconv.Itoa(r.Intn(7) - 3)}
	case 21:
		return []string{"HRANDFIELD", key("h"), strconv.Itoa(r.Intn(7) - 3), "WITHVALUES"}
	case 22:
		return []string{"ZRANDMEMBER", key("z"), strconv.Itoa(r.Intn(7) - 3), "WITHSCORES"}
	case 23:
		return []string{"RANDOMKEY"}
	case 24:
		k := anyKey()
		return []string{"RENAME", k, k[:1] + strconv.Itoa(r.Intn(4))}
	case 25:
		k := anyKey()
		return []string{"COPY", k, k[:1] + strconv.Itoa(r.Intn(4)), "REPLACE"}
	case 26:
		return []string{"PEXPIRE", anyKey(), strconv.Itoa(r.Intn(50))}
	case 27:
		return []string{"DEL", anyKey()}
	case 28:
		return []string{"SET", key("k"), m()}
	default:
		return []string{"SSCAN", key("s"), "0", "COUNT", "3"}
	}
}

// collEntries returns n random log entries of collection commands, with
// the leader's time moving on and, now and then, the leader's active expiry.
func collEntries(t testing.TB, r *rand.Rand, n int) [][]byte {
	now := int64(t0)
	var out [][]byte
	for i := 0; i < n; i++ {
		e := &pb.Entry{}
		for j := 1 + r.Intn(4); j > 0; j-- {
			now += int64(r.Intn(5))
			args := collCmd(r)
			if r.Intn(10) == 0 {
				args = []string{ExpireCommand, "h0", "s1", "z2", "k3", "z0"}
			}
			e.Commands = append(e.Commands, &pb.Command{NowMs: now, Seed: r.Uint64(), Args: toArgs(args)})
		}
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func snapshotBytes(t testing.TB, m *Machine) []byte {
	var buf bytes.Buffer
	sn := m.Snapshot()
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	return buf.Bytes()
}

// TestCollectionsDeterminism: two machines fed the same entries (random
// picks and expiry included) reply alike and end with equal digests, one
// of them restarted from a snapshot now and then.
func TestCollectionsDeterminism(t *testing.T) {
	seed := testSeed(t)
	entries := collEntries(t, rand.New(rand.NewSource(seed)), 4000)
	a, b := NewMachine(), NewMachine()
	for i, e := range entries {
		ra, rb := a.ApplyEntry(e), b.ApplyEntry(e)
		for j := range ra {
			if ra[j].String() != rb[j].String() {
				t.Fatalf("entry %d command %d: %s vs %s", i, j, ra[j], rb[j])
			}
		}
		if i%500 == 250 {
			data := snapshotBytes(t, b)
			b = NewMachine()
			if err := b.Restore(bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			if a.Digest() != b.Digest() {
				t.Fatalf("entry %d: the restored state differs", i)
			}
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("digests differ")
	}
}

// TestSnapshotIsolation: a snapshot is the state at the time it was taken,
// however the collections change afterwards (in place, since they are
// changed in place when no snapshot holds them) and while it is written.
func TestSnapshotIsolation(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	entries := collEntries(t, r, 3000)
	live := NewMachine()
	replay := NewMachine() // applies up to the snapshot points only
	next := 0
	for round := 0; round < 6; round++ {
		upto := next + 200 + r.Intn(300)
		for ; next < upto && next < len(entries); next++ {
			live.ApplyEntry(entries[next])
			replay.ApplyEntry(entries[next])
		}
		want := replay.Digest()
		sn := live.Snapshot()
		var buf bytes.Buffer
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // write while later entries apply
			defer wg.Done()
			if _, err := sn.WriteTo(&buf); err != nil {
				t.Error(err)
			}
		}()
		for k := 0; k < 200 && next < len(entries); k++ {
			live.ApplyEntry(entries[next])
			replay.ApplyEntry(entries[next])
			next++
		}
		wg.Wait()
		sn.Release()
		got := NewMachine()
		if err := got.Restore(&buf); err != nil {
			t.Fatal(err)
		}
		if got.Digest() != want {
			t.Fatalf("round %d: the snapshot is not the state it was taken of", round)
		}
		if live.Digest() != replay.Digest() {
			t.Fatalf("round %d: the live state differs from a replay", round)
		}
	}
}

// ints returns "0 1 2 ... n-1".
func ints(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return strings.Join(out, " ")
}

// TestSnapshotKeepsTypesAndTTLs restores every type, in each of its
// encodings, with and without an expiry and compares each key.
func TestSnapshotKeepsTypesAndTTLs(t *testing.T) {
	m := NewMachine()
	var lines []string
	for _, l := range []string{
		"SET s v", "HSET h f v", "SADD set a", "SADD iset 1", "ZADD z 1 a",
		"HSET bigh f " + strings.Repeat("v", 70), "ZADD bigz 1 " + strings.Repeat("m", 70),
		"RPUSH l a b",
		"RPUSH bigl " + strings.Repeat("element ", 200), "SADD bigs " + strings.Repeat("m ", 1) + strings.Repeat("x", 80),
		"SADD bigints " + ints(600), "HSET manyh " + ints(300), "ZADD manyz " + ints(300),
	} {
		lines = append(lines, l)
		k := strings.Fields(l)[1]
		lines = append(lines, strings.Replace(l, " "+k+" ", " "+k+"ttl ", 1), "PEXPIRE "+k+"ttl 7000")
	}
	m.ApplyEntry(entryBytes(t, t0, lines...))
	r := NewMachine()
	if err := r.Restore(bytes.NewReader(snapshotBytes(t, m))); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != m.Digest() {
		t.Fatal("digests differ")
	}
	for _, k := range []string{"s", "h", "set", "iset", "z", "bigh", "bigz", "l", "bigl", "bigs", "bigints", "manyh", "manyz"} {
		for _, key := range []string{k, k + "ttl"} {
			for _, c := range []string{"TYPE ", "PTTL ", "OBJECT ENCODING ", "DUMP "} {
				a, b := m.Read(t0, split(t, c+key)), r.Read(t0, split(t, c+key))
				if a.String() != b.String() {
					t.Errorf("%s%s: %s, restored %s", c, key, a, b)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, k := range []string{"l", "bigl", "iset", "bigints", "bigs", "h", "manyh", "z", "manyz"} {
		seen[string(r.Read(t0, split(t, "OBJECT ENCODING "+k+"ttl")).Bulk)] = true
	}
	for _, enc := range []string{"listpack", "quicklist", "intset", "hashtable", "skiplist"} {
		if !seen[enc] {
			t.Errorf("no key restored in encoding %s (%v)", enc, seen)
		}
	}
	if got := r.Read(t0, split(t, "PTTL zttl")).Int; got != 7000 {
		t.Errorf("PTTL zttl = %d", got)
	}
}

// TestCopyOnWriteBranches: COPY shares a collection copy-on-write; changes
// to either side after it, and after a snapshot, stay on their side.
func TestCopyOnWriteBranches(t *testing.T) {
	s := NewState()
	var args []string
	for i := 0; i < 3000; i++ {
		args = append(args, itoa(i), "m"+itoa(i))
	}
	do(t, s, t0, "ZADD a "+strings.Join(args, " "))
	do(t, s, t0, "COPY a b")
	snap := s.Snapshot()
	do(t, s, t0, "ZREMRANGEBYRANK a 0 999")
	do(t, s, t0, "ZADD b 5000 extra")
	do(t, s, t0, "COPY b c")
	do(t, s, t0, "ZREM c extra m2999")
	for _, c := range []struct{ cmd, want string }{
		{"ZCARD a", "(integer) 2000"},
		{"ZCARD b", "(integer) 3001"},
		{"ZCARD c", "(integer) 2999"},
		{"ZRANK b m0", zero},
		{"ZSCORE c extra", nilR},
		{"ZSCORE b extra", "(double) 5000"},
	} {
		if got := do(t, s, t0, c.cmd).String(); got != c.want {
			t.Errorf("%s = %s, want %s", c.cmd, got, c.want)
		}
	}
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r := NewState()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"ZCARD a", "ZCARD b", "EXISTS c"} {
		want := map[string]string{"ZCARD a": "(integer) 3000", "ZCARD b": "(integer) 3000", "EXISTS c": zero}[c]
		if got := do(t, r, t0, c).String(); got != want {
			t.Errorf("snapshot %s = %s, want %s", c, got, want)
		}
	}
}

// TestConcurrentReads: reads of every kind of collection command, random
// ones included, run concurrently with each other and with applied
// entries and snapshots (run with -race).
func TestConcurrentReads(t *testing.T) {
	m := NewMachine()
	entries := collEntries(t, rand.New(rand.NewSource(1)), 1500)
	for _, e := range entries[:500] {
		m.ApplyEntry(e)
	}
	reads := []string{
		"SRANDMEMBER s0 -3", "SRANDMEMBER s1 2", "HRANDFIELD h0 3 WITHVALUES", "ZRANDMEMBER z0 -2 WITHSCORES",
		"RANDOMKEY", "SCAN 0 COUNT 5", "SSCAN s2 0", "HGETALL h1", "ZRANGE z1 0 -1 WITHSCORES",
		"ZRANGEBYSCORE z2 -inf +inf LIMIT 1 3", "SUNION s0 s1 s2", "ZUNION 2 z0 z1 WITHSCORES", "DUMP z3",
		"OBJECT ENCODING h2", "MEMORY USAGE s3", "ZRANK z0 1", "ZCOUNT z1 -5 5", "KEYS *",
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				m.Read(t0, split(t, reads[(i+g)%len(reads)]))
			}
		}(g)
	}
	for i, e := range entries[500:] {
		m.ApplyEntry(e)
		if i%100 == 0 {
			sn := m.Snapshot()
			wg.Add(1)
			go func() {
				defer wg.Done()
				sn.WriteTo(discard{})
				sn.Release()
			}()
		}
	}
	wg.Wait()
}
