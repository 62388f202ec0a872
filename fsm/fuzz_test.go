package fsm_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Fuzz targets for the log-entry decoder and the snapshot reader:
//
//	go test -run '^$' -fuzz '^FuzzApplyEntry$' -fuzztime 10s ./fsm/
//	go test -run '^$' -fuzz '^FuzzRestore$' -fuzztime 10s ./fsm/
//
// ApplyEntry panics on an entry that does not decode, by design (a
// corrupt log must stop the node): FuzzApplyEntry therefore builds valid
// entries, with commands and arguments drawn from the fuzzer's bytes, and
// checks what must hold for any of them.

// cmdGen turns fuzz bytes into commands.
type cmdGen struct {
	b     []byte
	specs []*fsm.Spec
}

func (g *cmdGen) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *cmdGen) more() bool { return len(g.b) > 0 }

// vocabulary hits keys (a few, so commands meet each other's keys and
// types), numbers at the edges and the option words commands parse.
var vocabulary = []string{
	"a", "b", "{a}c", "k:1", "",
	"0", "1", "-1", "2", "10", "100", "-100", "9223372036854775807", "-9223372036854775808",
	"18446744073709551616", "1.5", "-0.0", "inf", "-inf", "+inf", "nan", "1e308", "0x10", " 1", "01",
	"EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "GET", "KEEPTTL", "PERSIST", "CH", "INCR",
	"WITHSCORES", "LIMIT", "COUNT", "MATCH", "TYPE", "REV", "BYSCORE", "BYLEX", "IDX", "LEN",
	"LEFT", "RIGHT", "BEFORE", "AFTER", "(1", "[a", "+", "-", "*", "string", "list", "hash",
}

func (g *cmdGen) arg() []byte {
	c := g.next()
	if c < 200 {
		return []byte(vocabulary[int(c)%len(vocabulary)])
	}
	n := min(int(c-200), len(g.b))
	a := append([]byte{}, g.b[:n]...)
	g.b = g.b[n:]
	return a
}

// command draws one command: a known command (sometimes an unknown name)
// with about the right number of arguments.
func (g *cmdGen) command() [][]byte {
	c := g.next()
	if c == 255 {
		return [][]byte{g.arg(), g.arg()}
	}
	spec := g.specs[int(c)%len(g.specs)]
	n := spec.Arity - 1
	if spec.Arity < 0 {
		n = -spec.Arity - 1 + int(g.next()%4)
	}
	switch g.next() % 16 {
	case 0:
		n++
	case 1:
		n = max(n-1, 0)
	}
	args := [][]byte{[]byte(spec.Name)}
	for range n {
		args = append(args, g.arg())
	}
	return args
}

// entry draws one log entry of 1 to 8 commands with leader times that may
// go backwards (the machine keeps its clock monotonic).
func (g *cmdGen) entry(now *int64) *pb.Entry {
	e := &pb.Entry{}
	for k := int(g.next()%8) + 1; k > 0 && g.more(); k-- {
		*now += int64(g.next())*50 - 2000
		e.Commands = append(e.Commands, &pb.Command{NowMs: *now, Args: g.command(), Seed: uint64(g.next()) << 8})
	}
	return e
}

