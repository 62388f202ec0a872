package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/redraft/redraft/shard/shardtest"
)

// Fuzz targets for the RESP front door, besides FuzzReader (no panic):
//
//	go test -run '^$' -fuzz '^FuzzReaderChunking$' -fuzztime 10s ./api/resp/
//	go test -run '^$' -fuzz '^FuzzReaderRoundTrip$' -fuzztime 10s ./api/resp/
//	go test -run '^$' -fuzz '^FuzzServerConn$' -fuzztime 10s ./api/resp/
//
// Without -fuzz, `go test` runs each target on its seed corpus.

// parsed is what a reader made of a stream: the commands, then how it
// stopped.
type parsed struct {
	cmds [][][]byte
	end  string // "eof", or the error's text
}

func parseStream(r io.Reader) parsed {
	rd := newReader(r)
	var p parsed
	for range 10000 {
		rd.reset()
		args, err := rd.readCommand()
		if err != nil {
			var pe *ProtocolError
			switch {
			case errors.As(err, &pe):
				p.end = pe.Error()
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				p.end = "eof"
			default:
				p.end = "error: " + err.Error()
			}
			return p
		}
		if args != nil {
			// Copy: the arena is reused by the next batch.
			cp := make([][]byte, len(args))
			for i, a := range args {
				cp[i] = append([]byte{}, a...)
			}
			p.cmds = append(p.cmds, cp)
		}
	}
	p.end = "limit"
	return p
}

func equalParsed(a, b parsed) bool {
	if a.end != b.end || len(a.cmds) != len(b.cmds) {
		return false
	}
	for i := range a.cmds {
		if len(a.cmds[i]) != len(b.cmds[i]) {
			return false
		}
		for j := range a.cmds[i] {
			if !bytes.Equal(a.cmds[i][j], b.cmds[i][j]) {
				return false
			}
		}
	}
	return true
}

// chunkReader returns its data in pieces whose sizes cycle through sizes.
type chunkReader struct {
	data  []byte
	sizes []byte
	k     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = int(c.sizes[c.k%len(c.sizes)])%13 + 1
		c.k++
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

var readerSeeds = []string{
	"*1\r\n$4\r\nPING\r\n",
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
	"set k v\r\nget k\n",
	`set "a\x41\n" 'it''s'` + "\r\n",
	"*0\r\n*-1\r\n\r\n",
	"*2\r\n$3\r\nGET\r\n$-1\r\n",
	"*1\r\n$536870913\r\n",
	"*1048577\r\n",
	"*2\r\n$3\r\nGET\r\n:1\r\n",
	"\"unbalanced\r\n",
	"*1\r\n$2\r\nabXY*1\r\n$4\r\nPING\r\n",
}

// FuzzReaderChunking: how the bytes arrive (all at once, one at a time, in
// uneven pieces) must not change what is parsed or how parsing stops.
func FuzzReaderChunking(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s), []byte{3, 1, 7})
	}
	f.Fuzz(func(t *testing.T, in, sizes []byte) {
		whole := parseStream(bytes.NewReader(in))
		oneByte := parseStream(iotest.OneByteReader(bytes.NewReader(in)))
		chunked := parseStream(&chunkReader{data: in, sizes: sizes})
		if !equalParsed(whole, oneByte) {
			t.Fatalf("whole and one byte at a time differ:\n%+q (%s)\n%+q (%s)", whole.cmds, whole.end, oneByte.cmds, oneByte.end)
		}
		if !equalParsed(whole, chunked) {
			t.Fatalf("whole and chunked %v differ:\n%+q (%s)\n%+q (%s)", sizes, whole.cmds, whole.end, chunked.cmds, chunked.end)
		}
	})
}

// FuzzReaderRoundTrip: any list of arguments, encoded as a multibulk
// request or as an inline request with double quotes and escapes, parses
// back to exactly the same arguments.
func FuzzReaderRoundTrip(f *testing.F) {
	f.Add([]byte("SET\x00key\x00value"))
	f.Add([]byte("\x00\x00"))
	f.Add([]byte("a b\"c'\\d\r\n\x00\xff\x01"))
	f.Add([]byte("*3\r\n\x00$1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		args := bytes.Split(in, []byte{0})
		if len(args) > 64 {
			args = args[:64]
		}
		var mb bytes.Buffer
		fmt.Fprintf(&mb, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&mb, "$%d\r\n%s\r\n", len(a), a)
		}
		got := parseStream(&mb)
		if len(got.cmds) != 1 || got.end != "eof" || !equalArgs(got.cmds[0], args) {
			t.Fatalf("multibulk of %+q parsed as %+q (%s)", args, got.cmds, got.end)
		}

		var il bytes.Buffer
		for i, a := range args {
			if i > 0 {
				il.WriteByte(' ')
			}
			il.WriteString(quoteInline(a))
		}
		il.WriteString("\r\n")
		if il.Len() > maxInline {
			return
		}
		got = parseStream(&il)
		if len(got.cmds) != 1 || got.end != "eof" || !equalArgs(got.cmds[0], args) {
			t.Fatalf("inline %q of %+q parsed as %+q (%s)", il.String(), args, got.cmds, got.end)
		}
	})
}

func equalArgs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// quoteInline writes a as a double-quoted inline argument: printable bytes
// as they are, quote and backslash escaped, everything else as \xHH.
func quoteInline(a []byte) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range a {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzServerConn sends arbitrary bytes to a live server on one connection
// (closing it after them) and then checks that the server still answers
// another client: bad input of any kind costs no other client anything.
func FuzzServerConn(f *testing.F) {
	for _, s := range readerSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$7\r\nCOMMAND\r\n",
		"*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n",
		"*3\r\n$6\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n$3\r\n{a}\r\n",
		"*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$4\r\nsave\r\n$0\r\n\r\n",
		"READONLY\r\nGET k\r\nREADWRITE\r\nMGET a b\r\n",
		"MULTI\r\nSET a 1\r\nINCR a\r\nEXEC\r\n",
		"SET k 1 PX 1\r\nINCRBYFLOAT k 1e308\r\nGETRANGE k -100 100\r\n",
		"CLIENT SETNAME x\r\nCLIENT LIST\r\nQUIT\r\n",
	} {
		f.Add([]byte(s))
	}
	// One node serves every input of this process (each fuzz worker
	// runs this setup once).
	nodes := shardtest.Start(f, 1)
	srv := New(Config{Host: nodes[0].Host, Logger: shardtest.Logger(), RequestTimeout: time.Second})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(nodes[0].RESP) }()
	f.Cleanup(func() {
		srv.Close()
		<-done
	})
	shardtest.WaitLeader(f, nodes)
	addr := nodes[0].RESP.Addr().String()

	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, c) // whatever comes back, until the server closes
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(in)
		c.(*net.TCPConn).CloseWrite()
		defer c.Close()

		p, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("server does not accept after input %q: %v", in, err)
		}
		defer p.Close()
		p.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := p.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(p).ReadString('\n')
		if err != nil || line != "+PONG\r\n" {
			t.Fatalf("after input %q, PING on another connection: %q, %v", in, line, err)
		}
	})
}
