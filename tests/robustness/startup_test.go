package robustness

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Damaged data must be reported when a node starts, with the name of the
// damaged file, and never silently dropped. Each case starts from the
// same data directory of a one-node cluster (several snapshots, a log
// compacted behind them), damages it the way a crash or a bad disk would,
// and starts the node on it.

// pristine is a stopped one-node cluster with data, and a copy of its
// data directory to start each case from.
type pristine struct {
	c    *Cluster
	copy string
	keys map[string]string
}

const damageGroup = "g1"

// preparePristine runs a one-node cluster whose groups keep their logs in
// logStore ("bolt" or "wal"), writes keys until the damaged group has
// snapshots, stops it and keeps a copy of its data.
func preparePristine(t *testing.T, logStore string) *pristine {
	t.Helper()
	base := t.TempDir()
	nw, err := newLoopbackNet(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{
		"--heartbeat-timeout", "400ms", "--election-timeout", "400ms", "--request-timeout", "2s",
		"--snapshot-threshold", "64", "--trailing-logs", "16", "--snapshot-interval", "100ms",
		"--log-store", logStore,
	}
	c, err := StartCluster(ctx, redraftBin, filepath.Join(base, "data"), nw, ClusterConfig{Nodes: 1, Groups: 1, Args: args}, t.Logf)
	if c != nil {
		t.Cleanup(c.KillAll)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &pristine{c: c, keys: map[string]string{}}
	cl := newClient([]string{c.nodes[0].RESPAddr}, rand.New(rand.NewPCG(1, 2)))
	defer cl.Close()
	// One SET at a time: each its own log entry, so snapshots follow. At
	// least 400 keys, and on until the group has two snapshots (a fast log
	// can take all 400 between two snapshot checks, leaving one).
	snapDir := filepath.Join(c.nodes[0].Dir, "groups", damageGroup, "snapshots")
	var snaps []string
	for k := 0; k < 400 || len(snaps) < 2; k++ {
		if ctx.Err() != nil {
			t.Fatalf("no two snapshots of %s after %d keys: %v", damageGroup, k, snaps)
		}
		key, val := fmt.Sprintf("k%d", k), fmt.Sprintf("v%d", k)
		if r, out, _ := cl.Do(ctx, true, 5*time.Second, "SET", key, val); out != outOK || r.Kind != kindStatus {
			t.Fatalf("SET %s: %v (%v)", key, r, out)
		}
		p.keys[key] = val
		if k%20 == 19 {
			if snaps, err = listSnapshots(snapDir); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	if err := c.Stop(0); err != nil {
		t.Fatal(err)
	}
	p.copy = filepath.Join(base, "pristine")
	if err := c.CopyData(0, p.copy); err != nil {
		t.Fatal(err)
	}
	return p
}

// listSnapshots returns the complete snapshot directories in dir, oldest
// first (hashicorp/raft names them term-index-time).
func listSnapshots(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "meta.json")); err != nil {
			continue
		}
		out = append(out, e.Name())
	}
	slices.SortFunc(out, func(a, b string) int { return compareSnapNames(a, b) })
	return out, nil
}

// compareSnapNames orders term-index-msec names numerically.
func compareSnapNames(a, b string) int {
	var at, ai, am, bt, bi, bm uint64
	fmt.Sscanf(strings.ReplaceAll(a, "-", " "), "%d %d %d", &at, &ai, &am)
	fmt.Sscanf(strings.ReplaceAll(b, "-", " "), "%d %d %d", &bt, &bi, &bm)
	for _, d := range [][2]uint64{{at, bt}, {ai, bi}, {am, bm}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// restore puts a fresh copy of the pristine data in place and returns the
// damaged group's directory.
func (p *pristine) restore(t *testing.T) string {
	t.Helper()
	tmp := p.copy + ".case"
	os.RemoveAll(tmp)
	if err := copyTree(p.copy, tmp); err != nil {
		t.Fatal(err)
	}
	if err := p.c.ReplaceData(0, tmp); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(p.c.nodes[0].Dir, "groups", damageGroup)
}

func copyTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}

// expectRefusal starts the node on damaged data and requires it to exit
// with an error whose output names file.
func (p *pristine) expectRefusal(t *testing.T, file string) {
	t.Helper()
	if err := p.c.Start(0); err != nil {
		t.Fatal(err)
	}
	exited, err, out := p.c.WaitExit(0, 20*time.Second)
	if !exited {
		// Still running: did it serve the data as if nothing happened?
		p.c.KillAll()
		t.Fatalf("the node started on damaged %s and kept running (no error at start); its output:\n%s", file, tail(out, 25))
	}
	if err == nil {
		t.Fatalf("the node exited with status 0 on damaged %s; output:\n%s", file, tail(out, 25))
	}
	if !strings.Contains(out, file) {
		t.Fatalf("the node refused to start (%v) but its output does not name %s:\n%s", err, file, tail(out, 25))
	}
	t.Logf("refused as it should: %v; the output names %s:\n%s", err, file, tail(grepLines(out, filepath.Base(file)), 5))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestDamagedDataDetectedAtStart(t *testing.T) {
	p := preparePristine(t, "bolt")

	t.Run("truncated raft.db", func(t *testing.T) {
		// Cut the file inside the pages bolt has used (bolt grows the file
		// ahead of use, so cutting unused space would damage nothing).
		g := p.restore(t)
		db := filepath.Join(g, "raft.db")
		used := boltUsedBytes(t, db)
		st, err := os.Stat(db)
		if err != nil {
			t.Fatal(err)
		}
		cut := used - 4096
		if err := os.Truncate(db, cut); err != nil {
			t.Fatal(err)
		}
		t.Logf("truncated %s from %d to %d bytes (bolt uses %d)", db, st.Size(), cut, used)
		p.expectRefusal(t, db)
	})

	t.Run("raft.db cut to its meta pages", func(t *testing.T) {
		g := p.restore(t)
		db := filepath.Join(g, "raft.db")
		if err := os.Truncate(db, 16<<10); err != nil {
			t.Fatal(err)
		}
		p.expectRefusal(t, db)
	})

	t.Run("corrupt snapshot state.bin", func(t *testing.T) {
		g := p.restore(t)
		snaps, err := listSnapshots(filepath.Join(g, "snapshots"))
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %v %v", snaps, err)
		}
		state := filepath.Join(g, "snapshots", snaps[len(snaps)-1], "state.bin")
		flipByte(t, state)
		p.expectRefusal(t, state)
	})

	t.Run("corrupt older snapshot state.bin", func(t *testing.T) {
		g := p.restore(t)
		snaps, err := listSnapshots(filepath.Join(g, "snapshots"))
		if err != nil || len(snaps) < 2 {
			t.Fatalf("snapshots: %v %v", snaps, err)
		}
		state := filepath.Join(g, "snapshots", snaps[0], "state.bin")
		flipByte(t, state)
		p.expectRefusal(t, state)
	})

	t.Run("corrupt snapshot meta.json", func(t *testing.T) {
		g := p.restore(t)
		snaps, err := listSnapshots(filepath.Join(g, "snapshots"))
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %v %v", snaps, err)
		}
		meta := filepath.Join(g, "snapshots", snaps[len(snaps)-1], "meta.json")
		b, err := os.ReadFile(meta)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(meta, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		p.expectRefusal(t, meta)
	})

	t.Run("snapshot meta.json with a wrong index", func(t *testing.T) {
		// Valid JSON whose CRC still matches state.bin, but that claims an
		// index the state does not hold: the header inside state.bin says
		// otherwise.
		g := p.restore(t)
		snaps, err := listSnapshots(filepath.Join(g, "snapshots"))
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %v %v", snaps, err)
		}
		meta := filepath.Join(g, "snapshots", snaps[len(snaps)-1], "meta.json")
		b, err := os.ReadFile(meta)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m["Index"] = m["Index"].(float64) + 5
		b, _ = json.Marshal(m)
		if err := os.WriteFile(meta, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p.expectRefusal(t, snaps[len(snaps)-1])
	})

	t.Run("crash during a snapshot", func(t *testing.T) {
		// A crash while a snapshot is written leaves a *.tmp directory with
		// a partial state.bin and no meta.json. The snapshot never
		// completed, so the log still holds every entry it would have
		// covered: the node must start, say what it found, and serve all
		// the data.
		g := p.restore(t)
		snapDir := filepath.Join(g, "snapshots")
		snaps, err := listSnapshots(snapDir)
		if err != nil || len(snaps) == 0 {
			t.Fatalf("snapshots: %v %v", snaps, err)
		}
		var term, index, ms uint64
		fmt.Sscanf(strings.ReplaceAll(snaps[len(snaps)-1], "-", " "), "%d %d %d", &term, &index, &ms)
		partial := filepath.Join(snapDir, fmt.Sprintf("%d-%d-%d.tmp", term, index+10, ms+1))
		if err := os.MkdirAll(partial, 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(snapDir, snaps[len(snaps)-1], "state.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(partial, "state.bin"), b[:len(b)/3], 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.c.Restart(ctx, 0); err != nil {
			t.Fatal(err)
		}
		defer p.c.KillAll()
		if err := p.c.WaitHealthy(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		cl := newClient([]string{p.c.nodes[0].RESPAddr}, rand.New(rand.NewPCG(3, 4)))
		defer cl.Close()
		for k, v := range p.keys {
			r, out, _ := cl.Do(ctx, false, 5*time.Second, "GET", k)
			if out != outOK || r.Kind != kindBulk || r.Str != v {
				t.Fatalf("GET %s = %v (%v), want %q: data lost after a crash during a snapshot", k, r, out, v)
			}
		}
		log := p.c.nodes[0].runLog()
		if !strings.Contains(log, filepath.Base(partial)) {
			t.Errorf("the node started and served every key, but its output does not mention the partial snapshot %s:\n%s", partial, tail(log, 20))
		} else {
			t.Logf("started, served all %d keys, and reported:\n%s", len(p.keys), grepLines(log, filepath.Base(partial)))
		}
		p.c.KillAll()
	})
}

// boltUsedBytes is the high-water mark of a bolt file (pages in use times
// the page size), read from its newest valid meta page.
func boltUsedBytes(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	var best, txid uint64
	var pageSize uint32
	for _, off := range []int{0, int(le.Uint32(b[16+8:]))} {
		m := b[off+16 : off+16+64]
		if le.Uint32(m) != 0xED0CDAED {
			continue
		}
		if tx := le.Uint64(m[48:]); best == 0 || tx > txid {
			best, txid, pageSize = le.Uint64(m[40:]), tx, le.Uint32(m[8:])
		}
	}
	if best == 0 {
		t.Fatalf("%s: no bolt meta page", path)
	}
	return int64(best) * int64(pageSize)
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := len(b) / 2
	b[i] ^= 0x5a
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped byte %d of %s (%d bytes)", i, path, len(b))
}

// TestDamagedWALDetectedAtStart damages the node-wide WAL (--log-store
// wal) of a stopped node: a record whose checksum no longer matches, with
// records after it, and a damaged segment header must stop the node with
// an error that names the segment; a segment cut inside its records (what
// a crash in the middle of a write leaves at the end of the newest
// segment) may be repaired, but the node must say so, naming the file.
func TestDamagedWALDetectedAtStart(t *testing.T) {
	p := preparePristine(t, "wal")
	newest := func(t *testing.T) (string, []walFrame) {
		t.Helper()
		segs, err := filepath.Glob(filepath.Join(p.c.nodes[0].Dir, "wal", "*.seg"))
		if err != nil || len(segs) == 0 {
			t.Fatalf("no WAL segment in %s: %v", p.c.nodes[0].Dir, err)
		}
		slices.Sort(segs)
		seg := segs[len(segs)-1]
		frames := walFrames(t, seg)
		if len(frames) < 8 {
			t.Fatalf("%s holds %d records; want a log to damage", seg, len(frames))
		}
		return seg, frames
	}

	t.Run("corrupt WAL record", func(t *testing.T) {
		p.restore(t)
		seg, frames := newest(t)
		f := frames[len(frames)/2]
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		at := f.off + walFrameHeader + f.n/2
		b[at] ^= 0x5a
		if err := os.WriteFile(seg, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("flipped byte %d of %s, inside record %d of %d", at, seg, len(frames)/2, len(frames))
		p.expectRefusal(t, seg)
	})

	t.Run("corrupt WAL segment header", func(t *testing.T) {
		p.restore(t)
		seg, _ := newest(t)
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[2] ^= 0x5a
		if err := os.WriteFile(seg, b, 0o644); err != nil {
			t.Fatal(err)
		}
		p.expectRefusal(t, seg)
	})

	t.Run("truncated WAL segment", func(t *testing.T) {
		p.restore(t)
		seg, frames := newest(t)
		f := frames[len(frames)/2]
		cut := int64(f.off + walFrameHeader + f.n/2)
		if err := os.Truncate(seg, cut); err != nil {
			t.Fatal(err)
		}
		t.Logf("truncated %s to %d bytes, inside record %d of %d", seg, cut, len(frames)/2, len(frames))
		if err := p.c.Start(0); err != nil {
			t.Fatal(err)
		}
		defer p.c.KillAll()
		// Either the node refuses to start, or it repairs the segment and
		// reports what it dropped; in both cases its output names the file.
		var out string
		err := poll(context.Background(), 20*time.Second, 50*time.Millisecond, func() error {
			if exited, _, o := p.c.WaitExit(0, 0); exited {
				out = o
				return nil
			}
			out = p.c.nodes[0].runLog()
			if strings.Contains(out, seg) {
				return nil
			}
			return fmt.Errorf("running, and its output does not name %s", seg)
		})
		if err != nil {
			t.Fatalf("the node started on a truncated %s without a word about it: %v\n%s", seg, err, tail(out, 25))
		}
		t.Logf("the node's output names the truncated segment:\n%s", tail(grepLines(out, seg), 5))
	})
}

// walFrame is one record of a WAL segment: its offset and body length.
type walFrame struct{ off, n int }

// walFrameHeader and walSegHeader are the WAL's on-disk sizes
// (raftnode/wal/format.go): a record is a 4-byte length and a 4-byte CRC
// and then its body; a segment starts with a 24-byte header.
const (
	walFrameHeader = 8
	walSegHeader   = 24
)

// walFrames lists the records of a segment up to its zero-filled end.
func walFrames(t *testing.T, path string) []walFrame {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []walFrame
	for off := walSegHeader; off+walFrameHeader <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n == 0 || off+walFrameHeader+n > len(b) {
			break
		}
		out = append(out, walFrame{off: off, n: n})
		off += walFrameHeader + n
	}
	return out
}
