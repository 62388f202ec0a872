package fsm

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"strconv"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// entryBytes encodes commands (each a line for split) into one log entry.
func entryBytes(t testing.TB, now int64, lines ...string) []byte {
	t.Helper()
	e := &pb.Entry{}
	for _, l := range lines {
		e.Commands = append(e.Commands, &pb.Command{NowMs: now, Args: split(t, l)})
	}
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomEntries returns n random log entries of random commands.
func randomEntries(t testing.TB, r *rand.Rand, n int) [][]byte {
	g := &gen{r: r}
	now := int64(t0)
	var out [][]byte
	for i := 0; i < n; i++ {
		e := &pb.Entry{}
		for j := 1 + r.Intn(5); j > 0; j-- {
			now += int64(r.Intn(10))
			c := g.next(now)
			e.Commands = append(e.Commands, &pb.Command{NowMs: now, Args: toArgs(c.args), Seed: r.Uint64()})
		}
		b, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestMachineApplyEntry(t *testing.T) {
	m := NewMachine()
	got := m.ApplyEntry(entryBytes(t, t0, "SET a 1", "INCR a", "GET a", "NOSUCH x"))
	want := []string{ok, "(integer) 2", `"2"`, "(error) ERR unknown command 'NOSUCH', with args beginning with: 'x' "}
	if len(got) != len(want) {
		t.Fatalf("%d replies", len(got))
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("reply %d: %s, want %s", i, got[i], want[i])
		}
	}
	if r := m.Read(0, split(t, "GET a")); r.String() != `"2"` {
		t.Errorf("Read: %s", r)
	}
	if m.Len() != 1 || m.Clock() != t0 {
		t.Errorf("Len %d, Clock %d", m.Len(), m.Clock())
	}
	defer func() {
		if recover() == nil {
			t.Error("an undecodable entry did not panic")
		}
	}()
	m.ApplyEntry([]byte{0xff, 0xff, 0xff})
}

// TestDeterminism feeds the same random entries to two Machines, one of
// them restarted from a snapshot half way, and checks that they end equal.
func TestDeterminism(t *testing.T) {
	seed := testSeed(t)
	entries := randomEntries(t, rand.New(rand.NewSource(seed)), 3000)
	a, b := NewMachine(), NewMachine()
	for i, e := range entries {
		ra, rb := a.ApplyEntry(e), b.ApplyEntry(e)
		for j := range ra {
			if ra[j].String() != rb[j].String() {
				t.Fatalf("entry %d command %d: %s vs %s", i, j, ra[j], rb[j])
			}
		}
		if i == len(entries)/2 {
			var buf bytes.Buffer
			sn := b.Snapshot()
			if _, err := sn.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			sn.Release()
			b = NewMachine()
			if err := b.Restore(&buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	if a.Digest() != b.Digest() {
		t.Fatalf("digests differ: %x vs %x", a.Digest(), b.Digest())
	}
	// And the digest does see a difference.
	b.ApplyEntry(entryBytes(t, 0, "APPEND k0 x"))
	if a.Digest() == b.Digest() {
		t.Fatal("digest unchanged by a write")
	}
}

// TestDigestCoversEverything checks that the digest changes with each part
// of the state: key, value, expiry, clock.
func TestDigestCoversEverything(t *testing.T) {
	base := func() *State {
		s := NewState()
		do(t, s, t0, "SET k v PX 100")
		do(t, s, t0, "SET j w")
		return s
	}
	d0 := base().digest()
	if base().digest() != d0 {
		t.Fatal("digest not reproducible")
	}
	for _, change := range []string{"SET k x PX 100", "PEXPIRE k 101", "PERSIST k", "SET k0 v", "DEL j", "RENAME_NOOP"} {
		s := base()
		if change == "RENAME_NOOP" {
			s.clock++ // the clock alone
		} else {
			do(t, s, t0, change)
		}
		if s.digest() == d0 {
			t.Errorf("digest unchanged by %s", change)
		}
	}
	// Keys and values are length-prefixed: moving bytes between them shows.
	a, b := NewState(), NewState()
	do(t, a, t0, "SET ab c")
	do(t, b, t0, "SET a bc")
	if a.digest() == b.digest() {
		t.Error("digest ambiguous between key and value bytes")
	}
}

// TestSnapshotRoundTrip checks that a restored state answers every read as
// the original did, TTLs included, and has the same digest and clock.
func TestSnapshotRoundTrip(t *testing.T) {
	seed := testSeed(t)
	m := NewMachine()
	for _, e := range randomEntries(t, rand.New(rand.NewSource(seed)), 2000) {
		m.ApplyEntry(e)
	}
	m.ApplyEntry(entryBytes(t, 0, `SET bin "\x00\xff" PX 100000`, `SET "" empty`, "SET long "+string(bytes.Repeat([]byte("x"), 100_000))))
	var buf bytes.Buffer
	n, err := m.Snapshot().WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d, %v (buffer %d)", n, err, buf.Len())
	}
	r := NewMachine()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != m.Digest() || r.Clock() != m.Clock() || r.Len() != m.Len() {
		t.Fatalf("restored: digest %x clock %d len %d; original %x %d %d",
			r.Digest(), r.Clock(), r.Len(), m.Digest(), m.Clock(), m.Len())
	}
	for _, k := range []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "bin", "", "long"} {
		for _, c := range []string{"GET", "PTTL", "TTL", "PEXPIRETIME", "TYPE", "STRLEN"} {
			args := [][]byte{[]byte(c), []byte(k)}
			for _, at := range []int64{0, m.Clock() + 50, m.Clock() + 100_000} {
				if a, b := m.Read(at, args), r.Read(at, args); a.String() != b.String() {
					t.Errorf("%s %q @%d: original %s, restored %s", c, k, at, a, b)
				}
			}
		}
	}
	// The expiry index was rebuilt.
	if a, b := m.ExpiredKeys(m.Clock()+1e9, 100), r.ExpiredKeys(m.Clock()+1e9, 100); len(a) != len(b) {
		t.Fatalf("ExpiredKeys: original %d, restored %d", len(a), len(b))
	}
	checkIndex(t, r.s)
}

// TestSnapshotPointInTime writes a snapshot out after more writes have been
// applied (and while they are applied) and checks it holds the state as it
// was when taken.
func TestSnapshotPointInTime(t *testing.T) {
	m := NewMachine()
	var lines []string
	for i := 0; i < 5000; i++ {
		lines = append(lines, "SET key"+strconv.Itoa(i)+" v"+strconv.Itoa(i))
	}
	m.ApplyEntry(entryBytes(t, t0, lines...))
	m.ApplyEntry(entryBytes(t, t0, "PEXPIRE key7 5000"))
	want := m.Digest()
	sn := m.Snapshot()

	// Change everything the snapshot holds, concurrently with writing it.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5000; i += 10 {
			m.ApplyEntry(entryBytes(t, t0+int64(i), "SET key"+strconv.Itoa(i)+" changed",
				"DEL key"+strconv.Itoa(i+1), "APPEND key"+strconv.Itoa(i+2)+" more", "SET new"+strconv.Itoa(i)+" x"))
		}
		m.ApplyEntry(entryBytes(t, t0+9000, "PERSIST key7", "FLUSHALL"))
	}()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	r := NewMachine()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if r.Digest() != want {
		t.Fatal("the snapshot is not the state at the time it was taken")
	}
	if got := r.Read(0, split(t, "PTTL key7")).String(); got != "(integer) 5000" {
		t.Fatalf("PTTL key7: %s", got)
	}
	if m.Len() != 0 {
		t.Fatalf("the live state has %d keys after FLUSHALL", m.Len())
	}
	sn.Release()
	if _, err := sn.WriteTo(io.Discard); !errors.Is(err, ErrSnapshotReleased) {
		t.Fatalf("WriteTo after Release: %v", err)
	}
}

// TestSnapshotCorrupt checks that every single-byte change and every
// truncation of a snapshot is refused, and leaves the Machine as it was.
func TestSnapshotCorrupt(t *testing.T) {
	src := NewMachine()
	src.ApplyEntry(entryBytes(t, t0, "SET a 1", "SET b hello PX 1000", "SET c "+string(bytes.Repeat([]byte("z"), 300))))
	var buf bytes.Buffer
	if _, err := src.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()

	m := NewMachine()
	m.ApplyEntry(entryBytes(t, t0, "SET keep me"))
	before := m.Digest()
	refused := func(what string, data []byte) {
		t.Helper()
		err := m.Restore(bytes.NewReader(data))
		if !errors.Is(err, ErrCorruptSnapshot) {
			t.Fatalf("%s: Restore = %v, want ErrCorruptSnapshot", what, err)
		}
		if m.Digest() != before {
			t.Fatalf("%s: the state changed", what)
		}
	}
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x20
		refused("flip byte "+strconv.Itoa(i), bad)
	}
	for n := 0; n < len(good); n++ {
		refused("truncate to "+strconv.Itoa(n), good[:n])
	}
	refused("trailing data", append(bytes.Clone(good), 0))
	refused("empty", nil)

	// A length field claiming 400MB: refused on truncation without
	// allocating it first.
	var w bytes.Buffer
	w.Write(good[:20])
	w.Write([]byte{byte(typeString), 1, 'k', 0})
	w.Write([]byte{0x80, 0x80, 0x80, 0xc8, 0x01}) // 400 << 20
	w.Write([]byte("short"))
	refused("huge length", w.Bytes())

	if err := m.Restore(bytes.NewReader(good)); err != nil {
		t.Fatalf("the good snapshot: %v", err)
	}
	if m.Digest() != src.Digest() {
		t.Fatal("restored state differs")
	}
}

