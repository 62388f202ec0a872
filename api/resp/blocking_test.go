package resp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/shard"
	"github.com/redraft/redraft/shard/shardtest"
)

// blocked returns the number of clients blocked on node, from INFO.
func blocked(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "blocked_clients:"); ok {
			fmt.Sscan(v, &n)
		}
	}
	return n
}

// waitBlocked polls until n clients are blocked on the node c talks to.
func waitBlocked(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for blocked(t, c) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients blocked, want %d", blocked(t, c), n)
		}
		time.Sleep(5 * time.Millisecond) // polling interval
	}
}

type popResult struct {
	val []string
	err error
}

func TestBLPOPServedByPush(t *testing.T) {
	_, leader := startServers(t, 3)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer admin.Close()
	pusher := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer pusher.Close()

	// Two clients block on the same key; they are served in arrival order.
	got := make([]chan popResult, 2)
	for i := range got {
		got[i] = make(chan popResult, 1)
		c := redis.NewClient(&redis.Options{Addr: leader.addr, ReadTimeout: -1})
		defer c.Close()
		go func() {
			v, err := c.BLPop(ctx, 0, "{q}none", "{q}jobs").Result()
			got[i] <- popResult{v, err}
		}()
		waitBlocked(t, admin, i+1)
	}
	if n, err := pusher.RPush(ctx, "{q}jobs", "first", "second").Result(); err != nil || n != 2 {
		t.Fatalf("RPUSH = %d %v", n, err)
	}
	for i, want := range []string{"first", "second"} {
		select {
		case r := <-got[i]:
			if r.err != nil || len(r.val) != 2 || r.val[0] != "{q}jobs" || r.val[1] != want {
				t.Fatalf("blocked client %d: %v %v, want [{q}jobs %s]", i, r.val, r.err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("blocked client %d was not served", i)
		}
	}
	waitBlocked(t, admin, 0)
	if n := pusher.Exists(ctx, "{q}jobs").Val(); n != 0 {
		t.Fatalf("the emptied list still exists")
	}

	// BLMOVE and BLMPOP are served the same way; BRPOP from the tail.
	c := redis.NewClient(&redis.Options{Addr: leader.addr, ReadTimeout: -1})
	defer c.Close()
	moved := make(chan popResult, 1)
	go func() {
		v, err := c.BLMove(ctx, "{q}src", "{q}dst", "RIGHT", "LEFT", 0).Result()
		moved <- popResult{[]string{v}, err}
	}()
	waitBlocked(t, admin, 1)
	pusher.RPush(ctx, "{q}src", "a", "b")
	if r := <-moved; r.err != nil || r.val[0] != "b" {
		t.Fatalf("BLMOVE = %v %v", r.val, r.err)
	}
	if v := pusher.LRange(ctx, "{q}dst", 0, -1).Val(); len(v) != 1 || v[0] != "b" {
		t.Fatalf("destination after BLMOVE: %v", v)
	}
	mpop := make(chan popResult, 1)
	go func() {
		k, v, err := c.BLMPop(ctx, 0, "left", 5, "{q}m1", "{q}m2").Result()
		mpop <- popResult{append([]string{k}, v...), err}
	}()
	waitBlocked(t, admin, 1)
	pusher.RPush(ctx, "{q}m2", "x", "y")
	if r := <-mpop; r.err != nil || strings.Join(r.val, " ") != "{q}m2 x y" {
		t.Fatalf("BLMPOP = %v %v", r.val, r.err)
	}
	if v, err := c.BRPop(ctx, time.Second, "{q}src").Result(); err != nil || v[1] != "a" {
		t.Fatalf("BRPOP of a non-empty list = %v %v", v, err)
	}

	// A key of another type: WRONGTYPE at once, or when it appears.
	pusher.Set(ctx, "{q}str", "x", 0)
	if err := c.BLPop(ctx, 0, "{q}str").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("BLPOP of a string: %v", err)
	}
	wrong := make(chan error, 1)
	go func() { wrong <- c.BLPop(ctx, 0, "{q}later").Err() }()
	waitBlocked(t, admin, 1)
	pusher.Set(ctx, "{q}later", "x", 0)
	if err := <-wrong; err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("BLPOP of a key that became a string: %v", err)
	}
}

func TestBLPOPTimeout(t *testing.T) {
	_, leader := startServers(t, 1)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer c.Close()
	start := time.Now()
	// go-redis rounds BLPop's timeout up to 1 s: send 0.3 s ourselves.
	_, err := c.Do(ctx, "BLPOP", "nothing", "0.3").Result()
	took := time.Since(start)
	if !errors.Is(err, redis.Nil) {
		t.Fatalf("BLPOP timed out with %v, want a null reply", err)
	}
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("BLPOP with a 0.3 s timeout took %v", took)
	}

	// The null reply is a null array (RESP2) or a null (RESP3), for
	// BLMOVE too; argument errors come at once.
	r := dialRaw(t, leader.addr)
	for _, s := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"BLPOP", "nothing", "0.05"}, "*-1\r\n"},
		{[]string{"BLMOVE", "{n}nothing", "{n}d", "LEFT", "LEFT", "0.05"}, "*-1\r\n"},
		{[]string{"BLMPOP", "0.05", "1", "nothing", "LEFT"}, "*-1\r\n"},
		{[]string{"BLPOP", "nothing", "-1"}, "-ERR timeout is negative\r\n"},
		{[]string{"BLPOP", "nothing", "x"}, "-ERR timeout is not a float or out of range\r\n"},
		{[]string{"BLMOVE", "{n}nothing", "{n}d", "UP", "LEFT", "0"}, "-ERR syntax error\r\n"},
		{[]string{"BLPOP", "a", "b", "0"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"BLPOP"}, "-ERR wrong number of arguments for 'blpop' command\r\n"},
		{[]string{"HELLO", "3"}, ""},
		{[]string{"BLPOP", "nothing", "0.05"}, "_\r\n"},
	} {
		got := r.do(s.cmd...)
		if s.want != "" && got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}

	// Pipelined: the replies before a blocking command arrive, and the
	// commands after it run once it returns.
	p := dialRaw(t, leader.addr)
	p.send("SET", "a", "1")
	p.send("BLPOP", "nothing", "0.2")
	p.send("GET", "a")
	for _, want := range []string{"+OK\r\n", "*-1\r\n", "$1\r\n1\r\n"} {
		if got := p.reply(); got != want {
			t.Fatalf("pipelined reply %q, want %q", got, want)
		}
	}
}

