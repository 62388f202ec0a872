package robustness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The checker itself, on hand-written histories: it must accept what a
// correct store can produce and reject the anomalies the campaign hunts.

func set(client int, key string, v, call, ret int64) Op {
	return Op{Client: client, Kind: opSet, Key: key, Arg: v, Call: call, Return: ret}
}

func get(client int, key string, v, call, ret int64) Op {
	return Op{Client: client, Kind: opGet, Key: key, Exists: v >= 0, Int: max(v, 0), Call: call, Return: ret}
}

func unknown(op Op) Op {
	op.Unknown = true
	op.Return = never
	return op
}

func TestCheckerRegister(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ops   []Op
		legal bool
	}{
		{"read after write", []Op{set(0, "k", 1, 0, 10), get(1, "k", 1, 20, 30)}, true},
		{"concurrent read may see either", []Op{set(0, "k", 1, 0, 10), set(0, "k", 2, 20, 40), get(1, "k", 1, 25, 30)}, true},
		{"stale read", []Op{set(0, "k", 1, 0, 10), set(0, "k", 2, 20, 30), get(1, "k", 1, 40, 50)}, false},
		{"lost write reads nil", []Op{set(0, "k", 1, 0, 10), get(1, "k", -1, 20, 30)}, false},
		{"unknown write may show up late", []Op{unknown(set(0, "k", 5, 0, 0)), get(1, "k", -1, 10, 20), get(1, "k", 5, 30, 40)}, true},
		{"unknown write cannot vanish", []Op{unknown(set(0, "k", 5, 0, 0)), get(1, "k", 5, 10, 20), get(1, "k", -1, 30, 40)}, false},
		{"incr counts", []Op{set(0, "k", 10, 0, 5), {Kind: opIncr, Key: "k", Int: 11, Call: 6, Return: 9}, get(1, "k", 11, 10, 20)}, true},
		{"incr applied twice", []Op{set(0, "k", 10, 0, 5), {Kind: opIncr, Key: "k", Int: 11, Call: 6, Return: 9}, get(1, "k", 12, 10, 20)}, false},
		{"refused write shows up", []Op{get(1, "k", 7, 10, 20)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := checkHistory(tc.ops, nil, 1, 5*time.Second, "")
			if legal := len(res.Illegal) == 0; legal != tc.legal {
				t.Fatalf("linearizable = %v, want %v", legal, tc.legal)
			}
		})
	}
}

func TestCheckerList(t *testing.T) {
	push := func(v, n, call, ret int64) Op {
		return Op{Kind: opAppend, Key: "l", Arg: v, Int: n, Call: call, Return: ret}
	}
	rng := func(call, ret int64, l ...int64) Op {
		return Op{Kind: opRange, Key: "l", List: l, Call: call, Return: ret}
	}
	for _, tc := range []struct {
		name  string
		ops   []Op
		legal bool
	}{
		{"appends in order", []Op{push(1, 1, 0, 10), push(2, 2, 20, 30), rng(40, 50, 1, 2)}, true},
		{"concurrent appends either order", []Op{push(1, 2, 0, 30), push(2, 1, 5, 25), rng(40, 50, 2, 1)}, true},
		{"lost append", []Op{push(1, 1, 0, 10), push(2, 2, 20, 30), rng(40, 50, 1)}, false},
		{"reordered", []Op{push(1, 1, 0, 10), push(2, 2, 20, 30), rng(40, 50, 2, 1)}, false},
		{"unknown append may appear", []Op{unknown(push(1, 0, 0, 0)), push(2, 1, 20, 30), rng(40, 50, 2, 1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := checkHistory(tc.ops, nil, 1, 5*time.Second, "")
			if legal := len(res.Illegal) == 0; legal != tc.legal {
				t.Fatalf("linearizable = %v, want %v", legal, tc.legal)
			}
		})
	}
}

// A failed check leaves porcupine's visualisation, faults drawn in.
func TestCheckerVisualisation(t *testing.T) {
	dir := t.TempDir()
	ops := []Op{set(0, "k:1", 1, 0, 10), set(0, "k:1", 2, 20, 30), get(1, "k:1", 1, 40, 50)}
	res := checkHistory(ops, []FaultEvent{{Kind: "pause", Detail: "n1", Start: 15, End: 35}}, 1, 5*time.Second, dir)
	if len(res.Illegal) != 1 || len(res.Artifacts) != 1 {
		t.Fatalf("illegal %v, artifacts %v", res.Illegal, res.Artifacts)
	}
	b, err := os.ReadFile(res.Artifacts[0])
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(res.Artifacts[0]) != dir || !strings.Contains(string(b), "get(k:1) -\\u003e 1") || !strings.Contains(string(b), "pause") {
		t.Fatalf("%s does not show the history and the fault", res.Artifacts[0])
	}
}

// The list audit flags an acknowledged element missing from the final
// read, and one present twice.
func TestAuditLists(t *testing.T) {
	w := newWorkload(WorkloadConfig{}, nil, newHistory(), 1)
	ops := []Op{
		{Kind: opAppend, Key: "l", Arg: 1, Int: 1},
		{Kind: opAppend, Key: "l", Arg: 2, Int: 2},
		unknown(Op{Kind: opAppend, Key: "l", Arg: 3}),
		{Kind: opRange, Key: "l", List: []int64{1, 3, 3}, Call: 100},
	}
	res, err := w.Audit(context.Background(), ops)
	if err != nil {
		t.Fatal(err)
	}
	if res.Audited != 2 || len(res.Lost) != 1 || !strings.Contains(res.Lost[0], "RPUSH l 2") || len(res.Bogus) != 1 {
		t.Fatalf("audit = %+v", res)
	}
}

func TestStalenessReport(t *testing.T) {
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	p := &stalenessProbe{
		nodes:   []string{"a", "b"},
		ids:     []string{"n1", "n2"},
		acks:    map[string][]ackRec{"s": {{1, ms(100)}, {2, ms(200)}, {3, ms(300)}}},
		invoked: map[string]int64{"s": 4},
		reads: []staleRead{
			{node: 0, key: "s", call: ms(250), v: 2},  // fresh
			{node: 1, key: "s", call: ms(350), v: 1},  // two behind, since 200
			{node: 1, key: "s", call: ms(150), v: -1}, // one behind, since 100
			{node: 0, key: "s", call: ms(400), v: 9},  // never written
		},
	}
	r := p.Report()
	if r.Reads != 4 || r.Stale != 2 || r.MaxBehind != 2 || r.LagMax != 150*time.Millisecond || len(r.Phantom) != 1 {
		t.Fatalf("report = %+v", r)
	}
}
