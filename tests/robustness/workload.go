package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// WorkloadConfig shapes the client load.
type WorkloadConfig struct {
	Workers int
	// Think is the mean pause between two operations of a worker; it keeps
	// the load modest (Workers/Think operations per second at most).
	Think time.Duration
	// GenPeriod is how long a set of keys is used before the workers move
	// on to fresh keys. It bounds each key's history, which keeps the
	// linearizability check of every key fast.
	GenPeriod time.Duration
	// RegisterKeys and ListKeys are the keys of each generation.
	RegisterKeys int
	ListKeys     int // 0: no list operations
	// OpBudget is how long one operation may take, retries included.
	OpBudget time.Duration
}

// Workload runs concurrent clients and records what they see.
type Workload struct {
	cfg   WorkloadConfig
	addrs []string
	hist  *History
	seed  uint64

	clients atomic.Int64 // client ids handed out (visualisation rows)
	values  atomic.Int64 // unique values for SET and RPUSH

	mu        sync.Mutex
	onceAcked map[string]string // write-once audit keys acknowledged
	onceMaybe map[string]string // write-once audit keys with unknown outcome
	anomalies []string          // replies no correct server gives
	counts    map[string]int    // "set/ok", "incr/unknown", ...
}

func newWorkload(cfg WorkloadConfig, addrs []string, hist *History, seed uint64) *Workload {
	return &Workload{
		cfg: cfg, addrs: addrs, hist: hist, seed: seed,
		onceAcked: map[string]string{},
		onceMaybe: map[string]string{},
		counts:    map[string]int{},
	}
}

func (w *Workload) newClientID() int { return int(w.clients.Add(1) - 1) }

func (w *Workload) count(kind string, out outcome) {
	name := kind + "/" + [...]string{"ok", "failed", "unknown"}[out]
	w.mu.Lock()
	w.counts[name]++
	w.mu.Unlock()
}

func (w *Workload) anomaly(format string, args ...any) {
	w.mu.Lock()
	if len(w.anomalies) < 1000 {
		w.anomalies = append(w.anomalies, fmt.Sprintf(format, args...))
	}
	w.mu.Unlock()
}

// Run starts the workers and returns when ctx ends and every worker has
// finished its current operation.
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < w.cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.worker(ctx, i)
		}()
	}
	wg.Wait()
}

func (w *Workload) worker(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(w.seed, uint64(id)+1))
	cl := newClient(w.addrs, rng)
	defer cl.Close()
	cid := w.newClientID()
	seq := 0
	for ctx.Err() == nil {
		gen := w.hist.Now() / int64(w.cfg.GenPeriod)
		x := rng.Float64()
		var out outcome
		switch {
		case w.cfg.ListKeys > 0 && x < 0.25:
			key := fmt.Sprintf("l:%d:%d", gen, rng.IntN(w.cfg.ListKeys))
			if rng.Float64() < 0.55 {
				out = w.rpush(ctx, cl, cid, key)
			} else {
				out = w.lrange(ctx, cl, cid, key)
			}
		case x < 0.35:
			seq++
			out = w.writeOnce(ctx, cl, fmt.Sprintf("a:%d:%d", id, seq))
		default:
			key := fmt.Sprintf("r:%d:%d", gen, rng.IntN(w.cfg.RegisterKeys))
			switch y := rng.Float64(); {
			case y < 0.45:
				out = w.get(ctx, cl, cid, key)
			case y < 0.8:
				out = w.set(ctx, cl, cid, key)
			default:
				out = w.incr(ctx, cl, cid, key)
			}
		}
		if out == outUnknown {
			// The operation stays open to the end of the history: later
			// ones of this worker go on a new row.
			cid = w.newClientID()
		}
		sleepCtx(ctx, time.Duration(rng.Int64N(2*int64(w.cfg.Think)+1)))
	}
}

