package fsm

import (
	"strconv"
	"strings"
	"testing"
)

const wrongType = "(error) WRONGTYPE Operation against a key holding the wrong kind of value"

func TestHashCommands(t *testing.T) {
	long := strings.Repeat("x", 65)
	runTable(t, []tableCase{
		{"hset hget", []step{
			{0, "HSET h f1 v1 f2 v2", "(integer) 2"},
			{0, "HSET h f1 w1 f3 v3", one}, // one new field
			{0, "HGET h f1", `"w1"`},
			{0, "HGET h nosuch", nilR},
			{0, "HGET nokey f", nilR},
			{0, "HSET h f", arity("hset")},
			{0, "HSET h f v g", arity("hset")},
			{0, "HMSET h a 1 b 2", ok},
			{0, "HMSET h a", arity("hmset")},
			{0, "HMSET h a 1 b", arity("hmset")},
			{0, "HLEN h", "(integer) 5"},
			{0, "HLEN nokey", zero},
			{0, `HSET h "" ""`, one},
			{0, `HGET h ""`, `""`},
		}},
		{"hsetnx", []step{
			{0, "HSETNX h f v", one},
			{0, "HSETNX h f w", zero},
			{0, "HGET h f", `"v"`},
		}},
		{"hmget", []step{
			{0, "HSET h a 1 b 2", "(integer) 2"},
			{0, "HMGET h a x b", `["1" (nil) "2"]`},
			{0, "HMGET nokey a b", `[(nil) (nil)]`},
		}},
		{"hdel deletes the key with its last field", []step{
			{0, "HSET h a 1 b 2", "(integer) 2"},
			{0, "HDEL h a a x", one},
			{0, "HDEL nokey a", zero},
			{0, "EXISTS h", one},
			{0, "HDEL h b", one},
			{0, "EXISTS h", zero},
			{0, "TYPE h", "none"},
		}},
		{"hstrlen hexists", []step{
			{0, "HSET h f hello", one},
			{0, "HSTRLEN h f", "(integer) 5"},
			{0, "HSTRLEN h x", zero},
			{0, "HSTRLEN nokey x", zero},
			{0, "HEXISTS h f", one},
			{0, "HEXISTS h x", zero},
			{0, "HEXISTS nokey x", zero},
		}},
		{"hkeys hvals hgetall", []step{
			{0, "HGETALL nokey", "map[]"},
			{0, "HKEYS nokey", "[]"},
			{0, "HVALS nokey", "[]"},
			{0, "HSET h a 1 b 2 c 3", "(integer) 3"},
			{0, "HGETALL h", `map["a" "1" "b" "2" "c" "3"]`},
		}},
		{"hincrby", []step{
			{0, "HINCRBY h f 5", "(integer) 5"},
			{0, "HINCRBY h f -7", "(integer) -2"},
			{0, "HINCRBY h f x", notInt},
			{0, "HINCRBY h f 1.5", notInt},
			{0, "HSET h s abc", one},
			{0, "HINCRBY h s 1", "(error) ERR hash value is not an integer"},
			{0, "HSET h big 9223372036854775800", one},
			{0, "HINCRBY h big 7", "(integer) 9223372036854775807"},
			{0, "HINCRBY h big 1", overflow},
			{0, "HSET h small -9223372036854775800", one},
			{0, "HINCRBY h small -9", overflow},
			{0, "HINCRBY h small -8", "(integer) -9223372036854775808"},
			{0, "HGET h big", `"9223372036854775807"`},
		}},
		{"hincrbyfloat", []step{
			{0, "HINCRBYFLOAT h f 10.5", `"10.5"`},
			{0, "HINCRBYFLOAT h f 0.1", `"10.6"`},
			{0, "HINCRBYFLOAT h f -5.0e3", `"-4989.39999999999999991"`}, // as Redis, in long double
			{0, "HSET h g 5.0e3", one},
			{0, "HINCRBYFLOAT h g 2.0e2", `"5200"`},
			{0, "HINCRBYFLOAT h f abc", notFloat},
			{0, "HINCRBYFLOAT h f inf", "(error) ERR value is NaN or Infinity"},
			{0, "HSET h s abc", one},
			{0, "HINCRBYFLOAT h s 1", "(error) ERR hash value is not a float"},
			{0, "HSET h i 5", one},
			{0, "HINCRBYFLOAT h i 1", `"6"`},
			{0, "HINCRBY h i 1", "(integer) 7"},
			{0, "HINCRBYFLOAT h x 0.1", `"0.1"`},
			{0, "HINCRBYFLOAT h x 0.2", `"0.3"`}, // long double arithmetic, as Redis
		}},
		{"hrandfield deterministic cases", []step{
			{0, "HRANDFIELD nokey", nilR},
			{0, "HRANDFIELD nokey 3", "[]"},
			{0, "HRANDFIELD nokey 3 WITHVALUES", "pairs[]"},
			{0, "HSET h a 1", one},
			{0, "HRANDFIELD h", `"a"`},
			{0, "HRANDFIELD h 0", "[]"},
			{0, "HRANDFIELD h -3", `["a" "a" "a"]`},
			{0, "HRANDFIELD h -2 WITHVALUES", `pairs["a" "1" "a" "1"]`},
			{0, "HRANDFIELD h 5 WITHVALUES", `pairs["a" "1"]`},
			{0, "HRANDFIELD h x", notInt},
			{0, "HRANDFIELD h 1 WITHVALUE", syntaxErr},
			{0, "HRANDFIELD h 1 WITHVALUES x", syntaxErr},
			{0, "HRANDFIELD h -9223372036854775808", "(error) ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"},
			{0, "HRANDFIELD h 5000000000000000000 WITHVALUES", "(error) ERR value is out of range"},
		}},
		{"hscan of a small hash is one call", []step{
			{0, "HSCAN nokey 0 COUNT 0", `["0" []]`}, // options unread for a missing key
			{0, "HSCAN nokey x", "(error) ERR invalid cursor"},
			{0, "HSET h a 1 b 2 ab 3", "(integer) 3"},
			{0, "HSCAN h 0 COUNT 1 MATCH a*", `["0" ["ab" "3" "a" "1"]]`}, // in hash order
			{0, "HSCAN h 0 COUNT 0", syntaxErr},
			{0, "HSCAN h 0 COUNT x", notInt},
			{0, "HSCAN h 0 MATCH", syntaxErr},
			{0, "HSCAN h 0 TYPE string", syntaxErr},
		}},
		{"encodings", []step{
			{0, "HSET h a 1", one},
			{0, "OBJECT ENCODING h", `"listpack"`},
			{0, "HSETNX h a " + long, zero}, // not set: no conversion
			{0, "OBJECT ENCODING h", `"listpack"`},
			{0, "HSET h b " + long, one},
			{0, "OBJECT ENCODING h", `"hashtable"`},
			{0, "HDEL h b", one},
			{0, "OBJECT ENCODING h", `"hashtable"`}, // for good
		}},
		{"wrongtype", []step{
			{0, "SET s x", ok},
			{0, "HSET s a 1", wrongType},
			{0, "HMSET s a 1", wrongType},
			{0, "HSETNX s a 1", wrongType},
			{0, "HGET s a", wrongType},
			{0, "HMGET s a", wrongType},
			{0, "HDEL s a", wrongType},
			{0, "HLEN s", wrongType},
			{0, "HSTRLEN s a", wrongType},
			{0, "HEXISTS s a", wrongType},
			{0, "HKEYS s", wrongType},
			{0, "HVALS s", wrongType},
			{0, "HGETALL s", wrongType},
			{0, "HINCRBY s a 1", wrongType},
			{0, "HINCRBYFLOAT s a 1", wrongType},
			{0, "HRANDFIELD s", wrongType},
			{0, "HRANDFIELD s 0", wrongType},
			{0, "HSCAN s 0", wrongType},
			{0, "HSET h a 1", one},
			{0, "GET h", wrongType},
			{0, "SADD h a", wrongType},
			{0, "ZADD h 1 a", wrongType},
		}},
		{"expired hash", []step{
			{0, "HSET h a 1", one},
			{0, "PEXPIRE h 100", one},
			{t0 + 100, "HGET h a", `"1"`},
			{t0 + 101, "HGET h a", nilR},
			{t0 + 101, "HSET h b 2", one}, // a new hash
			{t0 + 101, "HGETALL h", `map["b" "2"]`},
			{t0 + 101, "PTTL h", minusOne},
		}},
	})
}

// TestHashScanLarge walks a large hash with small counts while it changes:
// every field present throughout is returned.
func TestHashScanLarge(t *testing.T) {
	s := NewState()
	var args []string
	for i := 0; i < 1000; i++ {
		args = append(args, "f"+itoa(i), "v")
	}
	do(t, s, t0, "HSET h "+strings.Join(args, " "))
	seen := map[string]bool{}
	cursor := "0"
	for step := 0; ; step++ {
		r := do(t, s, t0, "HSCAN h "+cursor+" COUNT 7")
		for i := 0; i < len(r.Array[1].Array); i += 2 {
			seen[string(r.Array[1].Array[i].Bulk)] = true
		}
		// Churn: delete some fields already seen, add new ones.
		do(t, s, t0, "HDEL h f"+itoa(step*3%1000))
		do(t, s, t0, "HSET h new"+itoa(step)+" v")
		cursor = string(r.Array[0].Bulk)
		if cursor == "0" {
			break
		}
	}
	for i := 0; i < 1000; i++ {
		f := "f" + itoa(i)
		if !seen[f] && do(t, s, t0, "HEXISTS h "+f).Int == 1 {
			t.Fatalf("%s present throughout but not returned", f)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
