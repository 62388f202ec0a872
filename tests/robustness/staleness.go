package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Follower reads (READONLY connections) may be stale by design. The probe
// measures how stale: one writer sets a few keys to increasing counters
// through the leaders, one reader per node reads them from that node's own
// replica, and every read is compared with the writes acknowledged before
// it began.
//
// The same keys also catch a deposed leader that answers linearizable
// reads from its own state: a second reader per node sends plain GETs to
// that node only, without following redirects, so while a leader is paused
// or cut off its reads queue up there; they and the writer's SETs go into
// the history that is checked for linearizability.

// stalenessProbe records the probe's writes and reads.
type stalenessProbe struct {
	nkeys   int
	nodes   []string // RESP address of every node
	ids     []string
	hist    *History
	every   time.Duration
	gen     time.Duration // keys are renamed every gen, to bound their histories
	seed    uint64
	clients func() int // history client ids

	mu      sync.Mutex
	acks    map[string][]ackRec // per key, in counter order (one writer per key)
	invoked map[string]int64    // per key, the highest counter ever sent
	reads   []staleRead
}

type ackRec struct {
	v   int64
	ack int64 // history time the SET was acknowledged
}

type staleRead struct {
	node      int
	key       string
	call, ret int64
	v         int64 // -1: nil
}

func newStalenessProbe(nodes, ids []string, hist *History, keys int, every, gen time.Duration, seed uint64, clients func() int) *stalenessProbe {
	return &stalenessProbe{nodes: nodes, ids: ids, hist: hist, every: every, gen: gen, seed: seed, nkeys: keys,
		clients: clients, acks: map[string][]ackRec{}, invoked: map[string]int64{}}
}

// key is the probe's key k now.
func (p *stalenessProbe) key(k int) string {
	return fmt.Sprintf("s:%d:%d", p.hist.Now()/int64(p.gen), k)
}

// Run writes and reads until ctx ends.
func (p *stalenessProbe) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(p.nkeys + 2*len(p.nodes))
	for k := range p.nkeys {
		go func() {
			defer wg.Done()
			p.writer(ctx, k)
		}()
	}
	for i := range p.nodes {
		go func() {
			defer wg.Done()
			p.reader(ctx, i)
		}()
		go func() {
			defer wg.Done()
			p.leaderReader(ctx, i)
		}()
	}
	wg.Wait()
}

// writer sets key k of each generation to increasing counters, one SET at
// a time. Its attempts time out quickly, so that while a leader is stopped
// or cut off the writer finds the new one within a second and the new
// leader's writes overlap the old leader's queued reads.
func (p *stalenessProbe) writer(ctx context.Context, k int) {
	cl := newClient(p.nodes, rand.New(rand.NewPCG(p.seed, 1<<42+uint64(k))))
	cl.ioTimeout = 500 * time.Millisecond
	defer cl.Close()
	cid := p.clients()
	var counter int64
	for ctx.Err() == nil {
		key := p.key(k)
		counter++
		p.mu.Lock()
		p.invoked[key] = counter
		p.mu.Unlock()
		op := Op{Client: cid, Kind: opSet, Key: key, Arg: counter, Call: p.hist.Now()}
		r, out, node := cl.Do(ctx, true, 5*time.Second, "SET", key, strconv.FormatInt(counter, 10))
		op.Return, op.Node = p.hist.Now(), node
		switch {
		case out == outOK && r.Kind == kindStatus && r.Str == "OK":
			p.hist.Add(op)
			p.mu.Lock()
			p.acks[key] = append(p.acks[key], ackRec{v: counter, ack: op.Return})
			p.mu.Unlock()
		case out == outUnknown:
			op.Unknown = true
			p.hist.Add(op)
			cid = p.clients()
		}
		sleepCtx(ctx, p.every)
	}
}

// maxLeaderReads bounds the linearizable probe reads waiting at one node
// (about four seconds' worth).
const maxLeaderReads = 96

// leaderReader sends linearizable GETs of the probe keys to node i only,
// without following redirects: only the node leading a key's group answers
// with a value, and a deposed leader must not. The reads go into the
// history. A read does not wait for the one before: each goes out on an
// idle connection or a new one, so that while the node is stopped reads
// keep being sent to it, some after the new leader has acknowledged newer
// writes, and all of them race the old leader's step-down when it resumes.
func (p *stalenessProbe) leaderReader(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(p.seed, 1<<44+uint64(i)))
	idle := make(chan *conn, maxLeaderReads)
	slots := make(chan struct{}, maxLeaderReads)
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(idle)
		for c := range idle {
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		sleepCtx(ctx, time.Duration(rng.Int64N(int64(4*p.every))))
		select {
		case slots <- struct{}{}:
		default:
			continue // enough reads waiting already
		}
		key := p.key(rng.IntN(p.nkeys))
		cid := p.clients()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			var c *conn
			select {
			case c = <-idle:
			default:
				var err error
				if c, err = dial(p.nodes[i], 300*time.Millisecond); err != nil {
					return
				}
			}
			op := Op{Client: cid, Kind: opGet, Key: key, Call: p.hist.Now(), Node: p.nodes[i]}
			// Long enough to outlast a stopped node: a read sent to it is
			// answered when it resumes.
			r, err := c.do(time.Now().Add(10*time.Second), "GET", key)
			op.Return = p.hist.Now()
			if err != nil {
				c.Close()
				return
			}
			idle <- c
			switch r.Kind {
			case kindNil:
			case kindBulk:
				v, err := strconv.ParseInt(r.Str, 10, 64)
				if err != nil {
					return
				}
				op.Exists, op.Int = true, v
			default:
				return // MOVED, CLUSTERDOWN: refused, no effect
			}
			p.hist.Add(op)
		}()
	}
}

