package sharding

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// staleFollower: a SET sent to a node that does not lead the key's group
// is answered with MOVED to the leader and applied nowhere.
func staleFollower(t *testing.T, c *Cluster, gs map[string]groupState) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := waitBalanced(t, c, 1, 15*time.Second)
	k := keyFor(t, "stale:", gs["g1"].Slots)
	for i, nd := range c.nodes {
		if i == l["g1"] || nd.extra != nil { // the leader, or a --proxy node
			continue
		}
		err := nd.admin.Set(ctx, k, "stale", 0).Err()
		want := fmt.Sprintf("MOVED %d %s", slotOf(k), c.nodes[l["g1"]].RESP)
		if err == nil || err.Error() != want {
			t.Fatalf("SET on %s, not the leader of g1: %v, want %q", nd.ID, err, want)
		}
	}
	if v, err := c.clusterClient().Get(ctx, k).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the refused SET was applied: GET = %q %v", v, err)
	}
}

// staleFormerLeader: a group's leadership moves away with `redraft cluster
// transfer`; a client that still sends to the former leader gets MOVED to
// another node, and its SET is applied nowhere. (The balancer may hand the
// group back within a second; a round where the former leader leads again
// before the SET arrives is repeated.)
func staleFormerLeader(t *testing.T, c *Cluster, gs map[string]groupState) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := 1; ; round++ {
		l := waitBalanced(t, c, 1, 15*time.Second)
		g := directGroup(t, c, l)
		from := l[g]
		to := c.nodes[(from+1)%len(c.nodes)]
		k := keyFor(t, fmt.Sprintf("former%d:", round), gs[g].Slots)
		out, err := run(t, 20*time.Second, redraftBin, "cluster", "transfer", "--addr", c.nodes[from].GRPC, "--group", g, "--to", to.ID)
		if err != nil {
			t.Fatalf("cluster transfer: %v\n%s", err, out)
		}
		err = c.nodes[from].admin.Set(ctx, k, "stale", 0).Err()
		if err == nil {
			// Only right if the group came back meanwhile.
			if st, gerr := c.groupsOf(ctx, from); gerr != nil || st[g].Role != "leader" || round == 3 {
				t.Fatalf("SET on %s, which handed %s to %s, succeeded (round %d; %s there now: %+v %v)", c.nodes[from].ID, g, to.ID, round, g, st[g], gerr)
			}
			t.Logf("round %d: %s was back on %s before the SET; again", round, g, c.nodes[from].ID)
			continue
		}
		movedTo, ok := strings.CutPrefix(err.Error(), fmt.Sprintf("MOVED %d ", slotOf(k)))
		if !ok || movedTo == c.nodes[from].RESP {
			t.Fatalf("SET on the former leader %s of %s = %v, want MOVED %d to another node", c.nodes[from].ID, g, err, slotOf(k))
		}
		t.Logf("SET on the former leader %s: %v (%s handed to %s at %s)", c.nodes[from].ID, err, g, to.ID, to.RESP)
		if v, err := c.clusterClient().Get(ctx, k).Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("the refused SET was applied: GET = %q %v", v, err)
		}
		return
	}
}

// staleDeposedLeader: the leader of a group is stopped (SIGSTOP), the
// other two elect a new leader, and a SET for the group is written to the old leader's
// socket while it is still stopped. Resumed, it believes for a moment that
// it still leads: the SET must be refused (MOVED, or an error saying the
// outcome is unknown; never OK), and it must never be applied on any
// replica, since the old leader cannot commit in its stale term.
func staleDeposedLeader(t *testing.T, c *Cluster, gs map[string]groupState) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l := waitBalanced(t, c, 1, 15*time.Second)
	g := directGroup(t, c, l)
	old := c.nodes[l[g]]
	k := keyFor(t, "deposed:", gs[g].Slots)
	conn, err := net.DialTimeout("tcp", old.RESP, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rd := bufio.NewReader(conn)

	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			old.cmd.Process.Signal(syscall.SIGCONT)
			resumed = true
		}
	}
	defer resume()
	var newLeader *Node
	if err := eventually(15*time.Second, 20*time.Millisecond, func() error {
		for _, nd := range c.nodes {
			if nd == old {
				continue
			}
			st, err := c.groupsOf(ctx, nd.Index)
			if err == nil && st[g].Role == "leader" {
				newLeader = nd
				return nil
			}
		}
		return fmt.Errorf("%s has no new leader", g)
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: its leader %s stopped, %s elected after %v", g, old.ID, newLeader.ID, time.Since(stopped).Round(time.Millisecond))
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$5\r\nstale\r\n", len(k), k); err != nil {
		t.Fatal(err)
	}
	resume()
	reply, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the reply of the resumed %s: %v", old.ID, err)
	}
	reply = strings.TrimSpace(reply)
	t.Logf("SET on the deposed leader %s, resumed: %q", old.ID, reply)
	refused := false
	for _, p := range []string{"-MOVED ", "-TIMEOUT ", "-TRYAGAIN ", "-CLUSTERDOWN "} {
		refused = refused || strings.HasPrefix(reply, p)
	}
	if !refused {
		t.Fatalf("SET on the deposed leader %s = %q, want a redirect or a refusal", old.ID, reply)
	}

	// Nowhere applied: not by the group's leader, nor, once caught up with
	// it, by any replica (READONLY reads the local state).
	if v, err := c.clusterClient().Get(ctx, k).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the refused SET was applied: GET = %q %v", v, err)
	}
	var target uint64
	if err := eventually(15*time.Second, 20*time.Millisecond, func() error {
		lead, err := c.leaders()
		if err != nil {
			return err
		}
		i, ok := lead[g]
		if !ok {
			return fmt.Errorf("%s has no leader", g)
		}
		target = appliedOf(t, c, i, g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, nd := range c.nodes {
		ro := redis.NewClient(&redis.Options{
			Addr: nd.RESP, Protocol: 2, MaxRetries: -1, DisableIdentity: true, PoolSize: 1,
			OnConnect: func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() },
		})
		err := eventually(15*time.Second, 20*time.Millisecond, func() error {
			if a := appliedOf(t, c, nd.Index, g); a < target {
				return fmt.Errorf("%s applied %d of %s, the leader had %d", nd.ID, a, g, target)
			}
			return nil
		})
		if err == nil {
			if v, gerr := ro.Get(ctx, k).Result(); !errors.Is(gerr, redis.Nil) {
				err = fmt.Errorf("%s's replica of %s holds the refused SET: %q %v", nd.ID, g, v, gerr)
			}
		}
		ro.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// directGroup returns the first group (g1, g2, ...) led by a node without
// --proxy: a proxy would rightly run a command for a group it no longer
// leads at the new leader, where a stale route must be refused.
func directGroup(t *testing.T, c *Cluster, leaders map[string]int) string {
	t.Helper()
	for i := 1; i <= c.groups; i++ {
		g := fmt.Sprintf("g%d", i)
		if n, ok := leaders[g]; ok && c.nodes[n].extra == nil {
			return g
		}
	}
	t.Fatalf("no group led by a node without --proxy: %v", leaders)
	return ""
}
