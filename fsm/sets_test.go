package fsm

import (
	"strings"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func TestSetCommands(t *testing.T) {
	runTable(t, []tableCase{
		{"sadd srem scard smembers", []step{
			{0, "SADD s a b c a", "(integer) 3"},
			{0, "SADD s c d", one},
			{0, "SCARD s", "(integer) 4"},
			{0, "SCARD nokey", zero},
			{0, "SMEMBERS s", `set["a" "b" "c" "d"]`},
			{0, "SMEMBERS nokey", "set[]"},
			{0, "SREM s a x", one},
			{0, "SREM nokey a", zero},
			{0, "SREM s b c d", "(integer) 3"},
			{0, "EXISTS s", zero}, // the last member takes the key
			{0, "SADD s", arity("sadd")},
		}},
		{"sismember smismember", []step{
			{0, "SADD s a b", "(integer) 2"},
			{0, "SISMEMBER s a", one},
			{0, "SISMEMBER s x", zero},
			{0, "SISMEMBER nokey a", zero},
			{0, "SMISMEMBER s a x b", "[(integer) 1 (integer) 0 (integer) 1]"},
			{0, "SMISMEMBER nokey a", "[(integer) 0]"},
		}},
		{"spop deterministic cases", []step{
			{0, "SPOP nokey", nilR},
			{0, "SPOP nokey 2", "set[]"},
			{0, "SADD s a", one},
			{0, "SPOP s 0", "set[]"},
			{0, "SPOP s -1", "(error) ERR value is out of range, must be positive"},
			{0, "SPOP s x", "(error) ERR value is out of range, must be positive"},
			{0, "SPOP s 1 2", syntaxErr},
			{0, "SPOP s", `"a"`},
			{0, "EXISTS s", zero},
			{0, "SADD s a b c", "(integer) 3"},
			{0, "SPOP s 10", `set["a" "b" "c"]`}, // all of it
			{0, "EXISTS s", zero},
		}},
		{"srandmember deterministic cases", []step{
			{0, "SRANDMEMBER nokey", nilR},
			{0, "SRANDMEMBER nokey 5", "[]"},
			{0, "SADD s a", one},
			{0, "SRANDMEMBER s", `"a"`},
			{0, "SRANDMEMBER s 0", "[]"},
			{0, "SRANDMEMBER s -3", `["a" "a" "a"]`},
			{0, "SRANDMEMBER s 1 2", syntaxErr},
			{0, "SRANDMEMBER s x", notInt},
			{0, "SRANDMEMBER s -9223372036854775808", "(error) ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"},
			{0, "SCARD s", one},
		}},
		{"smove", []step{
			{0, "SADD a x y", "(integer) 2"},
			{0, "SMOVE a b x", one},
			{0, "SMOVE a b x", zero},
			{0, "SMEMBERS b", `set["x"]`},
			{0, "SMOVE a a y", one}, // same key: membership
			{0, "SMOVE a a z", zero},
			{0, "SMOVE a b y", one},
			{0, "EXISTS a", zero},
			{0, "SMOVE nokey b x", zero},
			{0, "SET str v", ok},
			{0, "SMOVE nokey str x", zero}, // the source decides first
			{0, "SMOVE b str x", wrongType},
			{0, "SMOVE str b x", wrongType},
			{0, "SMEMBERS b", `set["x" "y"]`},
		}},
		{"sinter sunion sdiff", []step{
			{0, "SADD k1 a b c d", "(integer) 4"},
			{0, "SADD k2 c", one},
			{0, "SADD k3 a c e", "(integer) 3"},
			{0, "SINTER k1 k2 k3", `set["c"]`},
			{0, "SINTER k1 nokey", "set[]"},
			{0, "SINTER k1", `set["a" "b" "c" "d"]`},
			{0, "SUNION k1 k2 k3", `set["a" "b" "c" "d" "e"]`},
			{0, "SUNION nokey", "set[]"},
			{0, "SDIFF k1 k2 k3", `set["b" "d"]`},
			{0, "SDIFF k1 k1", "set[]"},
			{0, "SDIFF nokey k1", "set[]"},
			{0, "SET str v", ok},
			{0, "SINTER nokey str", wrongType}, // every key is checked
			{0, "SUNION k1 str", wrongType},
			{0, "SDIFF str k1", wrongType},
		}},
		{"store forms", []step{
			{0, "SADD k1 a b c", "(integer) 3"},
			{0, "SADD k2 b c d", "(integer) 3"},
			{0, "SET dst old EX 100", ok},
			{0, "SINTERSTORE dst k1 k2", "(integer) 2"},
			{0, "TYPE dst", "set"},
			{0, "TTL dst", minusOne}, // the old value and its expiry go
			{0, "SMEMBERS dst", `set["b" "c"]`},
			{0, "SUNIONSTORE dst k1 k2", "(integer) 4"},
			{0, "SDIFFSTORE dst k1 k2", one},
			{0, "SMEMBERS dst", `set["a"]`},
			{0, "SINTERSTORE dst k1 nokey", zero},
			{0, "EXISTS dst", zero}, // an empty result deletes
			{0, "SUNIONSTORE k1 k1 k2", "(integer) 4"},
			{0, "SCARD k1", "(integer) 4"},
		}},
		{"sintercard", []step{
			{0, "SADD k1 a b c d", "(integer) 4"},
			{0, "SADD k2 b c d e", "(integer) 4"},
			{0, "SINTERCARD 2 k1 k2", "(integer) 3"},
			{0, "SINTERCARD 2 k1 k2 LIMIT 2", "(integer) 2"},
			{0, "SINTERCARD 2 k1 k2 LIMIT 0", "(integer) 3"},
			{0, "SINTERCARD 1 nokey", zero},
			{0, "SINTERCARD 0 k1", "(error) ERR numkeys should be greater than 0"},
			{0, "SINTERCARD x k1", "(error) ERR numkeys should be greater than 0"},
			{0, "SINTERCARD 3 k1 k2", "(error) ERR Number of keys can't be greater than number of args"},
			{0, "SINTERCARD 2 k1 k2 LIMIT -1", "(error) ERR LIMIT can't be negative"},
			{0, "SINTERCARD 2 k1 k2 LIMIT", syntaxErr},
			{0, "SINTERCARD 2 k1 k2 FOO 1", syntaxErr},
		}},
		{"encodings", []step{
			{0, "SADD s 1 2 3", "(integer) 3"},
			{0, "OBJECT ENCODING s", `"intset"`},
			{0, "SADD s 007", one}, // not an integer as Redis reads them
			{0, "OBJECT ENCODING s", `"hashtable"`},
			{0, "SREM s 007", one},
			{0, "OBJECT ENCODING s", `"hashtable"`},
			{0, "SADD t a", one},
			{0, "OBJECT ENCODING t", `"hashtable"`},
		}},
		{"sscan", []step{
			{0, "SADD i 1 2 3", "(integer) 3"},
			{0, "SSCAN i 0 COUNT 1 MATCH [12]", `["0" ["2" "1"]]`}, // an intset: one call
			// A hashtable is walked in hash order, the cursor a hash.
			{0, "SADD s a b c", "(integer) 3"},
			{0, "SSCAN s 0 COUNT 1", `["11806979466381907949" ["b"]]`},
			{0, "SSCAN s 11806979466381907949 COUNT 1", `["15154266338359012955" ["c"]]`},
			{0, "SSCAN s 15154266338359012955 COUNT 1", `["0" ["a"]]`},
			{0, "SSCAN s 18446744073709551615", `["0" []]`},
			{0, "SSCAN s -1", `["0" []]`}, // -1 wraps, as strtoul does
			{0, "SSCAN s 0 NOSUCH x", syntaxErr},
		}},
		{"wrongtype", []step{
			{0, "SET str v", ok},
			{0, "SADD str a", wrongType},
			{0, "SREM str a", wrongType},
			{0, "SMEMBERS str", wrongType},
			{0, "SISMEMBER str a", wrongType},
			{0, "SMISMEMBER str a", wrongType},
			{0, "SCARD str", wrongType},
			{0, "SPOP str", wrongType},
			{0, "SPOP str 2", wrongType},
			{0, "SRANDMEMBER str", wrongType},
			{0, "SRANDMEMBER str 2", wrongType},
			{0, "SINTERCARD 1 str", wrongType},
			{0, "SINTERSTORE d str", wrongType},
			{0, "SSCAN str 0", wrongType},
			{0, "SADD s a", one},
			{0, "HGET s a", wrongType},
			{0, "ZSCORE s a", wrongType},
			{0, "GET s", wrongType},
		}},
	})
}

// TestSetLarge crosses the intset limit and back down, with SPOP by count.
func TestSetLarge(t *testing.T) {
	s := NewState()
	var ms []string
	for i := 0; i < 600; i++ {
		ms = append(ms, itoa(i))
	}
	if r := do(t, s, t0, "SADD s "+strings.Join(ms[:512], " ")); r.Int != 512 {
		t.Fatal(r)
	}
	if r := do(t, s, t0, "OBJECT ENCODING s"); string(r.Bulk) != "intset" {
		t.Fatal(r)
	}
	do(t, s, t0, "SADD s 512")
	if r := do(t, s, t0, "OBJECT ENCODING s"); string(r.Bulk) != "hashtable" {
		t.Fatal(r)
	}
	popped := map[string]bool{}
	for i := 0; i < 10; i++ {
		r := s.Apply(&pb.Command{NowMs: t0, Seed: uint64(i), Args: split(t, "SPOP s 50")})
		if r.Kind != KindSet || len(r.Array) != 50 {
			t.Fatalf("SPOP: %v", r)
		}
		for _, m := range r.Array {
			if popped[string(m.Bulk)] {
				t.Fatalf("%s popped twice", m.Bulk)
			}
			popped[string(m.Bulk)] = true
		}
	}
	if r := do(t, s, t0, "SCARD s"); r.Int != 13 {
		t.Fatalf("SCARD %v", r)
	}
	for m := range popped {
		if do(t, s, t0, "SISMEMBER s "+m).Int != 0 {
			t.Fatalf("%s popped but still there", m)
		}
	}
}
