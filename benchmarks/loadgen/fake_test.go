package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeNode is a minimal cluster node for tests: it owns slots [lo, hi],
// answers MOVED for the others, and shares its data map with its peers.
type fakeNode struct {
	ln     net.Listener
	lo, hi int
	peers  []*fakeNode // every node, itself included
	data   *sync.Map
	waits  atomic.Int64
}

func (n *fakeNode) addr() string { return n.ln.Addr().String() }

// fakeCluster starts len(ranges) nodes, each owning one range.
func fakeCluster(t *testing.T, ranges ...[2]int) []*fakeNode {
	t.Helper()
	data := &sync.Map{}
	var nodes []*fakeNode
	for _, r := range ranges {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, &fakeNode{ln: ln, lo: r[0], hi: r[1], data: data})
	}
	for _, n := range nodes {
		n.peers = nodes
		go n.serve()
		t.Cleanup(func() { n.ln.Close() })
	}
	return nodes
}

func (n *fakeNode) serve() {
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		go n.conn(c)
	}
}

func (n *fakeNode) owner(slot int) *fakeNode {
	for _, p := range n.peers {
		if slot >= p.lo && slot <= p.hi {
			return p
		}
	}
	return nil
}

func (n *fakeNode) conn(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		cmd := strings.ToUpper(args[0])
		switch {
		case cmd == "PING":
			w.WriteString("+PONG\r\n")
		case cmd == "WAIT":
			n.waits.Add(1)
			w.WriteString(":1\r\n")
		case cmd == "CLUSTER" && len(args) == 2 && strings.ToUpper(args[1]) == "SLOTS":
			fmt.Fprintf(w, "*%d\r\n", len(n.peers))
			for _, p := range n.peers {
				host, port, _ := net.SplitHostPort(p.addr())
				fmt.Fprintf(w, "*3\r\n:%d\r\n:%d\r\n*2\r\n$%d\r\n%s\r\n:%s\r\n", p.lo, p.hi, len(host), host, port)
			}
		case (cmd == "GET" || cmd == "SET") && len(args) >= 2:
			slot := Slot([]byte(args[1]))
			if o := n.owner(slot); o != n {
				fmt.Fprintf(w, "-MOVED %d %s\r\n", slot, o.addr())
				break
			}
			if cmd == "SET" && len(args) == 3 {
				n.data.Store(args[1], args[2])
				w.WriteString("+OK\r\n")
			} else if v, ok := n.data.Load(args[1]); ok && cmd == "GET" {
				s := v.(string)
				fmt.Fprintf(w, "$%d\r\n%s\r\n", len(s), s)
			} else if cmd == "GET" {
				w.WriteString("$-1\r\n")
			} else {
				w.WriteString("-ERR syntax error\r\n")
			}
		default:
			w.WriteString("-ERR unknown command '" + args[0] + "'\r\n")
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		h, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(h[1:]))
		if err != nil {
			return nil, err
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:l])
	}
	return args, nil
}