// do runs one operation and records it in the history (unless it failed
// without effect).
func (w *Workload) do(ctx context.Context, cl *Client, cid int, op Op, write bool, args ...string) (Op, outcome, bool) {
	op.Client = cid
	op.Call = w.hist.Now()
	r, out, node := cl.Do(ctx, write, w.cfg.OpBudget, args...)
	op.Return = w.hist.Now()
	op.Node = node
	w.count(op.Kind.String(), out)
	switch out {
	case outFailed:
		return op, out, false
	case outUnknown:
		op.Unknown = true
		w.hist.Add(op)
		return op, out, false
	}
	if !w.parse(&op, r) {
		return op, out, false
	}
	w.hist.Add(op)
	return op, out, true
}

// parse fills op's result from r; false (and an anomaly) if r is not a
// reply the operation can have.
func (w *Workload) parse(op *Op, r reply) bool {
	bad := func() bool {
		w.anomaly("%s %s: unexpected reply %v from %s", op.Kind, op.Key, r, op.Node)
		return false
	}
	switch op.Kind {
	case opGet:
		switch r.Kind {
		case kindNil:
			return true
		case kindBulk:
			v, err := strconv.ParseInt(r.Str, 10, 64)
			if err != nil {
				return bad()
			}
			op.Exists, op.Int = true, v
			return true
		}
	case opSet:
		if r.Kind == kindStatus && r.Str == "OK" {
			return true
		}
	case opIncr, opAppend:
		if r.Kind == kindInt {
			op.Int = r.Int
			return true
		}
	case opRange:
		if r.Kind == kindArray {
			op.List = make([]int64, 0, len(r.Array))
			for _, e := range r.Array {
				v, err := strconv.ParseInt(e.Str, 10, 64)
				if e.Kind != kindBulk || err != nil {
					return bad()
				}
				op.List = append(op.List, v)
			}
			return true
		}
	}
	return bad()
}

func (w *Workload) value() int64 { return w.values.Add(1) * 1000 }

func (w *Workload) get(ctx context.Context, cl *Client, cid int, key string) outcome {
	_, out, _ := w.do(ctx, cl, cid, Op{Kind: opGet, Key: key}, false, "GET", key)
	return out
}

func (w *Workload) set(ctx context.Context, cl *Client, cid int, key string) outcome {
	v := w.value()
	_, out, _ := w.do(ctx, cl, cid, Op{Kind: opSet, Key: key, Arg: v}, true, "SET", key, strconv.FormatInt(v, 10))
	return out
}

func (w *Workload) incr(ctx context.Context, cl *Client, cid int, key string) outcome {
	_, out, _ := w.do(ctx, cl, cid, Op{Kind: opIncr, Key: key}, true, "INCR", key)
	return out
}

func (w *Workload) rpush(ctx context.Context, cl *Client, cid int, key string) outcome {
	v := w.value()
	_, out, _ := w.do(ctx, cl, cid, Op{Kind: opAppend, Key: key, Arg: v}, true, "RPUSH", key, strconv.FormatInt(v, 10))
	return out
}

func (w *Workload) lrange(ctx context.Context, cl *Client, cid int, key string) outcome {
	_, out, _ := w.do(ctx, cl, cid, Op{Kind: opRange, Key: key}, false, "LRANGE", key, "0", "-1")
	return out
}

// writeOnce sets a key nobody else writes, for the audit.
func (w *Workload) writeOnce(ctx context.Context, cl *Client, key string) outcome {
	val := "v" + strconv.FormatInt(w.value(), 10)
	r, out, node := cl.Do(ctx, true, w.cfg.OpBudget, "SET", key, val)
	w.count("audit-set", out)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case out == outUnknown:
		w.onceMaybe[key] = val
	case out == outOK && r.Kind == kindStatus && r.Str == "OK":
		w.onceAcked[key] = val
	case out == outOK:
		if len(w.anomalies) < 1000 {
			w.anomalies = append(w.anomalies, fmt.Sprintf("SET %s: unexpected reply %v from %s", key, r, node))
		}
	}
	return out
}

