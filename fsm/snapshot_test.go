package fsm

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"strings"
	"testing"
)

// goldenSnapshot pins the format written now; goldenSnapshotV1 is the
// first format and goldenSnapshotV3 the golden state in the previous one
// (records in key order), which must stay readable.
const (
	goldenSnapshot   = "testdata/snapshot-v4.golden"
	goldenSnapshotV3 = "testdata/snapshot-v3.golden"
	goldenSnapshotV1 = "testdata/snapshot-v1.golden"
)

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
		// Format 3: lists in both forms, and key versions.
		"RPUSH list a b c",
		"RPUSH biglist " + strings.Repeat("element ", 200),
		"SET gone x",
		"DEL gone",
		// Format 3: hashes, sets and sorted sets in both encodings, with
		// an expiry.
		"HSET hash f1 v1 f2 v2",
		"PEXPIRE hash 50000",
		"HSET bighash f " + strings.Repeat("v", 100),
		"SADD intset 3 1 2",
		"SADD set a b c",
		"ZADD zset 1 a 2.5 b -inf c -0 d",
		"ZADD bigzset 1 " + strings.Repeat("m", 100) + " -0 z",
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
		{"LRANGE list 0 -1", `["a" "b" "c"]`},
		{"LLEN biglist", "(integer) 200"},
		{"HGETALL hash", `map["f1" "v1" "f2" "v2"]`},
		{"PTTL hash", "(integer) 50000"},
		{"OBJECT ENCODING hash", `"listpack"`},
		{"OBJECT ENCODING bighash", `"hashtable"`},
		{"SMEMBERS intset", `set["1" "2" "3"]`},
		{"OBJECT ENCODING intset", `"intset"`},
		{"OBJECT ENCODING set", `"hashtable"`},
		{"ZRANGE zset 0 -1 WITHSCORES", `pairs["c" (double) -Inf "d" (double) 0 "a" (double) 1 "b" (double) 2.5]`},
		{"ZSCORE bigzset z", "(double) -0"},
		{"OBJECT ENCODING bigzset", `"skiplist"`},
		{"DBSIZE", "(integer) 18"},
	} {
		if got := r.Read(0, split(t, c.cmd)).String(); got != c.want {
			t.Errorf("restored %s: %s, want %s", c.cmd, got, c.want)
		}
	}
	if r.Clock() != t0+500 {
		t.Errorf("restored clock %d", r.Clock())
	}
}

// TestSnapshotV1Readable: a snapshot in the first format (strings, no key
// versions) still restores, with every key version 0.
func TestSnapshotV1Readable(t *testing.T) {
	golden, err := os.ReadFile(goldenSnapshotV1)
	if err != nil {
		t.Fatal(err)
	}
	r := NewState()
	if err := r.Restore(bytes.NewReader(golden)); err != nil {
		t.Fatalf("restore %s: %v", goldenSnapshotV1, err)
	}
	for _, c := range []struct{ cmd, want string }{
		{"GET plain", `"value"`},
		{`GET ""`, `"empty key"`},
		{"GET bin", `"\x00\x01\xfe\xff\r\n"`},
		{"PTTL ttl", "(integer) 90000"},
		{"GET counter", `"42"`},
		{"TTL zzz", "(integer) 7"},
		{"DBSIZE", "(integer) 10"},
	} {
		if got := r.Read(0, split(t, c.cmd)).String(); got != c.want {
			t.Errorf("restored %s: %s, want %s", c.cmd, got, c.want)
		}
	}
	if r.ver.seq != 0 || r.Clock() != t0+500 {
		t.Errorf("restored sequence %d clock %d", r.ver.seq, r.Clock())
	}
}

// TestSnapshotV3Readable: the golden state written in version 3, records in
// key order, restores to the same state, in keyspace order.
func TestSnapshotV3Readable(t *testing.T) {
	golden, err := os.ReadFile(goldenSnapshotV3)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(golden[8:12]); v != snapVersion3 {
		t.Fatalf("%s holds version %d", goldenSnapshotV3, v)
	}
	r := NewState()
	if err := r.Restore(bytes.NewReader(golden)); err != nil {
		t.Fatalf("restore %s: %v", goldenSnapshotV3, err)
	}
	if r.digest() != goldenState(t).digest() {
		t.Error("the version 3 file restores to a different state")
	}
	var prev *entry
	r.keys.Scan(func(e entry) bool {
		if prev != nil && !entryLess(*prev, e) {
			t.Errorf("restored keys out of keyspace order: %q then %q", prev.key, e.key)
		}
		prev = &e
		return true
	})
}

// TestSnapshotRecordOrderChecked: a version 4 snapshot whose records are in
// key order but not keyspace order, and a version 3 one whose records are
// in keyspace order but not key order, are both refused as corrupt; each in
// its own order restores.
func TestSnapshotRecordOrderChecked(t *testing.T) {
	if keyOrd([]byte("b")) > keyOrd([]byte("a")) {
		t.Fatal(`"a" and "b" no longer come in opposite orders; choose other keys`)
	}
	for _, version := range []uint32{snapVersion3, snapVersion4} {
		bad := []string{"b", "a"} // keyspace order, not key order
		if version == snapVersion4 {
			bad = []string{"a", "b"}
		}
		err := NewState().Restore(bytes.NewReader(handSnapshot(t, version, bad)))
		if err == nil || !strings.Contains(err.Error(), "out of order") {
			t.Errorf("version %d, records %q: err = %v, want keys out of order", version, bad, err)
		}
		good := []string{bad[1], bad[0]}
		r := NewState()
		if err := r.Restore(bytes.NewReader(handSnapshot(t, version, good))); err != nil {
			t.Errorf("version %d, records %q: %v", version, good, err)
		} else if got := r.Read(0, split(t, "MGET a b")).String(); got != `["v" "v"]` {
			t.Errorf("version %d: MGET a b = %s", version, got)
		}
	}
}

// handSnapshot writes a snapshot of the given version (3 or 4; no
// ownership, no key versions) holding string keys with value "v", in the
// order given.
func handSnapshot(t *testing.T, version uint32, keys []string) []byte {
	t.Helper()
	var b []byte
	b = append(b, snapMagic...)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, uint64(t0))
	b = append(b, 0)    // no ownership
	b = append(b, 0, 0) // key versions: sequence 0, no watermarks
	for _, k := range keys {
		b = append(b, byte(typeString))
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = append(b, 0, 0) // no expiry; mod stamp 0
		b = binary.AppendUvarint(b, 1)
		b = append(b, 'v')
	}
	b = append(b, recEnd)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}
