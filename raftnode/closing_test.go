package raftnode

import (
	"path/filepath"
	"testing"
	"time"

	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// TestClosingStoreParksLateWrites: a term recorded after Close neither
// fails (raft would panic) nor reaches the closed store; before Close,
// writes go through.
func TestClosingStoreParksLateWrites(t *testing.T) {
	bs, err := raftboltdb.NewBoltStore(filepath.Join(t.TempDir(), "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := &closingStore{groupStore: bs}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 3 {
		t.Fatalf("GetUint64 = %d, %v; want 3", v, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	returned := make(chan error, 2)
	go func() { returned <- s.SetUint64([]byte("CurrentTerm"), 4) }()
	go func() { returned <- s.Set([]byte("LastVoteCand"), []byte("n2")) }()
	select {
	case err := <-returned:
		t.Fatalf("a write after Close returned (%v); raft panics on a failed term write", err)
	case <-time.After(100 * time.Millisecond):
		// Parked, as it should be. (Absence of a return cannot be
		// observed in finite time; 100 ms is ample for a return.)
	}
}
