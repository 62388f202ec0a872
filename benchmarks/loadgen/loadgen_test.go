package loadgen

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestSlot(t *testing.T) {
	for _, c := range []struct {
		key  string
		want int
	}{
		{"123456789", 12739}, // CRC16/XMODEM check value 0x31C3
		{"foo", 12182},
		{"{user1000}.following", Slot([]byte("user1000"))},
		{"foo{}{bar}", Slot([]byte("foo{}{bar}"))}, // empty tag: whole key
		{"foo{{bar}}zap", Slot([]byte("{bar"))},
		{"foo{bar", Slot([]byte("foo{bar"))},
	} {
		if got := Slot([]byte(c.key)); got != c.want {
			t.Errorf("Slot(%q) = %d, want %d", c.key, got, c.want)
		}
	}
}

func TestServerErrorMoved(t *testing.T) {
	slot, addr, ok := ServerError("MOVED 3999 127.0.0.1:6381").Moved()
	if !ok || slot != 3999 || addr != "127.0.0.1:6381" {
		t.Fatalf("got %d %q %v", slot, addr, ok)
	}
	if _, _, ok := ServerError("ERR nope").Moved(); ok {
		t.Fatal("ERR parsed as a redirect")
	}
	if c := ServerError("TRYAGAIN later").Code(); c != "TRYAGAIN" {
		t.Fatalf("code %q", c)
	}
}

func TestClusterRunFollowsTopologyAndMoved(t *testing.T) {
	ctx := context.Background()
	nodes := fakeCluster(t, [2]int{0, 8191}, [2]int{8192, 16383})
	// Seeded with one node only; the router learns both from CLUSTER SLOTS.
	r, err := NewCluster(ctx, nodes[0].addr())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Addrs()) != 2 {
		t.Fatalf("addrs %v", r.Addrs())
	}
	// A stale route: every slot at node 0. MOVED must fix it.
	for s := 8192; s < SlotCount; s++ {
		r.Moved(s, nodes[0].addr())
	}
	if _, err := Fill(ctx, r, "k:", 0, 2000, 8, 4, 50); err != nil {
		t.Fatal(err)
	}
	if got := r.Addr(Slot([]byte(Key("k:", 1999)))); got != nodes[0].owner(Slot([]byte(Key("k:", 1999)))).addr() {
		t.Fatalf("route not learnt: %s", got)
	}
	res, err := Run(ctx, r, Workload{Conns: 4, Pipeline: 8, ReadRatio: 0.5, Keyspace: 2000, KeyPrefix: "k:", Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Ops == 0 || res.Latency.Count() != res.Ops || res.Reads == nil || res.Reads.Count()+res.Writes.Count() != res.Ops {
		t.Fatalf("ops %d errors %d %v hist %d", res.Ops, res.Errors, res.ErrorCodes, res.Latency.Count())
	}
	var tl int64
	for _, n := range res.Timeline {
		tl += n
	}
	if tl < res.Ops {
		t.Fatalf("timeline %d < ops %d", tl, res.Ops)
	}

	// The open loop follows MOVED too: with a router that keeps sending
	// every slot to node 0 until told otherwise, no command may fail.
	res, err = Run(ctx, &staleRouter{Router: r, to: nodes[0].addr(), moved: map[int]string{}}, Workload{Conns: 4, Rate: 2000, ReadRatio: 0.5, Keyspace: 2000, KeyPrefix: "k:", Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Redirects == 0 {
		t.Fatalf("open loop: ops %d errors %d %v redirects %d", res.Ops, res.Errors, res.ErrorCodes, res.Redirects)
	}
}

// staleRouter sends every slot to one address until Moved says otherwise.
type staleRouter struct {
	Router
	to    string
	mu    sync.Mutex
	moved map[int]string
}

func (s *staleRouter) Addr(slot int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.moved[slot]; ok {
		return a
	}
	return s.to
}

func (s *staleRouter) Moved(slot int, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moved[slot] = addr
}

func TestOpenLoopRateAndWait(t *testing.T) {
	ctx := context.Background()
	nodes := fakeCluster(t, [2]int{0, 16383})
	res, err := Run(ctx, Static(nodes[0].addr()), Workload{Conns: 5, Rate: 1000, Duration: 300 * time.Millisecond,
		Warmup: 50 * time.Millisecond, WaitReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 1000/s for 0.3 s: about 300 commands, latency from the scheduled time.
	if res.Ops < 250 || res.Ops > 320 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d %v", res.Ops, res.Errors, res.ErrorCodes)
	}
	if nodes[0].waits.Load() == 0 {
		t.Fatal("no WAIT sent")
	}
}

func TestWriterReadBackCountsLostWrites(t *testing.T) {
	ctx := context.Background()
	nodes := fakeCluster(t, [2]int{0, 16383})
	r := Static(nodes[0].addr())
	w := StartWriter(ctx, r, Writes{Conns: 2, Rate: 400})
	deadline := time.Now().Add(10 * time.Second)
	for w.Acks() < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	mid := time.Now()
	for w.Acks() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l := w.Stop()
	acked := l.Acked()
	if len(acked) < 20 {
		t.Fatalf("only %d writes acknowledged in 10 s", len(acked))
	}
	if u := l.Unavailability(mid); u > time.Second {
		t.Fatalf("unavailability %v with no failure", u)
	}
	checked, lost, err := ReadBack(ctx, r, l)
	if err != nil || checked != len(acked) || lost != 0 {
		t.Fatalf("checked %d lost %d err %v", checked, lost, err)
	}
	// Lose two acknowledged writes behind the writer's back.
	nodes[0].data.Delete(acked[0].Key)
	nodes[0].data.Store(acked[1].Key, "something else")
	if _, lost, _ := ReadBack(ctx, r, l); lost != 2 {
		t.Fatalf("lost %d, want 2", lost)
	}
}

func TestSpreadTag(t *testing.T) {
	for id := range 12 {
		s := Slot([]byte(spreadTag(id, 12)))
		if s < id*SlotCount/12 || s >= (id+1)*SlotCount/12 {
			t.Errorf("writer %d: slot %d", id, s)
		}
	}
}

func TestWriteLogWindows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	l := &WriteLog{Start: t0, End: at(3000), Chains: []Chain{
		{Key: "a", Start: at(0), Ack: at(5)},
		{Key: "b", Start: at(990), Ack: at(2200)}, // in flight across the kill at 1000
		{Key: "c", Start: at(1500), Ack: at(2210)},
		{Key: "d", Start: at(2900)}, // never acknowledged
	}}
	if u := l.Unavailability(at(1000)); u != 1200*time.Millisecond {
		t.Fatalf("unavailability %v", u)
	}
	if g := l.MaxAckGap(at(1000)); g != 1200*time.Millisecond {
		t.Fatalf("max gap %v", g)
	}
	tl := l.Timeline(at(0), 100*time.Millisecond)
	if len(tl) != 31 || tl[0] != 1 || tl[22] != 2 {
		t.Fatalf("timeline %v", tl)
	}
}
