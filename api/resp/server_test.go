package resp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

type testNode struct {
	*shardtest.Node
	addr string
}

// startServers starts n in-process nodes, each serving RESP.
func startServers(t *testing.T, n int) (nodes []*testNode, leader *testNode) {
	t.Helper()
	sn := shardtest.Start(t, n)
	for _, nd := range sn {
		srv := New(Config{Host: nd.Host, Logger: shardtest.Logger()})
		done := make(chan error, 1)
		go func() { done <- srv.Serve(nd.RESP) }()
		t.Cleanup(func() {
			srv.Close()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
		nodes = append(nodes, &testNode{Node: nd, addr: nd.RESP.Addr().String()})
	}
	l := shardtest.WaitLeader(t, sn)
	for _, nd := range nodes {
		if nd.Node == l {
			leader = nd
		}
	}
	return nodes, leader
}

// raw sends a raw request and reads what comes back until n CRLF-terminated
// lines arrived (or the connection closes).
func raw(t *testing.T, conn net.Conn, br *bufio.Reader, req string, lines int) string {
	t.Helper()
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for range lines {
		l, err := br.ReadString('\n')
		b.WriteString(l)
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestRESPBasics(t *testing.T) {
	nodes, leader := startServers(t, 3)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: leader.addr, Protocol: 3})
	defer c.Close()

	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET k = %q, %v", v, err)
	}
	if _, err := c.Get(ctx, "missing").Result(); err != redis.Nil {
		t.Fatalf("GET missing: %v, want redis.Nil", err)
	}
	if err := c.Incr(ctx, "k").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("INCR non-integer: %v", err)
	}
	if v, err := c.Ping(ctx).Result(); err != nil || v != "PONG" {
		t.Fatalf("PING = %q %v", v, err)
	}
	if v, err := c.Echo(ctx, "hi").Result(); err != nil || v != "hi" {
		t.Fatalf("ECHO = %q %v", v, err)
	}
	cfg, err := c.ConfigGet(ctx, "appendonly").Result()
	if err != nil || cfg["appendonly"] == "" {
		t.Fatalf("CONFIG GET appendonly = %v %v", cfg, err)
	}
	if err := c.ConfigSet(ctx, "hash-max-listpack-entries", "256").Err(); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := c.ConfigGet(ctx, "hash-max-*-entries").Result(); cfg["hash-max-listpack-entries"] != "256" {
		t.Fatalf("CONFIG SET not reported back: %v", cfg)
	}
	if err := c.ConfigSet(ctx, "no-such-param", "1").Err(); err == nil || !strings.Contains(err.Error(), "Unknown option") {
		t.Fatalf("CONFIG SET unknown: %v", err)
	}
	info, err := c.Info(ctx, "replication").Result()
	if err != nil || !strings.Contains(info, "group_g1:role=leader") {
		t.Fatalf("INFO replication:\n%s %v", info, err)
	}
	n, err := c.Do(ctx, "COMMAND", "COUNT").Int()
	if err != nil || n < 20 {
		t.Fatalf("COMMAND COUNT = %d %v", n, err)
	}
	cmds, err := c.Command(ctx).Result()
	if err != nil {
		t.Fatalf("COMMAND: %v", err)
	}
	if set := cmds["set"]; set == nil || set.Arity != -3 || set.FirstKeyPos != 1 || set.ReadOnly {
		t.Fatalf("COMMAND set entry: %+v", set)
	}
	if get := cmds["get"]; get == nil || !get.ReadOnly {
		t.Fatalf("COMMAND get entry: %+v", get)
	}
	if err := c.Do(ctx, "CLIENT", "SETNAME", "tester").Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Do(ctx, "CLIENT", "GETNAME").Text(); v != "tester" {
		t.Fatalf("CLIENT GETNAME = %q", v)
	}
	if err := c.Do(ctx, "SELECT", "1").Err(); err == nil {
		t.Fatal("SELECT 1 succeeded")
	}

	// A follower redirects to the leader.
	for _, nd := range nodes {
		if nd == leader {
			continue
		}
		f := redis.NewClient(&redis.Options{Addr: nd.addr})
		err := f.Set(ctx, "k", "w", 0).Err()
		f.Close()
		want := fmt.Sprintf("MOVED %d %s", shard.Slot([]byte("k")), leader.addr)
		if err == nil || err.Error() != want {
			t.Fatalf("SET on follower: %v, want %q", err, want)
		}
	}
}

