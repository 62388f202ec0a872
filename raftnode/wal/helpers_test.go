package wal

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var seedFlag = flag.Uint64("seed", 0, "random seed for the randomized tests (0: from the clock)")

// testRand returns a seeded source and logs the seed to rerun with.
func testRand(t testing.TB) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed=%d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// logSink collects log lines so tests can check what was logged.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func (s *logSink) has(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func (s *logSink) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// quiet returns a logger that drops everything below Error.
func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// openWAL opens dir with opts (a quiet logger unless one is given) and
// closes it when the test ends.
func openWAL(t testing.TB, dir string, opts Options) *WAL {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustGroup(t testing.TB, w *WAL, id string) *Store {
	t.Helper()
	s, err := w.Group(id)
	if err != nil {
		t.Fatalf("group %s: %v", id, err)
	}
	return s
}

// entry makes a log entry whose content is derived from its group, index
// and term, so a test can check any entry it reads back.
func entry(gid string, index, term uint64, size int) *raft.Log {
	data := make([]byte, size)
	seed := fmt.Sprintf("%s/%d/%d|", gid, index, term)
	for i := range data {
		data[i] = seed[i%len(seed)]
	}
	l := &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: data}
	if index%3 == 0 {
		l.Extensions = []byte(seed)
	}
	if index%5 != 0 {
		l.AppendedAt = time.Unix(1700000000, int64(index)*1000)
	}
	if index%7 == 0 {
		l.Type = raft.LogNoop
		l.Data = nil
	}
	return l
}

func entries(gid string, from, to, term uint64, size int) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, entry(gid, i, term, size))
	}
	return ls
}

func sameLog(a, b *raft.Log) error {
	switch {
	case a.Index != b.Index || a.Term != b.Term || a.Type != b.Type:
		return fmt.Errorf("index/term/type %d/%d/%v, want %d/%d/%v", a.Index, a.Term, a.Type, b.Index, b.Term, b.Type)
	case !bytes.Equal(a.Data, b.Data):
		return fmt.Errorf("entry %d: data %q, want %q", a.Index, a.Data, b.Data)
	case !bytes.Equal(a.Extensions, b.Extensions):
		return fmt.Errorf("entry %d: extensions %q, want %q", a.Index, a.Extensions, b.Extensions)
	case !a.AppendedAt.Equal(b.AppendedAt):
		return fmt.Errorf("entry %d: appended at %v, want %v", a.Index, a.AppendedAt, b.AppendedAt)
	}
	return nil
}

// kvlog is what both stores under test implement.
type kvlog interface {
	raft.LogStore
	raft.StableStore
}

// dump describes the whole state of a store (every entry between first
// and last, the given stable keys) as text, to compare two states.
func dump(t testing.TB, s kvlog, keys ...string) string {
	t.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first=%d last=%d\n", first, last)
	for i := first; i <= last && last > 0; i++ {
		var l raft.Log
		switch err := s.GetLog(i, &l); {
		case errors.Is(err, raft.ErrLogNotFound):
			fmt.Fprintf(&b, "%d: missing\n", i)
		case err != nil:
			t.Fatalf("get %d: %v", i, err)
		default:
			fmt.Fprintf(&b, "%d: t%d %v %q %q %d\n", i, l.Term, l.Type, l.Data, l.Extensions, l.AppendedAt.UnixNano())
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := s.Get([]byte(k))
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", k, err)
		} else {
			fmt.Fprintf(&b, "%s=%q\n", k, v)
		}
	}
	return b.String()
}

// segments lists the segment files in dir.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(m)
	return m
}
