package fsm

import (
	"math/rand"
	"strings"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func TestKeyspaceCommands(t *testing.T) {
	runTable(t, []tableCase{
		{"keys", []step{
			{0, "MSET one 1 two 2 three 3 four 4", ok},
			{0, "KEYS *o*", `["four" "one" "two"]`},
			{0, "KEYS t??", `["two"]`},
			{0, "KEYS *", `["four" "one" "three" "two"]`},
			{0, "KEYS [ft]*", `["four" "three" "two"]`},
			{0, "KEYS nosuch", "[]"},
			{0, "PEXPIRE one 10", one},
			{t0 + 11, "KEYS *o*", `["four" "two"]`}, // expired keys are not listed
		}},
		{"rename", []step{
			{0, "RENAME nokey x", "(error) ERR no such key"},
			{0, "RENAMENX nokey x", "(error) ERR no such key"},
			{0, "SET a 1 EX 100", ok},
			{0, "RENAME a a", ok},
			{0, "RENAMENX a a", zero},
			{0, "HSET h f v", one},
			{0, "RENAME a h", ok}, // overwrites any type
			{0, "GET h", `"1"`},
			{0, "TTL h", "(integer) 100"}, // the expiry moves along
			{0, "EXISTS a", zero},
			{0, "SADD s m", one},
			{0, "RENAMENX s h", zero},
			{0, "RENAMENX s t", one},
			{0, "SMEMBERS t", `set["m"]`},
		}},
		{"copy", []step{
			{0, "SADD s a b", "(integer) 2"},
			{0, "PEXPIRE s 5000", one},
			{0, "COPY s d", one},
			{0, "SMEMBERS d", `set["a" "b"]`},
			{0, "PTTL d", "(integer) 5000"},
			{0, "SADD d c", one}, // the copy is independent
			{0, "SMEMBERS s", `set["a" "b"]`},
			{0, "SREM s a", one},
			{0, "SMEMBERS d", `set["a" "b" "c"]`},
			{0, "COPY s d", zero},
			{0, "COPY s d REPLACE", one},
			{0, "SMEMBERS d", `set["b"]`},
			{0, "COPY s s", "(error) ERR source and destination objects are the same"},
			{0, "COPY nokey d", zero},
			{0, "COPY s d DB 0 REPLACE", one},
			{0, "COPY s d DB 1", "(error) ERR Copying to another database is not allowed in cluster mode"},
			{0, "COPY s d DB 16", "(error) ERR DB index is out of range"},
			{0, "COPY s d DB x", notInt},
			{0, "COPY s d FOO", syntaxErr},
			{0, "SET str v", ok},
			{0, "COPY str str2", one},
			{0, "GET str2", `"v"`},
		}},
		{"move touch", []step{
			{0, "SET a 1", ok},
			{0, "MOVE a 1", "(error) ERR MOVE is not allowed in cluster mode"},
			{0, "TOUCH a b a", "(integer) 2"},
		}},
		{"object", []step{
			{0, "OBJECT ENCODING nokey", nilR},
			{0, "SET i 123", ok},
			{0, "SET e hello", ok},
			{0, "SET r " + strings.Repeat("x", 45), ok},
			{0, "OBJECT ENCODING i", `"int"`},
			{0, "OBJECT ENCODING e", `"embstr"`},
			{0, "OBJECT ENCODING r", `"raw"`},
			{0, "OBJECT REFCOUNT i", "(integer) 2147483647"},
			{0, "OBJECT REFCOUNT e", one},
			{0, "OBJECT IDLETIME e", zero},
			{0, "OBJECT FREQ e", "(error) ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."},
			{0, "OBJECT ENCODING", arity("object|encoding")},
			{0, "OBJECT ENCODING a b", arity("object|encoding")},
			{0, "OBJECT HELP x", arity("object|help")},
			{0, "OBJECT foo e", "(error) ERR unknown subcommand 'foo'. Try OBJECT HELP."},
			{0, "OBJECT", arity("object")},
		}},
		{"memory", []step{
			{0, "MEMORY USAGE nokey", nilR},
			{0, "SET k v", ok},
			{0, "MEMORY USAGE k", "(integer) 66"},
			{0, "MEMORY USAGE k SAMPLES 0", "(integer) 66"},
			{0, "MEMORY USAGE k SAMPLES -1", syntaxErr},
			{0, "MEMORY USAGE k SAMPLES", syntaxErr},
			{0, "MEMORY USAGE", arity("memory|usage")},
			{0, "MEMORY DOCTOR", "(error) ERR unknown subcommand 'DOCTOR'. Try MEMORY HELP."},
		}},
		{"restore errors", []step{
			{0, "RESTORE k 0 garbage", "(error) ERR DUMP payload version or checksum are wrong"},
			{0, "SET k v", ok},
			{0, "RESTORE k 0 garbage", "(error) BUSYKEY Target key name already exists."},
			{0, "RESTORE k -1 garbage REPLACE", "(error) ERR Invalid TTL value, must be >= 0"},
			{0, "RESTORE k x garbage REPLACE", notInt},
			{0, "RESTORE k 0 garbage REPLACE IDLETIME -1", "(error) ERR Invalid IDLETIME value, must be >= 0"},
			{0, "RESTORE k 0 garbage REPLACE FREQ 256", "(error) ERR Invalid FREQ value, must be >= 0 and <= 255"},
			{0, "RESTORE k 0 garbage REPLACE FREQ 1 IDLETIME 1", syntaxErr},
			{0, "RESTORE k 0 garbage FOO", syntaxErr},
			{0, "DUMP nokey", nilR},
		}},
	})
}

// TestDumpRestore round-trips every type through DUMP and RESTORE, with
// expiries, and checks that a payload with a flipped byte is refused.
func TestDumpRestore(t *testing.T) {
	s := NewState()
	for _, l := range []string{
		"SET str hello",
		"HSET hash a 1 b 2",
		"SADD set x y z",
		"SADD ints 1 2 3",
		"ZADD zset 1 a 2.5 b -inf c",
		"RPUSH list a b c",
	} {
		if r := do(t, s, t0, l); r.IsError() {
			t.Fatalf("%s: %v", l, r)
		}
	}
	for _, k := range []string{"str", "hash", "set", "ints", "zset", "list"} {
		p := do(t, s, t0, "DUMP "+k)
		if p.Kind != KindBulk {
			t.Fatalf("DUMP %s: %v", k, p)
		}
		args := [][]byte{[]byte("RESTORE"), []byte(k + "2"), []byte("5000"), p.Bulk}
		if r := s.Apply(&pb.Command{NowMs: t0, Args: args}); r.String() != ok {
			t.Fatalf("RESTORE %s: %v", k, r)
		}
		for _, c := range []string{"TYPE %", "OBJECT ENCODING %"} {
			a := do(t, s, t0, strings.ReplaceAll(c, "%", k)).String()
			b := do(t, s, t0, strings.ReplaceAll(c, "%", k+"2")).String()
			if a != b {
				t.Errorf("%s: %s, restored %s", c, a, b)
			}
		}
		if r := do(t, s, t0, "PTTL "+k+"2"); r.Int != 5000 {
			t.Errorf("PTTL %s2 = %v", k, r)
		}
		// Any flipped byte is caught by the checksum.
		for i := range p.Bulk {
			bad := append([]byte(nil), p.Bulk...)
			bad[i] ^= 0x20
			args := [][]byte{[]byte("RESTORE"), []byte("bad"), []byte("0"), bad}
			if r := s.Apply(&pb.Command{NowMs: t0, Args: args}); !r.IsError() {
				t.Fatalf("%s: a payload with byte %d flipped was restored", k, i)
			}
		}
	}
	for _, c := range []string{"HGETALL hash2", "SMEMBERS set2", "ZRANGE zset2 0 -1 WITHSCORES", "LRANGE list2 0 -1", "GET str2"} {
		orig := strings.Replace(c, "2 ", " ", 1)
		if strings.HasSuffix(orig, "2") {
			orig = orig[:len(orig)-1]
		}
		if a, b := do(t, s, t0, orig).String(), do(t, s, t0, c).String(); a != b {
			t.Errorf("%s: %s, original %s", c, b, a)
		}
	}
	// An expired absolute time creates nothing; REPLACE still deletes.
	p := do(t, s, t0, "DUMP str").Bulk
	r := s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("RESTORE"), []byte("hash"), []byte("1"), p, []byte("ABSTTL"), []byte("REPLACE")}})
	if r.String() != ok || do(t, s, t0, "EXISTS hash").Int != 0 {
		t.Fatalf("RESTORE of an expired time: %v", r)
	}
}

