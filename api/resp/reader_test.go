package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, in string) ([][][]byte, error) {
	t.Helper()
	r := newReader(strings.NewReader(in))
	var out [][][]byte
	for {
		args, err := r.readCommand()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		if args != nil {
			out = append(out, args)
		}
	}
}

func TestReaderMultibulk(t *testing.T) {
	cmds, err := readAll(t, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*1\r\n$4\r\nPING\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 || string(cmds[0][0]) != "SET" || string(cmds[0][1]) != "k" || len(cmds[0][2]) != 0 || string(cmds[1][0]) != "PING" {
		t.Fatalf("got %q", cmds)
	}
}

func TestReaderInline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"set k v\r\n", []string{"set", "k", "v"}},
		{"set  k   v\n", []string{"set", "k", "v"}},
		{`set "a b" 'c d'` + "\r\n", []string{"set", "a b", "c d"}},
		{`set k "x\n\x41"` + "\r\n", []string{"set", "k", "x\nA"}},
		{`set k ""` + "\r\n", []string{"set", "k", ""}},
	} {
		cmds, err := readAll(t, tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if len(cmds) != 1 || len(cmds[0]) != len(tc.want) {
			t.Fatalf("%q: got %q", tc.in, cmds)
		}
		for i, w := range tc.want {
			if string(cmds[0][i]) != w {
				t.Fatalf("%q: arg %d = %q, want %q", tc.in, i, cmds[0][i], w)
			}
		}
	}
	// An empty line is ignored, as Redis does.
	cmds, err := readAll(t, "\r\nping\r\n")
	if err != nil || len(cmds) != 1 {
		t.Fatalf("empty line: %q %v", cmds, err)
	}
}

func TestReaderProtocolErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"},
		{"*1\r\n$1073741824\r\n", "ERR Protocol error: invalid bulk length"},
		{"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"},
		{"*x\r\n", "ERR Protocol error: invalid multibulk length"},
		{"*99999999999\r\n", "ERR Protocol error: invalid multibulk length"},
		{"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':1'"},
		{`set "k v` + "\r\n", "ERR Protocol error: unbalanced quotes in request"},
		{"set " + strings.Repeat("x", 70*1024) + "\r\n", "ERR Protocol error: too big inline request"},
	} {
		_, err := readAll(t, tc.in)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Error() != tc.want {
			name := tc.in
			if len(name) > 40 {
				name = name[:40]
			}
			t.Errorf("%q: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestReaderTruncated(t *testing.T) {
	_, err := readAll(t, "*2\r\n$3\r\nGET\r\n$5\r\nab")
	if err == nil || errors.As(err, new(*ProtocolError)) {
		t.Fatalf("truncated frame: err = %v, want an I/O error", err)
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{"*1\r\n$4\r\nPING\r\n", "set k v\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", `set "a\x41" 'b'` + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newReader(bytes.NewReader(in))
		for range 1000 {
			if _, err := r.readCommand(); err != nil {
				return
			}
		}
	})
}

// TestReaderArgumentsOutliveBatches: arguments read in one batch keep
// their bytes while later batches are read (MULTI keeps queued commands
// past their batch), and small commands share arena allocations.
func TestReaderArgumentsOutliveBatches(t *testing.T) {
	var in strings.Builder
	const n = 2000
	for i := range n {
		v := strings.Repeat(string(rune('a'+i%26)), 1+i%40)
		in.WriteString("*3\r\n$3\r\nSET\r\n$" + itoa(len(v)) + "\r\n" + v + "\r\n$1\r\nx\r\n")
	}
	r := newReader(strings.NewReader(in.String()))
	var kept [][][]byte
	for range n {
		r.reset()
		args, err := r.readCommand()
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, args)
	}
	for i, args := range kept {
		want := strings.Repeat(string(rune('a'+i%26)), 1+i%40)
		if len(args) != 3 || string(args[0]) != "SET" || string(args[1]) != want || string(args[2]) != "x" {
			t.Fatalf("command %d now reads %q, want [SET %s x]", i, args, want)
		}
	}
	allocs := testing.AllocsPerRun(1, func() {
		r := newReader(strings.NewReader(in.String()))
		for range n {
			r.reset()
			if _, err := r.readCommand(); err != nil {
				t.Fatal(err)
			}
		}
	})
	// One args slice per command, plus an arena per 16 KiB of arguments
	// (about 50 KiB here) and the reader itself.
	if allocs > n+20 {
		t.Fatalf("%v allocations for %d commands; want about one per command", allocs, n)
	}
}
