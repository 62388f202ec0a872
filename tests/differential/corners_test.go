package differential

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/fsm/fsmtest"
)

// cornerGroups are the corner cases of fsm's table tests (commands_test.go
// there), each group run on an empty keyspace: there the replies are
// written down from the documentation, here Redis must give the same.
var cornerGroups = []struct {
	name  string
	lines []string
}{
	{"hash", []string{
		"HSET h a 1 b 2", "EXPIRE h 100", "HDEL h a b c", "EXISTS h", "HSET h a 1", "TTL h",
	}},
	{"list", []string{
		"RPUSH l a b c", "LPOP l", "RPOP l 5", "EXISTS l", "RPUSH l a a", "LREM l 0 a", "EXISTS l", "RPUSH l a b", "LTRIM l 1 0", "EXISTS l", "RPUSH l a b", "LTRIM l -1 -2", "EXISTS l", "RPUSH l a", "LMOVE l d LEFT RIGHT", "EXISTS l", "RPOPLPUSH d d", "RPOPLPUSH d l", "EXISTS d", "LMPOP 2 nokey l RIGHT COUNT 10", "EXISTS l", "LMPOP 1 l LEFT",
	}},
	{"set", []string{
		"SADD s a b", "SREM s a b", "EXISTS s", "SADD s a", "SMOVE s d a", "EXISTS s", "SPOP d 5", "EXISTS d", "SADD s a", "SPOP s", "EXISTS s", "SADD s a", "SADD dst x", "SINTERSTORE dst s nokey", "EXISTS dst", "SADD dst x", "SDIFFSTORE dst s s", "EXISTS dst", "SET dst v", "SUNIONSTORE dst nokey", "EXISTS dst",
	}},
	{"zset", []string{
		"ZADD z 1 a 2 b", "ZREM z a b", "EXISTS z", "ZADD z 1 a 2 b", "ZPOPMAX z 5", "EXISTS z", "ZADD z 1 a", "ZPOPMIN z", "EXISTS z", "ZADD z 1 a 2 b", "ZREMRANGEBYRANK z 0 -1", "EXISTS z", "ZADD z 1 a 2 b", "ZREMRANGEBYSCORE z -inf +inf", "EXISTS z", "ZADD z 0 a 0 b", "ZREMRANGEBYLEX z - +", "EXISTS z", "ZADD z 1 a", "SET dst v", "ZRANGESTORE dst z 5 10", "EXISTS dst", "ZADD dst 1 x", "ZUNIONSTORE dst 1 nokey", "EXISTS dst", "ZADD dst 1 x", "ZINTERSTORE dst 2 z nokey", "EXISTS dst", "ZADD dst 1 x", "ZDIFFSTORE dst 2 z z", "EXISTS dst",
	}},
	{"zrevrangebyscore", []string{
		"ZADD z 1 one 2 two 3 three 4 four", "ZREVRANGEBYSCORE z +inf -inf", "ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 1 2", "ZREVRANGEBYSCORE z (4 (1", "ZREVRANGEBYSCORE z 4 1 LIMIT 0 -1", "ZREVRANGEBYSCORE z 4 1 LIMIT 3 5", "ZREVRANGEBYSCORE z 4 1 LIMIT -1 5", "ZREVRANGEBYSCORE z 1 4", "ZREVRANGEBYSCORE z x 4", "ZREVRANGEBYSCORE z 4 1 LIMIT 1", "ZREVRANGEBYSCORE z 4 1 LIMIT x 1", "ZREVRANGEBYSCORE nokey 4 1", "ZRANGE z 4 1 BYSCORE REV LIMIT 1 2 WITHSCORES",
	}},
	{"zrevrangebylex", []string{
		"ZADD x 0 a 0 b 0 c 0 d 0 e 0 f 0 g", "ZREVRANGEBYLEX x + -", "ZREVRANGEBYLEX x + - LIMIT 1 2", "ZREVRANGEBYLEX x (c -", "ZREVRANGEBYLEX x [e (b", "ZREVRANGEBYLEX x - +", "ZREVRANGEBYLEX x + - LIMIT 6 10", "ZREVRANGEBYLEX x c -", "ZREVRANGEBYLEX x + - WITHSCORES", "ZREVRANGEBYLEX nokey + -",
	}},
	{"zrevrank zpopmax", []string{
		"ZADD z 1 one 2 two 3 three 4 four", "ZREVRANK z four", "ZREVRANK z one", "ZREVRANK z nosuch", "ZREVRANK nokey a", "ZPOPMAX z", "ZPOPMAX z 0", "ZPOPMAX z -1", "ZPOPMAX z x", "ZPOPMAX z 1 1", "ZPOPMAX nokey", "ZCARD z",
	}},
	{"zset algebra", []string{
		"ZADD a 1 x 2 y 3 z", "ZADD b 10 y 20 z 30 w", "SADD s z w", "ZINTER 2 a b AGGREGATE MAX WITHSCORES", "ZINTER 2 a b AGGREGATE MIN WITHSCORES", "ZINTER 3 a b s WITHSCORES", "ZUNION 2 a s WEIGHTS 2 -1 WITHSCORES", "ZDIFF 2 b a", "ZDIFF 1 nokey", "ZDIFFSTORE out 2 b a", "ZRANGE out 0 -1 WITHSCORES", "ZDIFFSTORE out 2 b a WEIGHTS 1 1", "ZDIFFSTORE out 0 a", "ZINTERSTORE out 0 a", "ZINTER 0 a", "ZINTERCARD 2 a b", "ZINTERCARD 2 a b LIMIT 1", "ZINTERCARD 2 a b LIMIT 0", "ZINTERCARD 2 a b LIMIT -1", "ZINTERCARD 3 a b", "SINTERCARD 3 a b", "ZUNIONSTORE out 2 a b AGGREGATE FOO", "ZUNIONSTORE out 2 a b WEIGHTS 1 nan", "ZRANGE out 0 -1",
	}},
	{"store commands replace the destination and its TTL", []string{
		"SADD s a b", "SET dst v EX 100", "SUNIONSTORE dst s", "TYPE dst", "TTL dst", "EXPIRE dst 100", "SINTERSTORE dst s dst", "TTL dst", "EXPIRE dst 100", "ZUNIONSTORE dst 1 s", "TYPE dst", "TTL dst", "EXPIRE dst 100", "ZRANGESTORE dst dst 0 0", "TTL dst",
	}},
	{"moving keys keeps the TTL", []string{
		"HSET h f v", "PEXPIRE h 5000", "RENAME h h2", "PTTL h2", "COPY h2 h3", "PTTL h3", "RENAMENX h3 h2", "SET h2 x", "PTTL h2", "RENAME h3 h2", "HGET h2 f", "PTTL h2", "EXISTS h2", "TOUCH h2 nokey",
	}},
	{"list indexes", []string{
		"RPUSH l a b c d", "LINDEX l -1", "LINDEX l -4", "LINDEX l -5", "LINDEX l 4", "LSET l -1 z", "LSET l -5 z", "LSET nokey 0 z", "LRANGE l -2 -1", "LRANGE l -100 1", "LRANGE l 2 1", "LTRIM l -3 -2", "LRANGE l 0 -1", "LPOS l c RANK -1", "LPOS l c RANK 0", "LPOS l c MAXLEN -1", "LPOS l c COUNT -1",
	}},
	{"increment overflow", []string{
		"SET n 9223372036854775807", "INCR n", "INCRBY n 1", "GET n", "HSET h n -9223372036854775808", "HINCRBY h n -1", "HINCRBY h n 9223372036854775807", "HINCRBY h n 9223372036854775808", "HSET h f 1e4932", "HINCRBYFLOAT h f 1e4932", "HGET h f", "ZADD z 1e308 m", "ZINCRBY z 1e308 m", "ZINCRBY z -inf m", "ZSCORE z m",
	}}, // Count arguments: each command's own error texts.
	{"counts", []string{
		"SADD s a b", "HSET h a 1", "ZADD z 1 a", "RPUSH l a b",
		"SPOP s x", "SPOP s -1", "SRANDMEMBER s x", "HRANDFIELD h x", "ZRANDMEMBER z x", "LPOP l x", "RPOP l -1",
		"LMPOP 1 l LEFT COUNT 0", "LMPOP 1 l LEFT COUNT x", "LMPOP 0 l LEFT", "LMPOP x l LEFT", "LMPOP 1 l UP",
		"ZPOPMIN z x", "ZPOPMAX nokey -2", "LPOS l a COUNT x", "LPOS l a RANK x", "LPOS l a MAXLEN x",
		"SSCAN s 0 COUNT 0", "SSCAN s 0 COUNT x", "SCAN 0 COUNT -1", "HSCAN h x", "ZSCAN z 0 COUNT",
		"SINTERCARD 1 s LIMIT x", "ZINTERCARD 1 z LIMIT x", "ZRANGE z 0 -1 BYSCORE LIMIT x 1",
		"LRANGE l x 1", "LINDEX l x", "LSET l x a", "LREM l x a", "LTRIM l 0 x", "LINSERT l MIDDLE a b",
		"ZREMRANGEBYRANK z 0 x", "HINCRBY h a x", "HINCRBYFLOAT h a x", "ZINCRBY z x a",
	}},
}

