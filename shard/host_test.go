package shard_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

// keyIn returns a key whose slot the group gi owns.
func keyIn(t *testing.T, gi *shard.GroupInfo, prefix string) string {
	t.Helper()
	for i := range 1 << 20 {
		k := fmt.Sprintf("%s:%d", prefix, i)
		s := shard.Slot([]byte(k))
		for _, r := range gi.Ranges {
			if s >= r.Start && s <= r.End {
				return k
			}
		}
	}
	t.Fatalf("no key in %s", gi.ID)
	return ""
}

func leaderOf(nodes []*shardtest.Node, gid string) *shard.Group {
	for _, nd := range nodes {
		if g := nd.Host.Group(gid); g != nil && g.IsLeader() {
			return g
		}
	}
	return nil
}

// TestHostShardsAndBalances: three nodes and three groups. Every node reads
// the same map from the metadata group, hosts a replica of every group, and
// leadership settles with one group per node. A write goes to the group of its slot; the same write sent to
// another group, as a stale router would, is refused by that group's state
// machine and applied nowhere.
func TestHostShardsAndBalances(t *testing.T) {
	nodes := shardtest.StartOpts(t, 3, shardtest.Options{Groups: 3})
	shardtest.WaitReady(t, nodes)
	m := nodes[0].Host.Map()
	if len(m.Groups) != 3 || m.Epoch < 1 {
		t.Fatalf("map %s", m)
	}
	for _, nd := range nodes {
		if len(nd.Host.Groups()) != 3 {
			t.Fatalf("%s hosts %d groups, want 3", nd.ID, len(nd.Host.Groups()))
		}
		for _, gi := range m.Groups {
			n, _ := m.Node(nd.ID)
			if n.RESPAddr != nd.RESP.Addr().String() || n.GRPCAddr != nd.GRPC.Addr().String() {
				t.Fatalf("map has %+v for %s", n, nd.ID)
			}
			_ = gi
		}
	}

	// Balanced: no node leads more than ceil(3/3) = 1 group.
	deadline := time.Now().Add(15 * time.Second)
	for {
		counts := shardtest.Leaders(nodes)
		if len(counts) == 3 && counts["n1"] == 1 && counts["n2"] == 1 && counts["n3"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaders not balanced after 15s: %v", counts)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g1, g2 := &m.Groups[0], &m.Groups[1]
	k2 := keyIn(t, g2, "k")
	// The right group takes it.
	out, err := leaderOf(nodes, g2.ID).Propose(ctx, [][]byte{[]byte("SET"), []byte(k2), []byte("v")})
	if err != nil || out[0].String() != "OK" {
		t.Fatalf("SET in its own group: %v %v", out, err)
	}
	// The wrong group refuses it: a stale route never writes.
	other := keyIn(t, g2, "stale")
	lg1 := leaderOf(nodes, g1.ID)
	out, err = lg1.Propose(ctx, [][]byte{[]byte("SET"), []byte(other), []byte("v")}, [][]byte{[]byte("GET"), []byte(k2)})
	if err != nil {
		t.Fatal(err)
	}
	if !fsm.IsNotOwner(out[0]) || !fsm.IsNotOwner(out[1]) {
		t.Fatalf("group %s applied commands for %s's slots: %v", g1.ID, g2.ID, out)
	}
	if r, err := lg1.Read(ctx, [][]byte{[]byte("GET"), []byte(k2)}); err != nil || !fsm.IsNotOwner(r) {
		t.Fatalf("linearizable GET of a foreign key = %v %v", r, err)
	}
	for _, nd := range nodes {
		for _, g := range nd.Host.Groups() {
			if r := g.Machine().Read(0, [][]byte{[]byte("EXISTS"), []byte(other)}); r.Int != 0 {
				t.Fatalf("%s's replica of %s holds the refused key", nd.ID, g.ID())
			}
		}
	}
	// The ownership is in every replica's state.
	for _, nd := range nodes {
		for _, g := range nd.Host.Groups() {
			own, ok := g.Machine().Ownership()
			if ok && fmt.Sprint(own.Ranges) != fmt.Sprint(g.Ranges()) {
				t.Fatalf("%s/%s owns %v, map says %v", nd.ID, g.ID(), own, g.Ranges())
			}
		}
	}

	// Routing: GroupOf gives the local replica of a key's group.
	if g := nodes[2].Host.GroupOf(shard.Slot([]byte(k2))); g == nil || g.ID() != g2.ID {
		t.Fatalf("GroupOf(%q) = %v, want %s", k2, g, g2.ID)
	}
	// Every node names each group's leader, hosted or not.
	for _, nd := range nodes {
		for _, gi := range m.Groups {
			want := leaderOf(nodes, gi.ID).Node().Progress().NodeID
			ni, err := nd.Host.LeaderOf(ctx, gi.ID)
			if err != nil || ni.ID != want {
				t.Fatalf("%s: LeaderOf(%s) = %+v %v, want %s", nd.ID, gi.ID, ni, err, want)
			}
		}
	}
	// The members' progress is visible from any node.
	for _, ms := range nodes[0].Host.GroupMembers(g2.ID) {
		if !ms.Reachable || !ms.Known || ms.Applied == 0 {
			t.Fatalf("member state of %s: %+v", g2.ID, ms)
		}
	}
}

// TestHostRestartReadsMapAtOnce: a node reopened on its data directory
// routes with its map right after Open, from the metadata group's snapshot,
// before any election; a changed client address makes a new epoch.
func TestHostRestartReadsMapAtOnce(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	cfg := shard.Config{
		Self:           shard.NodeInfo{ID: "n1", RESPAddr: "127.0.0.1:1", GRPCAddr: "127.0.0.1:2", PeerAddr: addr},
		Dir:            filepath.Join(dir, "n1"),
		InitialCluster: []raftnode.Peer{{ID: "n1", Addr: addr}},
		Groups:         4,
		Raft:           shardtest.Raft,
		PollInterval:   50 * time.Millisecond,
		Logger:         shardtest.Logger(),
	}
	h, err := shard.Open(cfg, ln)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Map() == nil || len(h.Groups()) != 4 || !snapshotted(cfg.Dir) {
		if time.Now().After(deadline) {
			h.Close()
			t.Fatalf("no map and metadata snapshot after 10s (map %v)", h.Map())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	epoch := h.Map().Epoch
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("peer port taken meanwhile: %v", err)
	}
	// Restarted with another RESP address: routing starts at once with the
	// stored map, and the metadata leader writes the next epoch with the
	// new address.
	cfg.Self.RESPAddr = "127.0.0.1:3"
	h, err = shard.Open(cfg, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if m := h.Map(); m == nil || m.Epoch != epoch || len(h.Groups()) != 4 {
		t.Fatalf("after restart: map %v, %d groups", m, len(h.Groups()))
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		m := h.Map()
		if n, _ := m.Node("n1"); n.RESPAddr == "127.0.0.1:3" && m.Epoch == epoch+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("map after an address change: %v %+v", m, m.Nodes)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// snapshotted reports whether the metadata group has a snapshot on disk.
func snapshotted(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "groups", shard.MetaGroupID, "snapshots", "*", "meta.json"))
	return len(m) > 0
}

// TestRefreshPeersIsFresh: the other nodes' reports are polled rarely
// here, so right after a leadership transfer a node's view of the group's
// members is stale until it refreshes them; after RefreshPeers it shows
// every member's state as of the call (what `redraft cluster status`
// prints).
func TestRefreshPeersIsFresh(t *testing.T) {
	nodes := shardtest.StartOpts(t, 3, shardtest.Options{Groups: 1, PollInterval: 3 * time.Second, BalanceInterval: -1})
	shardtest.WaitReady(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var from, to, watcher *shardtest.Node
	for _, nd := range nodes {
		if nd.Host.Group("g1").IsLeader() {
			from = nd
		}
	}
	if from == nil {
		t.Fatal("g1 has no leader")
	}
	for _, nd := range nodes {
		switch {
		case nd == from:
		case to == nil:
			to = nd
		default:
			watcher = nd
		}
	}
	states := func() map[string]string {
		out := map[string]string{}
		for _, ms := range watcher.Host.GroupMembers("g1") {
			out[ms.ID] = ms.State
		}
		return out
	}
	watcher.Host.RefreshPeers(ctx)
	if s := states(); s[from.ID] != "leader" || s[to.ID] != "follower" {
		t.Fatalf("%s's view of g1 before the transfer: %v", watcher.ID, s)
	}
	if err := from.Host.TransferLeader(ctx, "g1", to.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !to.Host.Group("g1").IsLeader() || from.Host.Group("g1").IsLeader() {
		if time.Now().After(deadline) {
			t.Fatalf("g1 not led by %s 5s after the transfer", to.ID)
		}
		time.Sleep(time.Millisecond) // polling interval
	}
	t.Logf("%s's view right after the transfer, before a refresh: %v", watcher.ID, states())
	watcher.Host.RefreshPeers(ctx)
	if s := states(); s[from.ID] != "follower" || s[to.ID] != "leader" {
		t.Fatalf("%s's view of g1 after the transfer to %s and a refresh: %v", watcher.ID, to.ID, s)
	}
}
