package fsm

import (
	"math"
	"strings"
	"testing"
)

const (
	notFloatMM = "(error) ERR min or max is not a float"
	notLexMM   = "(error) ERR min or max not valid string range item"
	nanScore   = "(error) ERR resulting score is not a number (NaN)"
)

func TestZSetAdd(t *testing.T) {
	runTable(t, []tableCase{
		{"zadd", []step{
			{0, "ZADD z 1 one", one},
			{0, "ZADD z 1 uno", one},
			{0, "ZADD z 2 two 3 three", "(integer) 2"},
			{0, "ZRANGE z 0 -1 WITHSCORES", `pairs["one" (double) 1 "uno" (double) 1 "two" (double) 2 "three" (double) 3]`},
			{0, "ZADD z 5 one", zero}, // updated, not added
			{0, "ZADD z CH 6 one 7 four", "(integer) 2"},
			{0, "ZADD z", arity("zadd")},
			{0, "ZADD z 1", arity("zadd")},
			{0, "ZADD z 1 a 2", syntaxErr},
			{0, "ZADD z NX 1", syntaxErr},
			{0, "ZADD z nan a", notFloat},
			{0, "ZADD z abc a", notFloat},
			{0, `ZADD z "" a`, notFloat},
			{0, `ZADD z " 1" a`, notFloat},
			{0, "ZADD z 1e400 a", notFloat},
			{0, "ZADD z 1e-400 a", notFloat}, // underflows to 0
			{0, "ZADD z 0x10 hex", one},
			{0, "ZSCORE z hex", "(double) 16"},
			{0, "ZADD z 4e-320 tiny", one}, // subnormal: kept
			{0, "ZADD z +inf top -inf bottom", "(integer) 2"},
			{0, "ZRANGE z 0 0", `["bottom"]`},
			{0, "ZRANGE z -1 -1", `["top"]`},
		}},
		{"zadd options", []step{
			{0, "ZADD z NX XX 1 a", "(error) ERR XX and NX options at the same time are not compatible"},
			{0, "ZADD z GT LT 1 a", "(error) ERR GT, LT, and/or NX options at the same time are not compatible"},
			{0, "ZADD z NX GT 1 a", "(error) ERR GT, LT, and/or NX options at the same time are not compatible"},
			{0, "ZADD z INCR 1 a 2 b", "(error) ERR INCR option supports a single increment-element pair"},
			{0, "ZADD z XX 1 a", zero},
			{0, "EXISTS z", zero}, // XX creates nothing
			{0, "ZADD z XX INCR 1 a", nilR},
			{0, "ZADD z 5 a", one},
			{0, "ZADD z NX 1 a 1 b", one},
			{0, "ZSCORE z a", "(double) 5"},
			{0, "ZADD z XX 2 a 2 c", zero},
			{0, "ZSCORE z a", "(double) 2"},
			{0, "ZSCORE z c", nilR},
			{0, "ZADD z GT 1 a", zero},
			{0, "ZADD z GT CH 3 a", one},
			{0, "ZADD z LT CH 4 a", zero},
			{0, "ZADD z LT CH 0 a", one},
			{0, "ZADD z GT 10 new", one}, // GT and LT only limit updates
			{0, "ZADD z INCR 5 a", "(double) 5"},
			{0, "ZADD z NX INCR 1 a", nilR},
			{0, "ZADD z GT INCR -1 a", nilR},
			{0, "ZADD z nx ch incr 1 fresh", "(double) 1"},
			{0, "ZADD z INCR inf a", "(double) +Inf"},
			{0, "ZADD z INCR -inf a", nanScore},
			{0, "ZSCORE z a", "(double) +Inf"},
		}},
		{"zincrby", []step{
			{0, "ZINCRBY z 2 m", "(double) 2"},
			{0, "ZINCRBY z -0.5 m", "(double) 1.5"},
			{0, "ZINCRBY z abc m", notFloat},
			{0, "ZINCRBY z inf m", "(double) +Inf"},
			{0, "ZINCRBY z -inf m", nanScore},
			{0, "ZINCRBY z 1e308 big", "(double) 1e+308"},
			{0, "ZINCRBY z 1e308 big", "(double) +Inf"}, // overflow to inf is a score
		}},
		{"negative zero", []step{
			{0, "ZADD z -0 a", one},
			{0, "ZSCORE z a", "(double) 0"}, // a compact sorted set stores 0
			{0, "ZINCRBY y -0 a", "(double) -0"},
			{0, "ZSCORE y a", "(double) 0"},
			{0, "ZADD big 1 " + strings.Repeat("m", 65), one},
			{0, "ZADD big -0 a", one},
			{0, "ZSCORE big a", "(double) -0"}, // a skiplist keeps it
			{0, "ZADD big 0 a", zero},          // -0 == 0: no update
		}},
		{"zrem zcard zscore zmscore", []step{
			{0, "ZADD z 1 a 2 b 3 c", "(integer) 3"},
			{0, "ZREM z a x", one},
			{0, "ZCARD z", "(integer) 2"},
			{0, "ZCARD nokey", zero},
			{0, "ZMSCORE z b x c", "[(double) 2 (nil) (double) 3]"},
			{0, "ZMSCORE nokey a", "[(nil)]"},
			{0, "ZSCORE nokey a", nilR},
			{0, "ZREM z b c", "(integer) 2"},
			{0, "EXISTS z", zero},
			{0, "ZREM nokey a", zero},
		}},
	})
}

