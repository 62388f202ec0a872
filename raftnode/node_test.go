package raftnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func TestTwoGroupsShareOneMux(t *testing.T) {
	c := newCluster(t, 3, []string{"g1", "g2"}, nil)
	for _, g := range c.groups {
		li := c.leader(g)
		r := mustPropose(t, c.nodes[li].nodes[g], set("k-"+g, "v-"+g))
		if r[0].Str != "OK" {
			t.Fatalf("%s: SET replied %v", g, r[0])
		}
		c.converge(g, li)
		st := c.nodes[li].nodes[g].Status()
		if st.State != Leader || st.Term == 0 || len(st.Members) != 3 || st.LeaderID != c.nodes[li].id {
			t.Fatalf("%s: leader status %+v", g, st)
		}
		for _, m := range st.Members {
			if !m.Voter {
				t.Fatalf("%s: member %+v is not a voter", g, m)
			}
		}
	}
	// The groups are independent state machines.
	for _, n := range c.nodes {
		if got := get(n.machines["g1"], "k-g2"); got.Kind != fsm.KindNil {
			t.Fatalf("%s: g1 holds g2's key: %v", n.id, got)
		}
		if got := get(n.machines["g2"], "k-g2"); string(got.Bulk) != "v-g2" {
			t.Fatalf("%s: g2 k-g2 = %v", n.id, got)
		}
	}
}

func TestProposeOnFollowerAndLeader(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	leader := c.nodes[li]
	fi := (li + 1) % 3
	follower := c.nodes[fi].nodes["g"]

	eventually(t, 5*time.Second, "follower knows the leader", func() error {
		if id, _ := follower.Leader(); id != leader.id {
			return fmt.Errorf("follower's leader %q", id)
		}
		return nil
	})
	_, err := follower.Propose(context.Background(), []*pb.Command{set("a", "1")})
	var nle *NotLeaderError
	if !errors.As(err, &nle) || !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on follower: %v, want *NotLeaderError", err)
	}
	if nle.LeaderID != leader.id || nle.LeaderAddr != leader.addr {
		t.Fatalf("NotLeaderError names %s at %s, want %s at %s", nle.LeaderID, nle.LeaderAddr, leader.id, leader.addr)
	}

	r := mustPropose(t, leader.nodes["g"], set("a", "1"), set("b", "2"), cmd("DEL", "a", "b", "c"), cmd("DEL", "a"))
	want := []string{"OK", "OK", "(integer) 2", "(integer) 0"}
	for i := range want {
		if r[i].String() != want[i] {
			t.Fatalf("reply %d = %v, want %s", i, r[i], want[i])
		}
	}
	mustPropose(t, leader.nodes["g"], set("c", "3"))
	c.converge("g", li)
	if n := c.nodes[fi].machines["g"].Len(); n != 1 {
		t.Fatalf("follower has %d keys, want 1", n)
	}

	// Zero commands is a no-op; a cancelled context submits nothing.
	if r, err := leader.nodes["g"].Propose(context.Background(), nil); r != nil || err != nil {
		t.Fatalf("empty propose: %v %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := leader.nodes["g"].Propose(ctx, []*pb.Command{set("x", "y")}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnknownOutcome) {
		t.Fatalf("propose with a cancelled context: %v", err)
	}
}