// errReader fails after n bytes with a non-EOF error.
type errReader struct {
	r io.Reader
	n int
}

var errBoom = errors.New("boom")

func (e *errReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errBoom
	}
	p = p[:min(len(p), e.n)]
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

func TestSnapshotReadError(t *testing.T) {
	src := NewMachine()
	src.ApplyEntry(entryBytes(t, t0, "SET a 1"))
	var buf bytes.Buffer
	src.Snapshot().WriteTo(&buf)
	err := NewMachine().Restore(&errReader{r: &buf, n: 25})
	if !errors.Is(err, errBoom) || errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Restore with a failing reader: %v", err)
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBoom }

func TestSnapshotWriteError(t *testing.T) {
	m := NewMachine()
	m.ApplyEntry(entryBytes(t, t0, "SET a "+string(bytes.Repeat([]byte("x"), 100_000))))
	if _, err := m.Snapshot().WriteTo(failWriter{}); !errors.Is(err, errBoom) {
		t.Fatalf("WriteTo: %v", err)
	}
}

// TestConcurrentUse runs writers, readers, snapshots and expiry together;
// it is meant for -race.
func TestConcurrentUse(t *testing.T) {
	seed := testSeed(t)
	entries := randomEntries(t, rand.New(rand.NewSource(seed)), 500)
	m := NewMachine()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := [][][]byte{split(t, "GET k1"), split(t, "MGET k1 k2 k3"), split(t, "DBSIZE"), split(t, "PTTL k4")}
			for j := 0; ; j++ {
				select {
				case <-done:
					return
				default:
				}
				r := m.Read(t0+int64(j), args[j%len(args)])
				if r.IsError() {
					t.Errorf("read: %s", r)
					return
				}
				if j%50 == 0 {
					sn := m.Snapshot()
					if _, err := sn.WriteTo(io.Discard); err != nil {
						t.Error(err)
					}
					sn.Release()
					m.ExpiredKeys(t0+int64(j), 10)
					m.Digest()
				}
			}
		}()
	}
	for _, e := range entries {
		m.ApplyEntry(e)
	}
	close(done)
	wg.Wait()
}
