package fsm

import (
	"bytes"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// applyCmds applies one entry of commands at time now and returns the replies.
func applyCmds(t *testing.T, m *Machine, now int64, cmds ...[]string) []Reply {
	t.Helper()
	e := &pb.Entry{}
	for _, c := range cmds {
		args := make([][]byte, len(c))
		for i, a := range c {
			args[i] = []byte(a)
		}
		e.Commands = append(e.Commands, &pb.Command{NowMs: now, Args: args})
	}
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return m.ApplyEntry(b)
}

func TestKeySlotVectors(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("CRC16(123456789) = %#x, want 0x31c3", got)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"foo{hash_tag}", 2515},
		{"foo{}{bar}", int(CRC16([]byte("foo{}{bar}")) % Slots)},
		{"foo{{bar}}zap", KeySlot([]byte("{bar"))},
		{"foo{bar}{zap}", KeySlot([]byte("bar"))},
		{"{", int(CRC16([]byte("{")) % Slots)},
		{"", 0},
	} {
		if got := KeySlot([]byte(tc.key)); got != tc.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}

// keyInSlotRange returns a key whose slot lies in [lo, hi].
func keyInSlotRange(t *testing.T, prefix string, lo, hi int) string {
	t.Helper()
	for i := range 100000 {
		k := fmt.Sprintf("%s%d", prefix, i)
		if s := KeySlot([]byte(k)); s >= lo && s <= hi {
			return k
		}
	}
	t.Fatalf("no key in slots %d-%d", lo, hi)
	return ""
}

