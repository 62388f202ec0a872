package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/hashicorp/raft"
)

// On-disk format. It is a format forever: add record types, never change
// the meaning of one.
//
// A segment file (%08x.seg, the segment's sequence number in hex) starts
// with a 24-byte header:
//
//	magic "RDWALSEG" (8) | version u32 | seq u32 | reserved u32 (0) | crc u32
//
// where crc is CRC-32C of the 20 bytes before it. Records follow, each:
//
//	length u32 | crc u32 | type u8 | group-len u8 | group | payload
//
// length counts the bytes after crc (the body: type to the end of payload),
// crc is CRC-32C of the four length bytes followed by the body. All
// integers are little-endian. Payloads by type:
//
//	recEntry, recEntryMore, recMove:
//	                        index u64 | term u64 | appended-at i64 (Unix ns, 0 = zero time)
//	                        | log type u8 | data-len u32 | data | extensions (the rest)
//	recSet:                 key-len u32 | key | value (the rest)
//	recDelete:              min u64 | max u64 (inclusive)
//	recDrop:                (empty)
//	recSeal:                seq u32 (the segment's own; no group: group-len 0)
//
// A StoreLogs call writes one entry record per log entry, all but the last
// of type recEntryMore, contiguous and in one segment; a reader applies
// them only once the closing recEntry is seen, so a call is all or nothing.
// Storing an entry replaces the group's log from its index on. A recMove
// is the collector's copy of a live entry: it only changes where that one
// entry is (inserting it if its older copy was removed with its segment).
// Every segment but the newest ends with a recSeal, so an older segment cut
// short, even at a record boundary, is detected.
// Bytes after the last record of a segment are zero (preallocation) or
// absent. A byte that is zero in every position of a header never starts a
// valid record: type 0 does not exist.

const (
	headerSize  = 24
	frameHeader = 8 // length + crc
	version     = 1

	// maxBody bounds one record's body; it keeps a torn or corrupt length
	// field from asking for gigabytes and every offset within uint32 range
	// of a segment's start (segments roll well below 4 GiB).
	maxBody = 1 << 30
)

var segMagic = [8]byte{'R', 'D', 'W', 'A', 'L', 'S', 'E', 'G'}

// Record types. Zero is invalid on purpose.
const (
	recEntry     byte = 1 // a log entry, the last of its StoreLogs call
	recEntryMore byte = 2 // a log entry, more of the same call follow
	recSet       byte = 3 // a stable-store value
	recDelete    byte = 4 // a range of a group's log entries removed
	recDrop      byte = 5 // every entry and value of a group removed
	recMove      byte = 6 // a live log entry copied out of an old segment
	recSeal      byte = 7 // the last record of a segment that is not the newest
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entryFixed is the fixed part of an entry payload.
const entryFixed = 8 + 8 + 8 + 1 + 4

// encodeHeader returns the header of segment seq.
func encodeHeader(seq uint32) []byte {
	b := make([]byte, headerSize)
	copy(b, segMagic[:])
	binary.LittleEndian.PutUint32(b[8:], version)
	binary.LittleEndian.PutUint32(b[12:], seq)
	binary.LittleEndian.PutUint32(b[20:], crc32.Checksum(b[:20], castagnoli))
	return b
}

// checkHeader verifies a segment header read from the file of segment seq.
func checkHeader(b []byte, seq uint32) error {
	if len(b) < headerSize {
		return errors.New("short segment header")
	}
	if !bytes.Equal(b[:8], segMagic[:]) {
		return errors.New("not a wal segment (bad magic)")
	}
	if got := binary.LittleEndian.Uint32(b[20:]); got != crc32.Checksum(b[:20], castagnoli) {
		return errors.New("segment header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != version {
		return fmt.Errorf("segment format version %d, this build reads %d", v, version)
	}
	if s := binary.LittleEndian.Uint32(b[12:]); s != seq {
		return fmt.Errorf("segment header says sequence %d, the file name %d", s, seq)
	}
	if binary.LittleEndian.Uint32(b[16:]) != 0 {
		return errors.New("segment header has a non-zero reserved field")
	}
	return nil
}

// entrySize is the size of the frame holding l for group gid.
func entrySize(gid string, l *raft.Log) int {
	return frameHeader + 2 + len(gid) + entryFixed + len(l.Data) + len(l.Extensions)
}

// appendFrame appends the frame header and the body prefix (type, group)
// to b, returning b and the offset of the frame's start. The caller appends
// the payload and then calls sealFrame.
func appendFrame(b []byte, typ byte, gid string) ([]byte, int) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, typ, byte(len(gid)))
	b = append(b, gid...)
	return b, start
}

// sealFrame fills in the length and checksum of the frame starting at
// b[start:], which runs to the end of b.
func sealFrame(b []byte, start int) {
	body := len(b) - start - frameHeader
	binary.LittleEndian.PutUint32(b[start:], uint32(body))
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+frameHeader:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
}

// appendEntry appends the record of l to b.
func appendEntry(b []byte, gid string, l *raft.Log, more bool) []byte {
	typ := recEntry
	if more {
		typ = recEntryMore
	}
	return appendEntryRecord(b, typ, gid, l)
}

// appendEntryRecord appends a record of type typ (an entry type) for l.
func appendEntryRecord(b []byte, typ byte, gid string, l *raft.Log) []byte {
	b, start := appendFrame(b, typ, gid)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.LittleEndian.AppendUint64(b, l.Index)
	b = binary.LittleEndian.AppendUint64(b, l.Term)
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = append(b, byte(l.Type))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(l.Data)))
	b = append(b, l.Data...)
	b = append(b, l.Extensions...)
	sealFrame(b, start)
	return b
}