func mustMarshal(t *testing.T, e *pb.Entry) []byte {
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshotOf writes m's snapshot.
func snapshotOf(t *testing.T, m *fsm.Machine) []byte {
	sn := m.Snapshot()
	defer sn.Release()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return buf.Bytes()
}

func readOnlySpecs() []*fsm.Spec {
	var out []*fsm.Spec
	for _, s := range fsm.Specs() {
		if !s.Write() {
			out = append(out, s)
		}
	}
	return out
}

// FuzzApplyEntry applies entries built from the input and checks that:
// nothing panics; applying the commands as one entry or one entry each
// gives the same replies and the same state; the state's snapshot restores
// to an equal state, which answers reads and later entries identically.
func FuzzApplyEntry(f *testing.F) {
	f.Add([]byte("\x03\x10\x00\x01\x02\x05\x20\x11\x00\x00\x03"))
	f.Add([]byte{7, 40, 3, 0, 0, 1, 2, 9, 9, 200 + 3, 'x', 'y', 'z', 5, 60, 1, 0, 0})
	f.Add(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, 8))
	specs := fsm.Specs()
	reads := readOnlySpecs()
	f.Fuzz(func(t *testing.T, in []byte) {
		g := &cmdGen{b: in, specs: specs}
		whole, split := fsm.NewMachine(), fsm.NewMachine()
		now := int64(1_700_000_000_000)
		for round := 0; round < 4 && g.more(); round++ {
			e := g.entry(&now)
			got := whole.ApplyEntry(mustMarshal(t, e))
			if len(got) != len(e.Commands) {
				t.Fatalf("%d replies for %d commands", len(got), len(e.Commands))
			}
			for i, c := range e.Commands {
				one := split.ApplyEntry(mustMarshal(t, &pb.Entry{Commands: []*pb.Command{c}}))
				if len(one) != 1 || !reflect.DeepEqual(one[0], got[i]) {
					t.Fatalf("%q: %v in a batch, %v alone", c.Args, got[i], one)
				}
			}
		}
		if whole.Digest() != split.Digest() {
			t.Fatal("one entry and one entry per command leave different states")
		}

		snap := snapshotOf(t, whole)
		restored := fsm.NewMachine()
		if err := restored.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatalf("Restore of a fresh snapshot: %v", err)
		}
		if restored.Digest() != whole.Digest() || restored.Len() != whole.Len() {
			t.Fatalf("restored state differs: %d keys vs %d", restored.Len(), whole.Len())
		}
		if again := snapshotOf(t, restored); !bytes.Equal(again, snap) {
			t.Fatal("the snapshot of a restored state differs from the snapshot it was restored from")
		}
		// Reads and a further entry behave the same on both.
		for k := 0; k < 8 && g.more(); k++ {
			s := reads[int(g.next())%len(reads)]
			args := [][]byte{[]byte(s.Name)}
			for range max(s.Arity-1, -s.Arity-1) {
				args = append(args, g.arg())
			}
			if a, b := whole.Read(now, args), restored.Read(now, args); !reflect.DeepEqual(a, b) {
				t.Fatalf("%q: %v on the original, %v on the restored state", args, a, b)
			}
		}
		if g.more() {
			e := mustMarshal(t, g.entry(&now))
			if a, b := whole.ApplyEntry(e), restored.ApplyEntry(e); !reflect.DeepEqual(a, b) {
				t.Fatalf("the same entry: %v on the original, %v on the restored state", a, b)
			}
			if whole.Digest() != restored.Digest() {
				t.Fatal("the original and the restored state diverge after the same entry")
			}
		}
	})
}

// FuzzRestore feeds arbitrary bytes to the snapshot reader: it must return
// an error or a state, never panic, and on error leave the machine's state
// as it was. A state it accepts must snapshot and restore again to itself.
func FuzzRestore(f *testing.F) {
	if golden, err := os.ReadFile("testdata/snapshot-v1.golden"); err == nil {
		f.Add(golden)
		f.Add(golden[:len(golden)-1])
		f.Add(golden[:len(golden)/2])
	}
	seed := fsm.NewMachine()
	now := int64(1_700_000_000_000)
	for i, l := range [][]string{
		{"SET", "a", "1"}, {"SET", "b", "x", "PX", "5000"}, {"INCR", "a"}, {"SET", "", ""},
		{"RPUSH", "l", "1", "2"}, {"HSET", "h", "f", "v"}, {"SADD", "s", "m"}, {"ZADD", "z", "1", "m"},
	} {
		args := make([][]byte, len(l))
		for k, a := range l {
			args[k] = []byte(a)
		}
		b, _ := proto.Marshal(&pb.Entry{Commands: []*pb.Command{{NowMs: now + int64(i), Args: args}}})
		seed.ApplyEntry(b)
	}
	sn := seed.Snapshot()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err == nil {
		f.Add(buf.Bytes())
		b := append([]byte{}, buf.Bytes()...)
		b[len(b)/2] ^= 0x10
		f.Add(b)
	}
	sn.Release()
	f.Add([]byte("RDRFTSNP"))
	f.Add(binary.LittleEndian.AppendUint32([]byte("RDRFTSNP"), 99))

	f.Fuzz(func(t *testing.T, in []byte) {
		m := fsm.NewMachine()
		b, _ := proto.Marshal(&pb.Entry{Commands: []*pb.Command{{NowMs: now, Args: [][]byte{[]byte("SET"), []byte("before"), []byte("1")}}}})
		m.ApplyEntry(b)
		before := m.Digest()
		if err := m.Restore(bytes.NewReader(in)); err != nil {
			if m.Digest() != before {
				t.Fatalf("Restore failed (%v) but changed the state", err)
			}
			if !errors.Is(err, fsm.ErrCorruptSnapshot) {
				t.Logf("Restore error not wrapping ErrCorruptSnapshot: %v", err)
			}
			return
		}
		snap := snapshotOf(t, m)
		again := fsm.NewMachine()
		if err := again.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatalf("an accepted snapshot, written again, does not restore: %v", err)
		}
		if again.Digest() != m.Digest() {
			t.Fatal("an accepted snapshot, written and restored again, gives a different state")
		}
		m.Read(now, [][]byte{[]byte("DBSIZE")})
		m.Read(now, [][]byte{[]byte("KEYS"), []byte("*")})
	})
}
