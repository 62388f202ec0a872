package robustness

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// TestMembershipMove moves replicas while clients run: four nodes, three
// groups of three replicas, so every group has one node without a
// replica. A replica of one group (its member chosen by the seed) moves to
// that node with `redraft cluster move`, then the group's current leader
// gives its replica back to the node that gave one up first (the leader
// hands over before it leaves). Meanwhile four clients record a history of
// GET/SET/INCR and write-once keys. A third move takes the replica of a
// member that is down (kill -9); restarted, that node deletes its leftover
// replica. It fails if a move does not happen
// (the members in every node's status, the nodes that report a replica,
// the removed node's directory), if a key's history is not linearizable,
// or if an acknowledged write was lost.
func TestMembershipMove(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) % 1_000_000_000
	}
	t.Logf("seed %d (repeat with: go test ./tests/robustness -run TestMembershipMove -v -args -robust.seed %d)", seed, seed)
	nw, err := openNetwork("loopback", 4)
	if err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append(slices.Clone(serverArgs), "--replicas", "3")
	c, err := StartCluster(ctx, redraftBin, filepath.Join(scratch, "data"), nw, ClusterConfig{Nodes: 4, Groups: 3, Args: args}, t.Logf)
	if c != nil {
		t.Cleanup(c.KillAll)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes() {
				t.Logf("--- %s (last lines)\n%s", n.ID, n.LogTail(40))
			}
		}
	})
	addrs := make([]string, c.N())
	byID := map[string]*Node{}
	for i, n := range c.Nodes() {
		addrs[i] = n.RESPAddr
		byID[n.ID] = n
	}

	hist := newHistory()
	wl := newWorkload(WorkloadConfig{
		Workers:      4,
		Think:        5 * time.Millisecond,
		GenPeriod:    5 * time.Second,
		RegisterKeys: 6,
		OpBudget:     4 * time.Second,
	}, addrs, hist, seed)
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); wl.Run(loadCtx) }()
	sleepCtx(ctx, 2*time.Second) // load before the first move

	st, err := clusterStatus(ctx, c.Nodes()[0].GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	g := st.GetGroups()[seed%uint64(len(st.GetGroups()))]
	members := memberIDs(g)
	if len(members) != 3 {
		t.Fatalf("group %s has members %v, want 3 of the 4 nodes", g.GetId(), members)
	}
	var outside string
	for _, n := range c.Nodes() {
		if !slices.Contains(members, n.ID) {
			outside = n.ID
		}
	}
	from1 := members[(seed/3)%3]
	var moveWindows [][2]int64

	// move moves the replica and waits until every node's map and the
	// nodes hosting a replica say so and from's directory of the group is
	// gone (with from down: until it is restarted).
	move := func(from, to string) []string {
		t.Helper()
		want := slices.DeleteFunc(slices.Clone(members), func(id string) bool { return id == from })
		want = append(want, to)
		start := hist.Now()
		// Any running node's address: the command follows the redirect
		// to the metadata group's leader.
		var addr string
		for k := range c.N() {
			if n := c.Nodes()[(int(seed)+k)%c.N()]; n.Up() {
				addr = n.GRPCAddr
				break
			}
		}
		out, err := exec.CommandContext(ctx, redraftBin, "cluster", "move", "--addr", addr,
			"--group", g.GetId(), "--from", from, "--to", to, "--timeout", "40s").CombinedOutput()
		if err != nil {
			t.Fatalf("cluster move %s %s->%s: %v\n%s", g.GetId(), from, to, err, out)
		}
		t.Logf("cluster move: %s", out)
		err = poll(ctx, 30*time.Second, 50*time.Millisecond, func() error {
			for _, n := range c.Nodes() {
				if !n.Up() {
					continue
				}
				st, err := clusterStatus(ctx, n.GRPCAddr)
				if err != nil {
					return err
				}
				for _, sg := range st.GetGroups() {
					if sg.GetId() == g.GetId() && !sameSet(memberIDs(sg), want) {
						return fmt.Errorf("%s: members of %s are %v, want %v", n.ID, g.GetId(), memberIDs(sg), want)
					}
				}
			}
			// The nodes that host a replica, by their own report.
			v := c.View()
			var hosts []string
			for _, i := range v.Members(g.GetId()) {
				hosts = append(hosts, c.Nodes()[i].ID)
			}
			if !sameSet(hosts, want) {
				return fmt.Errorf("replicas of %s reported by %v, want %v", g.GetId(), hosts, want)
			}
			if !byID[from].Up() {
				return nil
			}
			return groupDirGone(byID[from], g.GetId())
		})
		if err != nil {
			t.Fatalf("move %s %s->%s: %v", g.GetId(), from, to, err)
		}
		if !byID[from].Up() {
			// Removed while down: the restarted node opens its leftover
			// replica and deletes it once it sees the removal committed.
			if err := c.Restart(ctx, byID[from].Index); err != nil {
				t.Fatal(err)
			}
			if err := poll(ctx, 30*time.Second, 50*time.Millisecond, func() error { return groupDirGone(byID[from], g.GetId()) }); err != nil {
				t.Fatalf("%s after its restart: %v", from, err)
			}
		}
		moveWindows = append(moveWindows, [2]int64{start, hist.Now()})
		t.Logf("moved %s from %s to %s in %v: members %v", g.GetId(), from, to, time.Duration(hist.Now()-start).Round(time.Millisecond), want)
		return want
	}

	members = move(from1, outside)
	sleepCtx(ctx, 2*time.Second)
	// The second move takes the replica of the group's current leader.
	var from2 string
	if err := poll(ctx, 10*time.Second, 50*time.Millisecond, func() error {
		l := c.View().Leader(g.GetId())
		if l < 0 {
			return fmt.Errorf("group %s has no leader", g.GetId())
		}
		from2 = c.Nodes()[l].ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	members = move(from2, from1)
	sleepCtx(ctx, 2*time.Second)
	// The third move takes the replica of a node that is down (killed);
	// the group's other two members and the new one are a majority.
	var from3, to3 string
	for _, n := range c.Nodes() {
		if !slices.Contains(members, n.ID) {
			to3 = n.ID
		}
	}
	from3 = members[(seed/9)%3]
	if err := c.Kill(byID[from3].Index); err != nil {
		t.Fatal(err)
	}
	members = move(from3, to3)
	sleepCtx(ctx, time.Second)

	// A move that is not possible is refused and changes nothing.
	out, err := exec.CommandContext(ctx, redraftBin, "cluster", "move", "--addr", c.Nodes()[0].GRPCAddr,
		"--group", g.GetId(), "--from", members[0], "--to", members[1]).CombinedOutput()
	if err == nil {
		t.Fatalf("moving %s to a member was not refused: %s", g.GetId(), out)
	}
	t.Logf("refused as it should be: %s", out)

	stopLoad()
	wg.Wait()
	if err := c.WaitHealthy(ctx, 30*time.Second); err != nil {
		t.Fatalf("cluster not healthy after the moves: %v", err)
	}
	if err := wl.FinalReads(ctx, hist.Close()); err != nil {
		t.Fatal(err)
	}
	ops := hist.Close()
	audit, err := wl.Audit(ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	var faults []FaultEvent
	for i, w := range moveWindows {
		faults = append(faults, FaultEvent{Kind: "move", Detail: fmt.Sprintf("move %d of %s", i+1, g.GetId()), Start: w[0], End: w[1]})
	}
	res := checkHistory(ops, faults, 2, 30*time.Second, filepath.Join(outDir(), fmt.Sprintf("membership-seed-%d", seed)))
	during := 0
	for _, op := range ops {
		for _, w := range moveWindows {
			if !op.Unknown && op.Call >= w[0] && op.Return <= w[1] {
				during++
			}
		}
	}
	wl.mu.Lock()
	counts, anomalies := fmtCounts(wl.counts), slices.Clone(wl.anomalies)
	wl.mu.Unlock()
	t.Logf("%d operations on %d keys checked (%d unknown outcome, %d completed while a move ran): %d keys not linearizable, %d undecided; audit: %d acknowledged writes read back, %d lost, %d bogus; client operations: %s",
		res.Ops, res.Keys, res.Unknown, during, len(res.Illegal), len(res.TimedOut), audit.Audited, len(audit.Lost), len(audit.Bogus), counts)
	for _, k := range res.Illegal {
		t.Errorf("NOT LINEARIZABLE: key %s (visualisations: %v)", k, res.Artifacts)
	}
	for _, l := range audit.Lost {
		t.Errorf("LOST: %s", l)
	}
	for _, l := range audit.Bogus {
		t.Errorf("BOGUS: %s", l)
	}
	for _, a := range anomalies {
		t.Errorf("ANOMALY: %s", a)
	}
	if len(res.TimedOut) > 0 {
		t.Errorf("the checker gave up on %v", res.TimedOut)
	}
	if res.Ops < 200 || audit.Audited < 50 || during == 0 {
		t.Errorf("too little load to show anything: %d operations, %d audited writes, %d during the moves", res.Ops, audit.Audited, during)
	}
}

// groupDirGone reports (as an error) whether node n still has a directory
// for group id.
func groupDirGone(n *Node, id string) error {
	dir := filepath.Join(n.Dir, "groups", id)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s still exists (%v)", dir, err)
	}
	return nil
}

func clusterStatus(ctx context.Context, addr string) (*pb.StatusResponse, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return pb.NewClusterClient(conn).Status(ctx, &pb.StatusRequest{})
}

func memberIDs(g *pb.GroupStatus) []string {
	var ids []string
	for _, m := range g.GetMembers() {
		ids = append(ids, m.GetId())
	}
	return ids
}

func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
