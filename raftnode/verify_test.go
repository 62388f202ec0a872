package raftnode

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// writeBolt creates a raft.db holding log entries first..last.
func writeBolt(t *testing.T, dir string, first, last uint64) string {
	t.Helper()
	path := filepath.Join(dir, "raft.db")
	bs, err := raftboltdb.NewBoltStore(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := first; i <= last; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte(strings.Repeat("x", 200))})
	}
	if err := bs.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyBolt(t *testing.T) {
	t.Run("intact", func(t *testing.T) {
		path := writeBolt(t, t.TempDir(), 1, 500)
		if err := verifyBolt(path, 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		path := writeBolt(t, t.TempDir(), 1, 500)
		st, _ := os.Stat(path)
		// Cut below the high-water mark: find the smallest size that fails.
		if err := os.Truncate(path, 8192); err != nil {
			t.Fatal(err)
		}
		err := verifyBolt(path, 0)
		if !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("%d -> 8192 bytes: err = %v, want a truncation naming %s", st.Size(), err, path)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "raft.db")
		if err := os.WriteFile(path, []byte(strings.Repeat("garbage!", 2000)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := verifyBolt(path, 0); !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrCorruptData naming %s", err, path)
		}
	})
	t.Run("gap after the snapshot", func(t *testing.T) {
		path := writeBolt(t, t.TempDir(), 100, 200)
		if err := verifyBolt(path, 99); err != nil {
			t.Fatalf("log 100-200 after a snapshot at 99: %v", err)
		}
		if err := verifyBolt(path, 50); !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), "51 to 99") {
			t.Fatalf("log 100-200 after a snapshot at 50: err = %v, want entries 51 to 99 missing", err)
		}
	})
	t.Run("hole", func(t *testing.T) {
		dir := t.TempDir()
		path := writeBolt(t, dir, 1, 100)
		bs, err := raftboltdb.NewBoltStore(path)
		if err != nil {
			t.Fatal(err)
		}
		// DeleteRange removes 40..60 from the middle.
		if err := bs.DeleteRange(40, 60); err != nil {
			t.Fatal(err)
		}
		bs.Close()
		if err := verifyBolt(path, 0); !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), "from index 39 to 61") {
			t.Fatalf("err = %v, want a jump from 39 to 61", err)
		}
		// Below a snapshot a hole is what a follower has after installing
		// one: raft needs only the entries after it.
		if err := verifyBolt(path, 70); err != nil {
			t.Fatalf("hole 40-60 below a snapshot at 70: %v", err)
		}
	})
}

// writeSnapshot writes a snapshot through the file snapshot store, as raft
// does, with the header Persist writes.
func writeSnapshot(t *testing.T, dir string, index, term uint64, body string) string {
	t.Helper()
	store, err := raft.NewFileSnapshotStore(dir, 10, io.Discard) // keeps all: tests delete by hand
	if err != nil {
		t.Fatal(err)
	}
	sink, err := store.Create(raft.SnapshotVersionMax, index, term, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(append(encodeSnapHeader(index, term), body...)); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "snapshots", sink.ID())
}

func TestVerifySnapshots(t *testing.T) {
	dir := t.TempDir()
	snap := writeSnapshot(t, dir, 42, 3, strings.Repeat("state", 100))
	newest, err := verifySnapshots(filepath.Join(dir, "snapshots"))
	if err != nil || newest != 42 {
		t.Fatalf("intact: newest %d, err %v", newest, err)
	}

	state := filepath.Join(snap, "state.bin")
	b, _ := os.ReadFile(state)
	b[len(b)/2] ^= 1
	os.WriteFile(state, b, 0o644)
	if _, err := verifySnapshots(filepath.Join(dir, "snapshots")); !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), state) {
		t.Fatalf("flipped bit: err = %v, want ErrCorruptData naming %s", err, state)
	}
	b[len(b)/2] ^= 1
	os.WriteFile(state, b, 0o644)

	meta := filepath.Join(snap, "meta.json")
	mb, _ := os.ReadFile(meta)
	os.WriteFile(meta, mb[:len(mb)-5], 0o644)
	if _, err := verifySnapshots(filepath.Join(dir, "snapshots")); !errors.Is(err, ErrCorruptData) || !strings.Contains(err.Error(), meta) {
		t.Fatalf("cut meta.json: err = %v, want ErrCorruptData naming %s", err, meta)
	}
	os.WriteFile(meta, mb, 0o644)

	// A snapshot being written when the node stopped is not checked.
	tmp := filepath.Join(dir, "snapshots", "9-99-1.tmp")
	os.MkdirAll(tmp, 0o755)
	os.WriteFile(filepath.Join(tmp, "state.bin"), []byte("partial"), 0o644)
	if _, err := verifySnapshots(filepath.Join(dir, "snapshots")); err != nil {
		t.Fatalf("with a .tmp directory: %v", err)
	}

	// An old snapshot half deleted by a crash while the store reaped it,
	// behind two valid newer ones, is ignored; the same damage to one of
	// the two newest is not.
	writeSnapshot(t, dir, 50, 3, "newer")
	writeSnapshot(t, dir, 60, 3, "newest")
	os.Remove(filepath.Join(snap, "meta.json"))
	if newest, err := verifySnapshots(filepath.Join(dir, "snapshots")); err != nil || newest != 60 {
		t.Fatalf("half-deleted oldest snapshot: newest %d, err %v", newest, err)
	}
	dir2 := t.TempDir()
	s1 := writeSnapshot(t, dir2, 10, 1, "older")
	writeSnapshot(t, dir2, 20, 1, "newer")
	os.Remove(filepath.Join(s1, "meta.json"))
	if _, err := verifySnapshots(filepath.Join(dir2, "snapshots")); !errors.Is(err, ErrCorruptData) {
		t.Fatalf("one of the two newest snapshots without meta.json: err = %v", err)
	}
}
