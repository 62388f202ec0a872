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
