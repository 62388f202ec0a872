package differential

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/redraft/redraft/fsm"
)

// mode says how the two replies of a command are compared.
type mode int

const (
	exact       mode = iota
	unordered        // the top level as a set (or map)
	ttl              // an integer within a tolerance (TTL, PTTL, ...)
	spop             // SPOP: valid picks; the state machine then follows Redis
	randPick         // SRANDMEMBER, HRANDFIELD, ZRANDMEMBER: valid picks
	randomKey        // RANDOMKEY: an existing key, or nil when there is none
	scanAll          // SCAN family: a whole iteration, compared as sets
	memUsage         // MEMORY USAGE: an integer on both sides, or nil on both
	dumpRestore      // DUMP on each side, then RESTORE of that payload
	// tx is a transaction: WATCH of some keys, commands of this or another
	// client in between, then MULTI, the queued commands, EXEC; the EXEC
	// replies must agree (a null array on both sides if a watched key
	// changed).
	tx
	// encoding is OBJECT on a key that holds a hash, set or sorted set;
	// on a string or a list only an error must agree. Redis tells "raw"
	// from "embstr", and shared integers' reference counts, by a string's
	// history (APPEND, SETRANGE, ...), which is not kept here; Redis 7.0
	// calls every list "quicklist", 7.2 (which the lists follow) calls
	// small ones "listpack".
	encoding
)

// command is one generated command and how to compare its replies.
type command struct {
	args []string
	mode mode
	// typ is the type a random pick reads ("set", "hash", "zset").
	typ string
	// A transaction (mode tx): the keys it watches, the commands run
	// between WATCH and MULTI, and the commands it queues.
	watch  []string
	meddle []command
	queued []command
}

// gen makes random commands over small pools of keys, members and scores,
// so that commands meet the same keys, empty results, type errors and
// encoding changes often.
type gen struct {
	r     *rand.Rand
	lists bool // the state machine has lists
}

var (
	strKeys  = []string{"s0", "s1", "s2", "{x}s3"}
	hashKeys = []string{"h0", "h1", "h2", "{x}h3"}
	setKeys  = []string{"S0", "S1", "S2", "{x}S3", "I0", "I1"} // I*: integers mostly
	zsetKeys = []string{"z0", "z1", "z2", "{x}z3"}
	lexKeys  = []string{"x0", "x1"} // sorted sets whose scores are all 0
	listKeys = []string{"l0", "l1", "{x}l2"}
)

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

// allKeys is every key the generator uses.
func (g *gen) allKeys() []string {
	var all []string
	all = append(all, strKeys...)
	all = append(all, hashKeys...)
	all = append(all, setKeys...)
	all = append(all, zsetKeys...)
	all = append(all, lexKeys...)
	if g.lists {
		all = append(all, listKeys...)
	}
	return all
}

// key returns a key of the family, or now and then any key (type errors).
// The sorted sets of lexKeys keep all their scores 0 (Redis leaves the
// lexicographic ranges of mixed scores unspecified), so other sorted set
// commands, which add any score, do not pick them.
func (g *gen) key(family []string) string {
	if g.chance(0.07) {
		k := g.pick(g.allKeys())
		if &family[0] == &zsetKeys[0] && (k == lexKeys[0] || k == lexKeys[1]) {
			return g.pick(family)
		}
		return k
	}
	return g.pick(family)
}

var longMember = strings.Repeat("L", 70)

func (g *gen) member() string {
	switch n := g.r.IntN(100); {
	case n < 55:
		return string(rune('a' + g.r.IntN(10)))
	case n < 85:
		return strconv.Itoa(g.r.IntN(25) - 5)
	case n < 90:
		return []string{"", "x y", "\x00\xff", "007", "-0", "1.5", "*", "[a]"}[g.r.IntN(8)]
	case n < 93:
		return longMember
	default:
		return "m" + strconv.Itoa(g.r.IntN(300))
	}
}

func (g *gen) intMember() string { return strconv.Itoa(g.r.IntN(700) - 50) }