// TestProposeBatching checks group commit: concurrent proposers share log
// entries, every caller gets its own replies, and MaxBatch caps an entry.
func TestProposeBatching(t *testing.T) {
	rng := testRand(t)
	c := newCluster(t, 3, []string{"big", "one"}, func(cfg *Config) {
		if cfg.GroupID == "one" {
			cfg.MaxBatch = 1
		}
	})
	for _, g := range c.groups {
		workers, perWorker := 32, 30
		if g == "one" { // one fsync'd entry per command: keep it short
			workers, perWorker = 8, 10
		}
		li := c.leader(g)
		node := c.nodes[li].nodes[g]
		shapes := make([][]int, workers) // SETs per proposal, drawn up front
		for w := range shapes {
			for range perWorker {
				shapes[w] = append(shapes[w], 1+rng.IntN(3))
			}
		}
		before := node.Status().LastLogIndex
		var wg sync.WaitGroup
		var cmds atomic.Int64
		errc := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j, a := range shapes[w] {
					// a SETs, a DEL of those a keys, a DEL of the first again:
					// replies OK×a, a, 0 tell misrouted slices apart.
					var batch []*pb.Command
					del := []string{"DEL"}
					for k := range a {
						key := fmt.Sprintf("%s-%d-%d-%d", g, w, j, k)
						batch = append(batch, set(key, "v"))
						del = append(del, key)
					}
					batch = append(batch, cmd(del...), cmd("DEL", del[1]))
					if g == "one" {
						batch = batch[:1] // MaxBatch 1: single-command proposals
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					r, err := node.Propose(ctx, batch)
					cancel()
					if err != nil {
						errc <- err
						return
					}
					cmds.Add(int64(len(batch)))
					if g == "one" {
						continue
					}
					for k := range a {
						if r[k].Str != "OK" {
							errc <- fmt.Errorf("worker %d proposal %d reply %d = %v", w, j, k, r[k])
							return
						}
					}
					if r[a].Kind != fsm.KindInt || r[a].Int != int64(a) || r[a+1].Kind != fsm.KindInt || r[a+1].Int != 0 {
						errc <- fmt.Errorf("worker %d proposal %d: DEL replies %v %v, want %d 0", w, j, r[a], r[a+1], a)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		entries := node.Status().LastLogIndex - before
		t.Logf("group %s: %d commands in %d log entries (%.1f per entry)", g, cmds.Load(), entries, float64(cmds.Load())/float64(entries))
		switch g {
		case "big":
			if entries*4 > uint64(cmds.Load()) {
				t.Errorf("group %s: %d entries for %d commands: batching is not working", g, entries, cmds.Load())
			}
		case "one":
			if entries < uint64(cmds.Load()) {
				t.Errorf("group %s: %d entries for %d commands with MaxBatch 1", g, entries, cmds.Load())
			}
		}
		c.converge(g, li)
	}
}

func TestReadIndex(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]
	ctx := context.Background()

	for i := range 20 {
		v := fmt.Sprint(i)
		mustPropose(t, leader, set("x", v))
		if err := leader.ReadIndex(ctx); err != nil {
			t.Fatalf("ReadIndex: %v", err)
		}
		if got := get(leader.Machine(), "x"); string(got.Bulk) != v {
			t.Fatalf("after write %s: GET x = %v", v, got)
		}
	}

	follower := c.nodes[(li+1)%3].nodes["g"]
	if err := follower.ReadIndex(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("ReadIndex on a follower: %v", err)
	}

	// Concurrent readers share leadership checks.
	const readers = 64
	before := leader.verify.rounds.Load()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errc <- leader.ReadIndex(ctx)
		}()
	}
	close(start)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("concurrent ReadIndex: %v", err)
		}
	}
	rounds := leader.verify.rounds.Load() - before
	t.Logf("%d concurrent ReadIndex calls used %d leadership rounds", readers, rounds)
	if rounds >= readers/2 {
		t.Errorf("%d rounds for %d concurrent reads: not coalesced", rounds, readers)
	}
}

