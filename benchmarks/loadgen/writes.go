package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Writes configures a steady write load whose every acknowledged write is
// remembered, to measure unavailability and lost writes across a failure.
type Writes struct {
	// Conns is the number of writers (default 4); each has one write
	// outstanding at a time.
	Conns int
	// Rate is the total writes per second (default 1000); a writer that
	// falls behind does not burst to catch up.
	Rate float64
	// KeyPrefix prefixes every key (default "fo:"). Keys are unique; the
	// value written is the key itself. Each writer keeps to one slot (a
	// hash tag), the writers' slots spread evenly over the slot space, so
	// that in a cluster a failure of one group stalls only its writers.
	KeyPrefix string
	// Timeout bounds one attempt (default 1s); a write that failed or timed
	// out is retried with the same key and value until acknowledged.
	Timeout time.Duration
}

// Chain is one logical write: its first attempt, its acknowledgement (zero
// if never acknowledged) and how many attempts it took.
type Chain struct {
	Key      string    `json:"key"`
	Start    time.Time `json:"start"`
	Ack      time.Time `json:"ack"`
	Attempts int       `json:"attempts"`
}

// Writer runs a Writes load until Stop.
type Writer struct {
	cfg    Writes
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	chains   []Chain
	lastFail time.Time
	lastAck  time.Time
	failures int64
	codes    map[string]int64
}

// StartWriter starts the writers.
func StartWriter(ctx context.Context, r Router, cfg Writes) *Writer {
	cfg.Conns = max(cfg.Conns, 1)
	if cfg.Rate <= 0 {
		cfg.Rate = 1000
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "fo:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Writer{cfg: cfg, start: time.Now(), cancel: cancel, codes: map[string]int64{}}
	interval := time.Duration(float64(cfg.Conns) / cfg.Rate * float64(time.Second))
	for id := range cfg.Conns {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.run(ctx, r, id, interval)
		}()
	}
	return w
}

// spreadTag returns a hash tag whose slot is in the id-th of n equal
// parts of the slot space.
func spreadTag(id, n int) string {
	lo, hi := id*SlotCount/n, (id+1)*SlotCount/n
	for t := 0; ; t++ {
		tag := strconv.Itoa(t)
		if s := Slot([]byte(tag)); s >= lo && s < hi {
			return tag
		}
	}
}

func (w *Writer) run(ctx context.Context, r Router, id int, interval time.Duration) {
	tag := spreadTag(id, w.cfg.Conns)
	cl := newClient(r, w.cfg.Timeout)
	defer cl.close()
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	next := time.Now().Add(time.Duration(rng.Int64N(int64(interval) + 1)))
	ops := make([]op, 1)
	for seq := 0; ctx.Err() == nil; seq++ {
		if d := time.Until(next); d > 0 {
			sleepCtx(ctx, d)
		} else {
			next = time.Now() // behind: do not burst
		}
		next = next.Add(interval)
		key := fmt.Sprintf("%s{%s}:%d", w.cfg.KeyPrefix, tag, seq)
		ch := Chain{Key: key, Start: time.Now()}
		for ctx.Err() == nil {
			ch.Attempts++
			ops[0] = op{write: true, key: []byte(key), val: []byte(key), slot: Slot([]byte(key))}
			cl.exec(ctx, ops)
			w.mu.Lock()
			if ops[0].ok {
				ch.Ack = ops[0].done
				w.lastAck = ops[0].done
			} else if ctx.Err() == nil {
				w.failures++
				w.codes[ops[0].err]++
				w.lastFail = ops[0].done
			}
			w.mu.Unlock()
			if ops[0].ok {
				break
			}
		}
		w.mu.Lock()
		w.chains = append(w.chains, ch)
		w.mu.Unlock()
	}
}

// LastFailure is when an attempt last failed (zero if never).
func (w *Writer) LastFailure() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastFail
}

// Acks is how many writes have been acknowledged so far.
func (w *Writer) Acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.chains {
		if !c.Ack.IsZero() {
			n++
		}
	}
	return n
}