// TestScanKeyspace: a SCAN iteration returns every key present throughout,
// while keys are added and deleted between the calls (the SCAN and DEL loop
// among them), and MATCH and TYPE filter.
func TestScanKeyspace(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	for round := 0; round < 20; round++ {
		s := NewState()
		n := 1 + r.Intn(3000)
		for i := 0; i < n; i++ {
			do(t, s, t0, "SET key:"+itoa(i)+" v")
		}
		stable := map[string]bool{}
		for i := 0; i < n; i++ {
			if r.Intn(3) > 0 {
				stable["key:"+itoa(i)] = true
			}
		}
		seen := map[string]bool{}
		cursor := "0"
		for calls := 0; ; calls++ {
			if calls > 10*n+10 {
				t.Fatal("the iteration does not end")
			}
			rep := do(t, s, t0, "SCAN "+cursor+" COUNT "+itoa(1+r.Intn(50)))
			for _, k := range rep.Array[1].Array {
				seen[string(k.Bulk)] = true
				if r.Intn(2) == 0 && !stable[string(k.Bulk)] {
					do(t, s, t0, "DEL "+string(k.Bulk)) // delete keys already returned
				}
			}
			// Churn anywhere: new keys, deletions of keys not promised.
			for j := r.Intn(20); j > 0; j-- {
				do(t, s, t0, "SET new:"+itoa(r.Intn(1_000_000))+" v")
				victim := "key:" + itoa(r.Intn(n))
				if !stable[victim] {
					do(t, s, t0, "DEL "+victim)
				}
			}
			cursor = string(rep.Array[0].Bulk)
			if cursor == "0" {
				break
			}
		}
		for k := range stable {
			if !seen[k] {
				t.Fatalf("round %d: %s present throughout, never returned", round, k)
			}
		}
	}
	runTable(t, []tableCase{{"filters", []step{
		{0, "SET a1 v", ok},
		{0, "HSET a2 f v", one},
		{0, "SADD b1 m", one},
		{0, "SET gone v PX 1", ok},
		{t0 + 5, "SCAN 0 MATCH a*", `["0" ["a1" "a2"]]`},
		{0, "SCAN 0 TYPE hash", `["0" ["a2"]]`},
		{0, "SCAN 0 TYPE HASH", `["0" ["a2"]]`},
		{0, "SCAN 0 TYPE nosuch", `["0" []]`},
		{0, "SCAN 0 MATCH *", `["0" ["a1" "a2" "b1"]]`}, // not the expired one
		{0, "SCAN 0 COUNT 0", syntaxErr},
		{0, "SCAN 0 COUNT", syntaxErr},
		{0, "SCAN x", "(error) ERR invalid cursor"},
		{0, `SCAN " 1"`, "(error) ERR invalid cursor"},
		{0, "SCAN 18446744073709551616", "(error) ERR invalid cursor"},
	}}})
}

