package sharding

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitBalanced polls until every running node leads exactly want groups.
func waitBalanced(t *testing.T, c *Cluster, want int, timeout time.Duration) map[string]int {
	t.Helper()
	var leaders map[string]int
	err := eventually(timeout, 50*time.Millisecond, func() error {
		l, err := c.leaders()
		if err != nil {
			return err
		}
		if len(l) != c.groups {
			return fmt.Errorf("%d of %d groups have a leader: %v", len(l), c.groups, l)
		}
		counts := ledBy(l)
		for i, nd := range c.nodes {
			if nd.running() && counts[i] != want {
				return fmt.Errorf("leaders per node %v, want %d each", counts, want)
			}
		}
		leaders = l
		return nil
	})
	if err != nil {
		t.Fatalf("leaders not balanced: %v", err)
	}
	return leaders
}

// TestShardedCluster runs acceptance items 1-6 of the sharding issue on one
// cluster of three nodes and three groups; n3 runs with --proxy. The
// destructive part (kill -9, restart) comes last.
func TestShardedCluster(t *testing.T) {
	rng := newRand(t)
	c := startCluster(t, 3, 3, func(i int) []string {
		if i == 2 {
			return []string{"--proxy"}
		}
		return nil
	})
	// Item 4, first half: after start, each node leads exactly one group.
	start := time.Now()
	leaders := waitBalanced(t, c, 1, 15*time.Second)
	t.Logf("balanced %v after ready: %v", time.Since(start).Round(time.Millisecond), leaders)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The slot ranges of each group, from node 1's view.
	gs, err := c.groupsOf(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 3 {
		t.Fatalf("%d groups, want 3: %v", len(gs), gs)
	}

	t.Run("keys", func(t *testing.T) { checkKeys(t, c, rng, 10000) })

	t.Run("crossslot", func(t *testing.T) {
		cc := c.clusterClient()
		// Two keys of different groups.
		a, b := keyFor(t, "x", gs["g1"].Slots), keyFor(t, "x", gs["g2"].Slots)
		err := cc.MSet(ctx, a, 1, b, 2).Err()
		if err == nil || err.Error() != "CROSSSLOT Keys in request don't hash to the same slot" {
			t.Fatalf("MSET across slots: %v", err)
		}
		// Any node answers CROSSSLOT, before routing.
		for _, nd := range c.nodes {
			if err := nd.admin.Do(ctx, "MSET", a, 1, b, 2).Err(); err == nil || err.Error() != "CROSSSLOT Keys in request don't hash to the same slot" {
				t.Fatalf("MSET across slots on %s: %v", nd.ID, err)
			}
		}
		if err := cc.MSet(ctx, "{tag}a", 1, "{tag}b", 2).Err(); err != nil {
			t.Fatalf("MSET within one hash tag: %v", err)
		}
		if v, err := cc.MGet(ctx, "{tag}a", "{tag}b").Result(); err != nil || fmt.Sprint(v) != "[1 2]" {
			t.Fatalf("MGET within one hash tag = %v %v", v, err)
		}
		// The refused MSET wrote neither key.
		for _, k := range []string{a, b} {
			if v, err := cc.Get(ctx, k).Result(); !errors.Is(err, redis.Nil) {
				t.Fatalf("GET %s after the refused MSET = %q %v", k, v, err)
			}
		}
	})

	t.Run("redis-cli -c", func(t *testing.T) {
		// Item 2: for a key of every group, redis-cli -c against nodes
		// that neither lead the group nor run --proxy, so they answer
		// MOVED (checked first): it must follow the redirect for SET and
		// for GET.
		cli := tool(t, "redis-cli")
		l := waitBalanced(t, c, 1, 15*time.Second)
		for _, g := range []string{"g1", "g2", "g3"} {
			k := keyFor(t, "cli:"+g+":", gs[g].Slots)
			var via []*Node
			for i, nd := range c.nodes {
				if i != l[g] && nd.extra == nil {
					via = append(via, nd)
				}
			}
			if len(via) == 1 {
				via = append(via, via[0])
			}
			for _, nd := range via {
				err := nd.admin.Get(ctx, k).Err()
				if err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
					t.Fatalf("GET %s on %s (not leading %s) = %v, want MOVED", k, nd.ID, g, err)
				}
			}
			_, port, _ := strings.Cut(via[0].RESP, ":")
			_, port2, _ := strings.Cut(via[1].RESP, ":")
			if out, err := run(t, 10*time.Second, cli, "-c", "-p", port, "set", k, "v-"+g); err != nil || strings.TrimSpace(out) != "OK" {
				t.Fatalf("redis-cli -c -p %s set %s (group %s) = %q %v", port, k, g, out, err)
			}
			if out, err := run(t, 10*time.Second, cli, "-c", "-p", port2, "get", k); err != nil || strings.TrimSpace(out) != "v-"+g {
				t.Fatalf("redis-cli -c -p %s get %s (group %s) = %q %v", port2, k, g, out, err)
			}
			// Without -c the same node answers the redirect itself.
			if out, _ := run(t, 10*time.Second, cli, "-p", port, "get", k); !strings.Contains(out, "MOVED") {
				t.Fatalf("redis-cli -p %s get %s (no -c) = %q, want MOVED", port, k, out)
			}
		}
	})

	t.Run("proxy", func(t *testing.T) {
		// Item 6: plain redis-cli, no -c, against the --proxy node, for keys
		// of every group (two of them led elsewhere).
		cli := tool(t, "redis-cli")
		_, port, _ := strings.Cut(c.nodes[2].RESP, ":")
		l := waitBalanced(t, c, 1, 15*time.Second) // the proxy node leads one group; two are forwarded
		cc := c.clusterClient()
		for _, g := range []string{"g1", "g2", "g3"} {
			k := keyFor(t, "proxy:"+g+":", gs[g].Slots)
			defer func() {
				// Stored in the key's group, as a cluster client sees it.
				if v, err := cc.Get(ctx, k).Result(); err != nil || v != "p-"+g {
					t.Errorf("GET %s (group %s) through the cluster client = %q %v, want %q", k, g, v, err, "p-"+g)
				}
			}()
			if out, err := run(t, 10*time.Second, cli, "-p", port, "set", k, "p-"+g); err != nil || strings.TrimSpace(out) != "OK" {
				t.Fatalf("redis-cli -p %s set %s (group %s) = %q %v", port, k, g, out, err)
			}
			if out, err := run(t, 10*time.Second, cli, "-p", port, "get", k); err != nil || strings.TrimSpace(out) != "p-"+g {
				t.Fatalf("redis-cli -p %s get %s (group %s) = %q %v", port, k, g, out, err)
			}
			if out, err := run(t, 10*time.Second, cli, "-p", port, "incr", k); err != nil || !strings.Contains(out, "ERR value is not an integer") {
				t.Fatalf("a command error through the proxy = %q %v", out, err)
			}
		}
		// A command without keys covers the whole keyspace through the
		// proxy: DBSIZE is the sum over every group.
		want := 0
		for g, i := range l {
			st, err := c.groupsOf(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			want += st[g].Keys
		}
		if out, err := run(t, 10*time.Second, cli, "-p", port, "dbsize"); err != nil || strings.TrimSpace(out) != fmt.Sprint(want) {
			t.Fatalf("redis-cli -p %s dbsize = %q %v, want %d", port, out, err, want)
		}

		// A node without --proxy still redirects.
		k := keyFor(t, "noproxy:", gs["g2"].Slots)
		for _, nd := range c.nodes[:2] {
			if l, _ := c.leaders(); l["g2"] == nd.Index {
				continue
			}
			if err := nd.admin.Set(ctx, k, "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
				t.Fatalf("SET on %s (not leading g2, no --proxy) = %v, want MOVED", nd.ID, err)
			}
		}
	})

	t.Run("stale route", func(t *testing.T) {
		// Item 5 at RESP (the state machine's half, a group refusing
		// another group's slot, is tested in fsm, shard and api/resp; a
		// RESP server routing to the wrong group in api/resp).
		t.Run("follower", func(t *testing.T) { staleFollower(t, c, gs) })
		t.Run("former leader", func(t *testing.T) { staleFormerLeader(t, c, gs) })
		t.Run("deposed leader", func(t *testing.T) { staleDeposedLeader(t, c, gs) })
	})

	t.Run("cluster status", func(t *testing.T) {
		// The table is as of the call (the node asks every other node
		// first), but raft itself may still be settling after the
		// previous subtests' writes: poll until every group shows one
		// leader, the one its LEADER column names, and two followers.
		var out string
		err := eventually(15*time.Second, 100*time.Millisecond, func() error {
			var err error
			out, err = run(t, 10*time.Second, redraftBin, "cluster", "status", "--addr", c.nodes[1].GRPC)
			if err != nil {
				return fmt.Errorf("cluster status: %v\n%s", err, out)
			}
			return checkStatusTable(out, c.groups)
		})
		t.Logf("redraft cluster status:\n%s", out)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"GROUP", "SLOTS", "LEADER", "MEMBER", "APPLIED", "LAG", "g1", "0-5460", "g2", "5461-10922", "g3", "10923-16383"} {
			if !strings.Contains(out, want) {
				t.Fatalf("cluster status lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("benchmark with transfer", func(t *testing.T) {
		benchWithTransfer(t, c, gs)
	})

	t.Run("failover and rebalance", func(t *testing.T) {
		failoverAndRebalance(t, c, gs)
	})
}

// checkKeys is acceptance item 1: n keys through go-redis's cluster client
// read back; every slot exactly once in every node's CLUSTER SLOTS; the
// keys spread over every group; CLUSTER KEYSLOT agrees with shard.Slot.
func checkKeys(t *testing.T, c *Cluster, rng *rand.Rand, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cc := c.clusterClient()
	keys := make([]string, n)
	vals := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k:%d:%x", i, rng.Uint64()&0xffffff)
		vals[i] = fmt.Sprintf("v%d-%x", i, rng.Uint64())
	}
	start := time.Now()
	const workers, batch = 16, 50
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w * batch; s < n; s += workers * batch {
				e := min(s+batch, n)
				_, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
					for i := s; i < e; i++ {
						p.Set(ctx, keys[i], vals[i], 0)
					}
					return nil
				})
				if err != nil {
					errc <- fmt.Errorf("SET batch at %d: %w", s, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d SETs acknowledged in %v", n, time.Since(start).Round(time.Millisecond))
	for s := 0; s < n; s += 500 {
		e := min(s+500, n)
		cmds, err := cc.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := s; i < e; i++ {
				p.Get(ctx, keys[i])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("GET batch at %d: %v", s, err)
		}
		for j, cmd := range cmds {
			if v, err := cmd.(*redis.StringCmd).Result(); err != nil || v != vals[s+j] {
				t.Fatalf("GET %s = %q %v, want %q", keys[s+j], v, err, vals[s+j])
			}
		}
	}

	// Every slot exactly once in CLUSTER SLOTS, on every node.
	for _, nd := range c.nodes {
		slots, err := nd.admin.ClusterSlots(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		var seen [16384]int
		for _, s := range slots {
			if len(s.Nodes) == 0 {
				t.Fatalf("%s: CLUSTER SLOTS range %d-%d has no node", nd.ID, s.Start, s.End)
			}
			for i := s.Start; i <= s.End; i++ {
				seen[i]++
			}
		}
		for i, k := range seen {
			if k != 1 {
				t.Fatalf("%s: slot %d appears %d times in CLUSTER SLOTS", nd.ID, i, k)
			}
		}
	}

	// Spread: every group holds keys, in proportion to its slots (each
	// counted at its leader).
	l := waitBalanced(t, c, c.groups/len(c.nodes), 15*time.Second)
	total := 0
	for g, i := range l {
		gs, err := c.groupsOf(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("group %s (slots %v) holds %d keys", g, gs[g].Slots, gs[g].Keys)
		if gs[g].Keys < n/c.groups/2 {
			t.Fatalf("group %s holds %d keys, expected about %d", g, gs[g].Keys, n/c.groups)
		}
		total += gs[g].Keys
	}
	if total < n {
		t.Fatalf("the groups hold %d keys, fewer than the %d written", total, n)
	}

	// CLUSTER KEYSLOT agrees with shard.Slot for 1000 random keys.
	cl := c.nodes[rng.IntN(len(c.nodes))].admin
	var probe []string
	for range 1000 {
		b := make([]byte, 1+rng.IntN(24))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		if rng.IntN(4) == 0 {
			b = append(append([]byte("pre{"), b...), "}post"...)
		}
		probe = append(probe, string(b))
	}
	cmds, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range probe {
			p.ClusterKeySlot(ctx, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		if got := cmd.(*redis.IntCmd).Val(); int(got) != slotOf(probe[i]) {
			t.Fatalf("CLUSTER KEYSLOT %q = %d, shard.Slot says %d", probe[i], got, slotOf(probe[i]))
		}
	}
}

// benchWithTransfer is item 2's second half: redis-benchmark --cluster
// runs SET and GET to the end while a group's leadership is transferred
// in the middle; the only non-success replies it may see are MOVED.
func benchWithTransfer(t *testing.T, c *Cluster, gs map[string]groupState) {
	bench := tool(t, "redis-benchmark")
	l := waitBalanced(t, c, 1, 15*time.Second) // every node a master with slots, as redis-benchmark needs
	host, port, _ := strings.Cut(c.nodes[0].RESP, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bench, "--cluster", "-h", host, "-p", port,
		"-t", "set,get", "-n", "10000", "-c", "24", "-r", "10000", "-q")
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout = writerFunc(func(b []byte) { mu.Lock(); out.Write(b); mu.Unlock() })
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// Once the benchmark is writing, move g1's leadership to another node
	// with the admin CLI.
	from := l["g1"]
	base := appliedOf(t, c, from, "g1")
	if err := eventually(30*time.Second, 20*time.Millisecond, func() error {
		if a := appliedOf(t, c, from, "g1"); a < base+200 {
			return fmt.Errorf("g1 applied %d, waiting for %d", a, base+200)
		}
		return nil
	}); err != nil {
		t.Fatalf("the benchmark does not write: %v", err)
	}
	to := c.nodes[(from+1)%3]
	tout, err := run(t, 20*time.Second, redraftBin, "cluster", "transfer", "--addr", c.nodes[2].GRPC, "--group", "g1", "--to", to.ID)
	if err != nil {
		t.Fatalf("cluster transfer: %v\n%s", err, tout)
	}
	t.Logf("mid-benchmark: %s", strings.TrimSpace(tout))
	select {
	case err := <-done:
		t.Fatalf("redis-benchmark ended (%v) before the transfer was done: not a transfer in the middle; raise -n", err)
	default:
	}

	select {
	case err := <-done:
		mu.Lock()
		text := out.String()
		mu.Unlock()
		t.Logf("redis-benchmark output:\n%s", text)
		if err != nil {
			t.Fatalf("redis-benchmark failed: %v", err)
		}
		for _, want := range []string{"SET:", "GET:"} {
			if !strings.Contains(text, want) {
				t.Fatalf("redis-benchmark did not finish %s", want)
			}
		}
		// redis-benchmark follows MOVED silently (re-reading CLUSTER
		// SLOTS); any other error reply it prints, or exits on.
		for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' }) {
			for _, bad := range []string{"rror", "CLUSTERDOWN", "TRYAGAIN", "could not find", "Invalid cluster"} {
				if strings.Contains(line, bad) {
					t.Fatalf("redis-benchmark reported %q", line)
				}
			}
		}
	case <-ctx.Done():
		t.Fatal("redis-benchmark did not finish within 2 minutes")
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

// appliedOf reads the applied index of group g on node i.
func appliedOf(t *testing.T, c *Cluster, i int, g string) uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	info, err := c.nodes[i].admin.Info(ctx, "replication").Result()
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "group_"+g+":"); ok {
			for _, kv := range strings.Split(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "applied_index="); ok {
					var a uint64
					fmt.Sscan(v, &a)
					return a
				}
			}
		}
	}
	return 0
}

// failoverAndRebalance is item 4's second half: kill -9 a node; the groups
// it led elect new leaders within 2 s and clients follow; restarted, it
// gets its share of leaders back. Then CLUSTER INFO: fail while no group
// has a quorum, ok once they are back.
func failoverAndRebalance(t *testing.T, c *Cluster, gs map[string]groupState) {
	leaders := waitBalanced(t, c, 1, 15*time.Second)
	victim := leaders["g2"]
	cc := c.clusterClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys := map[string]string{}
	for _, g := range []string{"g1", "g2", "g3"} {
		keys[g] = keyFor(t, "fo:"+g+":", gs[g].Slots)
		if err := cc.Set(ctx, keys[g], "before", 0).Err(); err != nil {
			t.Fatalf("SET before the kill: %v", err)
		}
	}
	t.Logf("killing %s, leader of g2, with SIGKILL", c.nodes[victim].ID)
	killed := time.Now()
	c.kill9(victim)
	var elected time.Duration
	if err := eventually(10*time.Second, 10*time.Millisecond, func() error {
		l, err := c.leaders()
		if err != nil {
			return err
		}
		if i, ok := l["g2"]; !ok || i == victim {
			return fmt.Errorf("g2 has no new leader yet")
		}
		elected = time.Since(killed)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("g2 elected a new leader %v after the kill", elected.Round(time.Millisecond))
	checkFailoverTimes(t, []time.Duration{elected.Round(time.Millisecond)})
	// Clients follow: the cluster client writes and reads every group.
	for g, k := range keys {
		if err := eventually(10*time.Second, 20*time.Millisecond, func() error {
			return cc.Set(ctx, k, "after", 0).Err()
		}); err != nil {
			t.Fatalf("SET to %s after the kill: %v", g, err)
		}
		if v, err := cc.Get(ctx, k).Result(); err != nil || v != "after" {
			t.Fatalf("GET from %s after the kill = %q %v", g, v, err)
		}
	}
	// Restarted, it catches up and leadership is spread again.
	c.restart(victim)
	start := time.Now()
	waitBalanced(t, c, 1, 20*time.Second)
	t.Logf("leaders rebalanced %v after %s restarted", time.Since(start).Round(time.Millisecond), c.nodes[victim].ID)
	for g, k := range keys {
		if v, err := cc.Get(ctx, k).Result(); err != nil || v != "after" {
			t.Fatalf("GET from %s after the restart = %q %v", g, v, err)
		}
	}

	// With two of three nodes gone no group has a leader: the survivor
	// says cluster_state:fail and lists no slots; back, all is ok again.
	survivor := (victim + 1) % 3
	others := []int{victim, (victim + 2) % 3}
	for _, i := range others {
		c.kill9(i)
	}
	adm := c.nodes[survivor].admin
	if err := eventually(15*time.Second, 50*time.Millisecond, func() error {
		info, err := adm.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:fail") {
			return fmt.Errorf("CLUSTER INFO on the survivor: %q %v", info, err)
		}
		if slots, err := adm.ClusterSlots(ctx).Result(); err != nil || len(slots) != 0 {
			return fmt.Errorf("CLUSTER SLOTS on the survivor lists %d ranges (%v)", len(slots), err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, i := range others {
		c.restart(i)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		t.Fatalf("after restarting both: %v", err)
	}
	for g, k := range keys {
		if v, err := cc.Get(ctx, k).Result(); err != nil || v != "after" {
			t.Fatalf("GET from %s after the full recovery = %q %v", g, v, err)
		}
	}
}

// TestSixGroups is item 1 with six groups on three nodes: two leaders per
// node, 10,000 keys over all six groups.
func TestSixGroups(t *testing.T) {
	rng := newRand(t)
	c := startCluster(t, 3, 6, nil)
	waitBalanced(t, c, 2, 20*time.Second)
	checkKeys(t, c, rng, 10000)
}

// statusRow is one member row of `redraft cluster status`.
type statusRow struct {
	group, leader, member, role string
	applied                     uint64
}

// parseStatusTable reads the member rows of `redraft cluster status`: a
// group's first row has GROUP SLOTS LEADER TERM MEMBER ROLE APPLIED LAG,
// the next ones MEMBER ROLE APPLIED LAG.
func parseStatusTable(out string) ([]statusRow, error) {
	var rows []statusRow
	var cur statusRow
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		var member []string
		switch {
		case len(f) == 8 && strings.HasPrefix(f[0], "g"):
			cur = statusRow{group: f[0], leader: f[2]}
			member = f[4:]
		case len(f) == 4 && cur.group != "":
			member = f
		default:
			continue
		}
		r := cur
		r.member, r.role = strings.TrimSuffix(member[0], "*"), member[1]
		if _, err := fmt.Sscan(member[2], &r.applied); err != nil {
			return nil, fmt.Errorf("status row %q: applied index %q", line, member[2])
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// checkStatusTable returns nil when the status shows groups groups of
// three members each: one leader, named in the LEADER column, and two
// followers, all with a non-zero applied index.
func checkStatusTable(out string, groups int) error {
	rows, err := parseStatusTable(out)
	if err != nil {
		return err
	}
	byGroup := map[string][]statusRow{}
	for _, r := range rows {
		byGroup[r.group] = append(byGroup[r.group], r)
	}
	if len(byGroup) != groups {
		return fmt.Errorf("status shows %d groups, want %d:\n%s", len(byGroup), groups, out)
	}
	for g, rs := range byGroup {
		roles := map[string]int{}
		for _, r := range rs {
			roles[r.role]++
			if r.role == "leader" && r.member != r.leader {
				return fmt.Errorf("group %s: member %s is leader, LEADER column says %s", g, r.member, r.leader)
			}
			if r.applied == 0 {
				return fmt.Errorf("group %s: member %s has applied nothing", g, r.member)
			}
		}
		if len(rs) != 3 || roles["leader"] != 1 || roles["follower"] != 2 {
			return fmt.Errorf("group %s: roles %v, want 1 leader and 2 followers", g, roles)
		}
	}
	return nil
}

// TestFailoverDefaultTimings is item 4's "within 2 s" with the server's
// default raft timings (the other tests run faster ones): three rounds,
// each killing (-9) the leader of another group and timing, from the kill,
// until a surviving node says it leads that group; the killed node is then
// restarted and leadership rebalanced before the next round. Every round's
// time is logged; see failoverBound for what is asserted.
func TestFailoverDefaultTimings(t *testing.T) {
	defaults := []string{"--heartbeat-timeout", "0", "--election-timeout", "0"}
	c := startCluster(t, 3, 3, func(int) []string { return defaults })
	var times []time.Duration
	for _, g := range []string{"g1", "g2", "g3"} {
		leaders := waitBalanced(t, c, 1, 30*time.Second)
		victim := leaders[g]
		killed := time.Now()
		c.kill9(victim)
		var elected time.Duration
		if err := eventually(15*time.Second, 10*time.Millisecond, func() error {
			l, _ := c.leaders()
			if i, ok := l[g]; !ok || i == victim {
				return fmt.Errorf("%s has no new leader yet", g)
			}
			elected = time.Since(killed)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: leader %s killed, new leader after %v", g, c.nodes[victim].ID, elected.Round(time.Millisecond))
		times = append(times, elected.Round(time.Millisecond))
		c.restart(victim)
	}
	checkFailoverTimes(t, times)
}

// failoverBound is what a failover time is asserted against. The target is
// 2 s, and that is what elections take here (about 1 to 1.7 s with the
// default 500 ms timings, under 1.1 s with the tests' 400 ms), but raft
// gives no such bound: a follower notices a dead leader one to three
// heartbeat timeouts after its last heartbeat (hashicorp/raft's follower
// timer runs every 1-2 timeouts and fires once the last contact is a
// timeout old), and a survivor whose pre-vote comes while the other still
// counts the dead node as leader is refused and retries an election timeout
// later. So a single round fails only past twice the target, and the 2 s
// is asserted on the median of three or more rounds (one slow round in
// three is tolerated; two are a regression). The times are logged.
const failoverBound = 4 * time.Second

// checkFailoverTimes logs failover times against the 2 s target, fails on
// any past failoverBound and, given three or more, on a median past 2 s.
func checkFailoverTimes(t *testing.T, times []time.Duration) {
	t.Helper()
	within := 0
	for _, d := range times {
		if d <= 2*time.Second {
			within++
		}
	}
	t.Logf("failover times %v: %d of %d within 2s", times, within, len(times))
	for i, d := range times {
		if d > failoverBound {
			t.Errorf("round %d: a group had no leader for %v after its leader was killed (bound %v, target 2s)", i+1, d, failoverBound)
		}
	}
	if len(times) >= 3 {
		sorted := slices.Sorted(slices.Values(times))
		if med := sorted[len(sorted)/2]; med > 2*time.Second {
			t.Errorf("median failover time %v, want at most 2s (rounds: %v)", med, times)
		}
	}
}
