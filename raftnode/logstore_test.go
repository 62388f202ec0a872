package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode/wal"
)

// Tests of the node-wide WAL as the log store. The other cluster tests run
// with it too under RAFTNODE_LOG_STORE=wal.

// TestWALSharedByGroups: the groups of a node share its WAL (no raft.db),
// their appends share syncs, and a restart of every node resumes them.
func TestWALSharedByGroups(t *testing.T) {
	groups := []string{"g1", "g2", "g3"}
	c := newClusterStore(t, 3, groups, nil, slog.LevelInfo, LogStoreWAL)
	for _, g := range groups {
		li := c.leader(g)
		for i := range 20 {
			mustPropose(t, c.nodes[li].nodes[g], set(fmt.Sprint("k", i), g))
		}
		c.converge(g, li)
	}
	for _, n := range c.nodes {
		if got := n.wal.Groups(); strings.Join(got, ",") != "g1,g2,g3" {
			t.Fatalf("%s: WAL holds groups %v", n.id, got)
		}
		for _, g := range groups {
			if _, err := os.Stat(filepath.Join(n.dir, "groups", g, "raft.db")); !os.IsNotExist(err) {
				t.Fatalf("%s/%s: raft.db exists with the WAL (%v)", n.id, g, err)
			}
		}
		st := n.wal.Stats()
		t.Logf("%s: %+v", n.id, st)
	}
	digests := map[string]uint64{}
	for _, g := range groups {
		digests[g] = c.nodes[0].machines[g].Digest()
	}
	for i := range c.nodes {
		c.stop(i)
	}
	for i := range c.nodes {
		c.start(i)
	}
	for _, g := range groups {
		li := c.leader(g)
		c.converge(g, li)
		if got := c.nodes[li].machines[g].Digest(); got != digests[g] {
			t.Fatalf("%s: digest after restart %x, before %x", g, got, digests[g])
		}
	}
}

// TestWALGroupDirWiped: wiping a follower's group directory, but not the
// node's WAL, makes the replica start over (its WAL state is dropped, not
// mixed with an empty directory) and catch up through a snapshot install.
func TestWALGroupDirWiped(t *testing.T) {
	c := newClusterStore(t, 3, []string{"g"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 64
		cfg.TrailingLogs = 16
		cfg.SnapshotInterval = 50 * time.Millisecond
	}, slog.LevelInfo, LogStoreWAL)
	li := c.leader("g")
	leader := c.nodes[li].nodes["g"]
	for i := range 60 {
		mustPropose(t, leader, set(fmt.Sprint("k", i%40), fmt.Sprint(i)))
	}
	fi := (li + 1) % 3
	c.converge("g", li)
	c.stop(fi)
	if err := os.RemoveAll(filepath.Join(c.nodes[fi].dir, "groups", "g")); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		mustPropose(t, leader, set(fmt.Sprint("k", i%40), fmt.Sprint(i)))
	}
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	c.start(fi)
	c.converge("g", li)
	if c.nodes[fi].nodes["g"].sm.restores.Load() == 0 {
		t.Fatal("the wiped follower caught up without installing a snapshot")
	}
	mustPropose(t, leader, set("after", "1"))
	c.converge("g", li)
}