func (g *gen) members(min, max int) []string {
	n := min + g.r.IntN(max-min+1)
	out := make([]string, n)
	for i := range out {
		out[i] = g.member()
	}
	return out
}

func (g *gen) value() string {
	switch n := g.r.IntN(100); {
	case n < 50:
		return "v" + strconv.Itoa(g.r.IntN(20))
	case n < 80:
		return strconv.Itoa(g.r.IntN(2000) - 1000)
	case n < 90:
		return []string{"", "1.5", "0.1", "abc", "9223372036854775807", "-9223372036854775808", "1e5", " 3"}[g.r.IntN(8)]
	default:
		return strings.Repeat("V", 60+g.r.IntN(20))
	}
}

// score returns a score, now and then an invalid one.
func (g *gen) score() string {
	if g.chance(0.03) {
		return []string{"abc", "nan", "", " 1", "1e400", "1x", "(1"}[g.r.IntN(7)]
	}
	if g.chance(0.05) {
		return []string{"inf", "-inf", "+inf", "-0", "0x10", "1e2", "2.5e-1"}[g.r.IntN(7)]
	}
	if g.chance(0.3) {
		return strconv.FormatFloat(float64(g.r.IntN(41)-20)/4, 'g', -1, 64)
	}
	return strconv.Itoa(g.r.IntN(21) - 10)
}

func (g *gen) scoreBound() string {
	switch n := g.r.IntN(100); {
	case n < 10:
		return "-inf"
	case n < 20:
		return "+inf"
	case n < 25:
		return []string{"abc", "(", "", " 2", "(nan", "inf", "(-inf"}[g.r.IntN(7)]
	}
	s := strconv.FormatFloat(float64(g.r.IntN(41)-20)/2, 'g', -1, 64)
	if g.chance(0.3) {
		return "(" + s
	}
	return s
}

func (g *gen) lexBound() string {
	switch n := g.r.IntN(100); {
	case n < 12:
		return "-"
	case n < 24:
		return "+"
	case n < 28:
		return []string{"a", "", "[", "(", "-x", "+x"}[g.r.IntN(6)]
	}
	m := string(rune('a' + g.r.IntN(10)))
	if g.chance(0.4) {
		return "(" + m
	}
	return "[" + m
}

func (g *gen) index() string {
	if g.chance(0.1) {
		return []string{"100", "-100", "abc", "9223372036854775807", "-9223372036854775808"}[g.r.IntN(5)]
	}
	return strconv.Itoa(g.r.IntN(13) - 6)
}

func (g *gen) count() string {
	if g.chance(0.1) {
		return []string{"0", "-1", "abc", "200", "-200"}[g.r.IntN(5)]
	}
	return strconv.Itoa(1 + g.r.IntN(6))
}

func (g *gen) pattern() string {
	return []string{"*", "a*", "*1*", "?", "[a-c]*", "[^a]*", "h*", "\\*", "*[", "{x}*", "S?", "*0"}[g.r.IntN(12)]
}

// scanOpts returns random [MATCH] [COUNT] options.
func (g *gen) scanOpts() []string {
	var out []string
	if g.chance(0.4) {
		out = append(out, "MATCH", g.pattern())
	}
	if g.chance(0.5) {
		out = append(out, "COUNT", []string{"1", "2", "5", "10", "100"}[g.r.IntN(5)])
	}
	return out
}

func cmd(m mode, args ...string) command { return command{args: args, mode: m} }

func join(a []string, b ...string) []string { return append(append([]string(nil), a...), b...) }

// next returns the next command.
func (g *gen) next() command {
	if g.chance(0.04) {
		return g.txCmd()
	}
	return g.single()
}

// exactCmd returns a command whose replies compare exactly and that Redis
// queues in a transaction (its arity is right).
func (g *gen) exactCmd() command {
	for {
		c := g.single()
		if c.mode == exact && fsm.Lookup([]byte(c.args[0])).CheckArity(len(c.args)) {
			return c
		}
	}
}

