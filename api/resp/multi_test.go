package resp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// rawConn is a client speaking raw RESP to a server.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// do sends one command and returns its reply, rendered as RESP text.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	r.send(args...)
	return r.reply()
}

func (r *rawConn) send(args ...string) {
	r.t.Helper()
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// reply reads one whole reply (nested arrays included).
func (r *rawConn) reply() string {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var read func() string
	read = func() string {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read: %v (after %q)", err, line)
		}
		switch line[0] {
		case '*', '%', '~', '>':
			n, _ := strconv.Atoi(line[1 : len(line)-2])
			if line[0] == '%' {
				n *= 2
			}
			for range max(n, 0) {
				line += read()
			}
		case '$':
			n, _ := strconv.Atoi(line[1 : len(line)-2])
			if n >= 0 {
				buf := make([]byte, n+2)
				if _, err := io.ReadFull(r.br, buf); err != nil {
					r.t.Fatal(err)
				}
				line += string(buf)
			}
		}
		return line
	}
	return read()
}

func TestMultiExecReplies(t *testing.T) {
	_, leader := startServers(t, 1)
	c := dialRaw(t, leader.addr)
	for _, s := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"EXEC"}, "-ERR EXEC without MULTI\r\n"},
		{[]string{"DISCARD"}, "-ERR DISCARD without MULTI\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"MULTI"}, "-ERR MULTI calls can not be nested\r\n"},
		{[]string{"WATCH", "k"}, "-ERR WATCH inside MULTI is not allowed\r\n"},
		{[]string{"SET", "{t}a", "1"}, "+QUEUED\r\n"},
		{[]string{"INCR", "{t}a"}, "+QUEUED\r\n"},
		{[]string{"LPUSH", "{t}a", "x"}, "+QUEUED\r\n"},
		{[]string{"PING"}, "+QUEUED\r\n"},
		{[]string{"RPUSH", "{t}l", "x", "y"}, "+QUEUED\r\n"},
		{[]string{"BLPOP", "{t}none", "0"}, "+QUEUED\r\n"},
		{[]string{"BLMOVE", "{t}none", "{t}l", "LEFT", "LEFT", "0"}, "+QUEUED\r\n"},
		{[]string{"LRANGE", "{t}l", "0", "-1"}, "+QUEUED\r\n"},
		// Nested MULTI and WATCH inside MULTI do not abort the transaction.
		{[]string{"EXEC"}, "*8\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n+PONG\r\n:2\r\n*-1\r\n$-1\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"},
		{[]string{"EXEC"}, "-ERR EXEC without MULTI\r\n"},
		// An empty transaction.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"EXEC"}, "*0\r\n"},
		// DISCARD drops the queue.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "{t}a", "100"}, "+QUEUED\r\n"},
		{[]string{"DISCARD"}, "+OK\r\n"},
		{[]string{"GET", "{t}a"}, "$1\r\n2\r\n"},
		// Queue-time errors abort EXEC.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "{t}a", "100"}, "+QUEUED\r\n"},
		{[]string{"NOSUCH", "x"}, "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command\r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{[]string{"GET", "{t}a"}, "$1\r\n2\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"ECHO"}, "-ERR wrong number of arguments for 'echo' command\r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		// A command whose own keys are in two slots fails at queue time.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"MSET", "a", "1", "b", "2"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		// Commands in different slots fail at EXEC, and nothing runs.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "a", "1"}, "+QUEUED\r\n"},
		{[]string{"SET", "b", "1"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"EXISTS", "a"}, ":0\r\n"},
		// As Redis Cluster: the commands queued before a queue-time error
		// decide CROSSSLOT at EXEC, those after it are not kept.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "a", "1"}, "+QUEUED\r\n"},
		{[]string{"SET", "b", "1"}, "+QUEUED\r\n"},
		{[]string{"MSET", "a", "1", "b", "2"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"EXEC"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "a", "1"}, "+QUEUED\r\n"},
		{[]string{"MSET", "a", "1", "b", "2"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"SET", "b", "1"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{[]string{"EXISTS", "a"}, ":0\r\n"},
		// The keys after numkeys count; a bad numkeys names no keys at all.
		{[]string{"SINTERCARD", "2", "a", "b", "LIMIT", "-1"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SINTERCARD", "2", "a", "b"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"DISCARD"}, "+OK\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"SET", "a", "1"}, "+QUEUED\r\n"},
		{[]string{"ZUNIONSTORE", "b", "x", "c"}, "+QUEUED\r\n"},
		{[]string{"ZUNIONSTORE", "b", "0", "c"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n-ERR at least 1 input key is needed for 'zunionstore' command\r\n"},
		// Keyless commands in a transaction.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"DBSIZE"}, "+QUEUED\r\n"},
		{[]string{"ECHO", "hi"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*2\r\n:3\r\n$2\r\nhi\r\n"}, // {t}a, {t}l, a
		// RESET ends a transaction.
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"EXEC"}, "-ERR EXEC without MULTI\r\n"},
	} {
		if got := c.do(s.cmd...); got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}
	// RESP3: a transaction aborted by WATCH is a null.
	c.do("HELLO", "3")
	c.do("WATCH", "w")
	o := dialRaw(t, leader.addr)
	o.do("SET", "w", "1")
	c.do("MULTI")
	c.do("GET", "w")
	if got := c.do("EXEC"); got != "_\r\n" {
		t.Fatalf("aborted EXEC in RESP3: %q", got)
	}
	// Once a watched key changed, Redis queues nothing: commands in
	// several slots then fail as the changed transaction, not CROSSSLOT;
	// with a queue-time error too, EXECABORT.
	for _, tc := range []struct {
		cmds [][]string
		want string
	}{
		{[][]string{{"GET", "a"}, {"GET", "b"}}, "_\r\n"},
		{[][]string{{"GET", "a"}, {"GET", "b"}, {"GET"}}, "-EXECABORT Transaction discarded because of previous errors.\r\n"},
	} {
		c.do("WATCH", "w")
		o.do("SET", "w", "2")
		c.do("MULTI")
		for _, q := range tc.cmds {
			c.do(q...)
		}
		if got := c.do("EXEC"); got != tc.want {
			t.Fatalf("EXEC of %q after a watched key changed: %q, want %q", tc.cmds, got, tc.want)
		}
	}
	c.do("WATCH", "w")
	c.do("MULTI")
	c.do("GET", "a")
	c.do("GET", "b")
	if got := c.do("EXEC"); got != "-CROSSSLOT Keys in request don't hash to the same slot\r\n" {
		t.Fatalf("EXEC of keys in several slots, the watched key unchanged: %q", got)
	}
}

// clusterClient is a client that follows redirects: leadership may move
// during a test on a loaded machine.
func clusterClient(nodes []*testNode) *redis.ClusterClient {
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.addr)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRedirects: 16})
}

