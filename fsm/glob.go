package fsm

// globMatch reports whether s matches the glob pattern of KEYS and the
// SCAN family's MATCH, with Redis's rules:
//
//	'*'      any run of bytes (also empty)
//	'?'      one byte
//	"[abc]"  one of the bytes; "[^abc]" one not among them; "[a-z]" a
//	         range (either way round); a '\' inside escapes the next byte;
//	         a bracket never closed runs to the end of the pattern
//	"\x"     the byte x
//
// Bytes compare as C's signed char in ranges, as Redis compares them. As in
// Redis, "*" does not match the empty string (KEYS * and MATCH * do not use
// the pattern at all). After a '*' fails to let the rest match anywhere, an
// earlier '*' cannot help either, which keeps the worst case polynomial.
func globMatch(pattern, s []byte) bool {
	skipLonger := false
	return globMatchImpl(pattern, s, &skipLonger)
}

func globMatchImpl(p, s []byte, skipLonger *bool) bool {
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatchImpl(p[1:], s, skipLonger) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			match := false
			for {
				if len(p) >= 2 && p[0] == '\\' {
					p = p[1:]
					if p[0] == s[0] {
						match = true
					}
				} else if len(p) == 0 {
					// Unclosed: the pattern ends here; step back so that
					// the common advance below lands on the end.
					p = nil
					break
				} else if p[0] == ']' {
					break
				} else if len(p) >= 3 && p[1] == '-' {
					lo, hi, c := int(int8(p[0])), int(int8(p[2])), int(int8(s[0]))
					if lo > hi {
						lo, hi = hi, lo
					}
					p = p[2:]
					if c >= lo && c <= hi {
						match = true
					}
				} else if p[0] == s[0] {
					match = true
				}
				p = p[1:]
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			s = s[1:]
			if p == nil {
				// The unclosed bracket consumed the rest of the pattern.
				if len(s) == 0 {
					return true
				}
				return false
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
