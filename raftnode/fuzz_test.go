package raftnode

import (
	"bytes"
	"testing"
)

// Fuzz targets for the bytes a node reads from peers and from disk before
// raft sees them:
//
//	go test -run '^$' -fuzz '^FuzzMuxHeader$' -fuzztime 10s ./raftnode/
//	go test -run '^$' -fuzz '^FuzzSnapHeader$' -fuzztime 10s ./raftnode/

// FuzzMuxHeader: any bytes on an accepted peer connection give a header or
// an error, never a panic, and a header that was written reads back the
// same.
func FuzzMuxHeader(f *testing.F) {
	var b bytes.Buffer
	writeHeader(&b, header{kind: kindRaft, from: "10.0.0.1:9001", group: "g1"})
	f.Add(b.Bytes(), "10.0.0.1:9001", "g1")
	f.Add([]byte("RDMX\x01\x02\x00\x00"), "", "")
	f.Add([]byte("RDMX\x01\x01\xff"), "x", "meta")
	f.Add([]byte("XXXX"), "a", "b")
	f.Fuzz(func(t *testing.T, in []byte, from, group string) {
		readHeader(bytes.NewReader(in))

		h := header{kind: kindRaft, from: from, group: group}
		var w bytes.Buffer
		if err := writeHeader(&w, h); err != nil {
			return // a field too long to send
		}
		got, err := readHeader(bytes.NewReader(w.Bytes()))
		if err != nil || got != h {
			t.Fatalf("header %+v read back as %+v, %v", h, got, err)
		}
	})
}

// FuzzSnapHeader: the header at the front of every snapshot decodes only
// when it is exactly what encodeSnapHeader writes.
func FuzzSnapHeader(f *testing.F) {
	f.Add(encodeSnapHeader(42, 7), uint64(42), uint64(7))
	f.Add([]byte("RDRS"), uint64(0), uint64(0))
	f.Add(bytes.Repeat([]byte{0xff}, snapHeaderSize), ^uint64(0), uint64(1))
	f.Fuzz(func(t *testing.T, in []byte, index, term uint64) {
		if i, tm, err := decodeSnapHeader(in); err == nil && !bytes.Equal(encodeSnapHeader(i, tm), in) {
			t.Fatalf("%x decodes to index %d term %d, which encodes differently", in, i, tm)
		}
		i, tm, err := decodeSnapHeader(encodeSnapHeader(index, term))
		if err != nil || i != index || tm != term {
			t.Fatalf("index %d term %d: read back %d %d, %v", index, term, i, tm, err)
		}
	})
}