// nothingDone reports whether err says a command was refused without
// effect (a redirect, the group between leaders, a transaction aborted at
// queue time), so it may be retried.
func nothingDone(err error) bool {
	for _, p := range []string{"MOVED", "CLUSTERDOWN", "TRYAGAIN", "EXECABORT"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}

// retryDeadline bounds how long a test client retries refused commands:
// past it, the cluster did not settle and the test fails.
const retryDeadline = 60 * time.Second

// unknownOutcome reports whether err says a write may or may not have
// applied.
func unknownOutcome(err error) bool { return strings.HasPrefix(err.Error(), "TIMEOUT") }

// TestMultiExecAtomic runs transactions that increment two keys of one slot
// and push to a list against transactions that read all three: a reader
// must never see them differ, which it would if a transaction's commands
// applied apart.
func TestMultiExecAtomic(t *testing.T) {
	nodes, _ := startServers(t, 3)
	ctx := context.Background()
	const writers, perWriter, readers = 4, 60, 3
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, writers+readers)
	var mu sync.Mutex
	done, unknown := 0, 0
	giveUp := time.Now().Add(retryDeadline)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clusterClient(nodes)
			defer c.Close()
			for i := 0; i < perWriter; {
				cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, "{pair}a")
					p.LPush(ctx, "{pair}log", fmt.Sprintf("%d-%d", w, i))
					p.Incr(ctx, "{pair}b")
					return nil
				})
				switch {
				case err != nil && nothingDone(err) && time.Now().Before(giveUp):
					continue
				case err != nil && unknownOutcome(err):
					mu.Lock()
					unknown++
					mu.Unlock()
				case err != nil:
					errs <- fmt.Errorf("writer %d: %v", w, err)
					return
				default:
					if a, b := cmds[0].(*redis.IntCmd).Val(), cmds[2].(*redis.IntCmd).Val(); a != b {
						errs <- fmt.Errorf("writer %d: a transaction saw a=%d b=%d", w, a, b)
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
				}
				i++
			}
		}()
	}
	var rwg sync.WaitGroup
	for r := range readers {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			c := clusterClient(nodes)
			defer c.Close()
			seen := 0
			for {
				select {
				case <-stop:
					if seen == 0 {
						errs <- fmt.Errorf("reader %d read nothing", r)
					}
					return
				default:
				}
				cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Get(ctx, "{pair}a")
					p.LLen(ctx, "{pair}log")
					p.Get(ctx, "{pair}b")
					return nil
				})
				if err != nil && !errors.Is(err, redis.Nil) {
					if (nothingDone(err) || unknownOutcome(err)) && time.Now().Before(giveUp) {
						continue
					}
					errs <- fmt.Errorf("reader %d: %v", r, err)
					return
				}
				seen++
				a, _ := cmds[0].(*redis.StringCmd).Int64()
				l := cmds[1].(*redis.IntCmd).Val()
				b, _ := cmds[2].(*redis.StringCmd).Int64()
				if a != b || a != l {
					errs <- fmt.Errorf("reader %d saw a half-applied transaction: a=%d log=%d b=%d", r, a, l, b)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c := clusterClient(nodes)
	defer c.Close()
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "{pair}a")
		p.LLen(ctx, "{pair}log")
		p.Get(ctx, "{pair}b")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cmds[0].(*redis.StringCmd).Int64()
	l := cmds[1].(*redis.IntCmd).Val()
	b, _ := cmds[2].(*redis.StringCmd).Int64()
	if a != b || a != l || a < int64(done) || a > int64(done+unknown) {
		t.Fatalf("final a=%d b=%d log=%d; %d transactions done, %d unknown", a, b, l, done, unknown)
	}
	t.Logf("%d transactions applied, %d with unknown outcome", done, unknown)
}

