package fsm

import (
	"bytes"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// exec applies a transaction of cmds (each a command line) guarded by
// watches at time now.
func exec(t *testing.T, s *State, now int64, watches []Watch, cmds ...string) Reply {
	t.Helper()
	var cs [][][]byte
	for _, c := range cmds {
		cs = append(cs, split(t, c))
	}
	return s.Apply(&pb.Command{NowMs: now, Args: ExecArgs(watches, cs)})
}

// watch reads the versions of keys as WATCH does.
func watch(s *State, now int64, keys ...string) []Watch {
	var ws []Watch
	for _, k := range keys {
		ws = append(ws, Watch{Key: []byte(k), Version: s.version([]byte(k), max(now, s.clock))})
	}
	return ws
}

func TestExecRunsAll(t *testing.T) {
	s := NewState()
	got := exec(t, s, t0, nil, "SET a 1", "INCR a", "LPUSH a x", "RPUSH l x y", "LPOP l", "GET a", "BLPOP nokey 0")
	want := `[OK (integer) 2 (error) ` + ErrWrongType + ` (integer) 2 "x" "2" (nil)]`
	if got.String() != want {
		t.Fatalf("EXEC = %s\nwant %s", got, want)
	}
	if got.Array[6].Kind != KindNilArray {
		t.Fatalf("BLPOP in a transaction: kind %d, want a null array", got.Array[6].Kind)
	}
	if got := exec(t, s, t0, nil); got.String() != "[]" {
		t.Fatalf("empty EXEC = %s", got)
	}
	// Malformed transactions (only the leader builds them) change nothing.
	for _, bad := range [][]string{
		{ExecCommand, "x"},
		{ExecCommand, "1", "k"},
		{ExecCommand, "1", "k", "q5"},
		{ExecCommand, "0", "3", "SET", "k"},
		{ExecCommand, "0", "0"},
		{ExecCommand, "0", "1", ExecCommand},
		{ExecCommand, "0", "2", ExpireCommand, "a"},
	} {
		var args [][]byte
		for _, a := range bad {
			args = append(args, []byte(a))
		}
		if r := s.Apply(&pb.Command{NowMs: t0, Args: args}); r.String() != replyBadExec.String() {
			t.Errorf("%q = %s", bad, r)
		}
	}
	if r := do(t, s, t0, "GET a"); r.String() != `"2"` {
		t.Fatalf("GET a = %s", r)
	}
	if Lookup([]byte(ExecCommand)) != nil {
		t.Fatal("__exec is visible to clients")
	}
}

func TestWatch(t *testing.T) {
	type tc struct {
		name    string
		setup   []string // before WATCH
		between []string // between WATCH and EXEC
		at      int64    // EXEC time offset
		aborts  bool
	}
	for _, c := range []tc{
		{name: "untouched", setup: []string{"SET k v"}},
		{name: "rewritten", setup: []string{"SET k v"}, between: []string{"SET k v"}, aborts: true},
		{name: "appended", setup: []string{"SET k v"}, between: []string{"APPEND k x"}, aborts: true},
		{name: "deleted", setup: []string{"SET k v"}, between: []string{"DEL k"}, aborts: true},
		{name: "deleted and recreated", setup: []string{"SET k v"}, between: []string{"DEL k", "SET k v"}, aborts: true},
		{name: "expire set", setup: []string{"SET k v"}, between: []string{"PEXPIRE k 1000"}, aborts: true},
		{name: "persist", setup: []string{"SET k v PX 1000"}, between: []string{"PERSIST k"}, aborts: true},
		{name: "persist without ttl", setup: []string{"SET k v"}, between: []string{"PERSIST k"}},
		{name: "expired", setup: []string{"SET k v PX 10"}, at: 11, aborts: true},
		{name: "expired and removed", setup: []string{"SET k v PX 10"}, between: []string{"@11 " + ExpireCommand + " k"}, at: 11, aborts: true},
		{name: "not yet expired", setup: []string{"SET k v PX 10"}, at: 10},
		{name: "other key", setup: []string{"SET k v"}, between: []string{"SET j v", "DEL j"}},
		{name: "failed write", setup: []string{"SET k v"}, between: []string{"SETNX k w", "LPUSH k x", "INCR k"}},
		{name: "list pushed", setup: []string{"RPUSH k a"}, between: []string{"RPUSH k b"}, aborts: true},
		{name: "list popped empty", setup: []string{"RPUSH k a"}, between: []string{"LPOP k"}, aborts: true},
		{name: "flushall", setup: []string{"SET k v"}, between: []string{"FLUSHALL"}, aborts: true},
		{name: "expiry set to the one it had", setup: []string{"SET k v PXAT " + ms(5000)}, between: []string{"PEXPIREAT k " + ms(5000)}, aborts: true},
		{name: "getex expiry set to the one it had", setup: []string{"SET k v PXAT " + ms(5000)}, between: []string{"GETEX k PXAT " + ms(5000)}, aborts: true},
		{name: "getex persist without expiry", setup: []string{"SET k v"}, between: []string{"GETEX k PERSIST"}},
		{name: "list rotated onto itself", setup: []string{"RPUSH k a"}, between: []string{"RPOPLPUSH k k"}, aborts: true},
		{name: "list rotated", setup: []string{"RPUSH k a b"}, between: []string{"LMOVE k k LEFT RIGHT"}, aborts: true},
		{name: "no-op writes", setup: []string{"SADD k a"}, between: []string{"SADD k a", "SREM k b", "SMOVE nokey k a", "EXPIRE k 10 XX"}},
		{name: "set member added", setup: []string{"SADD k a"}, between: []string{"SADD k b"}, aborts: true},
		{name: "hash unchanged", setup: []string{"HSET k f v"}, between: []string{"HDEL k g", "HSETNX k f w", "HINCRBY k f 1 2"}},
		{name: "zset unchanged", setup: []string{"ZADD k 1 a"}, between: []string{"ZADD k XX 1 b", "ZREM k b", "ZREMRANGEBYSCORE k 5 6", "ZADD k GT 0 a"}},
		{name: "zset score set to itself", setup: []string{"ZADD k 1 a"}, between: []string{"ZADD k 1 a"}},
		{name: "zset score changed", setup: []string{"ZADD k 1 a"}, between: []string{"ZADD k 2 a"}, aborts: true},
		{name: "absent, untouched"},
		{name: "absent, created", between: []string{"SET k v"}, aborts: true},
		{name: "absent, created and deleted", between: []string{"SET k v", "DEL k"}, aborts: true},
		{name: "absent, created and expired", between: []string{"SET k v PX 5", "@6 " + ExpireCommand + " k"}, at: 6, aborts: true},
		{name: "absent, created and expired, not removed", between: []string{"SET k v PX 5"}, at: 6, aborts: true},
		{name: "absent, other key created", between: []string{"SET j v"}},
		{name: "absent, flushall", between: []string{"FLUSHALL"}, aborts: true},
		{name: "expired before watch", setup: []string{"SET k v PX 5", "@6 GET k"}},
		{name: "expired before watch, removed after", setup: []string{"SET k v PX 5", "@6 GET k"}, between: []string{ExpireCommand + " k"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewState()
			now := int64(t0)
			run := func(lines []string) {
				for _, l := range lines {
					if strings.HasPrefix(l, "@") {
						i := strings.IndexByte(l, ' ')
						d, _ := parseInt([]byte(l[1:i]))
						now, l = t0+d, l[i+1:]
					}
					do(t, s, now, l)
				}
			}
			run(c.setup)
			ws := watch(s, now, "k")
			run(c.between)
			got := exec(t, s, max(now, t0+c.at), ws, "SET done 1")
			if aborted := got.Kind == KindNilArray; aborted != c.aborts {
				t.Fatalf("EXEC = %s; aborted %v, want %v", got, aborted, c.aborts)
			}
			if done := do(t, s, max(now, t0+c.at), "EXISTS done").Int == 1; done == c.aborts {
				t.Fatalf("the transaction's write applied: %v, want %v", done, !c.aborts)
			}
		})
	}
}

// TestWatchSurvivesSnapshot: key versions are replicated state, so a
// replica restored from a snapshot reaches the same EXEC verdicts as one
// that applied the log, and the digests agree.
func TestWatchSurvivesSnapshot(t *testing.T) {
	a := NewState()
	for _, l := range []string{"SET k v", "SET j v", "DEL j", "RPUSH l x", "SET e v PX 5"} {
		do(t, a, t0, l)
	}
	ws := watch(a, t0, "k", "j", "l", "e")
	var buf bytes.Buffer
	if _, err := a.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	b := NewState()
	if err := b.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*State{a, b} {
		if r := exec(t, s, t0+1, ws, "SET done 1"); r.String() != "[OK]" {
			t.Fatalf("EXEC = %s", r)
		}
		do(t, s, t0+1, "RPUSH l y")
		if r := exec(t, s, t0+1, ws, "SET done 2"); r.Kind != KindNilArray {
			t.Fatalf("EXEC after a change = %s", r)
		}
	}
	if a.digest() != b.digest() {
		t.Fatal("digests differ")
	}
}

func TestExecOwnership(t *testing.T) {
	s := NewState()
	mine := keyInSlotRange(t, "m", 0, 99)
	theirs := keyInSlotRange(t, "t", 200, 16383)
	s.Apply(&pb.Command{NowMs: t0, Args: OwnArgs(Ownership{Epoch: 1, Ranges: []SlotRange{{0, 99}}})})
	if r := exec(t, s, t0, nil, "SET "+mine+" 1", "SET "+theirs+" 1"); !IsNotOwner(r) {
		t.Fatalf("EXEC with a foreign key = %s, want the refusal", r)
	}
	if r := exec(t, s, t0, []Watch{{Key: []byte(theirs)}}, "SET "+mine+" 1"); !IsNotOwner(r) {
		t.Fatalf("EXEC watching a foreign key = %s, want the refusal", r)
	}
	if r := do(t, s, t0, "EXISTS "+mine); r.Int != 0 {
		t.Fatal("a refused transaction applied a command")
	}
	if r := exec(t, s, t0, nil, "SET "+mine+" 1"); r.String() != "[OK]" {
		t.Fatalf("EXEC = %s", r)
	}
}

func TestVersionEncoding(t *testing.T) {
	for _, v := range []Version{{true, 0}, {true, 1 << 63}, {false, 7}} {
		got, ok := parseVersion([]byte(v.String()))
		if !ok || got != v {
			t.Errorf("%v: parsed %v %v", v, got, ok)
		}
	}
	for _, bad := range []string{"", "p", "x1", "p-1", "a1x", "p18446744073709551616"} {
		if _, ok := parseVersion([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestListTxDeterminism: two replicas apply the same random entries of
// list commands, expiry and transactions guarded by WATCH (versions read
// from the first replica at random points, as the leader reads them); one
// of them is replaced by a restore of its snapshot half-way. Every reply,
// EXEC verdicts included, and the final digests must agree.
func TestListTxDeterminism(t *testing.T) {
	seed := testSeed(t)
	r := rand.New(rand.NewSource(seed))
	keys := []string{"{x}a", "{x}b", "{x}c", "{x}d"}
	key := func() string { return keys[r.Intn(len(keys))] }
	cmd := func() []string {
		switch r.Intn(12) {
		case 0, 1:
			return []string{"RPUSH", key(), strconv.Itoa(r.Intn(9)), strconv.Itoa(r.Intn(9))}
		case 2:
			return []string{"LPUSH", key(), strconv.Itoa(r.Intn(9))}
		case 3:
			return []string{"LPOP", key(), strconv.Itoa(r.Intn(3))}
		case 4:
			return []string{"LMOVE", key(), key(), "LEFT", "RIGHT"}
		case 5:
			return []string{"LREM", key(), strconv.Itoa(r.Intn(3) - 1), strconv.Itoa(r.Intn(9))}
		case 6:
			return []string{"PEXPIRE", key(), strconv.Itoa(r.Intn(20))}
		case 7:
			return []string{"SET", key(), "s"}
		case 8:
			return []string{"DEL", key()}
		case 9:
			return []string{"BLMPOP", "0", "2", key(), key(), "RIGHT", "COUNT", "2"}
		case 10:
			return []string{"LINSERT", key(), "BEFORE", strconv.Itoa(r.Intn(9)), "i"}
		default:
			return []string{"LRANGE", key(), "0", "-1"}
		}
	}
	a, b := NewMachine(), NewMachine()
	now := int64(t0)
	var watches []Watch
	verdicts := map[bool]int{} // transactions aborted (true) and applied
	const steps = 3000
	for i := 0; i < steps; i++ {
		now += int64(r.Intn(4))
		e := &pb.Entry{}
		for j := 1 + r.Intn(3); j > 0; j-- {
			var args [][]byte
			switch r.Intn(6) {
			case 0: // a transaction
				var cmds [][][]byte
				for k := r.Intn(4); k > 0; k-- {
					cmds = append(cmds, toArgs(cmd()))
				}
				args = ExecArgs(watches, cmds)
				watches = nil
			case 1: // active expiry
				args = [][]byte{[]byte(ExpireCommand)}
				for _, k := range a.ExpiredKeys(now, 3) {
					args = append(args, k)
				}
				if len(args) == 1 {
					continue
				}
			default:
				args = toArgs(cmd())
			}
			e.Commands = append(e.Commands, &pb.Command{NowMs: now, Args: args, Seed: r.Uint64()})
		}
		data, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ra, rb := a.ApplyEntry(data), b.ApplyEntry(data)
		for j := range ra {
			if ra[j].String() != rb[j].String() {
				t.Fatalf("entry %d command %d (%q): %s vs %s", i, j, e.Commands[j].Args, ra[j], rb[j])
			}
			if string(e.Commands[j].Args[0]) == ExecCommand {
				verdicts[ra[j].Kind == KindNilArray]++
			}
		}
		if r.Intn(4) == 0 { // WATCH a key for the next transaction
			k := key()
			watches = append(watches, Watch{Key: []byte(k), Version: a.Versions(now+int64(r.Intn(3)), [][]byte{[]byte(k)})[0]})
		}
		if i == steps/2 {
			var buf bytes.Buffer
			sn := b.Snapshot()
			if _, err := sn.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			sn.Release()
			b = NewMachine()
			if err := b.Restore(&buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("digests differ: %x vs %x", a.Digest(), b.Digest())
	}
	if verdicts[true] == 0 || verdicts[false] == 0 {
		t.Fatalf("transactions aborted %d, applied %d: the test exercises one verdict only", verdicts[true], verdicts[false])
	}
	t.Logf("transactions aborted %d, applied %d", verdicts[true], verdicts[false])
}