func TestRandomKey(t *testing.T) {
	s := NewState()
	if r := s.Apply(&pb.Command{NowMs: t0, Args: split(t, "RANDOMKEY")}); r.Kind != KindNil {
		t.Fatalf("RANDOMKEY of nothing: %v", r)
	}
	for i := 0; i < 50; i++ {
		do(t, s, t0, "SET k"+itoa(i)+" v PX 10")
	}
	do(t, s, t0, "SET live v")
	// Every key but one has expired: it must be found.
	for seed := uint64(0); seed < 20; seed++ {
		r := s.Apply(&pb.Command{NowMs: t0 + 100, Seed: seed, Args: split(t, "RANDOMKEY")})
		if string(r.Bulk) != "live" {
			t.Fatalf("RANDOMKEY = %v", r)
		}
	}
	// Read draws differ from call to call.
	for i := 0; i < 50; i++ {
		do(t, s, t0+100, "SET r"+itoa(i)+" v")
	}
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		seen[string(s.Read(t0+100, split(t, "RANDOMKEY")).Bulk)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("100 reads of RANDOMKEY found %d keys", len(seen))
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "", false}, // as Redis (KEYS * and MATCH * do not use the pattern)
		{"*", "abc", true},
		{"a*", "abc", true},
		{"a*", "bac", false},
		{"*c", "abc", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a[bc]d", "acd", true},
		{"a[^bc]d", "acd", false},
		{"a[^bc]d", "axd", true},
		{"a[a-c]d", "abd", true},
		{"a[c-a]d", "abd", true}, // a reversed range
		{"a[a-c]d", "add", false},
		{`a\*b`, "a*b", true},
		{`a\*b`, "axb", false},
		{`a[\]]b`, "a]b", true},
		{"a[bc", "ab", true}, // an unclosed bracket ends the pattern
		{"a[bc", "abc", false},
		{"**a**", "xxa", true},
		{"*a*b*c*", "aXbXc", true},
		{"*a*b*c*", "aXcXb", false},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"h*llo", "hllo", true},
		{"h[ae]llo", "hallo", true},
		{"h[\x80-a]x", "h\xffx", true}, // signed bytes, as Redis compares them
		{"h[\x80-a]x", "h\x81x", true},
		{"h[\x80-a]x", "hbx", false},
		{strings.Repeat("*a", 30) + "b", strings.Repeat("a", 60), false},
	} {
		if got := globMatch([]byte(c.pat), []byte(c.s)); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.s, got)
		}
	}
}