// TestPartitionedLeader checks that a leader cut off from its followers
// neither serves reads nor acknowledges writes once a new leader exists,
// and rejoins as a follower after the partition heals.
func TestPartitionedLeader(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	oi := c.leader("g")
	old := c.nodes[oi]
	mustPropose(t, old.nodes["g"], set("k", "before"))

	var others []string
	for i, n := range c.nodes {
		if i != oi {
			others = append(others, n.addr)
		}
	}
	old.mux.Partition(others...)

	// A write submitted now cannot commit: its outcome is unknown.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := old.nodes["g"].Propose(ctx, []*pb.Command{set("k", "lost?")})
	cancel()
	if !errors.Is(err, ErrUnknownOutcome) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on the partitioned leader: %v, want ErrUnknownOutcome or ErrNotLeader", err)
	}

	ni := c.leader("g", oi)
	mustPropose(t, c.nodes[ni].nodes["g"], set("k", "after"))

	// The old leader must not answer a read: it would be stale.
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Second)
	err = old.nodes["g"].ReadIndex(ctx)
	cancel()
	if err == nil {
		t.Fatalf("partitioned old leader served a read (k=%v)", get(old.machines["g"], "k"))
	}
	t.Logf("ReadIndex on the partitioned old leader: %v", err)
	eventually(t, 5*time.Second, "old leader steps down", func() error {
		if old.nodes["g"].IsLeader() {
			return errors.New("still leader")
		}
		return nil
	})

	old.mux.Heal()
	eventually(t, 10*time.Second, "old leader follows the new one", func() error {
		err := old.nodes["g"].ReadIndex(context.Background())
		var nle *NotLeaderError
		if !errors.As(err, &nle) || nle.LeaderID != c.nodes[ni].id {
			return fmt.Errorf("ReadIndex: %v", err)
		}
		return nil
	})
	c.converge("g", c.leader("g"))
	if got := get(old.machines["g"], "k"); string(got.Bulk) != "after" {
		t.Fatalf("old leader has k=%v after healing", got)
	}
}

func TestFailover(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]

	const keys = 200
	var wg sync.WaitGroup
	errc := make(chan error, keys)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := leader.Propose(context.Background(), []*pb.Command{set(fmt.Sprint("key", i), fmt.Sprint(i))})
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("propose: %v", err)
		}
	}

	start := time.Now()
	c.stop(li)
	var elected time.Duration
	eventually(t, 5*time.Second, "new leader elected", func() error {
		for i, n := range c.nodes {
			if i != li && n.running() && n.nodes["g"].IsLeader() {
				elected = time.Since(start)
				return nil
			}
		}
		return errors.New("no leader")
	})
	ni := c.leader("g", li)
	t.Logf("new leader %s elected %v after the old one stopped, ready after %v",
		c.nodes[ni].id, elected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if elected > 2500*time.Millisecond {
		t.Errorf("failover took %v", elected)
	}
	m := c.nodes[ni].machines["g"]
	for i := range keys {
		if got := get(m, fmt.Sprint("key", i)); string(got.Bulk) != fmt.Sprint(i) {
			t.Fatalf("acknowledged key%d = %v on the new leader", i, got)
		}
	}

	// The old leader comes back from its directory and catches up.
	mustPropose(t, c.nodes[ni].nodes["g"], set("while-down", "1"))
	c.start(li)
	c.converge("g", ni)
}

func TestRestartResumes(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	for i := range 50 {
		mustPropose(t, c.nodes[li].nodes["g"], set(fmt.Sprint("k", i), "v"))
	}
	c.converge("g", li)
	digest := c.nodes[li].machines["g"].Digest()
	lastIndex := c.nodes[li].nodes["g"].Status().LastLogIndex

	for i := range c.nodes {
		c.stop(i)
	}
	for i := range c.nodes {
		c.start(i)
	}
	li = c.leader("g")
	st := c.nodes[li].nodes["g"].Status()
	if st.LastLogIndex < lastIndex {
		t.Fatalf("after restart the log ends at %d, before it ended at %d", st.LastLogIndex, lastIndex)
	}
	if got := c.nodes[li].machines["g"].Digest(); got != digest {
		t.Fatalf("digest after restart %x, before %x", got, digest)
	}
	c.converge("g", li)
	if n := c.nodes[li].machines["g"].Len(); n != 50 {
		t.Fatalf("%d keys after restart, want 50", n)
	}
}

