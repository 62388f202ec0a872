package fsm

import (
	"math"
	"math/big"
	"strconv"
)

// Parsing doubles as Redis does. Scores and weights go through string2d
// (strtod on the whole argument, refusing leading space, NaN, overflow and
// underflow to zero); score range bounds go through a bare strtod that
// accepts leading space, an empty string (0), overflow (to ±inf) and
// underflow. strtod here is glibc's grammar: an optional sign, then "inf",
// "infinity" or "nan" (any case), a decimal number with an optional
// exponent, or a hexadecimal one ("0x", hex digits with an optional point,
// an optional "p" exponent), correctly rounded.

func isCSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// strtod parses a prefix of b. n is the number of bytes consumed (0: no
// conversion, as strtod leaves eptr at the start); erange reports an
// overflow (±Inf) or an underflow (a non-zero number that rounds to a
// subnormal or to zero), as glibc sets ERANGE.
func strtod(b []byte) (v float64, n int, erange bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	sign := func(x float64) float64 {
		if neg {
			return -x
		}
		return x
	}
	rest := b[i:]
	switch {
	case hasFoldPrefix(rest, "infinity"):
		return sign(math.Inf(1)), i + 8, false
	case hasFoldPrefix(rest, "inf"):
		return sign(math.Inf(1)), i + 3, false
	case hasFoldPrefix(rest, "nan"):
		j := i + 3
		if j < len(b) && b[j] == '(' {
			k := j + 1
			for k < len(b) && (isDigit(b[k]) || b[k] == '_' || (b[k]|0x20 >= 'a' && b[k]|0x20 <= 'z')) {
				k++
			}
			if k < len(b) && b[k] == ')' {
				j = k + 1
			}
		}
		return math.NaN(), j, false
	}
	if len(rest) >= 2 && rest[0] == '0' && rest[1]|0x20 == 'x' {
		if v, m, er, ok := hexDouble(rest[2:]); ok {
			return sign(v), i + 2 + m, er
		}
		// "0x" without hex digits: just the "0".
		return sign(0), i + 1, false
	}
	// Decimal: digits [. digits] [e [+-] digits], at least one digit.
	j := i
	digits, nonzero := 0, false
	for j < len(b) && isDigit(b[j]) {
		nonzero = nonzero || b[j] != '0'
		j++
		digits++
	}
	if j < len(b) && b[j] == '.' {
		j++
		for j < len(b) && isDigit(b[j]) {
			nonzero = nonzero || b[j] != '0'
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if j < len(b) && b[j]|0x20 == 'e' {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		if k < len(b) && isDigit(b[k]) {
			for k < len(b) && isDigit(b[k]) {
				k++
			}
			j = k
		}
	}
	f, err := strconv.ParseFloat(string(b[i:j]), 64)
	switch {
	case err != nil && math.IsInf(f, 0):
		erange = true
	case err != nil:
		// Not expected for the grammar above; treat as no conversion.
		return 0, 0, false
	case nonzero && (f == 0 || math.Abs(f) < 0x1p-1022):
		erange = true
	}
	return sign(f), j, erange
}

// hexDouble parses hex digits with an optional point and "p" exponent (the
// part after "0x"), correctly rounded. ok is false if there is no digit.
func hexDouble(p []byte) (v float64, n int, erange, ok bool) {
	m := new(big.Int)
	j, digits, frac := 0, 0, 0
	seenPoint := false
	for ; j < len(p); j++ {
		c := p[j]
		if c == '.' && !seenPoint {
			seenPoint = true
			continue
		}
		d := digitVal(c)
		if d >= 16 {
			break
		}
		m.Lsh(m, 4)
		m.Or(m, big.NewInt(int64(d)))
		digits++
		if seenPoint {
			frac++
		}
	}
	if digits == 0 {
		return 0, 0, false, false
	}
	exp := 0
	if j < len(p) && p[j]|0x20 == 'p' {
		k := j + 1
		eneg := false
		if k < len(p) && (p[k] == '+' || p[k] == '-') {
			eneg = p[k] == '-'
			k++
		}
		if k < len(p) && isDigit(p[k]) {
			for k < len(p) && isDigit(p[k]) {
				if exp < 1<<20 {
					exp = exp*10 + int(p[k]-'0')
				}
				k++
			}
			if eneg {
				exp = -exp
			}
			j = k
		}
	}
	exp -= 4 * frac
	if m.Sign() == 0 {
		return 0, j, false, true
	}
	f := new(big.Float).SetInt(m)
	f.SetMantExp(f, exp)
	v, _ = f.Float64()
	erange = math.IsInf(v, 0) || math.Abs(v) < 0x1p-1022
	return v, j, erange, true
}

func hasFoldPrefix(b []byte, word string) bool {
	return len(b) >= len(word) && eqFold(b[:len(word)], word)
}

// parseScore parses a score, weight or increment as Redis's string2d.
func parseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	v, n, erange := strtod(b)
	if n != len(b) || math.IsNaN(v) {
		return 0, false
	}
	if erange && (math.IsInf(v, 0) || v == 0) {
		return 0, false
	}
	return v, true
}

// parseRangeScore parses a score range bound (without its '(') as Redis's
// range parser: strtod on the C string (so it ends at a NUL byte), which
// must consume all of it, and not NaN.
func parseRangeScore(b []byte) (float64, bool) {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	v, n, _ := strtod(b)
	if n == 0 {
		return 0, len(b) == 0
	}
	if n != len(b) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