// reader reads the probe keys from node i's own replica.
func (p *stalenessProbe) reader(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(p.seed, 1<<43+uint64(i)))
	var c *conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		sleepCtx(ctx, p.every)
		if c == nil {
			var err error
			if c, err = dial(p.nodes[i], 300*time.Millisecond); err != nil {
				c = nil
				continue
			}
			if r, err := c.do(time.Now().Add(time.Second), "READONLY"); err != nil || r.Kind != kindStatus {
				c.Close()
				c = nil
				continue
			}
		}
		key := p.key(rng.IntN(p.nkeys))
		call := p.hist.Now()
		r, err := c.do(time.Now().Add(time.Second), "GET", key)
		ret := p.hist.Now()
		if err != nil {
			c.Close()
			c = nil
			continue
		}
		rd := staleRead{node: i, key: key, call: call, ret: ret, v: -1}
		switch r.Kind {
		case kindNil:
		case kindBulk:
			v, err := strconv.ParseInt(r.Str, 10, 64)
			if err != nil {
				continue
			}
			rd.v = v
		default:
			continue // MOVED (no replica here), CLUSTERDOWN (no map yet)
		}
		p.mu.Lock()
		p.reads = append(p.reads, rd)
		p.mu.Unlock()
	}
}

// StalenessReport summarises the follower reads.
type StalenessReport struct {
	Reads     int
	Stale     int
	Phantom   []string // values never written: a bug, not staleness
	LagP50    time.Duration
	LagP99    time.Duration
	LagMax    time.Duration
	MaxBehind int64 // most acknowledged writes a read missed
	PerNode   []string
}

func (r StalenessReport) String() string {
	if r.Reads == 0 {
		return "no follower reads"
	}
	return fmt.Sprintf("%d READONLY reads, %d stale (%.1f%%); staleness of stale reads p50 %v, p99 %v, max %v; at most %d acknowledged writes behind; per node: %s",
		r.Reads, r.Stale, 100*float64(r.Stale)/float64(r.Reads), r.LagP50, r.LagP99, r.LagMax, r.MaxBehind, strings.Join(r.PerNode, ", "))
}

// Report compares every read with the acknowledged writes. A read is stale
// when a write acknowledged before the read began is newer than the value
// it returned; its staleness is the time from the acknowledgement of the
// first such write to the read's start (how long the replica had been
// behind, at least).
func (p *stalenessProbe) Report() StalenessReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rep StalenessReport
	var lags []time.Duration
	perNode := make([]time.Duration, len(p.nodes))
	perNodeStale := make([]int, len(p.nodes))
	perNodeReads := make([]int, len(p.nodes))
	for _, rd := range p.reads {
		rep.Reads++
		perNodeReads[rd.node]++
		if rd.v > p.invoked[rd.key] {
			rep.Phantom = append(rep.Phantom, fmt.Sprintf("%s read %s = %d from its replica; no such value was ever written", p.ids[rd.node], rd.key, rd.v))
			continue
		}
		acks := p.acks[rd.key]
		// Acknowledged before the read began.
		n := sort.Search(len(acks), func(k int) bool { return acks[k].ack > rd.call })
		if n == 0 || acks[n-1].v <= rd.v {
			continue
		}
		// The first acknowledged write newer than the value read.
		first := sort.Search(n, func(k int) bool { return acks[k].v > rd.v })
		lag := time.Duration(rd.call - acks[first].ack)
		rep.Stale++
		perNodeStale[rd.node]++
		lags = append(lags, lag)
		perNode[rd.node] = max(perNode[rd.node], lag)
		rep.MaxBehind = max(rep.MaxBehind, int64(n-first))
	}
	sort.Slice(lags, func(a, b int) bool { return lags[a] < lags[b] })
	if len(lags) > 0 {
		rep.LagP50 = lags[len(lags)/2].Round(time.Millisecond)
		rep.LagP99 = lags[len(lags)*99/100].Round(time.Millisecond)
		rep.LagMax = lags[len(lags)-1].Round(time.Millisecond)
	}
	for i := range p.nodes {
		rep.PerNode = append(rep.PerNode, fmt.Sprintf("%s %d/%d stale, max %v", p.ids[i], perNodeStale[i], perNodeReads[i], perNode[i].Round(time.Millisecond)))
	}
	return rep
}