// txCmd returns a transaction: WATCH of up to two keys (one of which the
// transaction then uses, now and then), up to two commands in between
// (which may change a watched key), then one to four queued commands.
func (g *gen) txCmd() command {
	c := command{args: []string{"MULTI"}, mode: tx}
	for n := g.r.IntN(3); n > 0; n-- {
		c.watch = append(c.watch, g.pick(g.allKeys()))
	}
	if len(c.watch) > 0 {
		for n := g.r.IntN(3); n > 0; n-- {
			if g.chance(0.5) {
				c.meddle = append(c.meddle, g.touch(g.pick(c.watch)))
			} else {
				c.meddle = append(c.meddle, g.exactCmd())
			}
		}
	}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		c.queued = append(c.queued, g.exactCmd())
	}
	return c
}

// touch returns a command on key k that may change it, or may leave it
// as it is (a write that finds nothing to do, which does not abort a
// transaction watching k), or fail on its type.
func (g *gen) touch(k string) command {
	m := g.member()
	sc := "1"
	if k == lexKeys[0] || k == lexKeys[1] {
		sc = "0" // these keep all scores 0
	}
	return cmd(exact, [][]string{
		{"SADD", k, m}, {"SREM", k, m}, {"HSET", k, m, "v1"}, {"HDEL", k, m}, {"HSETNX", k, m, "v"},
		{"ZADD", k, "XX", sc, m}, {"ZADD", k, "NX", sc, m}, {"ZADD", k, sc, m}, {"ZREM", k, m},
		{"ZINCRBY", k, "0", m}, {"LREM", k, "0", m}, {"LPUSHX", k, m}, {"LTRIM", k, "0", "-1"},
		{"LSET", k, "0", m}, {"RPOPLPUSH", k, k}, {"SMOVE", k, k, m}, {"SET", k, "v1"}, {"APPEND", k, ""},
		{"EXPIRE", k, "100000"}, {"EXPIRE", k, "100000", "NX"}, {"PERSIST", k}, {"DEL", k},
		{"RENAME", k, k}, {"COPY", k, k, "REPLACE"}, {"SINTERSTORE", k, k}, {"ZUNIONSTORE", k, "1", k},
		{"HINCRBY", k, m, "0"}, {"SETRANGE", k, "0", ""}, {"ZREMRANGEBYSCORE", k, "5", "4"},
	}[g.r.IntN(29)]...)
}

// single returns a command outside a transaction.
func (g *gen) single() command {
	switch n := g.r.IntN(100); {
	case n < 8:
		return g.stringCmd()
	case n < 27:
		return g.hashCmd()
	case n < 48:
		return g.setCmd()
	case n < 76:
		return g.zsetCmd()
	case n < 88 && g.lists:
		return g.listCmd()
	default:
		return g.keyspaceCmd()
	}
}

func (g *gen) stringCmd() command {
	k := g.key(strKeys)
	switch g.r.IntN(15) {
	case 0, 1:
		return cmd(exact, "SET", k, g.value())
	case 2:
		return cmd(exact, "GET", k)
	case 3:
		return cmd(exact, "APPEND", k, g.value())
	case 4:
		return cmd(exact, "INCRBY", k, strconv.Itoa(g.r.IntN(100)-50))
	case 5:
		return cmd(exact, "INCRBYFLOAT", k, []string{"1.5", "0.1", "-3", "abc", "1e3"}[g.r.IntN(5)])
	case 6:
		return cmd(exact, "MSET", g.pick(strKeys), g.value(), g.pick(strKeys), g.value())
	case 7:
		return cmd(exact, "MGET", g.pick(strKeys), g.key(strKeys), k)
	case 8:
		return cmd(exact, "SETRANGE", k, strconv.Itoa(g.r.IntN(10)), g.value())
	case 9:
		return cmd(exact, "GETRANGE", k, g.index(), g.index())
	case 10:
		return cmd(exact, "STRLEN", k)
	case 11:
		return cmd(exact, "GETDEL", k)
	case 12:
		return cmd(exact, []string{"INCR", "DECR"}[g.r.IntN(2)], k)
	case 13:
		args := []string{"SET", k, g.value()}
		for _, o := range [][]string{{"NX"}, {"XX"}, {"GET"}, {"KEEPTTL"}, {"EX", "100000"}, {"PX", "0"}} {
			if g.chance(0.15) {
				args = append(args, o...)
			}
		}
		return cmd(exact, args...)
	default:
		return cmd(exact, "GETEX", k, []string{"PERSIST", "EX", "EXAT"}[g.r.IntN(3)], "100000")
	}
}

