package shard

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func testNodes(n int) []NodeInfo {
	out := make([]NodeInfo, n)
	for i := range out {
		id := fmt.Sprintf("n%d", i+1)
		out[i] = NodeInfo{ID: id, RESPAddr: "127.0.0.1:" + fmt.Sprint(7001+i), PeerAddr: "127.0.0.1:" + fmt.Sprint(9001+i)}
	}
	return out
}

func TestSplitSlots(t *testing.T) {
	// Redis's own split for 3 masters.
	if got := fmt.Sprint(SplitSlots(3)); got != "[0-5460 5461-10922 10923-16383]" {
		t.Fatalf("SplitSlots(3) = %s", got)
	}
	for n := 1; n <= 300; n++ {
		rs := SplitSlots(n)
		if len(rs) != n || rs[0].Start != 0 || rs[n-1].End != Slots-1 {
			t.Fatalf("SplitSlots(%d) = %v", n, rs)
		}
		lo, hi := Slots, 0
		for i, r := range rs {
			size := r.End - r.Start + 1
			lo, hi = min(lo, size), max(hi, size)
			if i > 0 && r.Start != rs[i-1].End+1 {
				t.Fatalf("SplitSlots(%d): gap or overlap at %d: %v", n, i, rs)
			}
		}
		if hi-lo > 1 {
			t.Fatalf("SplitSlots(%d): sizes from %d to %d", n, lo, hi)
		}
	}
}

// TestInitialMapPlacement checks the placement rules for many cluster
// shapes: every slot in exactly one group (NewMap checks that), each group
// with min(replicas, nodes) distinct members, replicas spread within one of
// each other, and no node preferred leader of more than ceil(groups/nodes)
// groups.
func TestInitialMapPlacement(t *testing.T) {
	for n := 1; n <= 9; n++ {
		for groups := 1; groups <= 64; groups++ {
			for replicas := 1; replicas <= 5; replicas++ {
				m, err := InitialMap(testNodes(n), groups, replicas)
				if err != nil {
					t.Fatalf("n=%d groups=%d replicas=%d: %v", n, groups, replicas, err)
				}
				if m.Epoch != 1 || len(m.Groups) != groups {
					t.Fatalf("n=%d groups=%d: epoch %d, %d groups", n, groups, m.Epoch, len(m.Groups))
				}
				held, led := map[string]int{}, map[string]int{}
				for _, g := range m.Groups {
					if len(g.Members) != min(replicas, n) {
						t.Fatalf("n=%d groups=%d replicas=%d: %s has members %v", n, groups, replicas, g.ID, g.Members)
					}
					led[g.Members[0]]++
					for _, id := range g.Members {
						held[id]++
					}
				}
				lo, hi := groups*replicas, 0
				for _, nd := range m.Nodes {
					lo, hi = min(lo, held[nd.ID]), max(hi, held[nd.ID])
				}
				if hi-lo > 1 {
					t.Errorf("n=%d groups=%d replicas=%d: replicas per node from %d to %d", n, groups, replicas, lo, hi)
				}
				ceil := (groups + n - 1) / n
				for id, k := range led {
					if k > ceil {
						t.Errorf("n=%d groups=%d replicas=%d: %s preferred for %d groups, more than %d", n, groups, replicas, id, k, ceil)
					}
				}
			}
		}
	}
	// The 3-node, 3-group layout the acceptance test relies on: each node
	// the preferred leader of one group, every node in every group.
	m, _ := InitialMap(testNodes(3), 3, 3)
	want := "epoch 1: g1[0-5460]@n1,n2,n3 g2[5461-10922]@n2,n1,n3 g3[10923-16383]@n3,n1,n2"
	if m.String() != want {
		t.Fatalf("InitialMap(3 nodes, 3 groups) = %s\nwant %s", m, want)
	}
}

func TestMapRoutingAndEncoding(t *testing.T) {
	m, err := InitialMap(testNodes(5), 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "somekey", "{user1000}.x", "foo{hash_tag}"} {
		slot := Slot([]byte(key))
		g := m.GroupOf(slot)
		if !slices.ContainsFunc(g.Ranges, func(r Range) bool { return slot >= r.Start && slot <= r.End }) {
			t.Fatalf("GroupOf(%d) = %s %v", slot, g.ID, g.Ranges)
		}
	}
	b := m.Encode()
	d, err := DecodeMap(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != m.String() || d.Epoch != m.Epoch || fmt.Sprint(d.Nodes) != fmt.Sprint(m.Nodes) {
		t.Fatalf("decoded %s\nwant %s", d, m)
	}
	if string(d.Encode()) != string(b) {
		t.Fatal("encoding is not deterministic")
	}

	// A new epoch with a node's new addresses; the old map is unchanged.
	n2 := NodeInfo{ID: "n2", RESPAddr: "10.0.0.2:7002", GRPCAddr: "10.0.0.2:8002", PeerAddr: "ignored"}
	m2, err := m.WithNode(n2)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m2.Node("n2"); m2.Epoch != 2 || got.RESPAddr != n2.RESPAddr {
		t.Fatalf("WithNode: epoch %d, n2 %+v", m2.Epoch, got)
	}
	if got, _ := m.Node("n2"); got.RESPAddr == n2.RESPAddr {
		t.Fatal("WithNode changed the old map")
	}
	if _, err := m.WithNode(NodeInfo{ID: "n9"}); !errors.Is(err, ErrBadMap) {
		t.Fatalf("WithNode of an unknown node: %v", err)
	}
}

func TestNewMapRejects(t *testing.T) {
	nodes := testNodes(2)
	full := []Range{{Start: 0, End: Slots - 1}}
	for name, tc := range map[string]struct {
		epoch  uint64
		groups []GroupInfo
	}{
		"epoch 0":        {0, []GroupInfo{{ID: "g1", Ranges: full, Members: []string{"n1"}}}},
		"gap":            {1, []GroupInfo{{ID: "g1", Ranges: []Range{{Start: 0, End: 100}}, Members: []string{"n1"}}}},
		"overlap":        {1, []GroupInfo{{ID: "g1", Ranges: full, Members: []string{"n1"}}, {ID: "g2", Ranges: []Range{{Start: 5, End: 5}}, Members: []string{"n1"}}}},
		"unknown member": {1, []GroupInfo{{ID: "g1", Ranges: full, Members: []string{"n7"}}}},
		"no members":     {1, []GroupInfo{{ID: "g1", Ranges: full}}},
		"repeated id":    {1, []GroupInfo{{ID: "g1", Ranges: []Range{{Start: 0, End: 9}}, Members: []string{"n1"}}, {ID: "g1", Ranges: []Range{{Start: 10, End: Slots - 1}}, Members: []string{"n2"}}}},
		"reserved id":    {1, []GroupInfo{{ID: MetaGroupID, Ranges: full, Members: []string{"n1"}}}},
		"out of bounds":  {1, []GroupInfo{{ID: "g1", Ranges: []Range{{Start: 0, End: Slots}}, Members: []string{"n1"}}}},
		"descending":     {1, []GroupInfo{{ID: "g1", Ranges: []Range{{Start: 10, End: Slots - 1}, {Start: 0, End: 9}}, Members: []string{"n1"}}}},
	} {
		if _, err := NewMap(tc.epoch, nodes, tc.groups); !errors.Is(err, ErrBadMap) {
			t.Errorf("%s: NewMap = %v, want ErrBadMap", name, err)
		}
	}
	if _, err := DecodeMap([]byte{0xff, 0xff}); !errors.Is(err, ErrBadMap) {
		t.Errorf("DecodeMap(garbage) = %v", err)
	}
}