func TestZSetRanges(t *testing.T) {
	setup := step{0, "ZADD z 1 one 2 two 3 three 4 four", "(integer) 4"}
	runTable(t, []tableCase{
		{"zrange by rank", []step{
			setup,
			{0, "ZRANGE z 0 -1", `["one" "two" "three" "four"]`},
			{0, "ZRANGE z 2 3", `["three" "four"]`},
			{0, "ZRANGE z -2 -1", `["three" "four"]`},
			{0, "ZRANGE z -100 100", `["one" "two" "three" "four"]`},
			{0, "ZRANGE z 3 2", "[]"},
			{0, "ZRANGE z 5 10", "[]"},
			{0, "ZRANGE z -1 -2", "[]"},
			{0, "ZRANGE z 0 0 WITHSCORES", `pairs["one" (double) 1]`},
			{0, "ZRANGE z 0 1 REV", `["four" "three"]`},
			{0, "ZREVRANGE z 0 1 WITHSCORES", `pairs["four" (double) 4 "three" (double) 3]`},
			{0, "ZRANGE z a 1", notInt},
			{0, "ZRANGE nokey 0 -1", "[]"},
			{0, "ZRANGE z 0 -1 LIMIT 0 1", "(error) ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"},
			{0, "ZRANGE z 0 -1 LIMIT 0 -1", `["one" "two" "three" "four"]`}, // a count of -1 is no LIMIT
			{0, "ZRANGE z 0 -1 FOO", syntaxErr},
			{0, "ZRANGE z 0 -1 LIMIT 0", syntaxErr},
			{0, "ZREVRANGE z 0 -1 REV", syntaxErr},
		}},
		{"zrange by score", []step{
			setup,
			{0, "ZRANGE z (1 3 BYSCORE", `["two" "three"]`},
			{0, "ZRANGE z -inf +inf BYSCORE LIMIT 1 2", `["two" "three"]`},
			{0, "ZRANGE z -inf +inf BYSCORE LIMIT 1 -1", `["two" "three" "four"]`},
			{0, "ZRANGE z -inf +inf BYSCORE LIMIT -1 2", "[]"}, // a negative offset skips all
			{0, "ZRANGE z -inf +inf BYSCORE LIMIT 4 2", "[]"},
			{0, "ZRANGE z -inf +inf BYSCORE LIMIT 1 0", "[]"},
			{0, "ZRANGE z (3 (1 BYSCORE REV", `["two"]`},
			{0, "ZRANGE z 2 2 BYSCORE", `["two"]`},
			{0, "ZRANGE z (2 2 BYSCORE", "[]"},
			{0, "ZRANGE z 3 1 BYSCORE", "[]"},
			{0, "ZRANGE z abc 1 BYSCORE", notFloatMM},
			{0, "ZRANGE z 1 (nan BYSCORE", notFloatMM},
			{0, `ZRANGE z "" +inf BYSCORE`, `["one" "two" "three" "four"]`}, // strtod: an empty bound is 0
			{0, `ZRANGE z " 2" +inf BYSCORE`, `["two" "three" "four"]`},     // and leading space is fine
			{0, `ZRANGE z "2 " +inf BYSCORE`, notFloatMM},
			{0, "ZRANGEBYSCORE z 1e400 inf", "[]"}, // overflow is inf here
			{0, "ZRANGEBYSCORE z -inf 2 WITHSCORES", `pairs["one" (double) 1 "two" (double) 2]`},
			{0, "ZRANGEBYSCORE z -inf 2 WITHSCORES LIMIT 1 1", `pairs["two" (double) 2]`},
			{0, "ZRANGEBYSCORE z -inf 2 BYSCORE", syntaxErr},
			{0, "ZREVRANGEBYSCORE z +inf (2", `["four" "three"]`},
			{0, "ZREVRANGEBYSCORE z 2 +inf", "[]"},
			{0, "ZRANGE z 1 2 BYSCORE BYLEX", syntaxErr},
		}},
		{"zrange by lex", []step{
			{0, "ZADD z 0 a 0 b 0 c 0 d 0 e 0 f 0 g", "(integer) 7"},
			{0, "ZRANGEBYLEX z - [c", `["a" "b" "c"]`},
			{0, "ZRANGEBYLEX z - (c", `["a" "b"]`},
			{0, "ZRANGEBYLEX z [aaa (g", `["b" "c" "d" "e" "f"]`},
			{0, "ZRANGEBYLEX z - + LIMIT 2 3", `["c" "d" "e"]`},
			{0, "ZREVRANGEBYLEX z [c -", `["c" "b" "a"]`},
			{0, "ZRANGE z (g + BYLEX", "[]"},
			{0, "ZRANGE z + - BYLEX", "[]"},
			{0, "ZRANGE z [c [c BYLEX", `["c"]`},
			{0, "ZRANGE z (c [c BYLEX", "[]"},
			{0, "ZRANGE z [e [b BYLEX REV", `["e" "d" "c" "b"]`},
			{0, "ZRANGE z - + BYLEX WITHSCORES", "(error) ERR syntax error, WITHSCORES not supported in combination with BYLEX"},
			{0, "ZRANGEBYLEX z a [c", notLexMM},
			{0, `ZRANGEBYLEX z "" [c`, notLexMM},
			{0, "ZRANGEBYLEX z -a [c", notLexMM},
			{0, "ZLEXCOUNT z - +", "(integer) 7"},
			{0, "ZLEXCOUNT z [b [f", "(integer) 5"},
			{0, "ZLEXCOUNT z (b (f", "(integer) 3"},
			{0, "ZLEXCOUNT z [x +", zero},
			{0, "ZLEXCOUNT z b f", notLexMM},
			{0, "ZLEXCOUNT nokey - +", zero},
			{0, "ZREMRANGEBYLEX z [b (d", "(integer) 2"},
			{0, "ZRANGE z 0 -1", `["a" "d" "e" "f" "g"]`},
		}},
		{"zrangestore", []step{
			setup,
			{0, "ZRANGESTORE dst z 2 -1", "(integer) 2"},
			{0, "ZRANGE dst 0 -1 WITHSCORES", `pairs["three" (double) 3 "four" (double) 4]`},
			{0, "ZRANGESTORE dst z (1 3 BYSCORE REV", zero}, // reversed bounds: max first
			{0, "ZRANGESTORE dst z 3 (1 BYSCORE REV LIMIT 0 1", one},
			{0, "ZRANGE dst 0 -1", `["three"]`},
			{0, "ZRANGESTORE dst z 5 10", zero},
			{0, "EXISTS dst", zero},
			{0, "ZRANGESTORE dst nokey 0 -1", zero},
			{0, "ZRANGESTORE dst z 0 -1 WITHSCORES", syntaxErr},
			{0, "SET str v", ok},
			{0, "ZRANGESTORE dst str 0 -1", wrongType},
			{0, "ZRANGESTORE str z 0 0", one}, // the destination is replaced
			{0, "TYPE str", "zset"},
		}},
		{"zcount zrank", []step{
			setup,
			{0, "ZCOUNT z -inf +inf", "(integer) 4"},
			{0, "ZCOUNT z (1 3", "(integer) 2"},
			{0, "ZCOUNT z 3 1", zero},
			{0, "ZCOUNT z x 1", notFloatMM},
			{0, "ZCOUNT nokey x 1", notFloatMM}, // the range is checked first
			{0, "ZCOUNT nokey 0 1", zero},
			{0, "ZRANK z three", "(integer) 2"},
			{0, "ZREVRANK z three", one},
			{0, "ZRANK z nosuch", nilR},
			{0, "ZRANK nokey a", nilR},
			{0, "ZRANK z three WITHSCORE", "[(integer) 2 (double) 3]"},
			{0, "ZRANK z nosuch WITHSCORE", nilR},
			{0, "ZRANK z three FOO", syntaxErr},
			{0, "ZRANK z a b c", arity("zrank")},
		}},
		{"zpop", []step{
			setup,
			{0, "ZPOPMIN z", `["one" (double) 1]`},
			{0, "ZPOPMAX z 2", `pairs["four" (double) 4 "three" (double) 3]`},
			{0, "ZPOPMIN z 0", "[]"},
			{0, "ZPOPMIN z -1", "(error) ERR value is out of range, must be positive"},
			{0, "ZPOPMIN z x", "(error) ERR value is out of range, must be positive"},
			{0, "ZPOPMIN z 1 2", syntaxErr},
			{0, "ZPOPMIN z 10", `pairs["two" (double) 2]`},
			{0, "EXISTS z", zero},
			{0, "ZPOPMIN z", "[]"},
			{0, "ZPOPMAX nokey 3", "[]"},
		}},
		{"zremrange", []step{
			setup,
			{0, "ZREMRANGEBYRANK z 0 1", "(integer) 2"},
			{0, "ZRANGE z 0 -1", `["three" "four"]`},
			{0, "ZREMRANGEBYRANK z 5 10", zero},
			{0, "ZREMRANGEBYRANK z x 1", notInt},
			{0, "ZREMRANGEBYSCORE z (3 +inf", one},
			{0, "ZREMRANGEBYSCORE z x 1", notFloatMM},
			{0, "ZREMRANGEBYSCORE nokey 0 1", zero},
			{0, "ZREMRANGEBYRANK z -1 -1", one},
			{0, "EXISTS z", zero},
		}},
		{"zrandmember deterministic cases", []step{
			{0, "ZRANDMEMBER nokey", nilR},
			{0, "ZRANDMEMBER nokey 2 WITHSCORES", "pairs[]"},
			{0, "ZADD z 1.5 a", one},
			{0, "ZRANDMEMBER z", `"a"`},
			{0, "ZRANDMEMBER z -2 WITHSCORES", `pairs["a" (double) 1.5 "a" (double) 1.5]`},
			{0, "ZRANDMEMBER z 3", `["a"]`},
			{0, "ZRANDMEMBER z 0", "[]"},
			{0, "ZRANDMEMBER z 1 WITHSCORE", syntaxErr},
		}},
		{"zscan", []step{
			{0, "ZADD z 1 a 2.5 b -inf c", "(integer) 3"},
			{0, "ZSCAN z 0", `["0" ["b" "2.5" "c" "-inf" "a" "1"]]`}, // hash order
			{0, "ZSCAN z 0 MATCH b", `["0" ["b" "2.5"]]`},
			{0, "ZSCAN nokey 0", `["0" []]`},
			{0, "ZSCAN z abc", "(error) ERR invalid cursor"},
		}},
		{"wrongtype", []step{
			{0, "SET s v", ok},
			{0, "ZADD s 1 a", wrongType},
			{0, "ZINCRBY s 1 a", wrongType},
			{0, "ZREM s a", wrongType},
			{0, "ZSCORE s a", wrongType},
			{0, "ZMSCORE s a", wrongType},
			{0, "ZCARD s", wrongType},
			{0, "ZCOUNT s 0 1", wrongType},
			{0, "ZLEXCOUNT s - +", wrongType},
			{0, "ZRANK s a", wrongType},
			{0, "ZRANGE s 0 1", wrongType},
			{0, "ZRANGEBYSCORE s 0 1", wrongType},
			{0, "ZRANGEBYLEX s - +", wrongType},
			{0, "ZPOPMIN s", wrongType},
			{0, "ZRANDMEMBER s", wrongType},
			{0, "ZREMRANGEBYRANK s 0 1", wrongType},
			{0, "ZREMRANGEBYSCORE s 0 1", wrongType},
			{0, "ZREMRANGEBYLEX s - +", wrongType},
			{0, "ZUNION 1 s", wrongType},
			{0, "ZSCAN s 0", wrongType},
		}},
	})
}

