package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Workload describes one load: which commands, how many connections, how
// deep the pipeline, and for how long. Zero fields take the defaults noted.
type Workload struct {
	// Conns is the number of clients (default 1). In the closed loop each
	// keeps one batch of Pipeline commands outstanding; a client keeps one
	// connection per server address it needs.
	Conns int
	// Pipeline is the number of commands a client sends before reading
	// their replies (default 1). Ignored by the open loop.
	Pipeline int
	// ReadRatio is the fraction of GETs; the rest are SETs.
	ReadRatio float64
	// ValueSize is the size of SET's value (default 16).
	ValueSize int
	// Keyspace: keys are KeyPrefix + a 12-digit index drawn uniformly from
	// [0, Keyspace) (default 100000; KeyPrefix default "key:").
	Keyspace  int
	KeyPrefix string
	// Warmup runs before the measured Duration and is not recorded.
	Warmup   time.Duration
	Duration time.Duration
	// Rate > 0 selects the open loop: Rate commands per second in total,
	// spread evenly over the clients, each sent at its scheduled time
	// whether or not earlier replies have arrived; latency is measured from
	// the scheduled time, so a stall is charged to every command it delays.
	Rate float64
	// WaitReplicas > 0 makes every write wait for that many replicas: the
	// client sends WAIT WaitReplicas WaitTimeout after the SETs of each batch
	// and counts the SETs as done when WAIT answers (as failed when WAIT
	// reports fewer replicas).
	WaitReplicas int
	WaitTimeout  time.Duration
	// Timeout bounds each batch's round trip (default 5s).
	Timeout time.Duration
	// Seed seeds the key choice; clients derive theirs from it.
	Seed uint64
}

func (w *Workload) defaults() {
	w.Conns = max(w.Conns, 1)
	w.Pipeline = max(w.Pipeline, 1)
	if w.ValueSize <= 0 {
		w.ValueSize = 16
	}
	if w.Keyspace <= 0 {
		w.Keyspace = 100000
	}
	if w.KeyPrefix == "" {
		w.KeyPrefix = "key:"
	}
	if w.WaitTimeout <= 0 {
		w.WaitTimeout = time.Second
	}
	if w.Timeout <= 0 {
		w.Timeout = 5 * time.Second
	}
}

