package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	snapThreshold = 64
	trailingLogs  = 16
)

// TestWipedFollowerRejoinsBySnapshot: a follower whose data directory is
// wiped rejoins with the same flags and ends equal to the others. The
// leader's log has been compacted by then, so the only way back is a
// snapshot install, which shows up as a snapshot in the follower's
// snapshots/ directory.
func TestWipedFollowerRejoinsBySnapshot(t *testing.T) {
	rng := newRand(t)
	args := append(append([]string(nil), fastRaft...),
		"--snapshot-threshold", fmt.Sprint(snapThreshold),
		"--trailing-logs", fmt.Sprint(trailingLogs),
		"--snapshot-interval", "200ms")
	c := StartCluster(t, Options{Args: args})
	leader := c.Leader()
	lc := c.Node(leader).Client()

	// One SET at a time, so each is its own log entry (pipelined or
	// concurrent writes are batched into fewer entries).
	first := genKVs(rng, "snap", 6*snapThreshold)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range first {
		if err := lc.Set(ctx, p.key, p.val, 0).Err(); err != nil {
			t.Fatalf("SET %s on leader %s: %v", p.key, c.Node(leader).ID, err)
		}
	}

	// The leader has taken a snapshot far enough in that its log no longer
	// starts at index 1.
	var leaderSnap snapMeta
	if err := eventually(20*time.Second, 50*time.Millisecond, func() error {
		snaps, err := snapshots(c.Node(leader).Dir)
		if err != nil {
			return err
		}
		if len(snaps) == 0 || snaps[len(snaps)-1].Index < 4*snapThreshold {
			return fmt.Errorf("leader snapshots so far: %v", snaps)
		}
		leaderSnap = snaps[len(snaps)-1]
		return nil
	}); err != nil {
		t.Fatalf("leader %s took no snapshot: %v", c.Node(leader).ID, err)
	}
	t.Logf("leader %s has a snapshot at index %d (term %d)", c.Node(leader).ID, leaderSnap.Index, leaderSnap.Term)

	f := (leader + 1) % 3
	fn := c.Node(f)
	c.Stop(f)
	c.WipeData(f)
	t.Logf("stopped follower %s and wiped %s", fn.ID, fn.Dir)

	// Writes while it is away: it needs the snapshot and the log after it.
	second := genKVs(rng, "away", 2*snapThreshold)
	for _, p := range second {
		if err := lc.Set(ctx, p.key, p.val, 0).Err(); err != nil {
			t.Fatalf("SET %s on leader %s: %v", p.key, c.Node(leader).ID, err)
		}
	}

	c.Restart(f)
	all := append(append([]kv(nil), first...), second...)
	c.WaitReplicasEqual(t, keysOf(all), all, 30*time.Second)

	snaps, err := snapshots(fn.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) == 0 {
		t.Fatalf("%s caught up but %s holds no snapshot; expected an installed one", fn.ID, snapDir(fn.Dir))
	}
	t.Logf("%s holds snapshots %v after rejoining", fn.ID, snaps)
	// Its first snapshot is one the leader holds (same index and term): it
	// was received, not taken from a log replayed from the start.
	lsnaps, err := snapshots(c.Node(leader).Dir)
	if err != nil {
		t.Fatal(err)
	}
	installed := false
	for _, ls := range lsnaps {
		installed = installed || (ls.Index == snaps[0].Index && ls.Term == snaps[0].Term)
	}
	if !installed {
		t.Errorf("%s's oldest snapshot %v (term %d) is none of the leader's %v; expected the leader's snapshot to be installed", fn.ID, snaps[0], snaps[0].Term, lsnaps)
	}
	if snaps[0].Index < leaderSnap.Index {
		t.Errorf("%s's oldest snapshot is at index %d, before the leader's snapshot at %d taken before the wipe", fn.ID, snaps[0].Index, leaderSnap.Index)
	}
	if strings.Contains(fn.runLog(), "snapshot restored") {
		t.Logf("%s's log reports the restore", fn.ID)
	}

	// And it keeps up afterwards, through the log.
	third := genKVs(rng, "after", 20)
	setAll(t, c.ClusterClient(), third, 4, 30*time.Second)
	all = append(all, third...)
	c.WaitReplicasEqual(t, keysOf(all), all, 30*time.Second)
}

// snapMeta is the part of a raft file snapshot's meta.json the test reads.
type snapMeta struct {
	ID    string
	Index uint64
	Term  uint64
}

func (m snapMeta) String() string { return fmt.Sprintf("%s@%d", m.ID, m.Index) }

func snapDir(dataDir string) string {
	return filepath.Join(dataDir, "groups", groupID, "snapshots")
}

// snapshots lists the complete snapshots in a node's data directory for the
// group, oldest first (by index). A missing directory is no snapshots.
func snapshots(dataDir string) ([]snapMeta, error) {
	dir := snapDir(dataDir)
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snapMeta
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if os.IsNotExist(err) {
			continue // being written or removed
		}
		if err != nil {
			return nil, err
		}
		var m snapMeta
		if err := json.Unmarshal(b, &m); err != nil {
			// Caught mid-write or mid-removal; the next poll sees it whole.
			continue
		}
		out = append(out, m)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Index < out[j-1].Index; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}
