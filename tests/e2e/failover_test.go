package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxFailover is how long after the leader's death writes must succeed again.
const maxFailover = 2 * time.Second

// TestFailoverKeepsAcknowledgedWrites: writes acknowledged before and while
// the leader is killed with SIGKILL all survive; a new leader takes writes
// within maxFailover; the killed node, restarted, catches up to the same
// state as the others.
func TestFailoverKeepsAcknowledgedWrites(t *testing.T) {
	rng := newRand(t)
	c := StartCluster(t, Options{Args: fastRaft})
	cc := c.ClusterClient()

	before := genKVs(rng, "pre", 1000)
	start := time.Now()
	setAll(t, cc, before, 16, 30*time.Second)
	t.Logf("1000 SETs acknowledged through the cluster client in %v", time.Since(start).Round(time.Millisecond))

	// Writers that keep going across the kill. A write that errors has an
	// unknown fate (it may have committed); only OK counts as acknowledged.
	// Every key is written once, with one value, so a repeat by the client
	// library cannot change what a key holds.
	type writer struct {
		acked, tried []kv
	}
	const nWriters = 4
	writers := make([]*writer, nWriters)
	var ackedSinceKill, ackedConcurrent atomic.Int64
	var killed atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wr := &writer{}
		writers[w] = wr
		pairs := genKVs(rng, fmt.Sprintf("during%d", w), 100000)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range pairs {
				select {
				case <-stop:
					return
				default:
				}
				wr.tried = append(wr.tried, p)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				err := cc.Set(ctx, p.key, p.val, 0).Err()
				cancel()
				if err == nil {
					wr.acked = append(wr.acked, p)
					ackedConcurrent.Add(1)
					if killed.Load() {
						ackedSinceKill.Add(1)
					}
				}
			}
		}()
	}
	stopWriters := func() {
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		wg.Wait()
	}
	t.Cleanup(stopWriters)

	// Let the writers get going, so that writes are in flight at the kill.
	if err := eventually(10*time.Second, 10*time.Millisecond, func() error {
		if ackedConcurrent.Load() < 1 {
			return fmt.Errorf("no concurrent write acknowledged yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	old := c.Leader()
	t.Logf("killing leader %s (pid %d) with SIGKILL", c.Node(old).ID, c.Node(old).Pid())
	killedAt := time.Now()
	killed.Store(true)
	c.Kill9(old)

	// Probe: how soon does a fresh write succeed? Direct requests, MOVED
	// followed, so this measures the servers, not client-side caches.
	var probes []kv
	resumed := time.Duration(-1)
	for i := 0; time.Since(killedAt) < maxFailover+8*time.Second; i++ {
		p := kv{fmt.Sprintf("probe:%d", i), fmt.Sprintf("p%d", i)}
		probes = append(probes, p)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		_, err := c.Do(ctx, "SET", p.key, p.val)
		cancel()
		if err == nil {
			resumed = time.Since(killedAt)
			break
		}
	}
	if resumed < 0 {
		t.Fatalf("no write succeeded within %v of killing the leader", maxFailover+8*time.Second)
	}
	newLeader := c.Leader()
	t.Logf("writes resumed %v after the kill; new leader %s", resumed.Round(time.Millisecond), c.Node(newLeader).ID)
	if newLeader == old {
		t.Fatalf("leader is still %s, which was killed", c.Node(old).ID)
	}
	if resumed > maxFailover {
		t.Errorf("writes resumed %v after the leader was killed; want at most %v", resumed.Round(time.Millisecond), maxFailover)
	}

	// The cluster client itself recovers too.
	if err := eventually(15*time.Second, 20*time.Millisecond, func() error {
		if n := ackedSinceKill.Load(); n < 50 {
			return fmt.Errorf("only %d writes acknowledged through the cluster client since the kill", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stopWriters()

	acked := append([]kv(nil), before...)
	var tried []kv
	for _, wr := range writers {
		acked = append(acked, wr.acked...)
		tried = append(tried, wr.tried...)
	}
	t.Logf("%d writes acknowledged in all, %d attempted during the failover", len(acked), len(tried))
	c.readBack(t, acked, 30*time.Second)

	// The old leader comes back and catches up: same keys, same values on
	// every replica, read locally from each.
	c.Restart(old)
	all := keysOf(before, tried, probes)
	c.WaitReplicasEqual(t, all, acked, 30*time.Second)
	t.Logf("%s rejoined; all three replicas equal", c.Node(old).ID)
}