// newHarness returns a harness on an empty keyspace of both sides.
func newHarness(t *testing.T, addr string) *harness {
	h := &harness{t: t, m: fsm.NewMachine(), r: rand.New(rand.NewPCG(1, 1))}
	for _, q := range []int{2, 3} {
		c, err := dial(addr, q)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		h.redis[q] = c
	}
	h.redisDo(2, []string{"FLUSHALL"})
	return h
}

// lineMode is how a corner line's replies compare: TTLs within a
// tolerance (the two sides' clocks differ by the time between the calls).
func lineMode(args []string) mode {
	switch strings.ToUpper(args[0]) {
	case "TTL", "PTTL":
		return ttl
	}
	return exact
}

func TestDifferentialCorners(t *testing.T) {
	addr := startRedis(t)
	for _, p := range []int{2, 3} {
		for _, g := range cornerGroups {
			h := newHarness(t, addr)
			for i, line := range g.lines {
				args := splitLine(t, line)
				h.history = append(h.history, g.name+": "+line)
				h.run(i, command{args: args, mode: lineMode(args)}, p)
			}
		}
	}
}

// wrongTypeCommands are the commands of each type (K: the key of that
// type), as fsm's TestWrongTypeEveryFamily runs them against a key of
// every other type.
var wrongTypeCommands = fsmtest.FamilyCommands

