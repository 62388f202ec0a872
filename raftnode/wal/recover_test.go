package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// crashFixture writes a log whose last StoreLogs call is a 3-entry batch
// and returns the directory, the state before that call, the segment and
// the range of bytes the call wrote.
func crashFixture(t *testing.T, dataSize int) (dir, before, seg string, from, to int64) {
	dir = t.TempDir()
	w := openWAL(t, dir, Options{NoPreallocate: true})
	s := mustGroup(t, w, "g")
	other := mustGroup(t, w, "h")
	for i := uint64(1); i <= 10; i += 2 {
		if err := s.StoreLogs(entries("g", i, i+1, 1, 40)); err != nil {
			t.Fatal(err)
		}
		if err := other.StoreLogs(entries("h", i, i, 1, 40)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 5); err != nil {
		t.Fatal(err)
	}
	before = dump(t, s, "CurrentTerm")
	segs := segments(t, dir)
	seg = segs[len(segs)-1]
	fi, _ := os.Stat(seg)
	from = fi.Size()
	if err := s.StoreLogs(entries("g", 11, 13, 2, dataSize)); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(seg)
	to = fi.Size()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, before, seg, from, to
}

// TestTornTailEveryOffset simulates a crash during the last StoreLogs
// call: with the file cut at every byte of what the call wrote, and with
// the file's size kept and every sector from some sector of the call on
// unwritten (zero; a disk writes a sector whole or not at all). Either way
// the call is gone entirely, the rest is intact, a line is logged, and the
// log takes writes again.
func TestTornTailEveryOffset(t *testing.T) {
	for _, mode := range []string{"truncated", "zeroed"} {
		size := 30
		if mode == "zeroed" {
			size = 700 // the call spans several sectors
		}
		dir, before, seg, from, to := crashFixture(t, size)
		data, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		for cut := from; cut < to; cut++ {
			if mode == "zeroed" && cut != from && cut%sectorSize != 0 {
				continue
			}
			t.Run(fmt.Sprintf("%s-%d", mode, cut), func(t *testing.T) {
				d := filepath.Join(t.TempDir(), "wal")
				copyDir(t, dir, d)
				torn := append([]byte(nil), data[:cut]...)
				if mode == "zeroed" {
					torn = append(torn, make([]byte, len(data)-int(cut)+1000)...)
				}
				if err := os.WriteFile(filepath.Join(d, filepath.Base(seg)), torn, 0o644); err != nil {
					t.Fatal(err)
				}
				var sink logSink
				w := openWAL(t, d, Options{NoPreallocate: true, Logger: sink.logger()})
				s := mustGroup(t, w, "g")
				if got := dump(t, s, "CurrentTerm"); got != before {
					t.Fatalf("state after the crash:\n%s\nwant:\n%s", got, before)
				}
				tornBytes := cut > from && (mode == "truncated" || !allZero(data[from:cut]))
				if logged := sink.has("torn tail"); logged != tornBytes {
					t.Fatalf("torn tail logged: %v, want %v", logged, tornBytes)
				}
				// Writing again, and reading it all back after a reopen.
				if err := s.StoreLogs(entries("g", 11, 12, 3, 30)); err != nil {
					t.Fatal(err)
				}
				after := dump(t, s, "CurrentTerm")
				w.Close()
				w = openWAL(t, d, Options{NoPreallocate: true})
				if got := dump(t, mustGroup(t, w, "g"), "CurrentTerm"); got != after {
					t.Fatalf("after a write and a reopen:\n%s\nwant:\n%s", got, after)
				}
			})
		}
		// Nothing cut: the call is there.
		w := openWAL(t, dir, Options{NoPreallocate: true})
		var l raft.Log
		if err := mustGroup(t, w, "g").GetLog(13, &l); err != nil || l.Term != 2 {
			t.Fatalf("entry 13 of the intact log: %v", err)
		}
	}
}

// TestTornSector: the last record is complete in length but one of its
// sectors never reached the disk (zero): a torn write, dropped.
func TestTornSector(t *testing.T) {
	dir, before, seg, from, to := crashFixture(t, 2000)
	data, _ := os.ReadFile(seg)
	// Zero a whole sector inside the last record (the last third).
	start := (from + 2*(to-from)/3 + sectorSize - 1) / sectorSize * sectorSize
	if start+sectorSize > to {
		t.Fatalf("fixture too small: %d..%d", from, to)
	}
	clear(data[start : start+sectorSize])
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var sink logSink
	w := openWAL(t, dir, Options{NoPreallocate: true, Logger: sink.logger()})
	if got := dump(t, mustGroup(t, w, "g"), "CurrentTerm"); got != before {
		t.Fatalf("state:\n%s\nwant:\n%s", got, before)
	}
	if !sink.has("torn tail") {
		t.Fatal("no log line about the torn tail")
	}
}

// TestCorruptionIsReported: damage that is not a torn tail fails Open with
// an error naming the file and the offset of the damaged record.
func TestCorruptionIsReported(t *testing.T) {
	dir, _, seg, from, to := crashFixture(t, 30)
	recordAt := func(off int64) string { return fmt.Sprintf("%s at offset %d", seg, off) }

	cases := []struct {
		name string
		// damage breaks the copy in d and returns what the error must say.
		damage func(t *testing.T, d string) string
	}{
		{"middle record of the last segment", func(t *testing.T, d string) string {
			p := filepath.Join(d, filepath.Base(seg))
			flipByte(t, p, headerSize+20)
			return recordAt(headerSize)
		}},
		{"last record, a flipped bit is not a tear", func(t *testing.T, d string) string {
			p := filepath.Join(d, filepath.Base(seg))
			starts := frameStarts(t, p, from)
			flipByte(t, p, to-3)
			return recordAt(starts[len(starts)-1])
		}},
		{"segment header", func(t *testing.T, d string) string {
			flipByte(t, filepath.Join(d, filepath.Base(seg)), 3)
			return recordAt(0)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "wal")
			copyDir(t, dir, d)
			want := strings.ReplaceAll(c.damage(t, d), dir, d)
			_, err := Open(d, Options{NoPreallocate: true, Logger: quiet()})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Open: %v\nwant ErrCorrupt naming %q", err, want)
			}
		})
	}
}

