package fsm

import (
	"bufio"
	"os"
	"strings"
	"testing"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// TestIncrByFloatCases replays testdata/incrbyfloat.tsv: parsing (decimal,
// hex, inf, signs, exponents at the edges of the format), long double
// rounding, and "%.17Lf" formatting, each line as Redis answered it.
func TestIncrByFloatCases(t *testing.T) {
	f, err := os.Open("testdata/incrbyfloat.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 3 {
			t.Fatalf("bad line %q", line)
		}
		val, incr, want := parts[0], parts[1], parts[2]
		s := NewState()
		if val != "" {
			s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("SET"), []byte("f"), []byte(val)}})
		}
		r := s.Apply(&pb.Command{NowMs: t0, Args: [][]byte{[]byte("INCRBYFLOAT"), []byte("f"), []byte(incr)}})
		var got string
		if r.IsError() {
			got = r.Str
		} else {
			got = string(r.Bulk)
		}
		if got != want {
			t.Errorf("value %q INCRBYFLOAT %q:\n got: %.200s\nwant: %.200s", val, incr, got, want)
		}
		// What is stored is what was replied.
		if !r.IsError() {
			if g := s.Read(t0, [][]byte{[]byte("GET"), []byte("f")}); string(g.Bulk) != want {
				t.Errorf("value %q INCRBYFLOAT %q: stored %.200s", val, incr, g.Bulk)
			}
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("only %d cases read", n)
	}
}

// TestIncrByFloatIntegers checks that sums of integers print as integers,
// as long as the format holds them exactly (64 bits of significand).
func TestIncrByFloatIntegers(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"1", "2", "3"},
		{"-5", "5", "0"},
		{"9007199254740993", "0", "9007199254740993"}, // 2^53+1: beyond float64
		{"9223372036854775807", "1", "9223372036854775808"},
		{"-9223372036854775808", "-1", "-9223372036854775809"},
	} {
		got, r, ok := addFloats([]byte(c.a), []byte(c.b))
		if !ok || string(got) != c.want {
			t.Errorf("%s + %s = %q (%s), want %s", c.a, c.b, got, r, c.want)
		}
	}
}

func TestParseLongDoubleRejects(t *testing.T) {
	for _, s := range []string{"", " 1", "1 ", "\t1", "1\n", "0x", "0xg", "0x1p", "1e", "e1", ".", "-", "+",
		"--1", "1..2", "1.2.3", "nan", "-nan", "nan(1)", "infinit", "1e-5000", strings.Repeat("1", maxFloatLen)} {
		if _, ok := parseLongDouble([]byte(s)); ok {
			t.Errorf("parseLongDouble(%q) accepted", s)
		}
	}
}