// TestDifferentialWrongType runs every command against keys of the other
// types on both sides: the same error, and the same keyspace after.
func TestDifferentialWrongType(t *testing.T) {
	addr := startRedis(t)
	keys := []struct{ typ, key, make string }{
		{"string", "str", "SET str 1"},
		{"hash", "hsh", "HSET hsh a 1"},
		{"list", "lst", "RPUSH lst a b"},
		{"set", "st", "SADD st a b"},
		{"zset", "zs", "ZADD zs 1 a 2 b"},
	}
	h := newHarness(t, addr)
	n := 0
	for fam, cmds := range wrongTypeCommands {
		for _, tmpl := range cmds {
			for _, k := range keys {
				if own := strings.Split(fam, "|"); k.typ == own[0] || (len(own) > 1 && k.typ == own[1]) {
					continue
				}
				for _, mk := range keys {
					h.both(2, splitLine(t, mk.make))
				}
				line := strings.Replace(tmpl, " K", " "+k.key, 1)
				h.history = append(h.history, line)
				h.run(n, command{args: splitLine(t, line), mode: exact}, 2+n%2)
				n++
				h.compareKeys(n, []string{"str", "hsh", "lst", "st", "zs", "dst"})
				h.both(2, []string{"DEL", "str", "hsh", "lst", "st", "zs", "dst"})
			}
		}
	}
	if n < 300 {
		t.Fatalf("only %d commands ran", n)
	}
}