// TestCorruptOlderSegment: only the last segment may end torn; an older
// one cut short, or missing, is corruption.
func TestCorruptOlderSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: minSegmentSize, NoPreallocate: true})
	s := mustGroup(t, w, "g")
	for i := uint64(1); i <= 100; i++ {
		if err := s.StoreLogs(entries("g", i, i, 1, 2000)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(segs))
	}

	d := filepath.Join(t.TempDir(), "cut")
	copyDir(t, dir, d)
	p := filepath.Join(d, filepath.Base(segs[0]))
	fi, _ := os.Stat(p)
	if err := os.Truncate(p, fi.Size()-10); err != nil {
		t.Fatal(err)
	}
	_, err := Open(d, Options{NoPreallocate: true, Logger: quiet()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Open with a cut older segment: %v, want ErrCorrupt naming %s", err, p)
	}

	// Cut at a record boundary: without its seal.
	d = filepath.Join(t.TempDir(), "unsealed")
	copyDir(t, dir, d)
	p = filepath.Join(d, filepath.Base(segs[0]))
	fi, _ = os.Stat(p)
	if err := os.Truncate(p, fi.Size()-sealSize); err != nil {
		t.Fatal(err)
	}
	_, err = Open(d, Options{NoPreallocate: true, Logger: quiet()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "seal") {
		t.Fatalf("Open with an older segment cut at a record boundary: %v", err)
	}

	d = filepath.Join(t.TempDir(), "missing")
	copyDir(t, dir, d)
	if err := os.Remove(filepath.Join(d, filepath.Base(segs[1]))); err != nil {
		t.Fatal(err)
	}
	_, err = Open(d, Options{NoPreallocate: true, Logger: quiet()})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Open with a missing segment: %v", err)
	}
}

// TestInterruptedSegmentCreation: a crash while a new segment was being
// created leaves the previous one sealed and the new one missing, empty or
// partial; it is set up again.
func TestInterruptedSegmentCreation(t *testing.T) {
	dir, before, seg, _, to := crashFixture(t, 30)
	// Seal segment 1, as a roll does before creating segment 2.
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(appendSeal(nil, 1), to); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, content := range [][]byte{nil, {}, encodeHeader(2)[:10], make([]byte, 4096)} {
		d := filepath.Join(t.TempDir(), "wal")
		copyDir(t, dir, d)
		if content != nil {
			if err := os.WriteFile(filepath.Join(d, segName(2)), content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A preallocation in progress is removed.
		if err := os.WriteFile(filepath.Join(d, segName(3)+".tmp"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		w := openWAL(t, d, Options{NoPreallocate: true})
		s := mustGroup(t, w, "g")
		if got := dump(t, s, "CurrentTerm"); !strings.HasPrefix(got, strings.Replace(before, "last=10", "last=13", 1)[:20]) {
			t.Fatalf("state:\n%s\nbefore the last call:\n%s", got, before)
		}
		if err := s.StoreLogs(entries("g", 14, 14, 3, 10)); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if _, err := os.Stat(filepath.Join(d, segName(3)+".tmp")); !os.IsNotExist(err) {
			t.Fatalf("leftover preallocation: %v", err)
		}
		w = openWAL(t, d, Options{NoPreallocate: true})
		if last, _ := mustGroup(t, w, "g").LastIndex(); last != 14 {
			t.Fatalf("LastIndex after reopen = %d", last)
		}
	}
}

// frameStarts returns the offsets of the frames of the segment at path
// from offset from on.
func frameStarts(t testing.TB, path string, from int64) []int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var starts []int64
	for off := from; off < int64(len(data)); {
		_, n, st := parseFrame(data[off:])
		if st != frameOK {
			t.Fatalf("%s at %d: %v", path, off, st)
		}
		starts = append(starts, off)
		off += int64(n)
	}
	return starts
}