func TestZSetOps(t *testing.T) {
	runTable(t, []tableCase{
		{"zunionstore zinterstore", []step{
			{0, "ZADD z1 1 one 2 two", "(integer) 2"},
			{0, "ZADD z2 1 one 2 two 3 three", "(integer) 3"},
			{0, "ZUNIONSTORE out 2 z1 z2 WEIGHTS 2 3", "(integer) 3"},
			{0, "ZRANGE out 0 -1 WITHSCORES", `pairs["one" (double) 5 "three" (double) 9 "two" (double) 10]`},
			{0, "ZINTERSTORE out 2 z1 z2 WEIGHTS 2 3", "(integer) 2"},
			{0, "ZRANGE out 0 -1 WITHSCORES", `pairs["one" (double) 5 "two" (double) 10]`},
			{0, "ZUNIONSTORE out 2 z1 z2 AGGREGATE MAX", "(integer) 3"},
			{0, "ZRANGE out 0 -1 WITHSCORES", `pairs["one" (double) 1 "two" (double) 2 "three" (double) 3]`},
			{0, "ZINTERSTORE out 2 z1 z2 AGGREGATE MIN", "(integer) 2"},
			{0, "ZINTERSTORE out 2 z1 nokey", zero},
			{0, "EXISTS out", zero},
			{0, "ZDIFFSTORE out 2 z2 z1", one},
			{0, "ZRANGE out 0 -1 WITHSCORES", `pairs["three" (double) 3]`},
		}},
		{"zunion zinter zdiff", []step{
			{0, "ZADD z1 1 a 2 b", "(integer) 2"},
			{0, "ZADD z2 1 a 3 c", "(integer) 2"},
			{0, "SADD s a c d", "(integer) 3"}, // a set counts, each score 1
			{0, "ZUNION 2 z1 z2", `["a" "b" "c"]`},
			{0, "ZUNION 2 z1 z2 WITHSCORES", `pairs["a" (double) 2 "b" (double) 2 "c" (double) 3]`},
			{0, "ZINTER 2 z1 s WITHSCORES", `pairs["a" (double) 2]`},
			{0, "ZDIFF 2 s z1 WITHSCORES", `pairs["c" (double) 1 "d" (double) 1]`},
			{0, "ZDIFF 2 z1 z1", "[]"},
			{0, "ZINTERCARD 2 z1 z2", one},
			{0, "ZINTERCARD 2 s z2 LIMIT 1", one},
			{0, "ZINTERCARD 2 s z2 LIMIT -1", "(error) ERR LIMIT can't be negative"},
			{0, "ZINTERCARD 2 s z2 WITHSCORES", syntaxErr},
		}},
		{"weights and infinities", []step{
			{0, "ZADD a 1 x +inf y", "(integer) 2"},
			{0, "ZADD b 1 x -inf y", "(integer) 2"},
			{0, "ZUNION 2 a b WITHSCORES", `pairs["y" (double) 0 "x" (double) 2]`}, // inf + -inf is 0
			{0, "ZUNION 2 a b WEIGHTS 0 1 WITHSCORES", `pairs["y" (double) -Inf "x" (double) 1]`},
			{0, "ZINTER 2 a b WEIGHTS 0 0 WITHSCORES", `pairs["x" (double) 0 "y" (double) 0]`}, // inf * 0 is 0
			{0, "ZUNION 2 a b WEIGHTS 1 x", "(error) ERR weight value is not a float"},
			{0, "ZUNION 2 a b WEIGHTS 1", syntaxErr},
			{0, "ZUNION 2 a b AGGREGATE AVG", syntaxErr},
			{0, "ZDIFF 2 a b WEIGHTS 1 1", syntaxErr},
			{0, "ZUNIONSTORE out 2 a b WITHSCORES", syntaxErr},
		}},
		{"numkeys", []step{
			{0, "ZUNION 0 a", "(error) ERR at least 1 input key is needed for 'zunion' command"},
			{0, "ZUNIONSTORE out 0 a", "(error) ERR at least 1 input key is needed for 'zunionstore' command"},
			{0, "ZINTERCARD 0 a", "(error) ERR at least 1 input key is needed for 'zintercard' command"},
			{0, "ZINTER x a", notInt},
			{0, "ZDIFF 3 a b", syntaxErr},
			{0, "SET str v", ok},
			{0, "ZUNION 2 nokey str WEIGHTS x", wrongType}, // types before options
		}},
		{"store encodings", []step{
			{0, "ZADD a -0 x", one},
			{0, "ZADD big 1 " + strings.Repeat("m", 65) + " -0 x", "(integer) 2"},
			{0, "ZUNIONSTORE out 1 big", "(integer) 2"},
			{0, "OBJECT ENCODING out", `"skiplist"`},
			{0, "ZSCORE out x", "(double) -0"},
			{0, "ZINTERSTORE out 1 big", "(integer) 2"},
			{0, "ZREM out " + strings.Repeat("m", 65), one},
			{0, "OBJECT ENCODING out", `"skiplist"`},
			{0, "ZUNIONSTORE out 1 out", one},
			{0, "OBJECT ENCODING out", `"listpack"`},
			{0, "ZSCORE out x", "(double) 0"},
		}},
	})
}

