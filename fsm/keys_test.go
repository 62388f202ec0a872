package fsm

import (
	"cmp"
	"math/rand"
	"slices"
	"strings"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func TestKeyCommands(t *testing.T) {
	runTable(t, []tableCase{
		{"del unlink", []step{
			{0, "MSET a 1 b 2 c 3", ok},
			{0, "DEL a x a", one}, // a key named twice is deleted once
			{0, "UNLINK b c", "(integer) 2"},
			{0, "DBSIZE", zero},
			{0, "DEL", arity("del")},
		}},
		{"exists type", []step{
			{0, "EXISTS a", zero},
			{0, "TYPE a", "none"},
			{0, "SET a 1", ok},
			{0, "EXISTS a a x a", "(integer) 3"}, // duplicates count
			{0, "TYPE a", stringType},
			{0, "EXISTS", arity("exists")},
			{0, "TYPE a b", arity("type")},
		}},
		{"ttl", []step{
			{0, "TTL k", minusTwo},
			{0, "PTTL k", minusTwo},
			{0, "EXPIRETIME k", minusTwo},
			{0, "PEXPIRETIME k", minusTwo},
			{0, "SET k v", ok},
			{0, "TTL k", minusOne},
			{0, "PTTL k", minusOne},
			{0, "EXPIRETIME k", minusOne},
			{0, "PEXPIRETIME k", minusOne},
			{0, "PEXPIRE k 2499", one},
			{0, "TTL k", "(integer) 2"}, // rounded to the nearest second
			{0, "PEXPIRE k 2500", one},
			{0, "TTL k", "(integer) 3"},
			{0, "EXPIRETIME k", "(integer) " + sec(3000)},
			{0, "PEXPIRETIME k", "(integer) " + ms(2500)},
			{t0 + 2000, "PTTL k", "(integer) 500"},
			{t0 + 2500, "PTTL k", zero}, // expiry == now: live
			{t0 + 2500, "GET k", `"v"`},
			{t0 + 2501, "PTTL k", minusTwo},
			{t0 + 2501, "GET k", nilR},
			{t0 + 2501, "EXISTS k", zero},
			{t0 + 2501, "TYPE k", "none"},
		}},
		{"expire", []step{
			{0, "EXPIRE k 10", zero},
			{0, "SET k v", ok},
			{0, "EXPIRE k 10", one},
			{0, "PTTL k", "(integer) 10000"},
			{0, "PEXPIRE k 1500", one},
			{0, "PTTL k", "(integer) 1500"},
			{0, "EXPIREAT k " + sec(20_000), one},
			{0, "PTTL k", "(integer) 20000"},
			{0, "PEXPIREAT k " + ms(123), one},
			{0, "PTTL k", "(integer) 123"},
			{0, "EXPIRE k x", notInt},
			{0, "EXPIRE k 1.5", notInt},
			{0, "EXPIRE k 9223372036854775807", badExpire("expire")},
			{0, "EXPIRE k -9223372036854776", badExpire("expire")}, // below MinInt64/1000
			{0, "PEXPIRE k 9223372036854775807", badExpire("pexpire")},
			{0, "EXPIREAT k 9223372036854775807", badExpire("expireat")},
			{0, "PEXPIREAT k 9223372036854775807", one}, // no base to add
			{0, "EXPIRE k", arity("expire")},
			{0, "SET k v", ok},
			{0, "EXPIRE k 0", one}, // a time at or before now deletes
			{0, "EXISTS k", zero},
			{0, "SET k v", ok},
			{0, "EXPIRE k -5", one},
			{0, "EXISTS k", zero},
			{0, "SET k v", ok},
			{0, "PEXPIREAT k " + ms(0), one},
			{0, "EXISTS k", zero},
			{0, "SET k v", ok},
			{0, "EXPIREAT k 1", one},
			{0, "EXISTS k", zero},
		}},
		{"expire options", []step{
			{0, "SET k v", ok},
			{0, "EXPIRE k 100 XX", zero}, // no TTL yet
			{0, "EXPIRE k 100 GT", zero}, // no TTL counts as infinite
			{0, "EXPIRE k 100 NX", one},
			{0, "EXPIRE k 200 NX", zero},
			{0, "EXPIRE k 200 XX", one},
			{0, "EXPIRE k 100 GT", zero},
			{0, "EXPIRE k 200 GT", zero}, // not greater
			{0, "EXPIRE k 300 gt", one},
			{0, "EXPIRE k 400 LT", zero},
			{0, "EXPIRE k 300 LT", zero},
			{0, "EXPIRE k 50 lt", one},
			{0, "TTL k", "(integer) 50"},
			{0, "EXPIRE k 60 XX GT", one},
			{0, "EXPIRE k 10 XX LT", one},
			{0, "PERSIST k", one},
			{0, "EXPIRE k 100 LT", one}, // no TTL: any time is less
			{0, "PERSIST k", one},
			{0, "EXPIRE k -1 LT", one}, // and a past one deletes
			{0, "EXISTS k", zero},
			{0, "EXPIRE k 10 NX XX", "(error) ERR NX and XX, GT or LT options at the same time are not compatible"},
			{0, "EXPIRE k 10 NX GT", "(error) ERR NX and XX, GT or LT options at the same time are not compatible"},
			{0, "EXPIRE k 10 LT NX", "(error) ERR NX and XX, GT or LT options at the same time are not compatible"},
			{0, "EXPIRE k 10 GT LT", "(error) ERR GT and LT options at the same time are not compatible"},
			{0, "EXPIRE k 10 foo", "(error) ERR Unsupported option foo"},
			{0, "EXPIRE k abc foo", "(error) ERR Unsupported option foo"}, // options first
			{0, "EXPIRE k abc NX XX", "(error) ERR NX and XX, GT or LT options at the same time are not compatible"},
			{0, "PEXPIREAT k 5 Bar", "(error) ERR Unsupported option Bar"},
		}},
		{"persist", []step{
			{0, "PERSIST k", zero},
			{0, "SET k v", ok},
			{0, "PERSIST k", zero},
			{0, "EXPIRE k 10", one},
			{0, "PERSIST k", one},
			{0, "TTL k", minusOne},
			{0, "EXPIRE k 10", one},
			{t0 + 10_001, "PERSIST k", zero}, // too late
			{0, "EXISTS k", zero},
		}},
		{"dbsize flush", []step{
			{0, "DBSIZE", zero},
			{0, "MSET a 1 b 2 c 3", ok},
			{0, "PEXPIRE a 10", one},
			{0, "DBSIZE", "(integer) 3"},
			{t0 + 10, "DBSIZE", "(integer) 3"},
			{t0 + 11, "DBSIZE", "(integer) 2"}, // expired keys are not counted
			{0, "DBSIZE x", arity("dbsize")},
			{0, "FLUSHALL", ok},
			{0, "DBSIZE", zero},
			{0, "SET a 1", ok},
			{0, "FLUSHDB ASYNC", ok},
			{0, "SET a 1", ok},
			{0, "FLUSHALL sync", ok},
			{0, "FLUSHALL foo", syntaxErr},
			{0, "FLUSHDB SYNC ASYNC", syntaxErr},
			{0, "DBSIZE", zero},
		}},
		{"writes see expiry", []step{
			{0, "SET k v PX 10", ok},
			{t0 + 11, "SETNX k w", one}, // expired: absent
			{0, "GET k", `"w"`},
			{0, "TTL k", minusOne},
			{0, "SET n 5 PX 10", ok},
			{t0 + 22, "INCR n", one},
			{0, "SET a x PX 10", ok},
			{t0 + 33, "APPEND a y", one},
			{0, "SET d x PX 10", ok},
			{t0 + 44, "DEL d", zero}, // removed, but it did not exist
			{0, "SET g x PX 10", ok},
			{t0 + 55, "SET g y XX GET", nilR},
			{0, "EXISTS g", zero},
		}},
		{"unknown", []step{
			{0, "FOO a b", "(error) ERR unknown command 'FOO', with args beginning with: 'a' 'b' "},
			{0, "foo", "(error) ERR unknown command 'foo', with args beginning with: "},
			{0, "__EXPIRE k", "(integer) 0"}, // through the log it is known
		}},
	})
}

func TestReadRefusesWrites(t *testing.T) {
	s := NewState()
	if r := s.Read(t0, split(t, "SET k v")); !r.IsError() {
		t.Fatalf("Read(SET) = %s", r)
	}
	if r := s.Read(t0, split(t, "__expire k")); r.String() != "(error) ERR unknown command '__expire', with args beginning with: 'k' " {
		t.Fatalf("Read(__expire) = %s", r)
	}
	if r := s.Read(t0, split(t, "GET")); r.String() != arity("get") {
		t.Fatalf("Read(GET) = %s", r)
	}
	if r := s.Read(t0, nil); !r.IsError() {
		t.Fatalf("Read() = %s", r)
	}
	if r := s.Apply(&pb.Command{NowMs: t0}); !r.IsError() {
		t.Fatalf("Apply() = %s", r)
	}
	if s.len() != 0 {
		t.Fatalf("state changed")
	}
}

func TestClockIsMonotonic(t *testing.T) {
	s := NewState()
	do(t, s, t0, "SET k v PX 100")
	do(t, s, t0+200, "SET other v") // the clock is now t0+200
	// A command carrying an older time (a new leader with a clock behind)
	// still runs at t0+200: k stays expired.
	if got := do(t, s, t0+50, "SETNX k w").String(); got != one {
		t.Fatalf("SETNX at an older time: %s", got)
	}
	if s.Clock() != t0+200 {
		t.Fatalf("clock %d, want %d", s.Clock(), t0+200)
	}
	// Read never goes back in time either.
	do(t, s, t0+200, "SET e v PX 10")
	if got := s.Read(t0, split(t, "GET e")).String(); got != `"v"` {
		t.Fatalf("GET: %s", got)
	}
	if got := s.Read(t0+300, split(t, "GET e")).String(); got != nilR {
		t.Fatalf("GET later: %s", got)
	}
}

func TestActiveExpiry(t *testing.T) {
	s := NewState()
	do(t, s, t0, "SET a 1 PX 30")
	do(t, s, t0, "SET b 1 PX 10")
	do(t, s, t0, "SET c 1 PX 20")
	do(t, s, t0, "SET d 1")
	do(t, s, t0, "SET e 1 PX 20")
	if got := s.expiredKeys(t0+20, 10); len(got) != 1 || string(got[0]) != "b" {
		t.Fatalf("expired at +20: %q", got)
	}
	got := s.expiredKeys(t0+21, 2) // ordered by (time, key), at most 2
	if len(got) != 2 || string(got[0]) != "b" || string(got[1]) != "c" {
		t.Fatalf("expired at +21: %q", got)
	}
	// Between the leader's choice and the command, c got a new TTL: only b
	// and e go.
	do(t, s, t0+5, "PEXPIRE c 1000")
	if r := do(t, s, t0+21, "__expire b c e d nokey").String(); r != "(integer) 2" {
		t.Fatalf("__expire: %s", r)
	}
	if s.len() != 3 || s.exps.Len() != 2 {
		t.Fatalf("%d keys, %d in the expiry index; want 3, 2", s.len(), s.exps.Len())
	}
	if got := s.expiredKeys(t0+21, 10); len(got) != 0 {
		t.Fatalf("expired after __expire: %q", got)
	}
	// The clock is never passed: asking with an older time uses the clock.
	if got := s.expiredKeys(0, 10); len(got) != 0 {
		t.Fatalf("expired at 0: %q", got)
	}
	if got := s.expiredKeys(t0+1000, 10); len(got) != 1 || string(got[0]) != "a" {
		t.Fatalf("expired at +1000: %q", got)
	}
	if Lookup([]byte("__expire")) != nil || Lookup([]byte("__EXPIRE")) != nil {
		t.Fatal("Lookup finds the internal command")
	}
}

// TestKeyOrder checks that the tree keeps keys in keyspace order (slot,
// hash, key: the order snapshots are written in and Restore checks), that
// each slot's keys are one range, and that every key is found: random
// binary keys, zero bytes and hash tags too, and keys of equal ord (only
// the key then orders them).
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewSource(testSeed(t)))
	s := NewState()
	want := map[string]bool{}
	for i := 0; i < 5000; i++ {
		k := make([]byte, r.Intn(12))
		for j := range k {
			k[j] = []byte{0, 1, 'a', 0xff, '{', '}'}[r.Intn(6)]
		}
		s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), k, []byte("v")}})
		want[string(k)] = true
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		oa, ob := keyOrd([]byte(a)), keyOrd([]byte(b))
		if oa != ob {
			return cmp.Compare(oa, ob)
		}
		return strings.Compare(a, b)
	})
	var got []string
	s.keys.Scan(func(e entry) bool { got = append(got, e.key); return true })
	if !slices.Equal(got, keys) {
		t.Fatalf("tree order differs from keyspace order (%d vs %d keys)", len(got), len(keys))
	}
	for i := 1; i < len(keys); i++ {
		if KeySlot([]byte(keys[i-1])) > KeySlot([]byte(keys[i])) {
			t.Fatalf("slot of %q above slot of the next key %q", keys[i-1], keys[i])
		}
	}
	for _, k := range keys {
		if _, ok := s.find([]byte(k)); !ok {
			t.Fatalf("key %q not found", k)
		}
	}
	// Equal ord, different keys: the tree falls back to the key bytes.
	a := entry{key: "x", ord: 7}
	b := entry{key: "y", ord: 7}
	if !entryLess(a, b) || entryLess(b, a) || entryLess(a, a) {
		t.Fatal("entries of equal ord not ordered by key")
	}
}