// appendSet appends the record of a stable-store value to b.
func appendSet(b []byte, gid string, k, v []byte) []byte {
	b, start := appendFrame(b, recSet, gid)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(k)))
	b = append(b, k...)
	b = append(b, v...)
	sealFrame(b, start)
	return b
}

// appendDelete appends the record of a range deletion to b.
func appendDelete(b []byte, gid string, lo, hi uint64) []byte {
	b, start := appendFrame(b, recDelete, gid)
	b = binary.LittleEndian.AppendUint64(b, lo)
	b = binary.LittleEndian.AppendUint64(b, hi)
	sealFrame(b, start)
	return b
}

// sealSize is the size of a seal record.
const sealSize = frameHeader + 2 + 4

// appendSeal appends the seal of segment seq to b.
func appendSeal(b []byte, seq uint32) []byte {
	b, start := appendFrame(b, recSeal, "")
	b = binary.LittleEndian.AppendUint32(b, seq)
	sealFrame(b, start)
	return b
}

// appendDrop appends the record that forgets a group to b.
func appendDrop(b []byte, gid string) []byte {
	b, start := appendFrame(b, recDrop, gid)
	sealFrame(b, start)
	return b
}

// frameStatus classifies the bytes at a position of a segment.
type frameStatus int

const (
	frameOK        frameStatus = iota
	frameShort                 // fewer bytes than a frame header
	frameZero                  // the header is all zero
	frameTooLong               // the length runs past the end of the data
	frameBadCRC                // the checksum does not match
	frameBadLength             // a length too short for any body, or above maxBody
)

func (s frameStatus) String() string {
	switch s {
	case frameShort:
		return "truncated record header"
	case frameZero:
		return "zeroed record header"
	case frameTooLong:
		return "record length runs past the end of the file"
	case frameBadCRC:
		return "record checksum mismatch"
	case frameBadLength:
		return "impossible record length"
	}
	return "ok"
}

// parseFrame checks the frame at the start of b. On frameOK it returns
// the body and the frame's total size.
func parseFrame(b []byte) (body []byte, size int, st frameStatus) {
	if len(b) < frameHeader {
		return nil, 0, frameShort
	}
	n := binary.LittleEndian.Uint32(b)
	sum := binary.LittleEndian.Uint32(b[4:])
	switch {
	case n == 0 && sum == 0:
		return nil, 0, frameZero
	case n < 2:
		return nil, 0, frameBadLength
	case uint64(n) > uint64(len(b)-frameHeader):
		return nil, 0, frameTooLong
	case n > maxBody:
		return nil, 0, frameBadLength
	}
	body = b[frameHeader : frameHeader+int(n)]
	crc := crc32.Update(0, castagnoli, b[:4])
	if crc32.Update(crc, castagnoli, body) != sum {
		return nil, 0, frameBadCRC
	}
	return body, frameHeader + int(n), frameOK
}

// record is a decoded body. Slices alias the body.
type record struct {
	typ     byte
	group   []byte
	payload []byte
}

// splitBody splits a checked body into type, group and payload.
func splitBody(body []byte) (record, error) {
	if len(body) < 2 {
		return record{}, errors.New("record body too short")
	}
	typ, glen := body[0], int(body[1])
	if typ < recEntry || typ > recSeal {
		return record{}, fmt.Errorf("unknown record type %d", typ)
	}
	if (glen == 0) != (typ == recSeal) || len(body) < 2+glen {
		return record{}, errors.New("record group id missing or truncated")
	}
	return record{typ: typ, group: body[2 : 2+glen], payload: body[2+glen:]}, nil
}

// entryIndex returns the index of an entry payload without decoding it.
func entryIndex(p []byte) (uint64, error) {
	if len(p) < entryFixed {
		return 0, errors.New("entry record too short")
	}
	return binary.LittleEndian.Uint64(p), nil
}

// decodeEntry decodes an entry payload into l; Data and Extensions alias p
// (nil when empty).
func decodeEntry(p []byte, l *raft.Log) error {
	if len(p) < entryFixed {
		return errors.New("entry record too short")
	}
	dlen := binary.LittleEndian.Uint32(p[25:])
	if uint64(dlen) > uint64(len(p)-entryFixed) {
		return errors.New("entry data length runs past the record")
	}
	l.Index = binary.LittleEndian.Uint64(p)
	l.Term = binary.LittleEndian.Uint64(p[8:])
	if at := int64(binary.LittleEndian.Uint64(p[16:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	} else {
		l.AppendedAt = time.Time{}
	}
	l.Type = raft.LogType(p[24])
	data := p[entryFixed : entryFixed+int(dlen)]
	ext := p[entryFixed+int(dlen):]
	l.Data, l.Extensions = nil, nil
	if len(data) > 0 {
		l.Data = data
	}
	if len(ext) > 0 {
		l.Extensions = ext
	}
	return nil
}

// decodeSet decodes a set payload; key and value alias p.
func decodeSet(p []byte) (k, v []byte, err error) {
	if len(p) < 4 {
		return nil, nil, errors.New("set record too short")
	}
	n := binary.LittleEndian.Uint32(p)
	if uint64(n) > uint64(len(p)-4) {
		return nil, nil, errors.New("set record key runs past the record")
	}
	return p[4 : 4+n], p[4+n:], nil
}

// decodeDelete decodes a range-deletion payload.
func decodeDelete(p []byte) (lo, hi uint64, err error) {
	if len(p) != 16 {
		return 0, 0, errors.New("delete record of the wrong size")
	}
	return binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:]), nil
}

// allZero reports whether every byte of b is zero.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