func TestRESPClusterClient(t *testing.T) {
	nodes, _ := startServers(t, 3)
	ctx := context.Background()
	// Seed with a follower: the client must discover the leader itself.
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.addr)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer cc.Close()
	for i := range 200 {
		if err := cc.Set(ctx, fmt.Sprintf("key:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key:%d: %v", i, err)
		}
	}
	for i := range 200 {
		v, err := cc.Get(ctx, fmt.Sprintf("key:%d", i)).Int()
		if err != nil || v != i {
			t.Fatalf("GET key:%d = %d, %v", i, v, err)
		}
	}
	if err := cc.MSet(ctx, "a", 1, "b", 2).Err(); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots: %v", err)
	}
	if err := cc.MSet(ctx, "{t}a", 1, "{t}b", 2).Err(); err != nil {
		t.Fatalf("MSET in one hash tag: %v", err)
	}
}

func TestRESPPipelineAndBadInput(t *testing.T) {
	_, leader := startServers(t, 3)
	ctx := context.Background()

	// Another client keeps working while bad input arrives.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bgErr error
	var bgOps int
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := redis.NewClient(&redis.Options{Addr: leader.addr})
		defer c.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("bg:%d", i)
			if err := c.Set(ctx, k, i, 0).Err(); err != nil {
				bgErr = err
				return
			}
			if v, err := c.Get(ctx, k).Int(); err != nil || v != i {
				bgErr = fmt.Errorf("GET %s = %d, %v", k, v, err)
				return
			}
			bgOps++
		}
	}()

	// A pipeline: replies in order, each command seeing the ones before it.
	c := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer c.Close()
	p := c.Pipeline()
	var incrs []*redis.IntCmd
	for range 100 {
		incrs = append(incrs, p.Incr(ctx, "ctr"))
	}
	get := p.Get(ctx, "ctr")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, ic := range incrs {
		if ic.Val() != int64(i+1) {
			t.Fatalf("INCR %d = %d", i, ic.Val())
		}
	}
	if get.Val() != "100" {
		t.Fatalf("GET after pipeline = %q", get.Val())
	}

	for _, tc := range []struct{ req, want string }{
		{"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1\r\n$1073741824\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*-\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
	} {
		conn, err := net.Dial("tcp", leader.addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		if got := raw(t, conn, br, tc.req, 1); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.req, got, tc.want)
		}
		// The server closes the connection after a protocol error.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("%q: connection not closed: %v", tc.req, err)
		}
		conn.Close()
	}
	conn, err := net.Dial("tcp", leader.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for _, tc := range []struct{ req, want string }{
		{"*1\r\n$3\r\nGET\r\n", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"*3\r\n$3\r\nfoo\r\n$1\r\na\r\n$1\r\nb\r\n", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"},
		{"set x notanumber\r\n", "+OK\r\n"},
		{"incr x\r\n", "-ERR value is not an integer or out of range\r\n"},
		{"HELLO 4\r\n", "-NOPROTO unsupported protocol version\r\n"},
		{"PING\r\n", "+PONG\r\n"},
	} {
		if got := raw(t, conn, br, tc.req, 1); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.req, got, tc.want)
		}
	}
	close(stop)
	wg.Wait()
	if bgErr != nil {
		t.Fatalf("background client failed: %v", bgErr)
	}
	if bgOps == 0 {
		t.Fatal("background client made no progress")
	}
}
