package fsm

import "testing"

const (
	nilR       = "(nil)"
	ok         = "OK"
	syntaxErr  = "(error) ERR syntax error"
	notInt     = "(error) ERR value is not an integer or out of range"
	notFloat   = "(error) ERR value is not a valid float"
	overflow   = "(error) ERR increment or decrement would overflow"
	tooLong    = "(error) ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	nanInf     = "(error) ERR increment would produce NaN or Infinity"
	emptyBulk  = `""`
	maxInt64   = "9223372036854775807"
	minInt64   = "-9223372036854775808"
	zero, one  = "(integer) 0", "(integer) 1"
	minusOne   = "(integer) -1"
	minusTwo   = "(integer) -2"
	stringType = "string"
)

func badExpire(cmd string) string { return "(error) ERR invalid expire time in '" + cmd + "' command" }
func arity(cmd string) string {
	return "(error) ERR wrong number of arguments for '" + cmd + "' command"
}

func TestGetSet(t *testing.T) {
	runTable(t, []tableCase{
		{"basic", []step{
			{0, "GET k", nilR},
			{0, "SET k v", ok},
			{0, "GET k", `"v"`},
			{0, "SET k w", ok},
			{0, "get K", nilR}, // keys are case-sensitive, names are not
			{0, "gEt k", `"w"`},
			{0, `SET "" ""`, ok},
			{0, `GET ""`, `""`},
			{0, `SET bin "\x00\xff\r\n"`, ok},
			{0, "GET bin", `"\x00\xff\r\n"`},
		}},
		{"arity", []step{
			{0, "GET", arity("get")},
			{0, "GET a b", arity("get")},
			{0, "SET k", arity("set")},
			{0, "set", arity("set")},
		}},
		{"nx xx", []step{
			{0, "SET k v XX", nilR},
			{0, "GET k", nilR},
			{0, "SET k v NX", ok},
			{0, "SET k w NX", nilR},
			{0, "GET k", `"v"`},
			{0, "SET k w xx", ok},
			{0, "GET k", `"w"`},
			{0, "SET k v NX XX", syntaxErr},
			{0, "SET k v XX NX", syntaxErr},
			{0, "SET k v NX NX", nilR}, // repeating an option is allowed
		}},
		{"get option", []step{
			{0, "SET k v GET", nilR}, // absent: nil, and the key is set
			{0, "GET k", `"v"`},
			{0, "SET k w GET", `"v"`},
			{0, "SET k x NX GET", `"w"`}, // NX fails, GET still replies
			{0, "GET k", `"w"`},
			{0, "SET n x NX GET", nilR},
			{0, "GET n", `"x"`},
			{0, "SET absent x XX GET", nilR},
			{0, "EXISTS absent", zero},
			{0, "SET k y GET GET", `"w"`},
		}},
		{"expiry options", []step{
			{0, "SET k v EX 10", ok},
			{0, "PTTL k", "(integer) 10000"},
			{0, "SET k v PX 1500", ok},
			{0, "PTTL k", "(integer) 1500"},
			{0, "TTL k", "(integer) 2"}, // rounded
			{0, "SET k v EXAT " + sec(20_000), ok},
			{0, "PEXPIRETIME k", "(integer) " + ms(20_000)},
			{0, "SET k v PXAT " + ms(1234), ok},
			{0, "PTTL k", "(integer) 1234"},
			{0, "SET k v EX 10 EX 20", ok}, // the last one wins
			{0, "TTL k", "(integer) 20"},
			{0, "SET k v", ok}, // SET clears the TTL
			{0, "TTL k", minusOne},
		}},
		{"expiry errors", []step{
			{0, "SET k v EX 0", badExpire("set")},
			{0, "SET k v EX -1", badExpire("set")},
			{0, "SET k v PX 0", badExpire("set")},
			{0, "SET k v EXAT 0", badExpire("set")},
			{0, "SET k v PXAT -5", badExpire("set")},
			{0, "SET k v EX abc", notInt},
			{0, "SET k v EX 1.5", notInt},
			{0, "SET k v EX " + maxInt64, badExpire("set")},
			{0, "SET k v EX 9223372036854775", badExpire("set")}, // overflows once now is added
			{0, "SET k v PX " + maxInt64, badExpire("set")},
			{0, "EXISTS k", zero},
			{0, "SET k v EX 9223372036854", ok},
		}},
		{"syntax errors", []step{
			{0, "SET k v EX", syntaxErr},
			{0, "SET k v EX 10 PX 100", syntaxErr},
			{0, "SET k v PX 10 EXAT 100", syntaxErr},
			{0, "SET k v EX 10 KEEPTTL", syntaxErr},
			{0, "SET k v KEEPTTL EX 10", syntaxErr},
			{0, "SET k v PERSIST", syntaxErr},
			{0, "SET k v foo", syntaxErr},
			{0, "SET k v NXX", syntaxErr},
			{0, "SET k v GET EX", syntaxErr},
			{0, "SET k v EX abc foo", syntaxErr}, // syntax is checked before the time
			{0, "EXISTS k", zero},
		}},
		{"keepttl", []step{
			{0, "SET k v EX 100", ok},
			{0, "SET k w KEEPTTL", ok},
			{0, "TTL k", "(integer) 100"},
			{0, "GET k", `"w"`},
			{0, "SET k x KEEPTTL KEEPTTL", ok},
			{0, "SET n v KEEPTTL", ok},
			{0, "TTL n", minusOne},
		}},
		{"absolute time in the past", []step{
			{0, "SET k v", ok},
			{0, "SET k w PXAT " + ms(-1) + " GET", `"v"`},
			{0, "GET k", nilR},
			{0, "DBSIZE", zero},
			{0, "SET k v PXAT " + ms(0), ok}, // expiry == now: still live
			{0, "GET k", `"v"`},
			{0, "PTTL k", zero},
			{t0 + 1, "GET k", nilR},
		}},
		{"setnx", []step{
			{0, "SETNX k v", one},
			{0, "SETNX k w", zero},
			{0, "GET k", `"v"`},
			{0, "SETNX k", arity("setnx")},
		}},
		{"setex psetex", []step{
			{0, "SETEX k 10 v", ok},
			{0, "PTTL k", "(integer) 10000"},
			{0, "GET k", `"v"`},
			{0, "PSETEX k 250 w", ok},
			{0, "PTTL k", "(integer) 250"},
			{0, "SETEX k 0 v", badExpire("setex")},
			{0, "SETEX k -5 v", badExpire("setex")},
			{0, "PSETEX k 0 v", badExpire("psetex")},
			{0, "SETEX k x v", notInt},
			{0, "SETEX k 10", arity("setex")},
			{0, "GET k", `"w"`},
		}},
		{"getset", []step{
			{0, "GETSET k v", nilR},
			{0, "EXPIRE k 100", one},
			{0, "GETSET k w", `"v"`},
			{0, "TTL k", minusOne}, // GETSET clears the TTL
			{0, "GET k", `"w"`},
		}},
		{"getdel", []step{
			{0, "GETDEL k", nilR},
			{0, "SET k v", ok},
			{0, "GETDEL k", `"v"`},
			{0, "EXISTS k", zero},
			{0, "GETDEL k", nilR},
		}},
		{"getex", []step{
			{0, "GETEX k", nilR},
			{0, "GETEX k EX -5", nilR}, // the key is looked up before the time is checked
			{0, "GETEX k foo", syntaxErr},
			{0, "SET k v", ok},
			{0, "GETEX k", `"v"`},
			{0, "TTL k", minusOne},
			{0, "GETEX k EX 100", `"v"`},
			{0, "TTL k", "(integer) 100"},
			{0, "GETEX k PX 500", `"v"`},
			{0, "PTTL k", "(integer) 500"},
			{0, "GETEX k EXAT " + sec(50_000), `"v"`},
			{0, "PTTL k", "(integer) 50000"},
			{0, "GETEX k PXAT " + ms(7), `"v"`},
			{0, "PTTL k", "(integer) 7"},
			{0, "GETEX k PERSIST", `"v"`},
			{0, "TTL k", minusOne},
			{0, "GETEX k EX 0", badExpire("getex")},
			{0, "GETEX k EX x", notInt},
			{0, "GETEX k PERSIST EX 5", syntaxErr},
			{0, "GETEX k EX 5 PERSIST", syntaxErr},
			{0, "GETEX k KEEPTTL", syntaxErr},
			{0, "GETEX k NX", syntaxErr},
			{0, "GETEX k GET", syntaxErr},
			{0, "GETEX k EX", syntaxErr},
			{0, "GETEX k PXAT " + ms(0), `"v"`}, // at or before now: deleted
			{0, "EXISTS k", zero},
			{0, "GETEX", arity("getex")},
		}},
		{"mget mset", []step{
			{0, "MSET a 1 b 2", ok},
			{0, "MGET a b c a", `["1" "2" (nil) "1"]`},
			{0, "MSET a 1 b", arity("mset")},
			{0, "MSET a", arity("mset")},
			{0, "MSET a x a y", ok},
			{0, "GET a", `"y"`},
			{0, "EXPIRE a 10", one},
			{0, "MSET a z", ok},
			{0, "TTL a", minusOne},
			{0, "MGET", arity("mget")},
		}},
		{"msetnx", []step{
			{0, "MSETNX a 1 b 2", one},
			{0, "MSETNX b 3 c 4", zero},
			{0, "MGET a b c", `["1" "2" (nil)]`},
			{0, "MSETNX c 4 d", arity("msetnx")},
			{0, "MSETNX c 4 d 5", one},
		}},
		{"append strlen", []step{
			{0, "STRLEN k", zero},
			{0, "APPEND k abc", "(integer) 3"},
			{0, "APPEND k de", "(integer) 5"},
			{0, "GET k", `"abcde"`},
			{0, "STRLEN k", "(integer) 5"},
			{0, "APPEND k \"\"", "(integer) 5"},
			{0, "EXPIRE k 100", one},
			{0, "APPEND k f", "(integer) 6"},
			{0, "TTL k", "(integer) 100"}, // APPEND keeps the TTL
			{0, "APPEND e \"\"", zero},
			{0, "EXISTS e", one},
		}},
		{"getrange", []step{
			{0, "GETRANGE k 0 -1", `""`},
			{0, "SET s hello", ok},
			{0, "GETRANGE s 0 -1", `"hello"`},
			{0, "GETRANGE s -3 -1", `"llo"`},
			{0, "GETRANGE s -1 -3", `""`},
			{0, "GETRANGE s 5 3", `""`},
			{0, "GETRANGE s -100 100", `"hello"`},
			{0, "GETRANGE s 3 100", `"lo"`},
			{0, "GETRANGE s -100 -50", `"h"`},
			{0, "GETRANGE s 10 20", `""`},
			{0, "GETRANGE s 0 0", `"h"`},
			{0, "GETRANGE s -5 -5", `"h"`},
			{0, "GETRANGE s -6 -6", `"h"`},
			{0, "GETRANGE s 2 -100", `""`},
			{0, "GETRANGE s 1 " + maxInt64, `"ello"`},
			{0, "GETRANGE s " + minInt64 + " 1", `"he"`},
			{0, "GETRANGE s a 1", notInt},
			{0, "GETRANGE k a 1", notInt}, // arguments first, then the key
			{0, "GETRANGE s 0", arity("getrange")},
			{0, `SET e ""`, ok},
			{0, "GETRANGE e 0 -1", `""`},
			{0, "GETRANGE e -1 -1", `""`},
		}},
		{"setrange", []step{
			{0, "SETRANGE k 5 ab", "(integer) 7"},
			{0, "GET k", `"\x00\x00\x00\x00\x00ab"`},
			{0, "SET s hello", ok},
			{0, "SETRANGE s 1 EY", "(integer) 5"},
			{0, "GET s", `"hEYlo"`},
			{0, "SETRANGE s 4 world", "(integer) 9"},
			{0, "GET s", `"hEYlworld"`},
			{0, "SETRANGE s 0 \"\"", "(integer) 9"},
			{0, "SETRANGE n 3 \"\"", zero},
			{0, "EXISTS n", zero}, // setting nothing creates nothing
			{0, "SETRANGE s -1 x", "(error) ERR offset is out of range"},
			{0, "SETRANGE s x x", notInt},
			{0, "SETRANGE s 536870912 x", tooLong},
			{0, "SETRANGE s 536870911 xy", tooLong},
			{0, "SETRANGE n " + maxInt64 + " x", tooLong},
			{0, "SETRANGE n 536870912 \"\"", zero},
			{0, "EXPIRE s 100", one},
			{0, "SETRANGE s 0 H", "(integer) 9"},
			{0, "TTL s", "(integer) 100"},
		}},
		{"incr decr", []step{
			{0, "INCR n", one},
			{0, "INCR n", "(integer) 2"},
			{0, "DECR n", one},
			{0, "DECR m", minusOne},
			{0, "INCRBY n 10", "(integer) 11"},
			{0, "INCRBY n -20", "(integer) -9"},
			{0, "DECRBY n 1", "(integer) -10"},
			{0, "DECRBY n -11", one},
			{0, "GET n", `"1"`},
			{0, "INCRBY n x", notInt},
			{0, "INCRBY n 1.5", notInt},
			{0, "INCRBY n +1", notInt},
			{0, "INCRBY n 01", notInt},
			{0, "INCRBY n \" 1\"", notInt},
			{0, "DECRBY n " + minInt64, "(error) ERR decrement would overflow"},
			{0, "SET n " + maxInt64, ok},
			{0, "INCR n", overflow},
			{0, "INCRBY n -1", "(integer) 9223372036854775806"},
			{0, "SET n " + minInt64, ok},
			{0, "DECR n", overflow},
			{0, "INCRBY n " + minInt64, overflow},
			{0, "INCRBY n " + maxInt64, minusOne},
			{0, "SET s abc", ok},
			{0, "INCR s", notInt},
			{0, "SET s 007", ok},
			{0, "INCR s", notInt},
			{0, "SET s -0", ok},
			{0, "INCR s", notInt},
			{0, "SET s \"\"", ok},
			{0, "INCR s", notInt},
			{0, "SET s 99999999999999999999", ok},
			{0, "INCR s", notInt},
			{0, "SET t 5 EX 100", ok},
			{0, "INCR t", "(integer) 6"},
			{0, "TTL t", "(integer) 100"}, // INCR keeps the TTL
			{0, "INCR", arity("incr")},
			{0, "INCRBY t", arity("incrby")},
		}},
		{"incrbyfloat", []step{
			{0, "INCRBYFLOAT f 1.5", `"1.5"`},
			{0, "INCRBYFLOAT f 1", `"2.5"`},
			{0, "SET f 10.50", ok},
			{0, "INCRBYFLOAT f 0.1", `"10.6"`},
			{0, "INCRBYFLOAT f -5.0e3", `"-4989.39999999999999991"`}, // as Redis prints it
			{0, "SET f 5.0e3", ok},
			{0, "INCRBYFLOAT f 2.0e2", `"5200"`},
			{0, "SET f 0.1", ok},
			{0, "INCRBYFLOAT f 0.2", `"0.3"`}, // long double, not float64
			{0, "INCRBYFLOAT f x", notFloat},
			{0, "INCRBYFLOAT f \" 1\"", notFloat},
			{0, "INCRBYFLOAT f \"1 \"", notFloat},
			{0, "INCRBYFLOAT f nan", notFloat},
			{0, "INCRBYFLOAT f inf", nanInf},
			{0, "INCRBYFLOAT f 1e4933", notFloat}, // overflows the format
			{0, "SET f 1e4932", ok},
			{0, "INCRBYFLOAT f 1e4932", nanInf},
			{0, "SET s abc", ok},
			{0, "INCRBYFLOAT s 1", notFloat},
			{0, "SET t 3 PX 5000", ok},
			{0, "INCRBYFLOAT t 0.5", `"3.5"`},
			{0, "PTTL t", "(integer) 5000"},
			{0, "INCRBYFLOAT t", arity("incrbyfloat")},
		}},
	})
}