// LastAck is when a write was last acknowledged (zero if never).
func (w *Writer) LastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastAck
}

// WriteLog is what a Writer saw.
type WriteLog struct {
	Start    time.Time        `json:"start"`
	End      time.Time        `json:"end"`
	Chains   []Chain          `json:"-"`
	Failures int64            `json:"failures"` // failed attempts
	Codes    map[string]int64 `json:"codes,omitempty"`
}

// Stop stops the writers and returns the log; a write still being retried
// stays unacknowledged.
func (w *Writer) Stop() *WriteLog {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	l := &WriteLog{Start: w.start, End: time.Now(), Chains: w.chains, Failures: w.failures, Codes: w.codes}
	slices.SortFunc(l.Chains, func(a, b Chain) int { return a.Start.Compare(b.Start) })
	return l
}

// Acked returns the acknowledged writes.
func (l *WriteLog) Acked() []Chain {
	var out []Chain
	for _, c := range l.Chains {
		if !c.Ack.IsZero() {
			out = append(out, c)
		}
	}
	return out
}

// Unavailability is the longest a write was held up after the failure at
// t: over every write in progress at or after t, the time from t (or from
// its first attempt, if later) to its acknowledgement (or to the end of the
// log, if never acknowledged).
func (l *WriteLog) Unavailability(t time.Time) time.Duration {
	var worst time.Duration
	for _, c := range l.Chains {
		end := c.Ack
		if end.IsZero() {
			end = l.End
		}
		if end.Before(t) {
			continue
		}
		from := c.Start
		if from.Before(t) {
			from = t
		}
		worst = max(worst, end.Sub(from))
	}
	return worst
}

// MaxAckGap is the longest time without any acknowledgement, from t
// onwards (t itself counts as the start of a gap).
func (l *WriteLog) MaxAckGap(t time.Time) time.Duration {
	var acks []time.Time
	for _, c := range l.Chains {
		if !c.Ack.IsZero() && !c.Ack.Before(t) {
			acks = append(acks, c.Ack)
		}
	}
	slices.SortFunc(acks, time.Time.Compare)
	prev := t
	var worst time.Duration
	for _, a := range acks {
		worst = max(worst, a.Sub(prev))
		prev = a
	}
	return max(worst, l.End.Sub(prev))
}

// Timeline counts acknowledgements per step from 'from' to the end.
func (l *WriteLog) Timeline(from time.Time, step time.Duration) []int64 {
	n := int(l.End.Sub(from)/step) + 1
	out := make([]int64, max(n, 0))
	for _, c := range l.Chains {
		if c.Ack.IsZero() || c.Ack.Before(from) {
			continue
		}
		if i := int(c.Ack.Sub(from) / step); i < len(out) {
			out[i]++
		}
	}
	return out
}

// ReadBack reads every acknowledged write of l through r and counts those
// whose value is missing or different: acknowledged writes that were lost.
// Reads that fail are retried until ctx ends.
func ReadBack(ctx context.Context, r Router, l *WriteLog) (checked, lost int, err error) {
	acked := l.Acked()
	cl := newClient(r, 5*time.Second)
	cl.keepVals = true
	defer cl.close()
	const batch = 500
	for i := 0; i < len(acked); {
		n := min(batch, len(acked)-i)
		ops := make([]op, n)
		for k := range ops {
			key := []byte(acked[i+k].Key)
			ops[k] = op{key: key, slot: Slot(key)}
		}
		for {
			cl.exec(ctx, ops)
			bad := 0
			for _, o := range ops {
				if !o.ok {
					bad++
				}
			}
			if bad == 0 {
				break
			}
			if ctx.Err() != nil {
				return checked, lost, fmt.Errorf("loadgen: read back: %d reads failing: %w", bad, ctx.Err())
			}
		}
		for _, o := range ops {
			checked++
			if string(o.got) != string(o.key) {
				lost++
			}
		}
		i += n
	}
	return checked, lost, nil
}