// TestWipedFollowerInstallsSnapshot wipes a follower's directory while the
// leader compacts its log; the follower bootstraps again and catches up
// through a snapshot install.
func TestWipedFollowerInstallsSnapshot(t *testing.T) {
	rng := testRand(t)
	c := newCluster(t, 3, []string{"g"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 64
		cfg.TrailingLogs = 16
		cfg.SnapshotInterval = 50 * time.Millisecond
	})
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]
	write := func(n int) {
		for range n {
			k := fmt.Sprint("k", rng.IntN(500))
			mustPropose(t, leader, set(k, fmt.Sprint(rng.Uint64())))
		}
	}
	write(60)
	fi := (li + 1) % 3
	c.converge("g", li)
	c.stop(fi)
	if err := os.RemoveAll(c.nodes[fi].dir); err != nil {
		t.Fatal(err)
	}
	write(100)
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	first, err := leader.store.FirstIndex()
	if err != nil || first <= 2 {
		t.Fatalf("leader's log starts at %d (%v): not compacted", first, err)
	}

	c.start(fi)
	c.converge("g", li)
	follower := c.nodes[fi].nodes["g"]
	if follower.sm.restores.Load() == 0 {
		t.Fatal("the wiped follower caught up without installing a snapshot")
	}
	snaps, _ := filepath.Glob(filepath.Join(c.nodes[fi].dir, "groups", "g", "snapshots", "*"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot stored in the wiped follower's directory")
	}
	// It keeps replicating after the install.
	write(20)
	c.converge("g", li)
}

func TestTransferLeadership(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	old := c.nodes[li].nodes["g"]
	ti := (li + 1) % 3
	target := c.nodes[ti].nodes["g"]

	// Drain the leadership notifications so far.
	select {
	case <-old.LeaderCh():
	default:
	}

	if err := target.TransferLeadership(context.Background(), c.nodes[li].id); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v", err)
	}
	if err := old.TransferLeadership(context.Background(), "nobody"); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("transfer to a stranger: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.TransferLeadership(ctx, c.nodes[ti].id); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if got := c.leader("g"); got != ti {
		t.Fatalf("leader after transfer is %s, want %s", c.nodes[got].id, c.nodes[ti].id)
	}
	select {
	case v := <-old.LeaderCh():
		if v {
			t.Fatal("old leader's LeaderCh says true")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old leader's LeaderCh said nothing")
	}
	select {
	case v := <-target.LeaderCh():
		if !v {
			t.Fatal("new leader's LeaderCh says false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("new leader's LeaderCh said nothing")
	}
	mustPropose(t, target, set("after-transfer", "1"))
	c.converge("g", ti)
}

func TestMembershipAndClose(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]
	mustPropose(t, leader, set("a", "1"))

	// A fourth node opens the group empty and is added by the leader.
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	mux := NewMux(ln, c.logger)
	defer mux.Close()
	m := fsm.NewMachine()
	cfg := Config{NodeID: "n4", GroupID: "g", Dir: filepath.Join(t.TempDir(), "g"), Logger: c.logger}
	n4, err := Open(cfg, mux, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := leader.AddVoter(ctx, Peer{ID: "n4", Addr: mux.Addr()}); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	eventually(t, 10*time.Second, "n4 catches up", func() error {
		if got := get(m, "a"); string(got.Bulk) != "1" {
			return fmt.Errorf("n4: a = %v", got)
		}
		return nil
	})
	if st := leader.Status(); len(st.Members) != 4 {
		t.Fatalf("members after AddVoter: %+v", st.Members)
	}
	if err := leader.RemoveMember(ctx, "n4"); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if st := leader.Status(); len(st.Members) != 3 {
		t.Fatalf("members after RemoveMember: %+v", st.Members)
	}

	// After Close every call fails with ErrShutdown; Close is idempotent.
	if err := n4.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := n4.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := n4.Propose(ctx, []*pb.Command{set("x", "y")}); !errors.Is(err, ErrShutdown) {
		t.Fatalf("propose after close: %v", err)
	}
	if err := n4.ReadIndex(ctx); !errors.Is(err, ErrShutdown) {
		t.Fatalf("ReadIndex after close: %v", err)
	}
	if st := n4.Status(); st.State != Shutdown {
		t.Fatalf("state after close: %v", st.State)
	}
	// The group can be opened again on the same Mux and directory.
	n4, err = Open(cfg, mux, fsm.NewMachine())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	n4.Close()
}

// TestCloseInterruptsProposals closes the leader while proposals are in
// flight: each gets an answer, and none is a success that is not applied.
func TestCloseInterruptsProposals(t *testing.T) {
	c := newCluster(t, 3, []string{"g"}, nil)
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]
	var wg sync.WaitGroup
	var ok, unknown, other atomic.Int64
	stop := make(chan struct{})
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := leader.Propose(context.Background(), []*pb.Command{set(fmt.Sprint(w, "-", j), "v")})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrUnknownOutcome):
					unknown.Add(1)
				case errors.Is(err, ErrShutdown), errors.Is(err, ErrNotLeader):
					other.Add(1)
					return
				default:
					t.Errorf("propose: unexpected error %v", err)
					return
				}
			}
		}()
	}
	eventually(t, 5*time.Second, "some writes acknowledged", func() error {
		if ok.Load() < 100 {
			return errors.New("not yet")
		}
		return nil
	})
	c.stop(li)
	close(stop)
	wg.Wait() // would hang if a proposal were left unanswered
	t.Logf("ok=%d unknown=%d shutdown/not-leader=%d", ok.Load(), unknown.Load(), other.Load())
}

