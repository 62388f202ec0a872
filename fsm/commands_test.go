package fsm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redraft/redraft/fsm/fsmtest"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Sweeps over the whole command set of the data types, and the corners of
// the commands that the per-family tables touch least. Expected replies
// are Redis 7's, as documented (the same lines are run against a real
// redis-server by tests/differential).

// familyCommands are the commands of each type with K where a key of that
// type is read or written (shared with tests/differential, which runs them
// against Redis).
var familyCommands = fsmtest.FamilyCommands

// typedKeys is a key of each type, made by its command.
var typedKeys = []struct{ typ, key, make string }{
	{"string", "str", "SET str 1"},
	{"hash", "hsh", "HSET hsh a 1"},
	{"list", "lst", "RPUSH lst a b"},
	{"set", "st", "SADD st a b"},
	{"zset", "zs", "ZADD zs 1 a 2 b"},
}

// TestWrongTypeEveryFamily runs every command of every type against a key
// of each other type: each must be refused with WRONGTYPE, change nothing,
// and run (not be refused) against a key of its own type.
func TestWrongTypeEveryFamily(t *testing.T) {
	setup := func() *State {
		s := NewState()
		for _, k := range typedKeys {
			do(t, s, t0, k.make)
		}
		return s
	}
	for fam, cmds := range familyCommands {
		accepts := strings.Split(fam, "|")
		for _, tmpl := range cmds {
			for _, k := range typedKeys {
				s := setup()
				before := content(s)
				line := strings.Replace(tmpl, " K", " "+k.key, 1)
				got := s.Apply(&pb.Command{NowMs: t0, Args: split(t, line)}).String()
				own := false
				for _, a := range accepts {
					own = own || a == k.typ
				}
				if own {
					if got == wrongType {
						t.Errorf("%s (a %s): %s", line, k.typ, got)
					}
					continue
				}
				if got != wrongType {
					t.Errorf("%s (a %s): %s, want WRONGTYPE", line, k.typ, got)
				}
				if content(s) != before {
					t.Errorf("%s (a %s): the refused command changed the state", line, k.typ)
				}
			}
		}
	}
}

// content renders every key with its type, expiry, version (what WATCH
// compares) and value: the state but for the command counter, which every
// command moves.
func content(s *State) string {
	var b strings.Builder
	s.keys.Scan(func(e entry) bool {
		fmt.Fprintf(&b, "%q %d %d %d %x\n", e.key, e.val.typ, e.exp, e.mod, dumpValue(e.val))
		return true
	})
	return b.String()
}