// FinalReads reads every register and list key of the history once more,
// after the cluster has healed, and adds the reads to the history: the
// check then covers the final state, so a write acknowledged and later
// lost is a violation.
func (w *Workload) FinalReads(ctx context.Context, ops []Op) error {
	keys := map[string]opKind{}
	for _, op := range ops {
		keys[op.Key] = op.Kind
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	cl := newClient(w.addrs, rand.New(rand.NewPCG(w.seed, 1<<40)))
	defer cl.Close()
	cid := w.newClientID()
	for _, k := range names {
		out := outFailed
		for try := 0; try < 6 && out != outOK && ctx.Err() == nil; try++ {
			switch keys[k] {
			case opAppend, opRange:
				_, out, _ = w.do(ctx, cl, cid, Op{Kind: opRange, Key: k}, false, "LRANGE", k, "0", "-1")
			default:
				_, out, _ = w.do(ctx, cl, cid, Op{Kind: opGet, Key: k}, false, "GET", k)
			}
		}
		if out != outOK {
			return fmt.Errorf("final read of %s failed on a healed cluster", k)
		}
	}
	return nil
}

// AuditResult is the acknowledged-write audit.
type AuditResult struct {
	Audited int      // acknowledged writes read back
	Lost    []string // acknowledged writes not found (or wrong)
	Bogus   []string // values no client wrote, or written twice
}

// Audit reads back every acknowledged write-once key, and checks every
// list's final contents (the last read of each list key in ops, which
// must include the final reads) against the acknowledged RPUSHes.
func (w *Workload) Audit(ctx context.Context, ops []Op) (AuditResult, error) {
	var res AuditResult
	w.mu.Lock()
	acked := make(map[string]string, len(w.onceAcked))
	for k, v := range w.onceAcked {
		acked[k] = v
	}
	maybe := make(map[string]string, len(w.onceMaybe))
	for k, v := range w.onceMaybe {
		maybe[k] = v
	}
	w.mu.Unlock()

	keys := make([]string, 0, len(acked)+len(maybe))
	for k := range acked {
		keys = append(keys, k)
	}
	for k := range maybe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cl := newClient(w.addrs, rand.New(rand.NewPCG(w.seed, 1<<41)))
	defer cl.Close()
	for _, k := range keys {
		r, out, _ := cl.Do(ctx, false, 30*time.Second, "GET", k)
		if out != outOK {
			return res, fmt.Errorf("audit: GET %s failed on a healed cluster", k)
		}
		if want, ok := acked[k]; ok {
			res.Audited++
			if r.Kind != kindBulk || r.Str != want {
				res.Lost = append(res.Lost, fmt.Sprintf("SET %s %s acknowledged, now reads %v", k, want, r))
			}
			continue
		}
		if r.Kind != kindNil && (r.Kind != kindBulk || r.Str != maybe[k]) {
			res.Bogus = append(res.Bogus, fmt.Sprintf("%s reads %v; the only write was SET %s (outcome unknown)", k, r, maybe[k]))
		}
	}

	// Lists: the final read of each list key holds every acknowledged
	// element once, and nothing that was never pushed.
	pushed := map[string]map[int64]bool{} // key -> element -> acknowledged
	final := map[string]Op{}
	for _, op := range ops {
		switch op.Kind {
		case opAppend:
			if pushed[op.Key] == nil {
				pushed[op.Key] = map[int64]bool{}
			}
			pushed[op.Key][op.Arg] = pushed[op.Key][op.Arg] || !op.Unknown
		case opRange:
			if f, ok := final[op.Key]; !ok || op.Call > f.Call {
				final[op.Key] = op
			}
		}
	}
	for k, elems := range pushed {
		f, ok := final[k]
		if !ok {
			return res, fmt.Errorf("audit: no final read of list %s", k)
		}
		seen := map[int64]int{}
		for _, e := range f.List {
			seen[e]++
			if _, ok := elems[e]; !ok {
				res.Bogus = append(res.Bogus, fmt.Sprintf("list %s holds %d, never pushed", k, e))
			} else if seen[e] == 2 {
				res.Bogus = append(res.Bogus, fmt.Sprintf("list %s holds %d twice (pushed once)", k, e))
			}
		}
		for e, ack := range elems {
			if !ack {
				continue
			}
			res.Audited++
			if seen[e] == 0 {
				res.Lost = append(res.Lost, fmt.Sprintf("RPUSH %s %d acknowledged, missing from the final list", k, e))
			}
		}
	}
	sort.Strings(res.Lost)
	sort.Strings(res.Bogus)
	return res, nil
}
