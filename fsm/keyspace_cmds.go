package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"strconv"

	"github.com/cespare/xxhash/v2"
)

// The keyspace commands that work on keys of every type: SCAN, KEYS,
// RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, TOUCH, OBJECT, MEMORY USAGE,
// DUMP and RESTORE.

func init() {
	const (
		wf = FlagWrite | FlagFast
		rf = FlagReadonly | FlagFast
		r  = FlagReadonly
	)
	register(
		&Spec{Name: "scan", Arity: -2, Flags: r, run: cmdScan},
		&Spec{Name: "keys", Arity: 2, Flags: r, run: cmdKeys},
		&Spec{Name: "randomkey", Arity: 1, Flags: r | FlagRandom, run: cmdRandomKey},
		&Spec{Name: "rename", Arity: 3, Flags: FlagWrite, FirstKey: 1, LastKey: 2, Step: 1, run: cmdRename},
		&Spec{Name: "renamenx", Arity: 3, Flags: wf, FirstKey: 1, LastKey: 2, Step: 1, run: cmdRenameNX},
		&Spec{Name: "copy", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 2, Step: 1, run: cmdCopy},
		&Spec{Name: "move", Arity: 3, Flags: wf, FirstKey: 1, LastKey: 1, Step: 1, run: cmdMove},
		&Spec{Name: "touch", Arity: -2, Flags: rf, FirstKey: 1, LastKey: -1, Step: 1, run: cmdTouch},
		&Spec{Name: "object", Arity: -2, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, run: cmdObject},
		&Spec{Name: "memory", Arity: -2, Flags: r, FirstKey: 2, LastKey: 2, Step: 1, run: cmdMemory},
		&Spec{Name: "dump", Arity: 2, Flags: r, FirstKey: 1, LastKey: 1, Step: 1, run: cmdDump},
		&Spec{Name: "restore", Arity: -4, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1, run: cmdRestore},
	)
}

var replyInvalidCursor = ErrorReply("ERR invalid cursor")

