package fsm

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const goldenSnapshot = "testdata/snapshot-v1.golden"

// goldenState is the fixed state of the golden snapshot file.
func goldenState(t *testing.T) *State {
	s := NewState()
	for _, l := range []string{
		"SET plain value",
		`SET "" "empty key"`,
		`SET empty ""`,
		`SET bin "\x00\x01\xfe\xff\r\n"`,
		"SET ttl expiring PX 90000",
		"SET abs absolute PXAT " + ms(3_600_000),
		"SET counter 41",
		"INCR counter",
		"SET long " + strings.Repeat("0123456789", 30),
		`SET "key with spaces" x`,
		"SET zzz last EX 7",
	} {
		if r := do(t, s, t0+500, l); r.IsError() {
			t.Fatalf("%s: %s", l, r)
		}
	}
	return s
}

// TestSnapshotGolden catches changes of the snapshot format: the snapshot
// of a fixed state must be byte for byte the committed file, and the file
// must restore to that state. Run with -update to rewrite the file after an
// intended change (which also needs a new format version).
func TestSnapshotGolden(t *testing.T) {
	s := goldenState(t)
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if *updateFlag {
		if err := os.WriteFile(goldenSnapshot, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", goldenSnapshot, buf.Len())
	}
	golden, err := os.ReadFile(goldenSnapshot)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), golden) {
		t.Errorf("the snapshot format changed: %d bytes written, golden file has %d (bump the version, keep a reader for the old one, then -update)",
			buf.Len(), len(golden))
	}
	r := NewState()
	if err := r.Restore(bytes.NewReader(golden)); err != nil {
		t.Fatalf("restore the golden file: %v", err)
	}
	if r.digest() != s.digest() {
		t.Error("the golden file restores to a different state")
	}
	for _, c := range []struct{ cmd, want string }{
		{"GET plain", `"value"`},
		{`GET ""`, `"empty key"`},
		{"GET empty", `""`},
		{"GET bin", `"\x00\x01\xfe\xff\r\n"`},
		{"PTTL ttl", "(integer) 90000"},
		{"PEXPIRETIME abs", "(integer) " + ms(3_600_000)},
		{"GET counter", `"42"`},
		{"STRLEN long", "(integer) 300"},
		{"TTL zzz", "(integer) 7"},
		{"DBSIZE", "(integer) 10"},
	} {
		if got := r.Read(0, split(t, c.cmd)).String(); got != c.want {
			t.Errorf("restored %s: %s, want %s", c.cmd, got, c.want)
		}
	}
	if r.Clock() != t0+500 {
		t.Errorf("restored clock %d", r.Clock())
	}
}
