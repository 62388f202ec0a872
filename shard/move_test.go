package shard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

func fourNodeMap(t *testing.T) *shard.Map {
	t.Helper()
	var nodes []shard.NodeInfo
	for i := range 4 {
		nodes = append(nodes, shard.NodeInfo{ID: fmt.Sprintf("n%d", i+1), PeerAddr: fmt.Sprintf("127.0.0.1:%d", 9001+i)})
	}
	m, err := shard.InitialMap(nodes, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// outsider returns the node of m that is not a member of gi.
func outsider(m *shard.Map, gi *shard.GroupInfo) string {
	for _, n := range m.Nodes {
		if !gi.Has(n.ID) {
			return n.ID
		}
	}
	return ""
}

// TestWithMove: the new map has the next epoch and the group's members
// with to in place of from, every other group unchanged; bad moves are
// refused with the error that says why.
func TestWithMove(t *testing.T) {
	m := fourNodeMap(t)
	g := m.Groups[0]
	from, to := g.Members[0], outsider(m, &g)
	next, err := m.WithMove(g.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	ng := next.Group(g.ID)
	if next.Epoch != m.Epoch+1 || ng.Has(from) || !ng.Has(to) || len(ng.Members) != 3 {
		t.Fatalf("after moving %s from %s to %s: epoch %d, members %v", g.ID, from, to, next.Epoch, ng.Members)
	}
	if !slices.Equal(next.Groups[1].Members, m.Groups[1].Members) || !slices.Equal(m.Group(g.ID).Members, g.Members) {
		t.Fatalf("other group or the old map changed: %v / %v", next.Groups[1].Members, m.Group(g.ID).Members)
	}
	if dec, err := shard.DecodeMap(next.Encode()); err != nil || !slices.Equal(dec.Group(g.ID).Members, ng.Members) {
		t.Fatalf("round trip: %v %v", dec, err)
	}
	for _, tc := range []struct {
		name, group, from, to string
		want                  error
	}{
		{"unknown group", "g9", from, to, shard.ErrUnknownGroup},
		{"unknown from", g.ID, "n9", to, shard.ErrUnknownNode},
		{"unknown to", g.ID, from, "n9", shard.ErrUnknownNode},
		{"to already a member", g.ID, from, g.Members[1], shard.ErrMoveRefused},
		{"from not a member", g.ID, to, from, shard.ErrMoveRefused},
		{"same node", g.ID, from, from, shard.ErrMoveRefused},
	} {
		if _, err := m.WithMove(tc.group, tc.from, tc.to); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestMoveReplicaInProcess: four in-process nodes, groups of three
// replicas. A replica moves to the node that had none while a key is
// written before and after: the group's leader configuration becomes the
// map's members, the new replica holds the data, the old one's directory
// is gone, and a repeated call changes nothing. Then it moves back.
func TestMoveReplicaInProcess(t *testing.T) {
	nodes := shardtest.StartOpts(t, 4, shardtest.Options{Groups: 2, Replicas: 3})
	shardtest.WaitReady(t, nodes)
	byID := map[string]*shardtest.Node{}
	for _, nd := range nodes {
		byID[nd.ID] = nd
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	metaLeader := func() *shardtest.Node {
		for {
			for _, nd := range nodes {
				if nd.Host.Meta().IsLeader() {
					return nd
				}
			}
			if ctx.Err() != nil {
				t.Fatal("no metadata leader")
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	m := nodes[0].Host.Map()
	gi := m.Groups[0]
	key := keyIn(t, &gi, "mv")
	write := func(v string) {
		t.Helper()
		for {
			if g := leaderOf(nodes, gi.ID); g != nil {
				if _, err := g.Propose(ctx, [][]byte{[]byte("SET"), []byte(key), []byte(v)}); err == nil {
					return
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("write %s: no leader of %s", v, gi.ID)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	// A node that does not lead the metadata group refuses.
	for _, nd := range nodes {
		if !nd.Host.Meta().IsLeader() {
			if _, err := nd.Host.MoveReplica(ctx, gi.ID, gi.Members[0], outsider(m, &gi)); !errors.Is(err, shard.ErrNotMetaLeader) {
				t.Fatalf("MoveReplica on %s (not the metadata leader): %v", nd.ID, err)
			}
			break
		}
	}
	move := func(from, to string, want string) {
		t.Helper()
		write("before-" + to)
		next, err := metaLeader().Host.MoveReplica(ctx, gi.ID, from, to)
		if err != nil {
			t.Fatalf("move %s %s->%s: %v", gi.ID, from, to, err)
		}
		if ng := next.Group(gi.ID); ng.Has(from) || !ng.Has(to) {
			t.Fatalf("map after the move: %s", next)
		}
		write(want)
		// The new replica has every write; the old one's directory goes.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var why string
			g := byID[to].Host.Group(gi.ID)
			switch {
			case g == nil:
				why = "no replica on " + to
			case g.Machine().Read(0, [][]byte{[]byte("GET"), []byte(key)}).Kind != fsm.KindBulk ||
				string(g.Machine().Read(0, [][]byte{[]byte("GET"), []byte(key)}).Bulk) != want:
				why = to + " has not applied the last write"
			case byID[from].Host.Group(gi.ID) != nil:
				why = from + " still routes to its replica"
			case groupDirExists(byID[from], gi.ID):
				why = from + " still has the group's directory"
			}
			if why == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("move %s->%s: %s", from, to, why)
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
		// Repeating the call is a no-op that reports the same map.
		again, err := metaLeader().Host.MoveReplica(ctx, gi.ID, from, to)
		if err != nil || again.Epoch != next.Epoch {
			t.Fatalf("repeated move: epoch %v, err %v (want epoch %d)", again, err, next.Epoch)
		}
	}
	from, to := gi.Members[1], outsider(m, &gi)
	move(from, to, "after-1")
	move(to, from, "after-2")
	// Refusals against the live map.
	cur := metaLeader().Host.Map().Group(gi.ID)
	if _, err := metaLeader().Host.MoveReplica(ctx, gi.ID, cur.Members[0], cur.Members[1]); !errors.Is(err, shard.ErrMoveRefused) {
		t.Fatalf("move to a member: %v", err)
	}
	if _, err := metaLeader().Host.MoveReplica(ctx, "g9", cur.Members[0], to); !errors.Is(err, shard.ErrUnknownGroup) {
		t.Fatalf("move of an unknown group: %v", err)
	}
}

// groupDirExists reports whether node nd has a directory for group id.
func groupDirExists(nd *shardtest.Node, id string) bool {
	_, err := os.Stat(filepath.Join(nd.Dir, "groups", id))
	return err == nil
}
