package raftnode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func newTestMux(t *testing.T) *Mux {
	t.Helper()
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(ln, testLogger(t, slog.LevelDebug))
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMuxInfo(t *testing.T) {
	a := newTestMux(t)
	ctx := context.Background()
	if b, err := FetchInfo(ctx, a.Addr()); err != nil || len(b) != 0 {
		t.Fatalf("info before SetInfo: %q %v", b, err)
	}
	info := []byte(`{"id":"n1","resp":"127.0.0.1:7001"}`)
	a.SetInfo(info)
	info[2] = 'X' // the Mux keeps its own copy
	b, err := FetchInfo(ctx, a.Addr())
	if err != nil || string(b) != `{"id":"n1","resp":"127.0.0.1:7001"}` {
		t.Fatalf("FetchInfo: %q %v", b, err)
	}
	a.Close()
	if _, err := FetchInfo(ctx, a.Addr()); err == nil {
		t.Fatal("FetchInfo from a closed mux succeeded")
	}
}

func TestMuxRoutesGroups(t *testing.T) {
	a, b := newTestMux(t), newTestMux(t)
	la, err := a.register("g1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.register("g1"); err == nil {
		t.Fatal("registering a group twice succeeded")
	}
	lb, err := b.register("g1")
	if err != nil {
		t.Fatal(err)
	}
	if got := la.Addr().String(); got != a.Addr() {
		t.Fatalf("layer address %s, mux %s", got, a.Addr())
	}

	// b dials g1 on a: the connection arrives at a's g1 layer.
	c, err := lb.dialRaft(a.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := la.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	echo(t, c, s)

	// An unknown group is refused at the handshake.
	lb2, err := b.register("g2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lb2.dialRaft(a.Addr(), 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Fatalf("dial of an unknown group: %v", err)
	}

	// A dial waits (within its timeout) for the group to open at the peer.
	dialed := make(chan error, 1)
	go func() {
		c, err := lb2.dialRaft(a.Addr(), 10*time.Second)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	la2, err := a.register("g2")
	if err != nil {
		t.Fatal(err)
	}
	go la2.Accept()
	if err := <-dialed; err != nil {
		t.Fatalf("dial while the group opens: %v", err)
	}
	// stopDialing ends a waiting dial at once.
	la2.Close()
	go func() {
		_, err := lb2.dialRaft(a.Addr(), time.Minute)
		dialed <- err
	}()
	lb2.stopDialing()
	if err := <-dialed; err == nil {
		t.Fatal("dial after stopDialing succeeded")
	}

	// Closing a layer closes its connections and ends Accept.
	la.Close()
	if _, err := la.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err == nil {
		t.Fatal("connection of a closed layer still open")
	}
	if _, err := lb.dialRaft(a.Addr(), 100*time.Millisecond); err == nil {
		t.Fatal("dial of a closed group succeeded")
	}
}

// echo checks that bytes flow both ways between c and s.
func echo(t *testing.T, c, s net.Conn) {
	t.Helper()
	for _, dir := range [][2]net.Conn{{c, s}, {s, c}} {
		msg := []byte("hello raft")
		if _, err := dir[0].Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		_ = dir[1].SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(dir[1], got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %q %v", got, err)
		}
	}
}

func TestMuxBadHeaders(t *testing.T) {
	old := headerTimeout
	headerTimeout = 200 * time.Millisecond
	defer func() { headerTimeout = old }()
	a := newTestMux(t)

	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"garbage", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"wrong version", []byte("RDMX\x09\x01\x00\x00")},
		{"unknown kind", []byte("RDMX\x01\x07\x00\x00")},
		{"silent", nil},
		{"truncated", []byte("RDMX\x01\x01\x05ab")},
	} {
		c, err := net.Dial("tcp", a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(tc.send); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.Copy(io.Discard, c) // returns when the mux closes the connection
		if errors.Is(err, syscall.ECONNRESET) {
			err = nil // closed with our bytes unread
		}
		if err != nil {
			t.Errorf("%s: %v (the mux did not close the connection)", tc.name, err)
		}
		if n != 0 {
			t.Errorf("%s: the mux answered %d bytes", tc.name, n)
		}
		c.Close()
	}
	// The mux still serves well-formed requests.
	if _, err := FetchInfo(context.Background(), a.Addr()); err != nil {
		t.Fatal(err)
	}
}

func TestMuxPartition(t *testing.T) {
	a, b := newTestMux(t), newTestMux(t)
	la, _ := a.register("g")
	lb, _ := b.register("g")
	go func() { // accept and hold b's connections on a
		for {
			if _, err := la.Accept(); err != nil {
				return
			}
		}
	}()
	c, err := lb.dialRaft(a.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.Partition(b.Addr())
	// The established connection is cut, new ones fail both ways.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connection across the partition: %v", err)
	}
	if _, err := lb.dialRaft(a.Addr(), 100*time.Millisecond); err == nil {
		t.Fatal("dial into a partitioned node succeeded")
	}
	if _, err := la.dialRaft(b.Addr(), 100*time.Millisecond); err == nil {
		t.Fatal("dial out of a partitioned node succeeded")
	}
	a.Heal()
	if _, err := lb.dialRaft(a.Addr(), time.Second); err != nil {
		t.Fatalf("dial after Heal: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{NodeID: "n1", GroupID: "g", Dir: "/tmp/x", Peers: []Peer{{"n1", "a:1"}, {"n2", "b:1"}}}
	if err := good.withDefaults().validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		field string
		mut   func(*Config)
	}{
		{"NodeID", func(c *Config) { c.NodeID = "" }},
		{"GroupID", func(c *Config) { c.GroupID = "" }},
		{"GroupID", func(c *Config) { c.GroupID = strings.Repeat("g", 300) }},
		{"Dir", func(c *Config) { c.Dir = "" }},
		{"Peers[1].ID", func(c *Config) { c.Peers = []Peer{{"n1", "a:1"}, {"n1", "b:1"}} }},
		{"Peers[0].Addr", func(c *Config) { c.Peers = []Peer{{"n1", ""}} }},
		{"Peers", func(c *Config) { c.Peers = []Peer{{"n2", "b:1"}} }},
		{"HeartbeatTimeout", func(c *Config) { c.HeartbeatTimeout = time.Millisecond }},
		{"LeaderLeaseTimeout", func(c *Config) { c.LeaderLeaseTimeout = time.Second }},
		{"ElectionTimeout", func(c *Config) { c.ElectionTimeout = 100 * time.Millisecond }},
		{"CommitTimeout", func(c *Config) { c.CommitTimeout = -time.Second }},
		{"MaxBatch", func(c *Config) { c.MaxBatch = -1 }},
		{"MaxInflight", func(c *Config) { c.MaxInflight = 100 }},
	} {
		c := good
		c.Peers = append([]Peer(nil), good.Peers...)
		tc.mut(&c)
		err := c.withDefaults().validate()
		if err == nil || !strings.Contains(err.Error(), "Config."+tc.field+":") {
			t.Errorf("bad %s: got %v", tc.field, err)
		}
	}
	// Open validates too, before touching the disk.
	if _, err := Open(Config{}, nil, nil); err == nil || !strings.Contains(err.Error(), "NodeID") {
		t.Fatalf("Open of a zero config: %v", err)
	}
}

type nopCloser struct{ io.Reader }

func (nopCloser) Close() error { return nil }

func mustMarshal(t *testing.T, cmds ...*pb.Command) []byte {
	t.Helper()
	b, err := proto.Marshal(&pb.Entry{Commands: cmds})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