func (g *gen) hashCmd() command {
	k := g.key(hashKeys)
	switch g.r.IntN(22) {
	case 0, 1, 2:
		args := []string{"HSET", k}
		n := 1 + g.r.IntN(4)
		if g.chance(0.03) {
			n = 120 + g.r.IntN(20) // past hash-max-listpack-entries
		}
		for i := 0; i < n; i++ {
			f := g.member()
			if n > 100 {
				f = "f" + strconv.Itoa(i)
			}
			args = append(args, f, g.value())
		}
		if g.chance(0.02) {
			args = args[:len(args)-1] // wrong number of arguments
		}
		return cmd(exact, args...)
	case 3:
		return cmd(exact, "HMSET", k, g.member(), g.value(), g.member(), g.value())
	case 4:
		return cmd(exact, "HSETNX", k, g.member(), g.value())
	case 5, 6:
		return cmd(exact, "HGET", k, g.member())
	case 7:
		return cmd(exact, "HMGET", k, g.member(), g.member(), g.member())
	case 8, 9:
		return cmd(exact, join([]string{"HDEL", k}, g.members(1, 3)...)...)
	case 10:
		return cmd(exact, "HLEN", k)
	case 11:
		return cmd(exact, "HSTRLEN", k, g.member())
	case 12:
		return cmd(exact, "HEXISTS", k, g.member())
	case 13:
		return cmd(unordered, "HKEYS", k)
	case 14:
		return cmd(unordered, "HVALS", k)
	case 15:
		return cmd(unordered, "HGETALL", k)
	case 16:
		return cmd(exact, "HINCRBY", k, g.member(), []string{"1", "-3", "100", "9223372036854775807", "-9223372036854775808", "abc", "1.5"}[g.r.IntN(7)])
	case 17:
		return cmd(exact, "HINCRBYFLOAT", k, g.member(), []string{"1.5", "0.1", "-2", "abc", "inf", "1e308", "3"}[g.r.IntN(7)])
	case 18, 19:
		c := command{args: []string{"HRANDFIELD", k}, mode: randPick, typ: "hash"}
		if g.chance(0.7) {
			c.args = append(c.args, g.count())
			if g.chance(0.5) {
				c.args = append(c.args, "WITHVALUES")
			}
		}
		return c
	default:
		return cmd(scanAll, join([]string{"HSCAN", k, "0"}, g.scanOpts()...)...)
	}
}

func (g *gen) setKey() string {
	k := g.key(setKeys)
	return k
}

func (g *gen) setMember(k string) string {
	if strings.HasPrefix(k, "I") && g.chance(0.95) {
		return g.intMember()
	}
	return g.member()
}