// TestBlockedClientGone: a client that closes its connection while blocked
// stops waiting, and takes nothing.
func TestBlockedClientGone(t *testing.T) {
	_, leader := startServers(t, 1)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer admin.Close()
	r := dialRaw(t, leader.addr)
	r.send("BLPOP", "gone", "0")
	waitBlocked(t, admin, 1)
	r.nc.Close()
	waitBlocked(t, admin, 0)
	admin.RPush(ctx, "gone", "kept")
	if n := admin.LLen(ctx, "gone").Val(); n != 1 {
		t.Fatalf("LLEN = %d after the blocked client left", n)
	}
}

// TestBLPOPLeaderChange: a client blocked on the leader gets an error, not
// a hang, when its group's leadership moves; the error names the new
// leader.
func TestBLPOPLeaderChange(t *testing.T) {
	nodes, leader := startServers(t, 3)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer admin.Close()
	c := redis.NewClient(&redis.Options{Addr: leader.addr, ReadTimeout: -1, MaxRetries: -1})
	defer c.Close()
	res := make(chan error, 1)
	go func() { res <- c.BLPop(ctx, 0, "jobs").Err() }()
	waitBlocked(t, admin, 1)
	g := leader.Host.GroupOf(0)
	if err := g.Node().TransferLeadership(ctx, ""); err != nil {
		t.Fatalf("transfer leadership: %v", err)
	}
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("BLPOP returned without error after the leader changed")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "MOVED ") && !strings.HasPrefix(msg, "CLUSTERDOWN") {
			t.Fatalf("BLPOP after the leader changed: %v, want MOVED or CLUSTERDOWN", err)
		}
		if strings.HasPrefix(msg, "MOVED ") {
			var newLeader *testNode
			for _, nd := range nodes {
				if strings.HasSuffix(msg, " "+nd.addr) {
					newLeader = nd
				}
			}
			if newLeader == nil || newLeader == leader {
				t.Fatalf("%s does not name another node", msg)
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("BLPOP still blocked 10 s after the leader changed")
	}
	waitBlocked(t, admin, 0)
}

func TestWAIT(t *testing.T) {
	_, leader := startServers(t, 3)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer c.Close()
	c.Set(ctx, "k", "v", 0)
	if n, err := c.Wait(ctx, 2, 100*time.Millisecond).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 2 100 = %d %v, want 1 (quorum-1 of 3)", n, err)
	}
	r := dialRaw(t, leader.addr)
	for _, s := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"WAIT", "1", "0"}, ":1\r\n"},
		{[]string{"WAIT", "x", "0"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"WAIT", "1", "x"}, "-ERR timeout is not an integer or out of range\r\n"},
		{[]string{"WAIT", "1", "-1"}, "-ERR timeout is negative\r\n"},
		{[]string{"WAIT", "1"}, "-ERR wrong number of arguments for 'wait' command\r\n"},
	} {
		if got := r.do(s.cmd...); got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}
}

// TestBLPOPProxied: on a --proxy node that does not lead the key's group, a
// blocking command is served by asking the leader until it pops.
func TestBLPOPProxied(t *testing.T) {
	sn := shardtest.Start(t, 3)
	leader := shardtest.WaitLeader(t, sn)
	var follower *shardtest.Node
	for _, nd := range sn {
		if nd != leader {
			follower = nd
		}
	}
	atLeader := &api.Executor{Host: leader.Host}
	srv := New(Config{
		Host: follower.Host, Logger: shardtest.Logger(), Proxy: true,
		Forward: func(ctx context.Context, _ shard.NodeInfo, args [][]byte) (fsm.Reply, error) {
			return atLeader.Exec(ctx, args)
		},
	})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(follower.RESP) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: follower.RESP.Addr().String(), ReadTimeout: -1})
	defer c.Close()
	got := make(chan popResult, 1)
	go func() {
		v, err := c.BLPop(ctx, 0, "pq").Result()
		got <- popResult{v, err}
	}()
	// The client blocks at the proxy: nothing to wait for but time.
	select {
	case r := <-got:
		t.Fatalf("BLPOP returned before any push: %v %v", r.val, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := atLeader.Exec(ctx, [][]byte{[]byte("RPUSH"), []byte("pq"), []byte("v")}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.val) != 2 || r.val[1] != "v" {
			t.Fatalf("proxied BLPOP = %v %v", r.val, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("proxied BLPOP not served")
	}
	if v, err := c.Do(ctx, "BLPOP", "pq", "0.1").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("proxied BLPOP with a timeout = %v %v", v, err)
	}
}