// TestWALCollectsSegments: with snapshots compacting the log, the WAL's
// old segments are removed while writes go on.
func TestWALCollectsSegments(t *testing.T) {
	c := newClusterStore(t, 3, []string{"g1", "g2"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 100
		cfg.TrailingLogs = 50
		cfg.SnapshotInterval = 50 * time.Millisecond
	}, slog.LevelInfo, LogStoreWAL)
	val := strings.Repeat("v", 2000)
	for _, g := range c.groups {
		li := c.leader(g)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := range 125 {
					mustPropose(t, c.nodes[li].nodes[g], set(fmt.Sprint("k", w, "-", i%5), val))
				}
			})
		}
		wg.Wait()
		c.converge(g, li)
	}
	// 2 groups × 2000 commands × 2 KB is 8 MB per node, 30 segments of
	// 256 KiB. Each group keeps at most 150 entries; the collector keeps
	// the log within about four times the live entries plus the active
	// segment.
	for _, n := range c.nodes {
		eventually(t, 10*time.Second, n.id+"'s WAL collected", func() error {
			st := n.wal.Stats()
			live := 0
			for _, g := range c.groups {
				first, _ := n.nodes[g].store.FirstIndex()
				last, _ := n.nodes[g].store.LastIndex()
				for i := first; i <= last && last > 0; i++ {
					var l raft.Log
					if err := n.nodes[g].store.GetLog(i, &l); err == nil {
						live += len(l.Data)
					}
				}
			}
			if bound := 4*live/testWALSegment + 2; st.Segments > bound || st.Removed < 10 {
				return fmt.Errorf("%d segments (bound %d for %d live bytes), %d removed (%+v)", st.Segments, bound, live, st.Removed, st)
			}
			return nil
		})
	}
	// A restart from what is left works.
	c.stop(0)
	c.start(0)
	for _, g := range c.groups {
		c.converge(g, c.leader(g))
	}
}

// TestLogStoreSwitchRefused: an existing group cannot change its log store
// (its log would be silently left behind), and the config is validated.
func TestLogStoreSwitchRefused(t *testing.T) {
	logger := testLogger(t, slog.LevelInfo)
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	mux := NewMux(ln, logger)
	defer mux.Close()
	w, err := wal.Open(filepath.Join(t.TempDir(), "wal"), wal.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	open := func(dir, store string, wl *wal.WAL) error {
		cfg := Config{NodeID: "n1", GroupID: "g", Dir: dir, Logger: logger, LogStore: store, WAL: wl,
			Peers: []Peer{{ID: "n1", Addr: mux.Addr()}}}
		n, err := Open(cfg, mux, fsm.NewMachine())
		if err == nil {
			n.Close()
		}
		return err
	}
	boltDir, walDir := filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "w")
	if err := open(boltDir, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := open(walDir, LogStoreWAL, w); err != nil {
		t.Fatal(err)
	}
	if err := open(boltDir, LogStoreWAL, w); err == nil || !strings.Contains(err.Error(), "raft.db") {
		t.Fatalf("bolt group opened with the WAL: %v", err)
	}
	if err := open(walDir, LogStoreBolt, nil); err == nil || !strings.Contains(err.Error(), "WAL") {
		t.Fatalf("WAL group opened with bolt: %v", err)
	}
	// A group directory with snapshots and a WAL that knows nothing of the
	// group: the WAL was lost.
	other, err := wal.Open(filepath.Join(t.TempDir(), "other"), wal.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	{
		cfg := Config{NodeID: "n1", GroupID: "g", Dir: walDir, Logger: logger, LogStore: LogStoreWAL, WAL: w,
			Peers: []Peer{{ID: "n1", Addr: mux.Addr()}}}
		n, err := Open(cfg, mux, fsm.NewMachine())
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "single-node leader", func() error {
			if !n.IsLeader() {
				return errors.New("not leader")
			}
			return nil
		})
		mustPropose(t, n, set("a", "1"))
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
		n.Close()
	}
	if err := open(walDir, LogStoreWAL, other); err == nil || !strings.Contains(err.Error(), "holds nothing") {
		t.Fatalf("group opened with a WAL that lost it: %v", err)
	}
	for _, c := range []struct {
		store string
		wal   *wal.WAL
		want  string
	}{
		{LogStoreWAL, nil, "Config.WAL"},
		{LogStoreBolt, w, "Config.WAL"},
		{"rocks", nil, "Config.LogStore"},
	} {
		if err := open(t.TempDir(), c.store, c.wal); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("LogStore %q with WAL %v: %v, want an error naming %s", c.store, c.wal != nil, err, c.want)
		}
	}
}
