package fsm

import (
	"strconv"
	"strings"
	"testing"
)

// TestSpecs checks the table against Redis 7's COMMAND INFO: arity, flags
// (write, readonly, denyoom, fast) and key positions.
func TestSpecs(t *testing.T) {
	want := map[string]string{ // name: arity flags first last step
		"get": "2 readonly fast 1 1 1", "set": "-3 write denyoom 1 1 1",
		"setnx": "3 write denyoom fast 1 1 1", "setex": "4 write denyoom 1 1 1",
		"psetex": "4 write denyoom 1 1 1", "getset": "3 write denyoom fast 1 1 1",
		"getdel": "2 write fast 1 1 1", "getex": "-2 write fast 1 1 1",
		"mget": "-2 readonly fast 1 -1 1", "mset": "-3 write denyoom 1 -1 2",
		"msetnx": "-3 write denyoom 1 -1 2", "append": "3 write denyoom fast 1 1 1",
		"strlen": "2 readonly fast 1 1 1", "getrange": "4 readonly 1 1 1",
		"setrange": "4 write denyoom 1 1 1", "incr": "2 write denyoom fast 1 1 1",
		"decr": "2 write denyoom fast 1 1 1", "incrby": "3 write denyoom fast 1 1 1",
		"decrby": "3 write denyoom fast 1 1 1", "incrbyfloat": "3 write denyoom fast 1 1 1",
		"del": "-2 write 1 -1 1", "unlink": "-2 write fast 1 -1 1",
		"exists": "-2 readonly fast 1 -1 1", "type": "2 readonly fast 1 1 1",
		"expire": "-3 write fast 1 1 1", "pexpire": "-3 write fast 1 1 1",
		"expireat": "-3 write fast 1 1 1", "pexpireat": "-3 write fast 1 1 1",
		"ttl": "2 readonly fast 1 1 1", "pttl": "2 readonly fast 1 1 1",
		"persist": "2 write fast 1 1 1", "expiretime": "2 readonly fast 1 1 1",
		"pexpiretime": "2 readonly fast 1 1 1", "dbsize": "1 readonly fast 0 0 0",
		"flushall": "-1 write 0 0 0", "flushdb": "-1 write 0 0 0",
		// Lists (lmpop and blmpop route by their first key; the command
		// checks the others).
		"lpush": "-3 write denyoom fast 1 1 1", "rpush": "-3 write denyoom fast 1 1 1",
		"lpushx": "-3 write denyoom fast 1 1 1", "rpushx": "-3 write denyoom fast 1 1 1",
		"lpop": "-2 write fast 1 1 1", "rpop": "-2 write fast 1 1 1",
		"llen": "2 readonly fast 1 1 1", "lrange": "4 readonly 1 1 1",
		"lindex": "3 readonly 1 1 1", "lset": "4 write denyoom 1 1 1",
		"linsert": "5 write denyoom 1 1 1", "lrem": "4 write 1 1 1",
		"ltrim": "4 write 1 1 1", "lpos": "-3 readonly 1 1 1",
		"lmove": "5 write denyoom 1 2 1", "rpoplpush": "3 write denyoom 1 2 1",
		"lmpop": "-4 write 2 2 1", "blpop": "-3 write 1 -2 1", "brpop": "-3 write 1 -2 1",
		"blmove": "6 write denyoom 1 2 1", "brpoplpush": "4 write denyoom 1 2 1",
		"blmpop": "-5 write 3 3 1",
		// Hashes, sets, sorted sets and keyspace commands (the numkeys
		// commands route by their first key and check the others; ZRANK
		// and ZREVRANK take Redis 7.2's WITHSCORE).
		"hset": "-4 write denyoom fast 1 1 1", "hmset": "-4 write denyoom fast 1 1 1",
		"hsetnx": "4 write denyoom fast 1 1 1", "hget": "3 readonly fast 1 1 1",
		"hmget": "-3 readonly fast 1 1 1", "hdel": "-3 write fast 1 1 1",
		"hlen": "2 readonly fast 1 1 1", "hstrlen": "3 readonly fast 1 1 1",
		"hexists": "3 readonly fast 1 1 1", "hkeys": "2 readonly 1 1 1",
		"hvals": "2 readonly 1 1 1", "hgetall": "2 readonly 1 1 1",
		"hincrby": "4 write denyoom fast 1 1 1", "hincrbyfloat": "4 write denyoom fast 1 1 1",
		"hrandfield": "-2 readonly 1 1 1", "hscan": "-3 readonly 1 1 1",
		"sadd": "-3 write denyoom fast 1 1 1", "srem": "-3 write fast 1 1 1",
		"smembers": "2 readonly 1 1 1", "sismember": "3 readonly fast 1 1 1",
		"smismember": "-3 readonly fast 1 1 1", "scard": "2 readonly fast 1 1 1",
		"spop": "-2 write fast 1 1 1", "srandmember": "-2 readonly 1 1 1",
		"smove": "4 write fast 1 2 1", "sinter": "-2 readonly 1 -1 1",
		"sintercard": "-3 readonly 2 2 1", "sunion": "-2 readonly 1 -1 1",
		"sdiff": "-2 readonly 1 -1 1", "sinterstore": "-3 write denyoom 1 -1 1",
		"sunionstore": "-3 write denyoom 1 -1 1", "sdiffstore": "-3 write denyoom 1 -1 1",
		"sscan": "-3 readonly 1 1 1",
		"zadd":  "-4 write denyoom fast 1 1 1", "zincrby": "4 write denyoom fast 1 1 1",
		"zrem": "-3 write fast 1 1 1", "zscore": "3 readonly fast 1 1 1",
		"zmscore": "-3 readonly fast 1 1 1", "zcard": "2 readonly fast 1 1 1",
		"zcount": "4 readonly fast 1 1 1", "zlexcount": "4 readonly fast 1 1 1",
		"zrank": "-3 readonly fast 1 1 1", "zrevrank": "-3 readonly fast 1 1 1",
		"zrange": "-4 readonly 1 1 1", "zrevrange": "-4 readonly 1 1 1",
		"zrangebyscore": "-4 readonly 1 1 1", "zrevrangebyscore": "-4 readonly 1 1 1",
		"zrangebylex": "-4 readonly 1 1 1", "zrevrangebylex": "-4 readonly 1 1 1",
		"zrangestore": "-5 write denyoom 1 2 1", "zpopmin": "-2 write fast 1 1 1",
		"zpopmax": "-2 write fast 1 1 1", "zrandmember": "-2 readonly 1 1 1",
		"zremrangebyrank": "4 write 1 1 1", "zremrangebyscore": "4 write 1 1 1",
		"zremrangebylex": "4 write 1 1 1", "zunionstore": "-4 write denyoom 1 1 1",
		"zinterstore": "-4 write denyoom 1 1 1", "zdiffstore": "-4 write denyoom 1 1 1",
		"zunion": "-3 readonly 2 2 1", "zinter": "-3 readonly 2 2 1",
		"zdiff": "-3 readonly 2 2 1", "zintercard": "-3 readonly 2 2 1",
		"zscan": "-3 readonly 1 1 1",
		"scan":  "-2 readonly 0 0 0", "keys": "2 readonly 0 0 0", "randomkey": "1 readonly 0 0 0",
		"rename": "3 write 1 2 1", "renamenx": "3 write fast 1 2 1",
		"copy": "-3 write denyoom 1 2 1", "move": "3 write fast 1 1 1",
		"touch": "-2 readonly fast 1 -1 1", "object": "-2 readonly 2 2 1",
		"memory": "-2 readonly 2 2 1", "dump": "2 readonly 1 1 1",
		"restore": "-4 write denyoom 1 1 1",
	}
	specs := Specs()
	if len(specs) != len(want) {
		t.Errorf("%d commands, want %d", len(specs), len(want))
	}
	for i, s := range specs {
		if i > 0 && specs[i-1].Name >= s.Name {
			t.Errorf("Specs not sorted at %s", s.Name)
		}
		f := []string{strconv.Itoa(s.Arity)}
		for _, n := range []struct {
			f    Flag
			name string
		}{{FlagWrite, "write"}, {FlagReadonly, "readonly"}, {FlagDenyOOM, "denyoom"}, {FlagFast, "fast"}} {
			if s.Flags&n.f != 0 {
				f = append(f, n.name)
			}
		}
		f = append(f, strconv.Itoa(s.FirstKey), strconv.Itoa(s.LastKey), strconv.Itoa(s.Step))
		if got := strings.Join(f, " "); got != want[s.Name] {
			t.Errorf("%s: %q, want %q", s.Name, got, want[s.Name])
		}
		if (s.Flags&FlagWrite != 0) == (s.Flags&FlagReadonly != 0) {
			t.Errorf("%s: exactly one of write and readonly", s.Name)
		}
		if Lookup([]byte(strings.ToUpper(s.Name))) != s {
			t.Errorf("Lookup(%s)", strings.ToUpper(s.Name))
		}
	}
	if Lookup([]byte("nosuch")) != nil || Lookup([]byte(strings.Repeat("x", 100))) != nil {
		t.Error("Lookup finds unknown commands")
	}
}

func TestSpecKeys(t *testing.T) {
	for _, c := range []struct{ cmd, keys string }{
		{"GET k", "k"},
		{"SET k v EX 10", "k"},
		{"MSET a 1 b 2 c 3", "a b c"},
		{"DEL a b c", "a b c"},
		{"MGET a", "a"},
		{"DBSIZE", ""},
		{"FLUSHALL ASYNC", ""},
		// After a numkeys argument; a bad numkeys names no keys at all,
		// the destination included, as Redis finds none.
		{"ZUNIONSTORE d 2 a b WEIGHTS 1 2", "d a b"},
		{"ZUNIONSTORE d 0 a", ""},
		{"ZUNIONSTORE d x a", ""},
		{"ZUNIONSTORE d 3 a b", ""},
		{"ZINTERCARD 2 a b LIMIT 1", "a b"},
		{"SINTERCARD -1 a", ""},
		{"ZDIFF 1 a b", "a"},
	} {
		args := split(t, c.cmd)
		var got []string
		for _, k := range Lookup(args[0]).Keys(args) {
			got = append(got, string(k))
		}
		if strings.Join(got, " ") != c.keys {
			t.Errorf("Keys(%s) = %q, want %q", c.cmd, got, c.keys)
		}
	}
}