// TestEmptyResultDeletesKey: a collection whose last element goes is no
// longer a key, whichever command takes it; a store command with an empty
// result deletes its destination; a key made again afterwards has no TTL.
func TestEmptyResultDeletesKey(t *testing.T) {
	gone := func(k string) step { return step{0, "EXISTS " + k, zero} }
	runTable(t, []tableCase{
		{"hash", []step{
			{0, "HSET h a 1 b 2", "(integer) 2"},
			{0, "EXPIRE h 100", one},
			{0, "HDEL h a b c", "(integer) 2"},
			gone("h"),
			{0, "HSET h a 1", one},
			{0, "TTL h", minusOne},
		}},
		{"list", []step{
			{0, "RPUSH l a b c", "(integer) 3"},
			{0, "LPOP l", `"a"`},
			{0, "RPOP l 5", `["c" "b"]`},
			gone("l"),
			{0, "RPUSH l a a", "(integer) 2"},
			{0, "LREM l 0 a", "(integer) 2"},
			gone("l"),
			{0, "RPUSH l a b", "(integer) 2"},
			{0, "LTRIM l 1 0", ok},
			gone("l"),
			{0, "RPUSH l a b", "(integer) 2"},
			{0, "LTRIM l -1 -2", ok},
			gone("l"),
			{0, "RPUSH l a", one},
			{0, "LMOVE l d LEFT RIGHT", `"a"`},
			gone("l"),
			{0, "RPOPLPUSH d d", `"a"`}, // a rotation of one element keeps it
			{0, "RPOPLPUSH d l", `"a"`},
			gone("d"),
			{0, "LMPOP 2 nokey l RIGHT COUNT 10", `["l" ["a"]]`},
			gone("l"),
			{0, "LMPOP 1 l LEFT", nilR},
		}},
		{"set", []step{
			{0, "SADD s a b", "(integer) 2"},
			{0, "SREM s a b", "(integer) 2"},
			gone("s"),
			{0, "SADD s a", one},
			{0, "SMOVE s d a", one},
			gone("s"),
			{0, "SPOP d 5", `set["a"]`},
			gone("d"),
			{0, "SADD s a", one},
			{0, "SPOP s", `"a"`},
			gone("s"),
			{0, "SADD s a", one},
			{0, "SADD dst x", one},
			{0, "SINTERSTORE dst s nokey", zero},
			gone("dst"),
			{0, "SADD dst x", one},
			{0, "SDIFFSTORE dst s s", zero},
			gone("dst"),
			{0, "SET dst v", ok},
			{0, "SUNIONSTORE dst nokey", zero},
			gone("dst"),
		}},
		{"zset", []step{
			{0, "ZADD z 1 a 2 b", "(integer) 2"},
			{0, "ZREM z a b", "(integer) 2"},
			gone("z"),
			{0, "ZADD z 1 a 2 b", "(integer) 2"},
			{0, "ZPOPMAX z 5", `pairs["b" (double) 2 "a" (double) 1]`},
			gone("z"),
			{0, "ZADD z 1 a", one},
			{0, "ZPOPMIN z", `["a" (double) 1]`},
			gone("z"),
			{0, "ZADD z 1 a 2 b", "(integer) 2"},
			{0, "ZREMRANGEBYRANK z 0 -1", "(integer) 2"},
			gone("z"),
			{0, "ZADD z 1 a 2 b", "(integer) 2"},
			{0, "ZREMRANGEBYSCORE z -inf +inf", "(integer) 2"},
			gone("z"),
			{0, "ZADD z 0 a 0 b", "(integer) 2"},
			{0, "ZREMRANGEBYLEX z - +", "(integer) 2"},
			gone("z"),
			{0, "ZADD z 1 a", one},
			{0, "SET dst v", ok},
			{0, "ZRANGESTORE dst z 5 10", zero},
			gone("dst"),
			{0, "ZADD dst 1 x", one},
			{0, "ZUNIONSTORE dst 1 nokey", zero},
			gone("dst"),
			{0, "ZADD dst 1 x", one},
			{0, "ZINTERSTORE dst 2 z nokey", zero},
			gone("dst"),
			{0, "ZADD dst 1 x", one},
			{0, "ZDIFFSTORE dst 2 z z", zero},
			gone("dst"),
		}},
	})
}

