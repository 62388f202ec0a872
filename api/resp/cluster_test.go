package resp

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

// startSharded starts n in-process nodes with groups groups, each serving
// RESP, and waits until every group has a ready leader.
func startSharded(t *testing.T, n, groups int) []*testNode {
	t.Helper()
	sn := shardtest.StartOpts(t, n, shardtest.Options{Groups: groups})
	var nodes []*testNode
	for _, nd := range sn {
		srv := New(Config{Host: nd.Host, Logger: shardtest.Logger()})
		done := make(chan error, 1)
		go func() { done <- srv.Serve(nd.RESP) }()
		t.Cleanup(func() {
			srv.Close()
			<-done
		})
		nodes = append(nodes, &testNode{Node: nd, addr: nd.RESP.Addr().String()})
	}
	shardtest.WaitReady(t, sn)
	// Wait until leadership is spread, so that it holds still for the test.
	if err := waitFor(15*time.Second, func() error {
		counts := shardtest.Leaders(sn)
		limit := (groups + n - 1) / n
		total := 0
		for _, c := range counts {
			if c > limit {
				return fmt.Errorf("leaders not balanced: %v", counts)
			}
			total += c
		}
		if total != groups {
			return fmt.Errorf("%d of %d groups led", total, groups)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// keyOf returns a key of group gi.
func keyOf(t *testing.T, gi *shard.GroupInfo, prefix string) string {
	t.Helper()
	for i := range 1 << 20 {
		k := fmt.Sprintf("%s%d", prefix, i)
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

// leaderNode returns the node leading group id.
func leaderNode(nodes []*testNode, id string) *testNode {
	for _, nd := range nodes {
		if g := nd.Host.Group(id); g != nil && g.IsLeader() {
			return nd
		}
	}
	return nil
}

// TestStaleRouteRefusedAtRESP: a node whose router sends a key to the wrong
// group (as a router with an old slot map would) gets the group's refusal
// and answers MOVED to the leader of the key's real group; nothing is
// written anywhere.
func TestStaleRouteRefusedAtRESP(t *testing.T) {
	nodes := startSharded(t, 3, 3)
	m := nodes[0].Host.Map()
	ln := leaderNode(nodes, "g1")
	if ln == nil {
		t.Fatal("g1 has no leader")
	}
	// A second RESP server on g1's leader whose routing is stale: every
	// slot goes to the local replica of g1.
	srv := New(Config{Host: ln.Host, Logger: shardtest.Logger()})
	g1 := ln.Host.Group("g1")
	srv.exec.Route = func(int) *shard.Group { return g1 }
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	c := redis.NewClient(&redis.Options{Addr: lis.Addr().String(), MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()

	k := keyOf(t, &m.Groups[1], "stale:")
	l2 := leaderNode(nodes, "g2")
	want := fmt.Sprintf("MOVED %d %s", shard.Slot([]byte(k)), l2.addr)
	if err := c.Set(ctx, k, "v", 0).Err(); err == nil || err.Error() != want {
		t.Fatalf("SET through a stale route = %v, want %q", err, want)
	}
	if err := c.Get(ctx, k).Err(); err == nil || err.Error() != want {
		t.Fatalf("GET through a stale route = %v, want %q", err, want)
	}
	for _, nd := range nodes {
		for _, g := range nd.Host.Groups() {
			if r := g.Machine().Read(0, [][]byte{[]byte("EXISTS"), []byte(k)}); r.Int != 0 {
				t.Fatalf("%s/%s holds the refused key", nd.ID, g.ID())
			}
		}
	}
	// A key the group does own still works through the same route.
	own := keyOf(t, &m.Groups[0], "own:")
	if err := c.Set(ctx, own, "v", 0).Err(); err != nil {
		t.Fatalf("SET of an owned key: %v", err)
	}
}

// TestClusterCommands checks the CLUSTER subcommands and the per-node
// semantics of keyless commands on three nodes and three groups.
func TestClusterCommands(t *testing.T) {
	nodes := startSharded(t, 3, 3)
	ctx := context.Background()
	m := nodes[0].Host.Map()
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	keys := map[string][]string{}
	for i := range 300 {
		k := fmt.Sprintf("key:%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		gi := m.GroupOf(shard.Slot([]byte(k)))
		keys[gi.ID] = append(keys[gi.ID], k)
	}

	c := redis.NewClient(&redis.Options{Addr: nodes[0].addr})
	defer c.Close()
	if id, err := c.ClusterMyID(ctx).Result(); err != nil || id != NodeID("n1") || len(id) != 40 {
		t.Fatalf("CLUSTER MYID = %q %v", id, err)
	}
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("CLUSTER INFO:\n%s %v", info, err)
	}

	// SLOTS: every slot once, the leader first.
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 3 {
		t.Fatalf("CLUSTER SLOTS = %v %v", slots, err)
	}
	for _, s := range slots {
		gi := m.GroupOf(int(s.Start))
		l := leaderNode(nodes, gi.ID)
		if s.Nodes[0].Addr != l.addr || s.Nodes[0].ID != NodeID(l.ID) || len(s.Nodes) != 3 {
			t.Fatalf("CLUSTER SLOTS %d-%d = %+v, want leader %s first and 3 nodes", s.Start, s.End, s.Nodes, l.ID)
		}
	}

	// NODES: three masters, each owning the slots of the group it leads.
	nodesText, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(nodesText), "\n")
	if len(lines) != 3 {
		t.Fatalf("CLUSTER NODES has %d lines:\n%s", len(lines), nodesText)
	}
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "master") || strings.Contains(f[2], "slave") || f[3] != "-" || f[7] != "connected" {
			t.Fatalf("CLUSTER NODES line %q", line)
		}
		for _, nd := range nodes {
			if f[0] == NodeID(nd.ID) {
				var own []string
				for _, gi := range m.Groups {
					if g := nd.Host.Group(gi.ID); g != nil && g.IsLeader() {
						own = append(own, gi.Ranges[0].String())
					}
				}
				if fmt.Sprint(f[8:]) != fmt.Sprint(own) {
					t.Fatalf("%s owns %v in CLUSTER NODES, leads %v", nd.ID, f[8:], own)
				}
			}
		}
	}

	// SHARDS: one per group, with slots and three members, one master.
	shards, err := c.ClusterShards(ctx).Result()
	if err != nil || len(shards) != 3 {
		t.Fatalf("CLUSTER SHARDS = %v %v", shards, err)
	}
	for _, sh := range shards {
		masters := 0
		for _, n := range sh.Nodes {
			if n.Role == "master" {
				masters++
			}
			if n.Health != "online" {
				t.Fatalf("CLUSTER SHARDS node %+v not online", n)
			}
		}
		if len(sh.Slots) != 1 || len(sh.Nodes) != 3 || masters != 1 {
			t.Fatalf("CLUSTER SHARDS entry %+v", sh)
		}
	}

	// KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT.
	if s, err := c.ClusterKeySlot(ctx, "somekey").Result(); err != nil || s != 11058 {
		t.Fatalf("CLUSTER KEYSLOT somekey = %d %v", s, err)
	}
	for i := range 10 {
		k := fmt.Sprintf("{tag}%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// The leader of the slot's group answers up to date; a follower from
	// its replica, as a Redis replica answers from its own keys.
	tagSlot := int64(shard.Slot([]byte("{tag}")))
	tl := redis.NewClient(&redis.Options{Addr: leaderNode(nodes, m.GroupOf(int(tagSlot)).ID).addr})
	defer tl.Close()
	if n, err := tl.ClusterCountKeysInSlot(ctx, int(tagSlot)).Result(); err != nil || n != 10 {
		t.Fatalf("CLUSTER COUNTKEYSINSLOT = %d %v", n, err)
	}
	ks, err := tl.ClusterGetKeysInSlot(ctx, int(tagSlot), 4).Result()
	if err != nil || len(ks) != 4 || len(slices.Compact(slices.Sorted(slices.Values(ks)))) != 4 {
		t.Fatalf("CLUSTER GETKEYSINSLOT = %v %v", ks, err)
	}
	for _, k := range ks {
		if n, _ := strconv.Atoi(strings.TrimPrefix(k, "{tag}")); !strings.HasPrefix(k, "{tag}") || n < 0 || n >= 10 {
			t.Fatalf("CLUSTER GETKEYSINSLOT returned %q, not one of the keys stored", k)
		}
	}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"CLUSTER", "COUNTKEYSINSLOT", "16384"}, "ERR Invalid slot"},
		{[]any{"CLUSTER", "COUNTKEYSINSLOT", "x"}, "ERR value is not an integer or out of range"},
		{[]any{"CLUSTER", "GETKEYSINSLOT", "1", "-1"}, "ERR Invalid slot or number of keys"},
		{[]any{"CLUSTER", "KEYSLOT"}, "ERR wrong number of arguments for 'cluster|keyslot' command"},
		{[]any{"CLUSTER", "NOPE"}, "ERR unknown subcommand 'NOPE'. Try CLUSTER HELP."},
	} {
		if err := c.Do(ctx, tc.args...).Err(); err == nil || err.Error() != tc.want {
			t.Errorf("%v = %v, want %q", tc.args, err, tc.want)
		}
	}

	// Keyless commands answer for the groups the node leads: the DBSIZE of
	// every node adds up to the whole keyspace, each key counted once.
	total := int64(0)
	for _, nd := range nodes {
		cl := redis.NewClient(&redis.Options{Addr: nd.addr})
		n, err := cl.DBSize(ctx).Result()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, gi := range m.Groups {
			if g := nd.Host.Group(gi.ID); g != nil && g.IsLeader() {
				want += int64(g.Machine().Len())
			}
		}
		if n != want {
			t.Fatalf("DBSIZE on %s = %d, want %d (the groups it leads)", nd.ID, n, want)
		}
		total += n
	}
	if total != 310 {
		t.Fatalf("DBSIZE over all nodes = %d, want 310", total)
	}
	// READONLY: the local replicas of every group hosted here.
	ro := redis.NewClient(&redis.Options{Addr: nodes[1].addr, OnConnect: func(ctx context.Context, cn *redis.Conn) error {
		return cn.ReadOnly(ctx).Err()
	}})
	defer ro.Close()
	if err := waitFor(5*time.Second, func() error {
		n, err := ro.DBSize(ctx).Result()
		if err != nil || n != 310 {
			return fmt.Errorf("READONLY DBSIZE = %d %v, want 310", n, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// READONLY reads a key of a group this node only follows from its own
	// replica; READWRITE goes back to redirects.
	var followed string
	for _, gi := range m.Groups {
		if g := nodes[1].Host.Group(gi.ID); g != nil && !g.IsLeader() {
			followed = keys[gi.ID][0]
			break
		}
	}
	if err := waitFor(5*time.Second, func() error {
		v, err := ro.Get(ctx, followed).Result()
		if err != nil || v == "" {
			return fmt.Errorf("READONLY GET %s = %q %v", followed, v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := ro.Do(ctx, "READWRITE").Err(); err != nil {
		t.Fatal(err)
	}
	rw := redis.NewClient(&redis.Options{Addr: nodes[1].addr, PoolSize: 1})
	defer rw.Close()
	if err := rw.Do(ctx, "READONLY").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Do(ctx, "READWRITE").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rw.Get(ctx, followed).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Fatalf("GET after READWRITE on a follower = %v, want MOVED", err)
	}
	if err := rw.Do(ctx, "ASKING").Err(); err != nil {
		t.Fatalf("ASKING: %v", err)
	}

	// FLUSHALL on one node empties the groups it leads, only.
	l1 := leaderNode(nodes, "g1")
	cl := redis.NewClient(&redis.Options{Addr: l1.addr})
	defer cl.Close()
	if err := cl.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := cl.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("DBSIZE after FLUSHALL = %d", n)
	}
	if n, err := cc.Exists(ctx, keys["g2"][0]).Result(); err != nil || n != 1 {
		t.Fatalf("a key of g2 after FLUSHALL on g1's leader: EXISTS = %d %v", n, err)
	}
}

// waitFor polls cond until it returns nil or timeout passes.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// TestGroupsNotHostedEverywhere: four nodes, four groups of three replicas,
// so each node lacks a replica of one group. A node routes that group's keys
// with what the members report: MOVED to its leader, and CLUSTER SLOTS
// still covers every slot; the cluster client works from any seed.
func TestGroupsNotHostedEverywhere(t *testing.T) {
	nodes := startSharded(t, 4, 4)
	ctx := context.Background()
	m := nodes[0].Host.Map()
	for _, nd := range nodes {
		if got := len(nd.Host.Groups()); got != 3 {
			t.Fatalf("%s hosts %d groups, want 3", nd.ID, got)
		}
	}
	for _, nd := range nodes {
		var missing *shard.GroupInfo
		for i := range m.Groups {
			if nd.Host.Group(m.Groups[i].ID) == nil {
				missing = &m.Groups[i]
			}
		}
		k := keyOf(t, missing, "far:")
		l := leaderNode(nodes, missing.ID)
		c := redis.NewClient(&redis.Options{Addr: nd.addr, MaxRetries: -1})
		want := fmt.Sprintf("MOVED %d %s", shard.Slot([]byte(k)), l.addr)
		err := waitFor(5*time.Second, func() error {
			if err := c.Set(ctx, k, "v", 0).Err(); err == nil || err.Error() != want {
				return fmt.Errorf("SET on %s of a key of %s (not hosted) = %v, want %q", nd.ID, missing.ID, err, want)
			}
			return nil
		})
		if err == nil {
			var slots []redis.ClusterSlot
			slots, err = c.ClusterSlots(ctx).Result()
			covered := 0
			for _, s := range slots {
				covered += int(s.End - s.Start + 1)
			}
			if err == nil && covered != 16384 {
				err = fmt.Errorf("CLUSTER SLOTS on %s covers %d slots", nd.ID, covered)
			}
		}
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, seed := range nodes {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{seed.addr}})
		for i := range 40 {
			k := fmt.Sprintf("%s:%d", seed.ID, i)
			if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
				t.Fatalf("SET %s seeded with %s: %v", k, seed.ID, err)
			}
			if v, err := cc.Get(ctx, k).Int(); err != nil || v != i {
				t.Fatalf("GET %s = %d %v", k, v, err)
			}
		}
		cc.Close()
	}
}