func TestWatch(t *testing.T) {
	_, leader := startServers(t, 1)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer c.Close()
	other := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer other.Close()

	// tx watches key, lets meddle change things, then tries to set {w}done.
	tx := func(key string, meddle func()) error {
		return c.Watch(ctx, func(tx *redis.Tx) error {
			meddle()
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "{w}done", key, 0)
				return nil
			})
			return err
		}, key)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		setup  func()
		meddle func()
		fails  bool
	}{
		{"untouched", func() { must(other.Set(ctx, "{w}k", "v", 0).Err()) }, func() {}, false},
		{"changed", func() { must(other.Set(ctx, "{w}k", "v", 0).Err()) }, func() { must(other.Set(ctx, "{w}k", "v", 0).Err()) }, true},
		{"deleted", func() { must(other.Set(ctx, "{w}k", "v", 0).Err()) }, func() { must(other.Del(ctx, "{w}k").Err()) }, true},
		{"list pushed", func() { must(other.RPush(ctx, "{w}k", "a").Err()) }, func() { must(other.RPush(ctx, "{w}k", "b").Err()) }, true},
		{"created", func() {}, func() { must(other.Set(ctx, "{w}k", "v", 0).Err()) }, true},
		{"other key changed", func() {}, func() { must(other.Set(ctx, "{w}j", "v", 0).Err()) }, false},
		{"expired", func() { must(other.Set(ctx, "{w}k", "v", 200*time.Millisecond).Err()) }, func() {
			deadline := time.Now().Add(5 * time.Second)
			for other.Exists(ctx, "{w}k").Val() == 1 {
				if time.Now().After(deadline) {
					t.Fatal("key did not expire")
				}
				time.Sleep(10 * time.Millisecond) // polling interval
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(other.Del(ctx, "{w}k", "{w}j", "{w}done").Err())
			tc.setup()
			err := tx("{w}k", tc.meddle)
			if tc.fails != errors.Is(err, redis.TxFailedErr) || (!tc.fails && err != nil) {
				t.Fatalf("EXEC: %v, want failed=%v", err, tc.fails)
			}
			if done := other.Exists(ctx, "{w}done").Val() == 1; done == tc.fails {
				t.Fatalf("transaction applied: %v", done)
			}
		})
	}

	// UNWATCH forgets the watched keys; EXEC and DISCARD do too.
	r := dialRaw(t, leader.addr)
	for _, s := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"WATCH", "{w}k", "{w}j"}, "+OK\r\n"},
		{[]string{"WATCH", "a", "b"}, "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{[]string{"UNWATCH"}, "+OK\r\n"},
		{[]string{"SET", "{w}k", "x"}, "+OK\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"GET", "{w}k"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*1\r\n$1\r\nx\r\n"},
		{[]string{"WATCH", "{w}k"}, "+OK\r\n"},
		{[]string{"SET", "{w}k", "y"}, "+OK\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"GET", "{w}k"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*-1\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"}, // the failed EXEC unwatched
		{[]string{"GET", "{w}k"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*1\r\n$1\r\ny\r\n"},
		// Watched keys must be in the transaction's group.
		{[]string{"WATCH", "a"}, "+OK\r\n"},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"GET", "b"}, "+QUEUED\r\n"},
		{[]string{"EXEC"}, "*1\r\n$-1\r\n"}, // one group serves every slot here
	} {
		if got := r.do(s.cmd...); got != s.want {
			t.Fatalf("%q:\n got %q\nwant %q", s.cmd, got, s.want)
		}
	}
}

