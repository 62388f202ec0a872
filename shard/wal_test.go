package shard_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/raftnode/wal"
	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

// TestHostWAL: with Raft.LogStore "wal" the Host keeps every group's log in
// one WAL under Dir/wal (no raft.db anywhere), closes it with the groups
// (a reopen replays it and finds the slot map again), and DropLog
// reaches the WAL.
func TestHostWAL(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	rc := shardtest.Raft
	rc.LogStore = raftnode.LogStoreWAL
	cfg := shard.Config{
		Self:           shard.NodeInfo{ID: "n1", RESPAddr: "127.0.0.1:1", GRPCAddr: "127.0.0.1:2", PeerAddr: addr},
		Dir:            filepath.Join(dir, "n1"),
		InitialCluster: []raftnode.Peer{{ID: "n1", Addr: addr}},
		Groups:         3,
		Raft:           rc,
		PollInterval:   50 * time.Millisecond,
		Logger:         shardtest.Logger(),
	}
	h, err := shard.Open(cfg, ln)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Map() == nil || len(h.Groups()) != 3 {
		if time.Now().After(deadline) {
			h.Close()
			t.Fatalf("no map with 3 local groups after 10s (map %v)", h.Map())
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if err := h.DropLog(h.Groups()[0].ID()); !errors.Is(err, wal.ErrInUse) {
		t.Errorf("DropLog of an open group: %v, want ErrInUse", err)
	}
	epoch := h.Map().Epoch
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}

	segs, _ := filepath.Glob(filepath.Join(cfg.Dir, "wal", "*.seg"))
	if len(segs) == 0 {
		t.Fatalf("no WAL segments in %s", filepath.Join(cfg.Dir, "wal"))
	}
	dbs, _ := filepath.Glob(filepath.Join(cfg.Dir, "groups", "*", "raft.db"))
	if len(dbs) > 0 {
		t.Fatalf("raft.db files with LogStore wal: %v", dbs)
	}
	for _, id := range []string{shard.MetaGroupID, "g1", "g2", "g3"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, "groups", id, "wal-log")); err != nil {
			t.Errorf("group %s: %v", id, err)
		}
	}
	// The WAL was closed: a second Open of the directory replays it.
	w, err := wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Options{Logger: shardtest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Groups(); len(got) != 4 {
		t.Errorf("the WAL holds groups %v, want the metadata group and 3 data groups", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("peer port taken meanwhile: %v", err)
	}
	h, err = shard.Open(cfg, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	deadline = time.Now().Add(10 * time.Second)
	for m := h.Map(); m == nil || m.Epoch < epoch || len(h.Groups()) != 3; m = h.Map() {
		if time.Now().After(deadline) {
			t.Fatalf("after a restart on the WAL: map %v, %d groups", m, len(h.Groups()))
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}