func TestSnapshotHeader(t *testing.T) {
	h := encodeSnapHeader(1234, 7)
	i, term, err := decodeSnapHeader(h)
	if err != nil || i != 1234 || term != 7 {
		t.Fatalf("round trip: %d %d %v", i, term, err)
	}
	for _, tc := range []struct {
		name string
		mut  func([]byte)
		want string
	}{
		{"magic", func(b []byte) { b[0] = 'X' }, "bad magic"},
		{"index bit flip", func(b []byte) { b[10] ^= 1 }, "checksum"},
		{"checksum", func(b []byte) { b[27] ^= 1 }, "checksum"},
	} {
		b := append([]byte(nil), h...)
		tc.mut(b)
		if _, _, err := decodeSnapHeader(b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}

	// A corrupt snapshot leaves the state machine as it was.
	m := fsm.NewMachine()
	sm := &stateMachine{m: m, logger: testLogger(t, 0)}
	m.ApplyEntry(mustMarshal(t, set("a", "1")))
	sm.advance(5, 1)
	bad := append([]byte(nil), h...)
	bad[3] = '!'
	if err := sm.Restore(nopCloser{strings.NewReader(string(bad))}); err == nil {
		t.Fatal("restore of a corrupt snapshot succeeded")
	}
	if got := get(m, "a"); string(got.Bulk) != "1" {
		t.Fatalf("state after a failed restore: a = %v", got)
	}
	if idx, _ := sm.appliedIndex(); idx != 5 {
		t.Fatalf("applied index after a failed restore: %d", idx)
	}
}

func TestWaitApplied(t *testing.T) {
	sm := &stateMachine{m: fsm.NewMachine(), logger: testLogger(t, 0)}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- sm.waitApplied(context.Background(), 3, stop) }()
	sm.advance(1, 1)
	sm.advance(2, 1)
	select {
	case err := <-done:
		t.Fatalf("returned before index 3: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	sm.advance(3, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := sm.waitApplied(ctx, 9, stop); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past the deadline: %v", err)
	}
	close(stop)
	if err := sm.waitApplied(context.Background(), 9, stop); !errors.Is(err, ErrShutdown) {
		t.Fatalf("wait after stop: %v", err)
	}
}
