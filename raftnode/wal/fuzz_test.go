package wal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzRecover feeds arbitrary bytes to recovery as the only segment of a
// WAL, the way a damaged disk would:
//
//	go test -run '^$' -fuzz '^FuzzRecover$' -fuzztime 10s ./raftnode/wal/
//
// Open must return an error or a WAL, never panic; a WAL it opens must
// answer for every entry it claims to hold (the entry or an error), and
// close.
func FuzzRecover(f *testing.F) {
	// Seeds: a real segment with two groups' entries, stable values and a
	// range deletion, and cuts of it.
	dir := f.TempDir()
	w, err := Open(dir, Options{SegmentSize: minSegmentSize, Logger: quiet()})
	if err != nil {
		f.Fatal(err)
	}
	for _, gid := range []string{"g1", "meta"} {
		s, err := w.Group(gid)
		if err != nil {
			f.Fatal(err)
		}
		if err := s.StoreLogs(entries(gid, 1, 12, 2, 40)); err != nil {
			f.Fatal(err)
		}
		if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
			f.Fatal(err)
		}
		if err := s.DeleteRange(1, 3); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	seg, err := os.ReadFile(filepath.Join(dir, segName(1)))
	if err != nil {
		f.Fatal(err)
	}
	end := len(seg)
	for end > headerSize && seg[end-1] == 0 {
		end--
	}
	f.Add(seg[:end])
	f.Add(seg[:end/2])
	f.Add(seg[:headerSize])
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<20 {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segName(1)), in, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Open(dir, Options{SegmentSize: minSegmentSize, Logger: quiet()})
		if err != nil {
			return
		}
		defer w.Close()
		for _, gid := range w.Groups() {
			s, err := w.Group(gid)
			if err != nil {
				continue
			}
			first, err1 := s.FirstIndex()
			last, err2 := s.LastIndex()
			if err1 != nil || err2 != nil || last < first {
				continue
			}
			for i := first; i <= last && i < first+64; i++ {
				var l raft.Log
				_ = s.GetLog(i, &l)
			}
		}
	})
}