// parseScanCursor parses a cursor as Redis does (strtoul on the C string):
// no leading space, an optional sign (a negative cursor wraps), digits,
// nothing after them; an empty cursor is 0.
func parseScanCursor(b []byte) (uint64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	if isCSpace(b[0]) {
		return 0, false
	}
	neg := false
	d := b
	if d[0] == '+' || d[0] == '-' {
		neg = d[0] == '-'
		d = d[1:]
	}
	if len(d) == 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(d), 10, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// scanOpts are the options of the SCAN family.
type scanOpts struct {
	count   int
	pat     []byte // nil: no MATCH, or MATCH *
	typ     []byte // nil: no TYPE
	hasType bool
}

func (o *scanOpts) match(b []byte) bool { return o.pat == nil || globMatch(o.pat, b) }

// parseScanOpts parses [MATCH pattern] [COUNT count] and, for SCAN,
// [TYPE type], as Redis does.
func parseScanOpts(args [][]byte, allowType bool) (scanOpts, Reply, bool) {
	o := scanOpts{count: 10}
	for i := 0; i < len(args); i += 2 {
		more := i+1 < len(args)
		switch {
		case eqFold(args[i], "count") && more:
			n, ok := parseInt(args[i+1])
			if !ok {
				return o, replyNotInteger, false
			}
			if n < 1 {
				return o, replySyntax, false
			}
			o.count = int(min(n, math.MaxInt32))
		case eqFold(args[i], "match") && more:
			o.pat = args[i+1]
			if len(o.pat) == 1 && o.pat[0] == '*' {
				o.pat = nil
			}
		case allowType && eqFold(args[i], "type") && more:
			o.typ, o.hasType = args[i+1], true
		default:
			return o, replySyntax, false
		}
	}
	return o, Reply{}, true
}

func scanReply(cursor uint64, items []Reply) Reply {
	if items == nil {
		items = []Reply{}
	}
	return ArrayReply([]Reply{BulkReply(strconv.AppendUint(nil, cursor, 10)), ArrayReply(items)})
}

func emptyScan() Reply { return scanReply(0, nil) }

// The keyspace SCAN cursor. The keyspace is a tree ordered by key, without
// the hash order the collections have, so the cursor is a position: SCAN
// walks the keys from the last down, and the cursor holds how many keys
// are left to visit (32 bits) and a fingerprint of the next one (the low
// 24 bits). A cursor stays below 2^56: the top 8 bits are left to a router
// that walks several groups with one cursor.
//
// Walking down, deleting keys already returned (the common SCAN and DEL
// loop) or adding keys after them moves nothing still to visit, and the
// fingerprint matches. When keys came or went below the cursor, the next
// key moved: the walk resumes at the highest key within scanWindow of the
// old position that has its fingerprint, or scanWindow keys above that
// position if none has. Resuming too high only returns keys again, so the
// choice leans high: a key present for the whole iteration is missed only
// if more than scanWindow keys below the cursor came or went between two
// calls, or if the next key was itself deleted and another key below its
// place has the same 24-bit fingerprint.
const scanWindow = 1024

const fpBits = 24

func keyFingerprint(key string) uint32 { return uint32(xxhash.Sum64String(key)) & (1<<fpBits - 1) }

func (s *State) keyAt(i int) entry {
	e, _ := s.keys.GetAt(i)
	return e
}

// scanStart returns the rank to resume a keyspace scan at, walking down.
func (s *State) scanStart(cursor uint64) int {
	n := s.keys.Len()
	if cursor == 0 {
		return n - 1
	}
	left := int(cursor >> fpBits & (1<<32 - 1))
	fp := uint32(cursor) & (1<<fpBits - 1)
	if left > n {
		left = n
	}
	next := left - 1
	if next >= 0 && keyFingerprint(s.keyAt(next).key) == fp {
		return next
	}
	lo := max(next-scanWindow, 0)
	hi := min(next+scanWindow, n-1)
	best := hi // no match: resume above, returning keys again
	if lo <= hi {
		i := hi
		s.keys.Descend(s.keyAt(hi), func(e entry) bool {
			if i < lo {
				return false
			}
			if keyFingerprint(e.key) == fp {
				best = i
				return false
			}
			i--
			return true
		})
	}
	return best
}

func cmdScan(s *State, c Ctx, a [][]byte) Reply {
	cursor, ok := parseScanCursor(a[1])
	if !ok {
		return replyInvalidCursor
	}
	opts, r, ok := parseScanOpts(a[2:], true)
	if !ok {
		return r
	}
	start := s.scanStart(cursor)
	if start < 0 {
		return emptyScan()
	}
	var out []Reply
	visited := 0
	s.keys.Descend(s.keyAt(start), func(e entry) bool {
		if visited >= opts.count {
			return false
		}
		visited++
		if !e.liveAt(c.NowMs) || !opts.match(stringBytes(e.key)) {
			return true
		}
		if opts.hasType && !eqFold(opts.typ, e.val.typ.typeName()) {
			return true
		}
		out = append(out, BulkReply(stringBytes(e.key)))
		return true
	})
	left := start + 1 - visited
	var next uint64
	if left > 0 {
		next = uint64(min(left, 1<<32-1))<<fpBits | uint64(keyFingerprint(s.keyAt(left-1).key))
	}
	return scanReply(next, out)
}

func cmdKeys(s *State, c Ctx, a [][]byte) Reply {
	pat := a[1]
	all := len(pat) == 1 && pat[0] == '*'
	out := []Reply{}
	s.keys.Scan(func(e entry) bool {
		if e.liveAt(c.NowMs) && (all || globMatch(pat, stringBytes(e.key))) {
			out = append(out, BulkReply(stringBytes(e.key)))
		}
		return true
	})
	return ArrayReply(out)
}

func cmdRandomKey(s *State, c Ctx, a [][]byte) Reply {
	n := s.keys.Len()
	if n == 0 {
		return ReplyNil
	}
	rg := newRNG(c.Seed, nil)
	for range 100 {
		if e := s.keyAt(rg.intn(n)); e.liveAt(c.NowMs) {
			return BulkReply(stringBytes(e.key))
		}
	}
	// Mostly expired keys: walk on from a random place.
	from := rg.intn(n)
	for i := 0; i < n; i++ {
		if e := s.keyAt((from + i) % n); e.liveAt(c.NowMs) {
			return BulkReply(stringBytes(e.key))
		}
	}
	return ReplyNil
}

// moveEntry returns e under another key, keeping its value and expiry.
func moveEntry(e entry, key []byte) entry {
	if e.val.typ == typeString {
		return stringEntry(key, e.val.str(), e.exp)
	}
	return newObjEntry(key, e.exp, e.val.typ, e.val.obj)
}

func cmdRename(s *State, c Ctx, a [][]byte) Reply   { return s.rename(c.NowMs, a, false) }
func cmdRenameNX(s *State, c Ctx, a [][]byte) Reply { return s.rename(c.NowMs, a, true) }

func (s *State) rename(now int64, a [][]byte, nx bool) Reply {
	e, found := s.lookupWrite(a[1], now)
	if !found {
		return ErrorReply("ERR no such key")
	}
	if bytes.Equal(a[1], a[2]) {
		if nx {
			return replyZero
		}
		return ReplyOK
	}
	if _, exists := s.lookupWrite(a[2], now); exists && nx {
		return replyZero
	}
	s.remove(e)
	s.store(moveEntry(e, a[2]))
	if nx {
		return replyOne
	}
	return ReplyOK
}

func cmdCopy(s *State, c Ctx, a [][]byte) Reply {
	replace := false
	for j := 3; j < len(a); j++ {
		switch {
		case eqFold(a[j], "replace"):
			replace = true
		case eqFold(a[j], "db") && j+1 < len(a):
			db, ok := parseInt(a[j+1])
			if !ok || db < math.MinInt32 || db > math.MaxInt32 {
				return replyNotInteger
			}
			if db < 0 || db >= 16 {
				return ErrorReply("ERR DB index is out of range")
			}
			if db != 0 {
				return ErrorReply("ERR Copying to another database is not allowed in cluster mode")
			}
			j++
		default:
			return replySyntax
		}
	}
	if bytes.Equal(a[1], a[2]) {
		return ErrorReply("ERR source and destination objects are the same")
	}
	e, found := s.lookupWrite(a[1], c.NowMs)
	if !found {
		return replyZero
	}
	if _, exists := s.lookupWrite(a[2], c.NowMs); exists && !replace {
		return replyZero
	}
	var ne entry
	if e.val.typ == typeString {
		ne = stringEntry(a[2], e.val.str(), e.exp)
	} else {
		ne = newObjEntry(a[2], e.exp, e.val.typ, nil)
		ne.val = cloneObj(e.val, s.gen)
	}
	s.store(ne)
	return replyOne
}

func cmdMove(s *State, c Ctx, a [][]byte) Reply {
	return ErrorReply("ERR MOVE is not allowed in cluster mode")
}

func cmdTouch(s *State, c Ctx, a [][]byte) Reply { return cmdExists(s, c, a) }

// subcommand checks the arity of a container command's subcommand (as
// Redis names it, "object|encoding") and reports an unknown one.
func subcommandError(container string, a [][]byte) Reply {
	return errorText("ERR unknown subcommand '" + string(clip(a[1], 128)) + "'. Try " + container + " HELP.")
}

func helpReply(lines ...string) Reply {
	out := make([]Reply, len(lines))
	for i, l := range lines {
		out[i] = StatusReply(l)
	}
	return ArrayReply(out)
}

func cmdObject(s *State, c Ctx, a [][]byte) Reply {
	sub := string(lowerName(a[1]))
	switch sub {
	case "help":
		if len(a) != 2 {
			return wrongArgs("object|help")
		}
		return helpReply(
			"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>",
			"    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.",
			"FREQ <key>",
			"    Return the access frequency index of the <key>. The returned integer is",
			"    proportional to the logarithm of the recent access frequency of the key.",
			"IDLETIME <key>",
			"    Return the idle time of the <key>, that is the approximated number of",
			"    seconds elapsed since the last access to the key.",
			"REFCOUNT <key>",
			"    Return the number of references of the value associated with the specified",
			"    <key>.",
			"HELP",
			"    Prints this help.",
		)
	case "encoding", "refcount", "idletime", "freq":
	default:
		return subcommandError("OBJECT", a)
	}
	if len(a) != 3 {
		return wrongArgs("object|" + sub)
	}
	e, found := s.lookup(a[2], c.NowMs)
	if !found {
		return ReplyNil
	}
	switch sub {
	case "encoding":
		return BulkReply([]byte(objEncoding(e.val)))
	case "refcount":
		// Redis shares the integers 0..9999 (OBJECT REFCOUNT says INT_MAX).
		if e.val.typ == typeString {
			if n, ok := parseInt(e.val.str()); ok && n >= 0 && n < 10000 {
				return IntReply(math.MaxInt32)
			}
		}
		return replyOne
	case "idletime":
		// Access times are not part of the replicated state.
		return replyZero
	}
	return ErrorReply("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
}

func cmdMemory(s *State, c Ctx, a [][]byte) Reply {
	sub := string(lowerName(a[1]))
	switch sub {
	case "help":
		if len(a) != 2 {
			return wrongArgs("memory|help")
		}
		return helpReply(
			"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"DOCTOR",
			"    Return memory problems reports.",
			"MALLOC-STATS",
			"    Return internal statistics report from the memory allocator.",
			"PURGE",
			"    Attempt to purge dirty pages for reclamation by the allocator.",
			"STATS",
			"    Return information about the memory usage of the server.",
			"USAGE <key> [SAMPLES <count>]",
			"    Return memory in bytes used by <key> and its value. Nested values are",
			"    sampled up to <count> times (default: 5, 0 means sample all).",
			"HELP",
			"    Prints this help.",
		)
	case "usage":
	default:
		return subcommandError("MEMORY", a)
	}
	if len(a) < 3 {
		return wrongArgs("memory|usage")
	}
	for j := 3; j < len(a); j++ {
		if eqFold(a[j], "samples") && j+1 < len(a) {
			n, ok := parseInt(a[j+1])
			if !ok {
				return replyNotInteger
			}
			if n < 0 {
				return replySyntax
			}
			j++
			continue
		}
		return replySyntax
	}
	e, found := s.lookup(a[2], c.NowMs)
	if !found {
		return ReplyNil
	}
	return IntReply(memUsage(e))
}

// DUMP payload: the value's type (1 byte), its payload as the snapshot
// writes it (a string: varint length, bytes; a collection: see objects.go),
// then the payload format version (uint16 LE) and a CRC-32C (uint32 LE) of
// everything before it. It is not Redis's RDB format: RESTORE takes only
// payloads made by DUMP here.
const dumpVersion = 1

// bufWriter collects a payload (objWriter).
type bufWriter struct{ b []byte }

func (w *bufWriter) write(p []byte)   { w.b = append(w.b, p...) }
func (w *bufWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

func dumpValue(v value) []byte {
	w := &bufWriter{b: []byte{byte(v.typ)}}
	switch v.typ {
	case typeString:
		w.uvarint(uint64(len(v.str())))
		w.write(v.str())
	case typeList:
		writeList(w, v.obj.(*list))
	default:
		writeObj(w, v)
	}
	w.b = binary.LittleEndian.AppendUint16(w.b, dumpVersion)
	return binary.LittleEndian.AppendUint32(w.b, crc32.Checksum(w.b, castagnoli))
}

// undumpValue decodes a DUMP payload; ok is false if it is not one (bad
// version or checksum: badSum true) or malformed.
func undumpValue(p []byte, gen uint64) (v value, badSum, ok bool) {
	if len(p) < 7 {
		return value{}, true, false
	}
	body, tail := p[:len(p)-6], p[len(p)-6:]
	if binary.LittleEndian.Uint16(tail) != dumpVersion ||
		binary.LittleEndian.Uint32(tail[2:]) != crc32.Checksum(p[:len(p)-4], castagnoli) {
		return value{}, true, false
	}
	typ := valueType(body[0])
	r := &snapReader{br: bufio.NewReader(bytes.NewReader(body[1:]))}
	switch {
	case typ == typeString:
		s, err := r.blob("value")
		if err != nil {
			return value{}, false, false
		}
		v = strValue(stringBytes(s))
	case typ == typeList || isObjType(typ):
		var err error
		if v, err = readValue(r, typ, gen); err != nil {
			return value{}, false, false
		}
	default:
		return value{}, false, false
	}
	if _, err := r.br.ReadByte(); err == nil {
		return value{}, false, false // trailing bytes
	}
	// Redis loads a value in the encoding its contents call for, whatever
	// the encoding it was dumped in.
	switch o := v.obj.(type) {
	case *hashObj:
		o.fitEncoding()
	case *setObj:
		o.fitEncoding()
	case *zsetObj:
		o.fitEncoding()
	}
	return v, false, true
}

func cmdDump(s *State, c Ctx, a [][]byte) Reply {
	e, found := s.lookup(a[1], c.NowMs)
	if !found {
		return ReplyNil
	}
	return BulkReply(dumpValue(e.val))
}

func cmdRestore(s *State, c Ctx, a [][]byte) Reply {
	replace, absTTL := false, false
	idle, freq := false, false
	for j := 4; j < len(a); j++ {
		more := j+1 < len(a)
		switch {
		case eqFold(a[j], "replace"):
			replace = true
		case eqFold(a[j], "absttl"):
			absTTL = true
		case eqFold(a[j], "idletime") && more && !freq:
			n, ok := parseInt(a[j+1])
			if !ok {
				return replyNotInteger
			}
			if n < 0 {
				return ErrorReply("ERR Invalid IDLETIME value, must be >= 0")
			}
			idle = true
			j++
		case eqFold(a[j], "freq") && more && !idle:
			n, ok := parseInt(a[j+1])
			if !ok {
				return replyNotInteger
			}
			if n < 0 || n > 255 {
				return ErrorReply("ERR Invalid FREQ value, must be >= 0 and <= 255")
			}
			freq = true
			j++
		default:
			return replySyntax
		}
	}
	if !replace {
		if _, exists := s.lookupWrite(a[1], c.NowMs); exists {
			return ErrorReply("BUSYKEY Target key name already exists.")
		}
	}
	ttl, ok := parseInt(a[2])
	if !ok {
		return replyNotInteger
	}
	if ttl < 0 {
		return ErrorReply("ERR Invalid TTL value, must be >= 0")
	}
	v, badSum, ok := undumpValue(a[3], s.gen)
	if !ok {
		if badSum {
			return ErrorReply("ERR DUMP payload version or checksum are wrong")
		}
		return ErrorReply("ERR Bad data format")
	}
	if replace {
		s.removeKey(a[1], c.NowMs)
	}
	exp := ttl
	if ttl != 0 && !absTTL {
		if ttl > math.MaxInt64-c.NowMs {
			return ReplyOK // Redis's sum overflows to the past: nothing is created
		}
		exp = ttl + c.NowMs
	}
	if exp != 0 && exp <= c.NowMs {
		return ReplyOK // already expired
	}
	if v.typ == typeString {
		s.store(stringEntry(a[1], v.str(), exp))
	} else {
		s.store(newObjEntry(a[1], exp, v.typ, v.obj))
	}
	return ReplyOK
}
