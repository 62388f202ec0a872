package fsm

import "math"

// protoMaxBulkLen is Redis's default proto-max-bulk-len: the largest string.
const protoMaxBulkLen = 512 << 20

// maxStringLen is the limit APPEND and SETRANGE enforce: protoMaxBulkLen. A
// variable only so that a test can check the limit without 512MB values.
var maxStringLen int64 = protoMaxBulkLen

// parseInt parses b as Redis parses integers (string2ll): an optional '-',
// then digits with no leading zero (except "0" itself), nothing else (no
// '+', no spaces), within int64, at most 20 bytes.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true // -(1<<63) wraps to MinInt64, as intended
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}

// Expiry units of SET/GETEX options and the EXPIRE family.
const (
	unitNone = iota
	unitEX   // relative seconds
	unitPX   // relative milliseconds
	unitEXAT // absolute Unix seconds
	unitPXAT // absolute Unix milliseconds
)

// strOpts are the parsed options of SET (NX XX GET KEEPTTL EX PX EXAT PXAT)
// and GETEX (EX PX EXAT PXAT PERSIST).
type strOpts struct {
	nx, xx, get, keepTTL, persist bool
	unit                          int    // unitNone if no expiry option
	expArg                        []byte // the expiry option's argument
}

// parseStrOpts parses opts the way Redis does: each option is accepted only
// if nothing already seen conflicts with it, so a conflict, an unknown
// option, or a missing expiry argument is a syntax error wherever it is.
// Repeating an option is allowed (the last expiry argument wins).
func parseStrOpts(opts [][]byte, getex bool) (strOpts, bool) {
	var o strOpts
	set := !getex
	for j := 0; j < len(opts); j++ {
		a := opts[j]
		hasNext := j+1 < len(opts)
		noExp := o.unit == unitNone
		switch {
		case set && eqFold(a, "nx") && !o.xx:
			o.nx = true
		case set && eqFold(a, "xx") && !o.nx:
			o.xx = true
		case set && eqFold(a, "get"):
			o.get = true
		case set && eqFold(a, "keepttl") && noExp:
			o.keepTTL = true
		case getex && eqFold(a, "persist") && noExp:
			o.persist = true
		case eqFold(a, "ex") && !o.keepTTL && !o.persist && (noExp || o.unit == unitEX) && hasNext:
			o.unit, o.expArg = unitEX, opts[j+1]
			j++
		case eqFold(a, "px") && !o.keepTTL && !o.persist && (noExp || o.unit == unitPX) && hasNext:
			o.unit, o.expArg = unitPX, opts[j+1]
			j++
		case eqFold(a, "exat") && !o.keepTTL && !o.persist && (noExp || o.unit == unitEXAT) && hasNext:
			o.unit, o.expArg = unitEXAT, opts[j+1]
			j++
		case eqFold(a, "pxat") && !o.keepTTL && !o.persist && (noExp || o.unit == unitPXAT) && hasNext:
			o.unit, o.expArg = unitPXAT, opts[j+1]
			j++
		default:
			return o, false
		}
	}
	return o, true
}

// expireAt converts the expiry argument of SET/SETEX/PSETEX/GETEX, in unit,
// to an absolute time in Unix ms, as Redis does: it must be a positive
// integer, and the result must not overflow. cmd names the command in the
// error text.
func expireAt(arg []byte, unit int, now int64, cmd string) (int64, Reply, bool) {
	v, ok := parseInt(arg)
	if !ok {
		return 0, replyNotInteger, false
	}
	seconds := unit == unitEX || unit == unitEXAT
	if v <= 0 || (seconds && v > math.MaxInt64/1000) {
		return 0, invalidExpire(cmd), false
	}
	if seconds {
		v *= 1000
	}
	if unit == unitEX || unit == unitPX {
		if v > math.MaxInt64-now {
			return 0, invalidExpire(cmd), false
		}
		v += now
	}
	return v, Reply{}, true
}

func invalidExpire(cmd string) Reply {
	return ErrorReply("ERR invalid expire time in '" + cmd + "' command")
}