// TestStringLimit checks the size limit of APPEND and SETRANGE at its exact
// edge, with the limit lowered so that no test stores 512MB.
func TestStringLimit(t *testing.T) {
	defer func(old int64) { maxStringLen = old }(maxStringLen)
	maxStringLen = 8
	run(t, []step{
		{0, "APPEND k 1234567", "(integer) 7"},
		{0, "APPEND k 8", "(integer) 8"},
		{0, "APPEND k 9", tooLong},
		{0, "SETRANGE k 7 x", "(integer) 8"},
		{0, "SETRANGE k 8 x", tooLong},
		{0, "SETRANGE n 6 xy", "(integer) 8"},
		{0, "SETRANGE m 6 xyz", tooLong},
		{0, "GET k", `"1234567x"`},
	})
}

// TestWrongType stores a value of a type no command creates yet, to check
// that every string command refuses it as Redis does, and that SET and the
// key commands treat it as any key.
func TestWrongType(t *testing.T) {
	const wrong = "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
	s := NewState()
	other := entry{key: "h", ord: keyOrd([]byte("h")), val: value{typ: typeString + 100}}
	for _, c := range []struct{ cmd, want string }{
		{"GET h", wrong},
		{"GETSET h v", wrong},
		{"GETDEL h", wrong},
		{"GETEX h PERSIST", wrong},
		{"SET h v GET", wrong},
		{"APPEND h v", wrong},
		{"STRLEN h", wrong},
		{"GETRANGE h 0 -1", wrong},
		{"SETRANGE h 0 v", wrong},
		{"INCR h", wrong},
		{"DECRBY h 2", wrong},
		{"INCRBYFLOAT h 1.5", wrong},
		{"MGET h", "[(nil)]"},
		{"TYPE h", "unknown"},
		{"EXISTS h", one},
		{"EXPIRE h 10", one},
		{"PERSIST h", zero}, // stored again without a TTL
		{"SETNX h v", zero},
		{"MSETNX h v", zero},
		{"GETRANGE h x 1", notInt}, // arguments before the type
		{"SETRANGE h -1 v", "(error) ERR offset is out of range"},
	} {
		s.store(other)
		if got := do(t, s, t0, c.cmd).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.cmd, got, c.want)
		}
	}
	s.store(other)
	if got := do(t, s, t0, "SET h v").String(); got != ok {
		t.Fatalf("SET over another type: %s", got)
	}
	if got := do(t, s, t0, "GET h").String(); got != `"v"` {
		t.Fatalf("GET after SET: %s", got)
	}
	s.store(other)
	if got := do(t, s, t0, "DEL h").String(); got != one {
		t.Fatalf("DEL: %s", got)
	}
}