// TestZSetLarge checks ranks and ranges on a large sorted set against a
// plain computation.
func TestZSetLarge(t *testing.T) {
	s := NewState()
	var args []string
	for i := 0; i < 1000; i++ {
		args = append(args, itoa(i%37), "m"+itoa(i))
	}
	do(t, s, t0, "ZADD z "+strings.Join(args, " "))
	if r := do(t, s, t0, "OBJECT ENCODING z"); string(r.Bulk) != "skiplist" {
		t.Fatal(r)
	}
	all := do(t, s, t0, "ZRANGE z 0 -1 WITHSCORES").Array
	if len(all) != 2000 {
		t.Fatalf("%d items", len(all))
	}
	prev := math.Inf(-1)
	prevM := ""
	for i := 0; i < len(all); i += 2 {
		m, sc := string(all[i].Bulk), all[i+1].Dbl
		if sc < prev || (sc == prev && m <= prevM) {
			t.Fatalf("out of order at %d: %s %v", i/2, m, sc)
		}
		prev, prevM = sc, m
		if r := do(t, s, t0, "ZRANK z "+m); r.Int != int64(i/2) {
			t.Fatalf("ZRANK %s = %v, want %d", m, r, i/2)
		}
	}
	if r := do(t, s, t0, "ZCOUNT z (3 10"); r.Int != 7*27 {
		t.Fatalf("ZCOUNT = %v", r)
	}
	if r := do(t, s, t0, "ZREMRANGEBYSCORE z 0 (36"); r.Int != 1000-27 {
		t.Fatalf("ZREMRANGEBYSCORE = %v", r)
	}
	if r := do(t, s, t0, "ZCARD z"); r.Int != 27 {
		t.Fatalf("ZCARD = %v", r)
	}
}