// TestWatchIncrements is optimistic locking under contention: clients
// increment a counter with WATCH/GET/MULTI/SET/EXEC, retrying when EXEC
// fails. No increment may be lost, and none applied twice.
func TestWatchIncrements(t *testing.T) {
	nodes, _ := startServers(t, 3)
	ctx := context.Background()
	const clients, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	var mu sync.Mutex
	done, unknown := 0, 0
	giveUp := time.Now().Add(retryDeadline)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clusterClient(nodes)
			defer c.Close()
			for range each {
				for {
					err := c.Watch(ctx, func(tx *redis.Tx) error {
						n, err := tx.Get(ctx, "counter").Int()
						if err != nil && !errors.Is(err, redis.Nil) {
							return err
						}
						_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
							p.Set(ctx, "counter", n+1, 0)
							return nil
						})
						return err
					}, "counter")
					if err == nil {
						mu.Lock()
						done++
						mu.Unlock()
						break
					}
					if (errors.Is(err, redis.TxFailedErr) || nothingDone(err)) && time.Now().Before(giveUp) {
						continue
					}
					if unknownOutcome(err) {
						mu.Lock()
						unknown++
						mu.Unlock()
						break
					}
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := clusterClient(nodes)
	defer c.Close()
	n, err := c.Get(ctx, "counter").Int()
	if err != nil || n < done || n > done+unknown {
		t.Fatalf("counter = %d %v; %d increments done, %d unknown", n, err, done, unknown)
	}
}