func (g *gen) setCmd() command {
	k := g.setKey()
	keys := func() []string {
		out := []string{k}
		for n := g.r.IntN(3); n > 0; n-- {
			out = append(out, g.key(setKeys))
		}
		return out
	}
	switch g.r.IntN(24) {
	case 0, 1, 2, 3:
		args := []string{"SADD", k}
		n := 1 + g.r.IntN(4)
		if g.chance(0.04) {
			n = 100 + g.r.IntN(500) // intset and hashtable limits
		}
		for i := 0; i < n; i++ {
			args = append(args, g.setMember(k))
		}
		return cmd(exact, args...)
	case 4, 5:
		args := []string{"SREM", k}
		for n := 1 + g.r.IntN(3); n > 0; n-- {
			args = append(args, g.setMember(k))
		}
		return cmd(exact, args...)
	case 6:
		return cmd(unordered, "SMEMBERS", k)
	case 7:
		return cmd(exact, "SISMEMBER", k, g.setMember(k))
	case 8:
		return cmd(exact, "SMISMEMBER", k, g.setMember(k), g.setMember(k))
	case 9:
		return cmd(exact, "SCARD", k)
	case 10, 11:
		c := command{args: []string{"SPOP", k}, mode: spop, typ: "set"}
		if g.chance(0.5) {
			c.args = append(c.args, []string{"0", "1", "2", "3", "-1", "1000"}[g.r.IntN(6)])
		}
		return c
	case 12, 13:
		c := command{args: []string{"SRANDMEMBER", k}, mode: randPick, typ: "set"}
		if g.chance(0.7) {
			c.args = append(c.args, g.count())
		}
		return c
	case 14:
		return cmd(exact, "SMOVE", k, g.key(setKeys), g.setMember(k))
	case 15:
		return cmd(unordered, join([]string{"SINTER"}, keys()...)...)
	case 16:
		return cmd(unordered, join([]string{"SUNION"}, keys()...)...)
	case 17:
		return cmd(unordered, join([]string{"SDIFF"}, keys()...)...)
	case 18:
		ks := keys()
		args := join([]string{"SINTERCARD", strconv.Itoa(len(ks))}, ks...)
		if g.chance(0.4) {
			args = append(args, "LIMIT", []string{"0", "1", "2", "-1"}[g.r.IntN(4)])
		}
		return cmd(exact, args...)
	case 19:
		return cmd(exact, join([]string{"SINTERSTORE", g.pick(setKeys)}, keys()...)...)
	case 20:
		return cmd(exact, join([]string{"SUNIONSTORE", g.pick(setKeys)}, keys()...)...)
	case 21:
		return cmd(exact, join([]string{"SDIFFSTORE", g.pick(setKeys)}, keys()...)...)
	default:
		return cmd(scanAll, join([]string{"SSCAN", k, "0"}, g.scanOpts()...)...)
	}
}

