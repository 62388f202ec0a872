package fsm

import (
	"bytes"
	"math/big"
)

// INCRBYFLOAT arithmetic. Redis computes it in C's long double, which on
// x86-64 is the x87 80-bit format (a 64-bit significand), parses with
// strtold and prints with "%.17Lf" minus trailing zeros. float64 would give
// other answers ("0.1"+"0.2" is "0.3" in Redis, 0.30000000000000004 in
// float64), so this file reproduces that format exactly with math/big:
// values are rounded to 64 significant bits, half to even, within the
// format's exponent range (subnormals included), and printed exactly.

const (
	ldPrec = 64 // significand bits
	// In big.Float's terms (x = m × 2^e, 0.5 <= m < 1) the largest finite
	// value has e = 16384 and the smallest normal e = -16381.
	ldMaxExp = 16384
	ldMinExp = -16381
	// ldSubShift scales the smallest subnormal, 2^-16445, to 1.
	ldSubShift = 16445
	// maxFloatLen is Redis's MAX_LONG_DOUBLE_CHARS: longer input is refused.
	maxFloatLen = 5 * 1024
)

// ldFloat is a finite long double value, or an infinity.
type ldFloat struct {
	f   *big.Float // nil if inf
	inf bool
}

// addFloats returns the text of cur+incr as INCRBYFLOAT computes it.
func addFloats(cur, incr []byte) ([]byte, Reply, bool) {
	a, ok1 := parseLongDouble(cur)
	b, ok2 := parseLongDouble(incr)
	if !ok1 || !ok2 {
		return nil, replyNotFloat, false
	}
	if a.inf || b.inf {
		return nil, ErrorReply(ErrNaNOrInf), false
	}
	sum := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven).Add(a.f, b.f)
	if sum.Sign() != 0 && sum.MantExp(nil) > ldMaxExp {
		return nil, ErrorReply(ErrNaNOrInf), false
	}
	// Two multiples of the smallest subnormal add up exactly when the sum
	// is that small, so Add's rounding is the format's.
	return formatLongDouble(sum), Reply{}, true
}

// formatLongDouble prints f as "%.17Lf" does, then removes trailing zeros
// and a trailing point, and turns "-0" into "0".
func formatLongDouble(f *big.Float) []byte {
	b := f.Append(nil, 'f', 17) // exact digits, rounded half to even like glibc
	if bytes.IndexByte(b, '.') >= 0 {
		b = bytes.TrimRight(b, "0")
		b = bytes.TrimSuffix(b, []byte("."))
	}
	if string(b) == "-0" {
		b = []byte("0")
	}
	return b
}

// parseLongDouble parses b as Redis's string2ld does: strtold on the whole
// input, refusing leading space, trailing bytes, NaN, overflow, and
// underflow to zero. strtold's syntax: an optional sign, then "inf" or
// "infinity" (any case), a decimal number with an optional exponent, or a
// hex number ("0x", hex digits with an optional point, optional "p"
// exponent).
func parseLongDouble(b []byte) (ldFloat, bool) {
	if len(b) == 0 || len(b) >= maxFloatLen {
		return ldFloat{}, false
	}
	neg := false
	p := b
	if p[0] == '+' || p[0] == '-' {
		neg = p[0] == '-'
		p = p[1:]
	}
	if eqFold(p, "inf") || eqFold(p, "infinity") {
		return ldFloat{inf: true}, true
	}
	var num, den *big.Int
	var ok bool
	if len(p) > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') {
		num, den, ok = parseHexFloat(p[2:])
	} else {
		num, den, ok = parseDecFloat(p)
	}
	if !ok {
		return ldFloat{}, false
	}
	f, ok := roundLongDouble(num, den)
	if !ok {
		return ldFloat{}, false
	}
	if neg {
		f.Neg(f)
	}
	return ldFloat{f: f}, true
}

// mantissa scans digits of the given base with at most one point, and
// returns them as an integer, the number of digits after the point, and the
// rest of p. ok is false if there is no digit.
func mantissa(p []byte, base int) (m *big.Int, frac int, rest []byte, ok bool) {
	digits := make([]byte, 0, len(p))
	seenPoint, n := false, 0
	i := 0
	for ; i < len(p); i++ {
		c := p[i]
		if c == '.' && !seenPoint {
			seenPoint = true
			continue
		}
		if digitVal(c) >= base {
			break
		}
		digits = append(digits, c)
		n++
		if seenPoint {
			frac++
		}
	}
	if n == 0 {
		return nil, 0, nil, false
	}
	m, _ = new(big.Int).SetString(string(digits), base)
	return m, frac, p[i:], true
}

func digitVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return 99
}

// exponent parses an exponent's "[+-]digits" (all of p), saturating far
// beyond any representable value.
func exponent(p []byte) (int, bool) {
	neg := false
	if len(p) > 0 && (p[0] == '+' || p[0] == '-') {
		neg = p[0] == '-'
		p = p[1:]
	}
	if len(p) == 0 {
		return 0, false
	}
	e := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if e < 1<<30 {
			e = e*10 + int(c-'0')
		}
	}
	if neg {
		e = -e
	}
	return e, true
}

// parseDecFloat parses "digits[.digits][e[+-]digits]" into num/den exactly.
// A magnitude far outside the format is refused here, before computing a
// power of ten it would take (strtold's overflow or underflow to zero);
// roundLongDouble refuses those near the edges.
func parseDecFloat(p []byte) (num, den *big.Int, ok bool) {
	m, frac, rest, ok := mantissa(p, 10)
	if !ok {
		return nil, nil, false
	}
	e := 0
	if len(rest) > 0 {
		if rest[0] != 'e' && rest[0] != 'E' {
			return nil, nil, false
		}
		if e, ok = exponent(rest[1:]); !ok {
			return nil, nil, false
		}
	}
	e -= frac
	if m.Sign() == 0 {
		return m, big.NewInt(1), true
	}
	// The value lies in [10^(d-1+e), 10^(d+e)) for d significant digits:
	// outside (1e-4952, 1e4933) it is an underflow or an overflow.
	d := len(m.String())
	switch {
	case d-1+e >= 4933:
		return nil, nil, false
	case d+e <= -4952:
		return nil, nil, false
	}
	ten := big.NewInt(10)
	if e >= 0 {
		return m.Mul(m, new(big.Int).Exp(ten, big.NewInt(int64(e)), nil)), big.NewInt(1), true
	}
	return m, new(big.Int).Exp(ten, big.NewInt(int64(-e)), nil), true
}

// parseHexFloat parses the part after "0x": "hexdigits[.hexdigits][p[+-]digits]".
func parseHexFloat(p []byte) (num, den *big.Int, ok bool) {
	m, frac, rest, ok := mantissa(p, 16)
	if !ok {
		return nil, nil, false
	}
	e := 0
	if len(rest) > 0 {
		if rest[0] != 'p' && rest[0] != 'P' {
			return nil, nil, false
		}
		if e, ok = exponent(rest[1:]); !ok {
			return nil, nil, false
		}
	}
	e -= 4 * frac
	if m.Sign() == 0 {
		return m, big.NewInt(1), true
	}
	bits := m.BitLen() // the value lies in [2^(bits-1+e), 2^(bits+e))
	switch {
	case bits-1+e >= ldMaxExp:
		return nil, nil, false
	case bits+e < -ldSubShift-1:
		return nil, nil, false
	}
	if e >= 0 {
		return m.Lsh(m, uint(e)), big.NewInt(1), true
	}
	return m, new(big.Int).Lsh(big.NewInt(1), uint(-e)), true
}

// roundLongDouble rounds num/den (num >= 0) to the nearest long double,
// half to even. ok is false on overflow, and on underflow of a non-zero
// value to zero (strtold's ERANGE cases that Redis refuses).
func roundLongDouble(num, den *big.Int) (*big.Float, bool) {
	z := new(big.Float).SetPrec(ldPrec).SetMode(big.ToNearestEven)
	if num.Sign() == 0 {
		return z, true
	}
	a := new(big.Float).SetInt(num) // exact: the precision is num's length
	b := new(big.Float).SetInt(den)
	z.Quo(a, b)
	exp := z.MantExp(nil)
	if exp > ldMaxExp {
		return nil, false
	}
	if exp >= ldMinExp {
		return z, true
	}
	// Subnormal: the quantum is fixed at 2^-16445, so round num/den × 2^16445
	// to an integer, half to even.
	q, r := new(big.Int).QuoRem(new(big.Int).Lsh(num, ldSubShift), den, new(big.Int))
	r.Lsh(r, 1)
	if c := r.Cmp(den); c > 0 || (c == 0 && q.Bit(0) == 1) {
		q.Add(q, big.NewInt(1))
	}
	if q.Sign() == 0 {
		return nil, false
	}
	z.SetInt(q)
	return z.SetMantExp(z, -ldSubShift), true
}