// TestOwnershipRefusesForeignKeys is the state machine's half of the
// stale-route invariant: a command for a slot the group does not own, as a
// router with an old map would send it, is refused with a retryable error
// and changes nothing, on every replica alike.
func TestOwnershipRefusesForeignKeys(t *testing.T) {
	a, b := NewMachine(), NewMachine()
	mine := keyInSlotRange(t, "mine", 0, 5460)
	theirs := keyInSlotRange(t, "theirs", 5461, 16383)

	// Before any __own the machine is unrestricted.
	if _, ok := a.Ownership(); ok {
		t.Fatal("fresh machine reports an ownership")
	}
	for _, m := range []*Machine{a, b} {
		r := applyCmds(t, m, 1000,
			[]string{OwnCommand, "1", "0-5460"},
			[]string{"SET", mine, "v"},
			[]string{"SET", theirs, "v"},
			[]string{"MSET", mine, "1", theirs, "2"},
			[]string{"DEL", theirs},
			[]string{"DBSIZE"},
		)
		if r[0].String() != "(integer) 1" || r[1].String() != "OK" {
			t.Fatalf("__own, SET mine = %v, %v", r[0], r[1])
		}
		for _, i := range []int{2, 3, 4} {
			if !IsNotOwner(r[i]) || !strings.HasPrefix(r[i].Str, "TRYAGAIN ") {
				t.Fatalf("command %d on a foreign slot = %v, want the refusal", i, r[i])
			}
		}
		if r[5].String() != "(integer) 1" {
			t.Fatalf("DBSIZE = %v, want 1 (keyless commands are not refused)", r[5])
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatal("replicas fed the same entries differ")
	}
	if r := a.Read(1000, [][]byte{[]byte("GET"), []byte(theirs)}); !IsNotOwner(r) {
		t.Fatalf("GET of a foreign key = %v, want the refusal", r)
	}
	if r := a.Read(1000, [][]byte{[]byte("GET"), []byte(mine)}); r.String() != `"v"` {
		t.Fatalf("GET of an owned key = %v", r)
	}
	if a.Len() != 1 {
		t.Fatalf("%d keys stored, want 1: a refused command wrote", a.Len())
	}

	// An older or equal epoch changes nothing; a newer one replaces.
	r := applyCmds(t, a, 1001, []string{OwnCommand, "1", "0-16383"}, []string{"SET", theirs, "v"})
	if r[0].String() != "(integer) 0" || !IsNotOwner(r[1]) {
		t.Fatalf("__own with the same epoch = %v, then SET = %v", r[0], r[1])
	}
	r = applyCmds(t, a, 1002, []string{OwnCommand, "2", "0-100", "5461-16383"}, []string{"SET", theirs, "v"}, []string{"GET", mine})
	if r[0].String() != "(integer) 1" || r[1].String() != "OK" || !IsNotOwner(r[2]) {
		t.Fatalf("__own epoch 2 = %v, SET theirs = %v, GET mine = %v", r[0], r[1], r[2])
	}
	own, ok := a.Ownership()
	if !ok || own.String() != "epoch 2: 0-100 5461-16383" {
		t.Fatalf("Ownership = %v %v", own, ok)
	}

	// Malformed ranges are refused and change nothing.
	for _, bad := range [][]string{
		{OwnCommand, "x", "0-1"},
		{OwnCommand, "9", "5-1"},
		{OwnCommand, "9", "0-10", "5-20"},
		{OwnCommand, "9", "10", "3"},
		{OwnCommand, "9", "0-16384"},
		{OwnCommand, "9", "a-b"},
	} {
		if r := applyCmds(t, a, 1003, bad); r[0].Kind != KindError {
			t.Errorf("%q = %v, want an error", bad, r[0])
		}
	}
	if own2, _ := a.Ownership(); own2.String() != own.String() {
		t.Fatalf("a malformed __own changed the ownership to %v", own2)
	}
	// Clients cannot call it.
	if Lookup([]byte(OwnCommand)) != nil {
		t.Fatal("__own is visible to clients")
	}
}

// TestOwnershipSurvivesSnapshot: the ownership is part of the state, so a
// replica restored from a snapshot refuses what the original refuses.
// Snapshots are written in format version 3, with or without one.
func TestOwnershipSurvivesSnapshot(t *testing.T) {
	m := NewMachine()
	var plain bytes.Buffer
	if _, err := m.Snapshot().WriteTo(&plain); err != nil {
		t.Fatal(err)
	}
	if v := plain.Bytes()[8]; v != snapVersion4 {
		t.Fatalf("unowned snapshot has version %d, want %d", v, snapVersion4)
	}
	applyCmds(t, m, 5, ownArgsStrings(Ownership{Epoch: 7, Ranges: []SlotRange{{0, 99}, {200, 200}}}), []string{"SET", keyInSlotRange(t, "k", 0, 99), "v"})
	var buf bytes.Buffer
	if _, err := m.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if v := buf.Bytes()[8]; v != snapVersion4 {
		t.Fatalf("owned snapshot has version %d, want %d", v, snapVersion4)
	}
	r := NewMachine()
	if err := r.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != m.Digest() {
		t.Fatal("restored state differs")
	}
	own, ok := r.Ownership()
	if !ok || own.String() != "epoch 7: 0-99 200" {
		t.Fatalf("restored ownership = %v %v", own, ok)
	}
	foreign := keyInSlotRange(t, "f", 300, 16383)
	if rep := applyCmds(t, r, 6, []string{"SET", foreign, "v"}); !IsNotOwner(rep[0]) {
		t.Fatalf("restored replica accepted a foreign key: %v", rep[0])
	}
	// A corrupt ownership section is reported, not loaded.
	bad := append([]byte(nil), buf.Bytes()...)
	bad[20] = 0xff // the epoch varint now runs into the range count
	bad[21] = 0xff
	if err := NewMachine().Restore(bytes.NewReader(bad)); err == nil {
		t.Fatal("corrupt ownership section restored")
	}
	// Digests tell an owned state from an unowned one with the same keys.
	u := NewMachine()
	applyCmds(t, u, 5, []string{"SET", keyInSlotRange(t, "k", 0, 99), "v"})
	if u.Digest() == m.Digest() {
		t.Fatal("digest ignores the ownership")
	}
}

// ownArgsStrings is OwnArgs as strings, for applyCmds.
func ownArgsStrings(o Ownership) []string {
	var out []string
	for _, a := range OwnArgs(o) {
		out = append(out, string(a))
	}
	return out
}

func TestKeysInSlot(t *testing.T) {
	m := NewMachine()
	tag := "{user1000}"
	slot := KeySlot([]byte(tag))
	applyCmds(t, m, 10,
		[]string{"SET", tag + "a", "1"},
		[]string{"SET", tag + "b", "1"},
		[]string{"SET", tag + "c", "1", "PX", "5"},
		[]string{"SET", "other", "1"},
	)
	if n := m.CountKeysInSlot(slot, 10); n != 3 {
		t.Fatalf("CountKeysInSlot = %d, want 3", n)
	}
	if n := m.CountKeysInSlot(slot, 100); n != 2 {
		t.Fatalf("CountKeysInSlot after an expiry = %d, want 2", n)
	}
	got := m.KeysInSlot(slot, 100, 10)
	slices.SortFunc(got, bytes.Compare)
	if len(got) != 2 || string(got[0]) != tag+"a" || string(got[1]) != tag+"b" {
		t.Fatalf("KeysInSlot = %q", got)
	}
	if got := m.KeysInSlot(slot, 10, 1); len(got) != 1 {
		t.Fatalf("KeysInSlot limit 1 = %q", got)
	}
}

// TestKeysInSlotMatchesEveryKey: for random keys over a few hundred slots,
// the range walk of each slot finds exactly the keys whose slot it is,
// including slots 0 and 16383 at the ends of the order.
func TestKeysInSlotMatchesEveryKey(t *testing.T) {
	r := rand.New(rand.NewSource(testSeed(t)))
	m := NewMachine()
	want := map[int]map[string]bool{}
	add := func(k string) {
		applyCmds(t, m, 10, []string{"SET", k, "v"})
		sl := KeySlot([]byte(k))
		if want[sl] == nil {
			want[sl] = map[string]bool{}
		}
		want[sl][k] = true
	}
	for _, sl := range []int{0, Slots - 1} {
		for i := 0; ; i++ {
			k := "{e" + strconv.Itoa(i) + "}"
			if KeySlot([]byte(k)) == sl {
				add(k + "x")
				add(k + "y")
				break
			}
		}
	}
	for range 3000 {
		add("k:" + strconv.Itoa(r.Intn(300)) + ":" + strconv.Itoa(r.Intn(1000)))
	}
	total := 0
	for sl := range Slots {
		got := m.KeysInSlot(sl, 10, 1<<20)
		if n := m.CountKeysInSlot(sl, 10); n != len(got) || n != len(want[sl]) {
			t.Fatalf("slot %d: COUNTKEYSINSLOT %d, GETKEYSINSLOT %d keys, want %d", sl, n, len(got), len(want[sl]))
		}
		for _, k := range got {
			if !want[sl][string(k)] {
				t.Fatalf("slot %d: GETKEYSINSLOT returned %q of slot %d", sl, k, KeySlot(k))
			}
		}
		total += len(got)
	}
	if total != m.s.len() {
		t.Fatalf("slots hold %d keys, the keyspace %d", total, m.s.len())
	}
	if m.CountKeysInSlot(-1, 10) != 0 || m.CountKeysInSlot(Slots, 10) != 0 {
		t.Fatal("keys counted in a slot out of range")
	}
}