func (g *gen) zsetCmd() command {
	k := g.key(zsetKeys)
	zkeys := func() []string {
		out := []string{k}
		for n := g.r.IntN(3); n > 0; n-- {
			if g.chance(0.15) {
				out = append(out, g.pick(setKeys)) // sets count, with score 1
			} else {
				out = append(out, g.key(zsetKeys))
			}
		}
		return out
	}
	opts := func(aggregate bool, n int) []string {
		var out []string
		if aggregate && g.chance(0.3) {
			out = append(out, "WEIGHTS")
			for i := 0; i < n; i++ {
				out = append(out, []string{"1", "2", "0.5", "-1", "0", "abc"}[g.r.IntN(6)])
			}
		}
		if aggregate && g.chance(0.3) {
			out = append(out, "AGGREGATE", []string{"SUM", "MIN", "MAX", "avg"}[g.r.IntN(4)])
		}
		return out
	}
	switch g.r.IntN(40) {
	case 0, 1, 2, 3, 4:
		args := []string{"ZADD", k}
		if g.chance(0.3) {
			for _, o := range []string{"NX", "XX", "GT", "LT", "CH", "INCR"} {
				if g.chance(0.2) {
					args = append(args, o)
				}
			}
		}
		n := 1 + g.r.IntN(3)
		if g.chance(0.03) {
			n = 120 + g.r.IntN(30) // past zset-max-listpack-entries
		}
		for i := 0; i < n; i++ {
			m := g.member()
			if n > 100 {
				m = "m" + strconv.Itoa(i)
			}
			args = append(args, g.score(), m)
		}
		return cmd(exact, args...)
	case 5:
		return cmd(exact, "ZINCRBY", k, g.score(), g.member())
	case 6, 7:
		return cmd(exact, join([]string{"ZREM", k}, g.members(1, 3)...)...)
	case 8:
		return cmd(exact, "ZSCORE", k, g.member())
	case 9:
		return cmd(exact, "ZMSCORE", k, g.member(), g.member())
	case 10:
		return cmd(exact, "ZCARD", k)
	case 11:
		return cmd(exact, "ZCOUNT", k, g.scoreBound(), g.scoreBound())
	case 12:
		return cmd(exact, []string{"ZRANK", "ZREVRANK"}[g.r.IntN(2)], k, g.member())
	case 13, 14:
		args := []string{"ZRANGE", k, g.index(), g.index()}
		if g.chance(0.3) {
			args = append(args, "REV")
		}
		if g.chance(0.4) {
			args = append(args, "WITHSCORES")
		}
		if g.chance(0.05) {
			args = append(args, "LIMIT", "0", "1")
		}
		return cmd(exact, args...)
	case 15, 16:
		args := []string{"ZRANGE", k, g.scoreBound(), g.scoreBound(), "BYSCORE"}
		if g.chance(0.3) {
			args = append(args, "REV")
		}
		if g.chance(0.4) {
			args = append(args, "WITHSCORES")
		}
		if g.chance(0.3) {
			args = append(args, "LIMIT", g.index(), g.index())
		}
		return cmd(exact, args...)
	case 17:
		args := []string{[]string{"ZRANGEBYSCORE", "ZREVRANGEBYSCORE"}[g.r.IntN(2)], k, g.scoreBound(), g.scoreBound()}
		if g.chance(0.4) {
			args = append(args, "WITHSCORES")
		}
		if g.chance(0.3) {
			args = append(args, "LIMIT", g.index(), g.index())
		}
		return cmd(exact, args...)
	case 18:
		args := []string{"ZREVRANGE", k, g.index(), g.index()}
		if g.chance(0.4) {
			args = append(args, "WITHSCORES")
		}
		return cmd(exact, args...)
	case 19, 20:
		lk := g.pick(lexKeys)
		switch g.r.IntN(6) {
		case 0:
			return cmd(exact, "ZADD", lk, "0", g.member())
		case 1:
			return cmd(exact, "ZLEXCOUNT", lk, g.lexBound(), g.lexBound())
		case 2:
			return cmd(exact, "ZREMRANGEBYLEX", lk, g.lexBound(), g.lexBound())
		case 3:
			args := []string{[]string{"ZRANGEBYLEX", "ZREVRANGEBYLEX"}[g.r.IntN(2)], lk, g.lexBound(), g.lexBound()}
			if g.chance(0.3) {
				args = append(args, "LIMIT", g.index(), g.index())
			}
			return cmd(exact, args...)
		default:
			args := []string{"ZRANGE", lk, g.lexBound(), g.lexBound(), "BYLEX"}
			if g.chance(0.3) {
				args = append(args, "REV")
			}
			if g.chance(0.3) {
				args = append(args, "LIMIT", g.index(), g.index())
			}
			if g.chance(0.05) {
				args = append(args, "WITHSCORES")
			}
			return cmd(exact, args...)
		}
	case 21:
		args := []string{"ZRANGESTORE", g.pick(zsetKeys), k}
		switch g.r.IntN(3) {
		case 0:
			args = append(args, g.index(), g.index())
		case 1:
			args = append(args, g.scoreBound(), g.scoreBound(), "BYSCORE")
		default:
			args = append(args, g.index(), g.index(), "REV")
		}
		return cmd(exact, args...)
	case 22, 23:
		args := []string{[]string{"ZPOPMIN", "ZPOPMAX"}[g.r.IntN(2)], k}
		if g.chance(0.5) {
			args = append(args, []string{"0", "1", "2", "5", "-1"}[g.r.IntN(5)])
		}
		return cmd(exact, args...)
	case 24, 25:
		c := command{args: []string{"ZRANDMEMBER", k}, mode: randPick, typ: "zset"}
		if g.chance(0.7) {
			c.args = append(c.args, g.count())
			if g.chance(0.5) {
				c.args = append(c.args, "WITHSCORES")
			}
		}
		return c
	case 26:
		return cmd(exact, "ZREMRANGEBYRANK", k, g.index(), g.index())
	case 27:
		return cmd(exact, "ZREMRANGEBYSCORE", k, g.scoreBound(), g.scoreBound())
	case 28, 29, 30:
		ks := zkeys()
		name := []string{"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}[g.r.IntN(3)]
		args := join([]string{name, g.pick(zsetKeys), strconv.Itoa(len(ks))}, ks...)
		return cmd(exact, append(args, opts(name != "ZDIFFSTORE", len(ks))...)...)
	case 31, 32, 33:
		ks := zkeys()
		name := []string{"ZUNION", "ZINTER", "ZDIFF"}[g.r.IntN(3)]
		args := join([]string{name, strconv.Itoa(len(ks))}, ks...)
		args = append(args, opts(name != "ZDIFF", len(ks))...)
		if g.chance(0.5) {
			args = append(args, "WITHSCORES")
		}
		return cmd(exact, args...)
	case 34:
		ks := zkeys()
		args := join([]string{"ZINTERCARD", strconv.Itoa(len(ks))}, ks...)
		if g.chance(0.4) {
			args = append(args, "LIMIT", []string{"0", "1", "2", "-1"}[g.r.IntN(4)])
		}
		return cmd(exact, args...)
	case 35:
		// Argument errors of the numkeys commands.
		nk := []string{"0", "5", "abc", "-1"}[g.r.IntN(4)]
		if g.chance(0.5) {
			return cmd(exact, "ZUNIONSTORE", g.pick(zsetKeys), nk, k)
		}
		return cmd(exact, "ZINTER", nk, k)
	default:
		return cmd(scanAll, join([]string{"ZSCAN", k, "0"}, g.scanOpts()...)...)
	}
}

func (g *gen) listCmd() command {
	k := g.key(listKeys)
	switch g.r.IntN(19) {
	case 0, 1, 2:
		return cmd(exact, join([]string{[]string{"LPUSH", "RPUSH"}[g.r.IntN(2)], k}, g.members(1, 4)...)...)
	case 3:
		args := []string{[]string{"LPOP", "RPOP"}[g.r.IntN(2)], k}
		if g.chance(0.4) {
			args = append(args, []string{"0", "1", "3", "-1"}[g.r.IntN(4)])
		}
		return cmd(exact, args...)
	case 4, 5:
		return cmd(exact, "LRANGE", k, g.index(), g.index())
	case 6:
		return cmd(exact, "LLEN", k)
	case 7:
		return cmd(exact, "LINDEX", k, g.index())
	case 8:
		return cmd(exact, "LSET", k, g.index(), g.member())
	case 9:
		return cmd(exact, "LINSERT", k, []string{"BEFORE", "AFTER"}[g.r.IntN(2)], g.member(), g.member())
	case 10:
		return cmd(exact, "LREM", k, strconv.Itoa(g.r.IntN(5)-2), g.member())
	case 11:
		return cmd(exact, "LTRIM", k, g.index(), g.index())
	case 12:
		return cmd(exact, "LPOS", k, g.member())
	case 13:
		return cmd(exact, "LMOVE", k, g.key(listKeys), []string{"LEFT", "RIGHT"}[g.r.IntN(2)], []string{"LEFT", "RIGHT"}[g.r.IntN(2)])
	case 14:
		return cmd(exact, []string{"LPUSHX", "RPUSHX"}[g.r.IntN(2)], k, g.member())
	case 15:
		return cmd(exact, "RPOPLPUSH", k, g.key(listKeys))
	case 16:
		args := []string{"LMPOP"}
		ks := []string{k}
		for n := g.r.IntN(3); n > 0; n-- {
			ks = append(ks, g.key(listKeys))
		}
		args = append(append(append(args, strconv.Itoa(len(ks))), ks...), []string{"LEFT", "RIGHT"}[g.r.IntN(2)])
		if g.chance(0.5) {
			args = append(args, "COUNT", g.count())
		}
		return cmd(exact, args...)
	default:
		args := []string{"LPOS", k, g.member()}
		if g.chance(0.5) {
			args = append(args, "RANK", []string{"1", "2", "-1", "-3", "0"}[g.r.IntN(5)])
		}
		if g.chance(0.5) {
			args = append(args, "COUNT", []string{"0", "1", "2", "-1"}[g.r.IntN(4)])
		}
		if g.chance(0.3) {
			args = append(args, "MAXLEN", []string{"0", "1", "3", "-1"}[g.r.IntN(4)])
		}
		return cmd(exact, args...)
	}
}

func (g *gen) keyspaceCmd() command {
	all := g.allKeys()
	k := g.pick(all)
	switch g.r.IntN(27) {
	case 0, 1:
		return cmd(exact, "DEL", k, g.pick(all))
	case 2:
		return cmd(exact, "EXISTS", k, g.pick(all))
	case 3:
		return cmd(exact, "TYPE", k)
	case 4:
		return cmd(exact, "RENAME", k, g.sameFamily(k))
	case 5:
		return cmd(exact, "RENAMENX", k, g.sameFamily(k))
	case 6:
		args := []string{"COPY", k, g.sameFamily(k)}
		if g.chance(0.5) {
			args = append(args, "REPLACE")
		}
		return cmd(exact, args...)
	case 7:
		return cmd(exact, "TOUCH", k, g.pick(all))
	case 8, 9:
		return cmd(encoding, "OBJECT", "ENCODING", g.pick(all))
	case 10:
		return cmd(encoding, "OBJECT", []string{"REFCOUNT", "FREQ", "NOSUCH"}[g.r.IntN(3)], k)
	case 11:
		return cmd(unordered, "KEYS", g.pattern())
	case 12:
		args := join([]string{"SCAN", "0"}, g.scanOpts()...)
		if g.chance(0.4) {
			args = append(args, "TYPE", []string{"string", "hash", "set", "zset", "list", "SET", "nosuch"}[g.r.IntN(7)])
		}
		return cmd(scanAll, args...)
	case 13:
		return cmd(randomKey, "RANDOMKEY")
	case 14:
		return cmd(exact, "DBSIZE")
	case 15:
		// Expiry that decides at once (deletes) or never within the run,
		// with the conditions.
		args := []string{"EXPIRE", k, []string{"0", "-1", "5000", "100000"}[g.r.IntN(4)]}
		if g.chance(0.4) {
			args = append(args, []string{"NX", "XX", "GT", "LT", "nx", "FOO"}[g.r.IntN(6)])
		}
		if g.chance(0.05) {
			args = append(args, "XX")
		}
		return cmd(exact, args...)
	case 16:
		return cmd(exact, "PEXPIREAT", k, []string{"1", "99999999999999"}[g.r.IntN(2)])
	case 17:
		return cmd(exact, "PERSIST", k)
	case 18:
		return cmd(ttl, []string{"TTL", "PTTL"}[g.r.IntN(2)], k)
	case 19, 20:
		return cmd(dumpRestore, "DUMP", k, g.sameFamily(k))
	case 21:
		return cmd(exact, "RESTORE", g.pick(all), "0", "not a payload", []string{"REPLACE", "ABSTTL"}[g.r.IntN(2)])
	case 22:
		return cmd(memUsage, "MEMORY", "USAGE", k)
	case 23:
		return cmd(ttl, []string{"EXPIRETIME", "PEXPIRETIME"}[g.r.IntN(2)], k)
	default:
		return cmd(encoding, "OBJECT", "ENCODING", g.pick(all))
	}
}

// sameFamily returns a key of k's pool (so that values keep to their
// family's keys, which matters for the all-zero-score sorted sets).
func (g *gen) sameFamily(k string) string {
	for _, pool := range [][]string{strKeys, hashKeys, setKeys, zsetKeys, lexKeys, listKeys} {
		for _, x := range pool {
			if x == k {
				return g.pick(pool)
			}
		}
	}
	return k
}