// Result is what one run measured, over the measured window only.
type Result struct {
	Ops       int64         `json:"ops"`    // commands that succeeded
	Errors    int64         `json:"errors"` // commands that failed (not retried)
	Redirects int64         `json:"redirects"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	// Latency of successful commands: all, GETs, SETs (the last two only
	// when the run had both).
	Latency *Histogram `json:"latency"`
	Reads   *Histogram `json:"reads,omitempty"`
	Writes  *Histogram `json:"writes,omitempty"`
	// ErrorCodes counts failures by the error's first word ("conn",
	// "timeout", "wait", "TRYAGAIN", ...).
	ErrorCodes map[string]int64 `json:"error_codes,omitempty"`
	// Timeline counts successes per 100 ms from the start of the warmup.
	Timeline []int64 `json:"timeline"`
}

// Throughput is successful commands per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// TimelineStep is the width of a Result.Timeline bucket.
const TimelineStep = 100 * time.Millisecond

// collector gathers the clients' outcomes.
type collector struct {
	mu        sync.Mutex
	res       Result
	timeline  []atomic.Int64
	runStart  time.Time
	measureAt time.Time
	end       time.Time
}

func newCollector(start time.Time, w *Workload) *collector {
	n := int((w.Warmup+w.Duration)/TimelineStep) + 600 // room for stragglers
	return &collector{
		res:       Result{Latency: NewHistogram(), Reads: NewHistogram(), Writes: NewHistogram(), ErrorCodes: map[string]int64{}},
		timeline:  make([]atomic.Int64, n),
		runStart:  start,
		measureAt: start.Add(w.Warmup),
		end:       start.Add(w.Warmup + w.Duration),
	}
}

func (c *collector) tick(at time.Time) {
	if i := int(at.Sub(c.runStart) / TimelineStep); i >= 0 && i < len(c.timeline) {
		c.timeline[i].Add(1)
	}
}

// local is one client's share, merged into the collector at the end.
type local struct {
	ops, errs   int64
	all, rd, wr *Histogram
	errCodes    map[string]int64
	lastDone    time.Time
}

func newLocal() *local {
	return &local{all: NewHistogram(), rd: NewHistogram(), wr: NewHistogram(), errCodes: map[string]int64{}}
}

func (l *local) record(o *op, from time.Time) {
	if o.ok {
		l.ops++
		d := o.done.Sub(from)
		l.all.Record(d)
		if o.write {
			l.wr.Record(d)
		} else {
			l.rd.Record(d)
		}
		if o.done.After(l.lastDone) {
			l.lastDone = o.done
		}
		return
	}
	l.errs++
	l.errCodes[o.err]++
}

func (c *collector) merge(l *local, redirects int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Ops += l.ops
	c.res.Errors += l.errs
	c.res.Redirects += redirects
	c.res.Latency.Merge(l.all)
	c.res.Reads.Merge(l.rd)
	c.res.Writes.Merge(l.wr)
	for k, v := range l.errCodes {
		c.res.ErrorCodes[k] += v
	}
	if el := l.lastDone.Sub(c.measureAt); el > c.res.Elapsed {
		c.res.Elapsed = el
	}
}

func (c *collector) finish() *Result {
	r := &c.res
	// A run is as long as it was scheduled to be, or longer when the last
	// replies came late.
	r.Elapsed = max(r.Elapsed, c.end.Sub(c.measureAt))
	last := 0
	for i := range c.timeline {
		if c.timeline[i].Load() > 0 {
			last = i
		}
	}
	r.Timeline = make([]int64, last+1)
	for i := range r.Timeline {
		r.Timeline[i] = c.timeline[i].Load()
	}
	if len(r.ErrorCodes) == 0 {
		r.ErrorCodes = nil
	}
	if r.Reads.Count() == 0 || r.Writes.Count() == 0 {
		r.Reads, r.Writes = nil, nil // the same as Latency, or empty
	}
	return r
}

// keyGen makes keys and values.
type keyGen struct {
	prefix   string
	keyspace int
	rng      *rand.Rand
}

// appendKey writes prefix + the 12-digit index.
func appendKey(b []byte, prefix string, i int) []byte {
	b = append(b[:0], prefix...)
	var d [12]byte
	for k := len(d) - 1; k >= 0; k-- {
		d[k] = byte('0' + i%10)
		i /= 10
	}
	return append(b, d[:]...)
}

func makeValue(n int, seed byte) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = 'a' + byte((i+int(seed))%26)
	}
	return v
}

// ErrNothingDone is returned when a run completed no command at all.
var ErrNothingDone = errors.New("loadgen: no command succeeded")

// Run drives workload w against the servers r names and returns what it
// measured. It returns early, with what it has, when ctx ends.
func Run(ctx context.Context, r Router, w Workload) (*Result, error) {
	w.defaults()
	val := makeValue(w.ValueSize, 0)
	// Every client connects first; the clock starts when all have.
	var ready, wg sync.WaitGroup
	begin := make(chan *collector)
	ready.Add(w.Conns)
	for i := range w.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w.Seed, uint64(i)+1))
			if w.Rate > 0 {
				runOpen(ctx, r, &w, &ready, begin, i, rng, val)
			} else {
				runClosed(ctx, r, &w, &ready, begin, rng, val)
			}
		}()
	}
	ready.Wait()
	col := newCollector(time.Now(), &w)
	for range w.Conns {
		begin <- col
	}
	wg.Wait()
	res := col.finish()
	if res.Ops == 0 {
		return res, fmt.Errorf("%w (%d errors: %v)", ErrNothingDone, res.Errors, res.ErrorCodes)
	}
	return res, nil
}

func runClosed(ctx context.Context, r Router, w *Workload, ready *sync.WaitGroup, begin <-chan *collector, rng *rand.Rand, val []byte) {
	cl := newClient(r, w.Timeout)
	defer cl.close()
	for _, a := range r.Addrs() {
		_, _ = cl.conn(ctx, a) // a failure shows up as errors later
	}
	ready.Done()
	col := <-begin
	if w.WaitReplicas > 0 {
		cl.setWait(w.WaitReplicas, w.WaitTimeout)
	}
	loc := newLocal()
	ops := make([]op, w.Pipeline)
	for {
		now := time.Now()
		if !now.Before(col.end) || ctx.Err() != nil {
			break
		}
		for i := range ops {
			o := &ops[i]
			o.write = rng.Float64() >= w.ReadRatio
			o.key = appendKey(o.key, w.KeyPrefix, rng.IntN(w.Keyspace))
			o.slot = Slot(o.key)
			o.val = val
		}
		cl.exec(ctx, ops)
		for i := range ops {
			if ops[i].ok {
				col.tick(ops[i].done)
			}
			if !now.Before(col.measureAt) {
				loc.record(&ops[i], now)
			}
		}
	}
	col.merge(loc, cl.redirects)
}

// pending is a command sent by the open loop whose reply has not been read.
type pending struct {
	intended time.Time
	write    bool
	wait     bool   // a WAIT follows the SET
	key      []byte // to resend it where MOVED says
}

// pipe is one connection of an open-loop client: the sender writes, the
// reader goroutine reads replies in order and matches them to pendings.
type pipe struct {
	conn   *Conn
	queue  chan pending
	broken atomic.Bool
	done   chan struct{}
}

func runOpen(ctx context.Context, r Router, w *Workload, ready *sync.WaitGroup, begin <-chan *collector, idx int, rng *rand.Rand, val []byte) {
	var col *collector
	pipes := map[string]*pipe{}
	var locals []*local
	var mu sync.Mutex // guards redirect counting and Moved from readers
	var redirects int64
	waitMS := strconv.FormatInt(w.WaitTimeout.Milliseconds(), 10)
	waitN := strconv.Itoa(w.WaitReplicas)
	key := []byte(nil)

	open := func(addr string) *pipe {
		if p := pipes[addr]; p != nil && !p.broken.Load() {
			return p
		}
		if p := pipes[addr]; p != nil {
			close(p.queue)
			<-p.done
			delete(pipes, addr)
		}
		conn, err := Dial(ctx, addr, time.Second)
		if err != nil {
			return nil
		}
		p := &pipe{conn: conn, queue: make(chan pending, 1<<16), done: make(chan struct{})}
		loc := newLocal()
		locals = append(locals, loc)
		pipes[addr] = p
		go func() {
			defer close(p.done)
			// A command answered with MOVED is sent again, at once, where
			// the redirection says, on this reader's own connections.
			redirect := newClient(r, w.Timeout)
			defer redirect.close()
			if w.WaitReplicas > 0 {
				redirect.setWait(w.WaitReplicas, w.WaitTimeout)
			}
			for pd := range p.queue {
				o := op{write: pd.write}
				if p.broken.Load() {
					o.err, o.done = "conn", time.Now()
				} else {
					conn.SetReadDeadline(time.Now().Add(w.Timeout))
					typ, text, _, err := conn.Skip()
					if err == nil && pd.wait {
						var n int64
						var wtyp byte
						wtyp, _, n, err = conn.Skip()
						if err == nil && typ != '-' && (wtyp != ':' || n < int64(w.WaitReplicas)) {
							typ, text = '-', "wait"
						}
					}
					o.done = time.Now()
					switch {
					case err != nil:
						o.err = "conn"
						p.broken.Store(true)
						conn.Close()
					case typ == '-':
						se := ServerError(text)
						o.err = se.Code()
						if slot, addr, ok := se.Moved(); ok && o.err == "MOVED" {
							mu.Lock()
							redirects++
							mu.Unlock()
							r.Moved(slot, addr)
							ops := []op{{write: pd.write, key: pd.key, val: val, slot: slot}}
							redirect.exec(ctx, ops)
							o = ops[0]
							if o.ok {
								o.err = ""
							}
						}
					default:
						o.ok = true
					}
				}
				if o.ok {
					col.tick(o.done)
				}
				if !pd.intended.Before(col.measureAt) {
					loc.record(&o, pd.intended)
				}
			}
		}()
		return p
	}

	for _, a := range r.Addrs() {
		open(a)
	}
	ready.Done()
	col = <-begin
	interval := time.Duration(float64(w.Conns) / w.Rate * float64(time.Second))
	next := col.runStart.Add(interval * time.Duration(idx) / time.Duration(w.Conns))
	for next.Before(col.end) && ctx.Err() == nil {
		if d := time.Until(next); d > 0 {
			sleepCtx(ctx, d)
		}
		write := rng.Float64() >= w.ReadRatio
		key = appendKey(key, w.KeyPrefix, rng.IntN(w.Keyspace))
		addr := r.Addr(Slot(key))
		p := open(addr)
		if p == nil {
			// Could not connect: this command fails now; learn the topology.
			if !next.Before(col.measureAt) {
				fl := newLocal()
				fl.errs, fl.errCodes["conn"] = 1, 1
				locals = append(locals, fl)
			}
			_ = r.Refresh(ctx)
			next = next.Add(interval)
			continue
		}
		pd := pending{intended: next, write: write, wait: write && w.WaitReplicas > 0, key: append([]byte(nil), key...)}
		p.queue <- pd
		if write {
			p.conn.WriteCommand(cmdSet, key, val)
			if pd.wait {
				p.conn.WriteArgs("WAIT", waitN, waitMS)
			}
		} else {
			p.conn.WriteCommand(cmdGet, key)
		}
		if err := p.conn.Flush(); err != nil {
			p.broken.Store(true)
			p.conn.Close()
		}
		next = next.Add(interval)
	}
	for _, p := range pipes {
		close(p.queue)
		<-p.done
		p.conn.Close()
	}
	total := newLocal()
	for _, l := range locals {
		total.ops += l.ops
		total.errs += l.errs
		total.all.Merge(l.all)
		total.rd.Merge(l.rd)
		total.wr.Merge(l.wr)
		for k, v := range l.errCodes {
			total.errCodes[k] += v
		}
		if l.lastDone.After(total.lastDone) {
			total.lastDone = l.lastDone
		}
	}
	col.merge(total, redirects)
}