// TestCommandCorners covers what the family tables touch least: the
// reversed ranges with LIMIT, the store commands' destinations and TTLs,
// and the numkeys errors.
func TestCommandCorners(t *testing.T) {
	nums := step{0, "ZADD z 1 one 2 two 3 three 4 four", "(integer) 4"}
	lex := step{0, "ZADD x 0 a 0 b 0 c 0 d 0 e 0 f 0 g", "(integer) 7"}
	runTable(t, []tableCase{
		{"zrevrangebyscore", []step{
			nums,
			{0, "ZREVRANGEBYSCORE z +inf -inf", `["four" "three" "two" "one"]`},
			{0, "ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 1 2", `pairs["three" (double) 3 "two" (double) 2]`},
			{0, "ZREVRANGEBYSCORE z (4 (1", `["three" "two"]`},
			{0, "ZREVRANGEBYSCORE z 4 1 LIMIT 0 -1", `["four" "three" "two" "one"]`},
			{0, "ZREVRANGEBYSCORE z 4 1 LIMIT 3 5", `["one"]`},
			{0, "ZREVRANGEBYSCORE z 4 1 LIMIT -1 5", "[]"},
			{0, "ZREVRANGEBYSCORE z 1 4", "[]"},
			{0, "ZREVRANGEBYSCORE z x 4", notFloatMM},
			{0, "ZREVRANGEBYSCORE z 4 1 LIMIT 1", syntaxErr},
			{0, "ZREVRANGEBYSCORE z 4 1 LIMIT x 1", notInt},
			{0, "ZREVRANGEBYSCORE nokey 4 1", "[]"},
			{0, "ZRANGE z 4 1 BYSCORE REV LIMIT 1 2 WITHSCORES", `pairs["three" (double) 3 "two" (double) 2]`},
		}},
		{"zrevrangebylex", []step{
			lex,
			{0, "ZREVRANGEBYLEX x + -", `["g" "f" "e" "d" "c" "b" "a"]`},
			{0, "ZREVRANGEBYLEX x + - LIMIT 1 2", `["f" "e"]`},
			{0, "ZREVRANGEBYLEX x (c -", `["b" "a"]`},
			{0, "ZREVRANGEBYLEX x [e (b", `["e" "d" "c"]`},
			{0, "ZREVRANGEBYLEX x - +", "[]"},
			{0, "ZREVRANGEBYLEX x + - LIMIT 6 10", `["a"]`},
			{0, "ZREVRANGEBYLEX x c -", notLexMM},
			{0, "ZREVRANGEBYLEX x + - WITHSCORES", "(error) ERR syntax error, WITHSCORES not supported in combination with BYLEX"},
			{0, "ZREVRANGEBYLEX nokey + -", "[]"},
		}},
		{"zrevrank zpopmax", []step{
			nums,
			{0, "ZREVRANK z four", zero},
			{0, "ZREVRANK z one", "(integer) 3"},
			{0, "ZREVRANK z nosuch", nilR},
			{0, "ZREVRANK nokey a", nilR},
			{0, "ZPOPMAX z", `["four" (double) 4]`},
			{0, "ZPOPMAX z 0", "[]"},
			{0, "ZPOPMAX z -1", "(error) ERR value is out of range, must be positive"},
			{0, "ZPOPMAX z x", "(error) ERR value is out of range, must be positive"},
			{0, "ZPOPMAX z 1 1", syntaxErr},
			{0, "ZPOPMAX nokey", "[]"},
			{0, "ZCARD z", "(integer) 3"},
		}},
		{"zset algebra", []step{
			{0, "ZADD a 1 x 2 y 3 z", "(integer) 3"},
			{0, "ZADD b 10 y 20 z 30 w", "(integer) 3"},
			{0, "SADD s z w", "(integer) 2"},
			{0, "ZINTER 2 a b AGGREGATE MAX WITHSCORES", `pairs["y" (double) 10 "z" (double) 20]`},
			{0, "ZINTER 2 a b AGGREGATE MIN WITHSCORES", `pairs["y" (double) 2 "z" (double) 3]`},
			{0, "ZINTER 3 a b s WITHSCORES", `pairs["z" (double) 24]`},
			{0, "ZUNION 2 a s WEIGHTS 2 -1 WITHSCORES", `pairs["w" (double) -1 "x" (double) 2 "y" (double) 4 "z" (double) 5]`},
			{0, "ZDIFF 2 b a", `["w"]`},
			{0, "ZDIFF 1 nokey", "[]"},
			{0, "ZDIFFSTORE out 2 b a", one},
			{0, "ZRANGE out 0 -1 WITHSCORES", `pairs["w" (double) 30]`},
			{0, "ZDIFFSTORE out 2 b a WEIGHTS 1 1", syntaxErr},
			{0, "ZDIFFSTORE out 0 a", "(error) ERR at least 1 input key is needed for 'zdiffstore' command"},
			{0, "ZINTERSTORE out 0 a", "(error) ERR at least 1 input key is needed for 'zinterstore' command"},
			{0, "ZINTER 0 a", "(error) ERR at least 1 input key is needed for 'zinter' command"},
			{0, "ZINTERCARD 2 a b", "(integer) 2"},
			{0, "ZINTERCARD 2 a b LIMIT 1", one},
			{0, "ZINTERCARD 2 a b LIMIT 0", "(integer) 2"},
			{0, "ZINTERCARD 2 a b LIMIT -1", "(error) ERR LIMIT can't be negative"},
			{0, "ZINTERCARD 3 a b", syntaxErr},
			{0, "SINTERCARD 3 a b", "(error) ERR Number of keys can't be greater than number of args"},
			{0, "ZUNIONSTORE out 2 a b AGGREGATE FOO", syntaxErr},
			{0, "ZUNIONSTORE out 2 a b WEIGHTS 1 nan", "(error) ERR weight value is not a float"},
			{0, "ZRANGE out 0 -1", `["w"]`}, // untouched by the errors
		}},
		{"store commands replace the destination and its TTL", []step{
			{0, "SADD s a b", "(integer) 2"},
			{0, "SET dst v EX 100", ok},
			{0, "SUNIONSTORE dst s", "(integer) 2"},
			{0, "TYPE dst", "set"},
			{0, "TTL dst", minusOne},
			{0, "EXPIRE dst 100", one},
			{0, "SINTERSTORE dst s dst", "(integer) 2"}, // the destination is also a source
			{0, "TTL dst", minusOne},
			{0, "EXPIRE dst 100", one},
			{0, "ZUNIONSTORE dst 1 s", "(integer) 2"},
			{0, "TYPE dst", "zset"},
			{0, "TTL dst", minusOne},
			{0, "EXPIRE dst 100", one},
			{0, "ZRANGESTORE dst dst 0 0", one},
			{0, "TTL dst", minusOne},
		}},
		{"moving keys keeps the TTL", []step{
			{0, "HSET h f v", one},
			{0, "PEXPIRE h 5000", one},
			{0, "RENAME h h2", ok},
			{0, "PTTL h2", "(integer) 5000"},
			{0, "COPY h2 h3", one},
			{0, "PTTL h3", "(integer) 5000"},
			{0, "RENAMENX h3 h2", zero},
			{0, "SET h2 x", ok},
			{0, "PTTL h2", minusOne},
			{0, "RENAME h3 h2", ok},
			{0, "HGET h2 f", `"v"`},
			{0, "PTTL h2", "(integer) 5000"},
			{5001 + t0, "EXISTS h2", zero},
			{0, "TOUCH h2 nokey", zero},
		}},
		{"list indexes", []step{
			{0, "RPUSH l a b c d", "(integer) 4"},
			{0, "LINDEX l -1", `"d"`},
			{0, "LINDEX l -4", `"a"`},
			{0, "LINDEX l -5", nilR},
			{0, "LINDEX l 4", nilR},
			{0, "LSET l -1 z", ok},
			{0, "LSET l -5 z", "(error) ERR index out of range"},
			{0, "LSET nokey 0 z", "(error) ERR no such key"},
			{0, "LRANGE l -2 -1", `["c" "z"]`},
			{0, "LRANGE l -100 1", `["a" "b"]`},
			{0, "LRANGE l 2 1", "[]"},
			{0, "LTRIM l -3 -2", ok},
			{0, "LRANGE l 0 -1", `["b" "c"]`},
			{0, "LPOS l c RANK -1", one},
			{0, "LPOS l c RANK 0", "(error) ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"},
			{0, "LPOS l c MAXLEN -1", "(error) ERR MAXLEN can't be negative"},
			{0, "LPOS l c COUNT -1", "(error) ERR COUNT can't be negative"},
		}},
		{"increment overflow", []step{
			{0, "SET n " + maxInt64, ok},
			{0, "INCR n", overflow},
			{0, "INCRBY n 1", overflow},
			{0, "GET n", `"` + maxInt64 + `"`},
			{0, "HSET h n " + minInt64, one},
			{0, "HINCRBY h n -1", overflow},
			{0, "HINCRBY h n " + maxInt64, minusOne},
			{0, "HINCRBY h n 9223372036854775808", notInt},
			{0, "HSET h f 1e4932", one}, // the sum is a long double: 2e308 would fit
			{0, "HINCRBYFLOAT h f 1e4932", nanInf},
			{0, "HGET h f", `"1e4932"`},
			{0, "ZADD z 1e308 m", one},
			{0, "ZINCRBY z 1e308 m", "(double) +Inf"},
			{0, "ZINCRBY z -inf m", nanScore},
			{0, "ZSCORE z m", "(double) +Inf"},
		}},
	})
}
