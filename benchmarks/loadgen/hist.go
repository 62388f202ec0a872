package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in microseconds, from 1 µs to
// 10 minutes, to 3 significant digits (relative error below 0.1%).
const (
	histLowest  = 1
	histHighest = int64(10 * time.Minute / time.Microsecond)
	histDigits  = 3
)

// Histogram is a latency histogram with logarithmic buckets that are linear
// inside (HDR): constant relative precision from microseconds to minutes,
// fixed memory, and exact merging. Latencies outside the range are clamped
// to it. The exact largest and smallest latencies are kept beside the buckets.
//
// Threading: not safe for concurrent use; give each goroutine its own and
// Merge them afterwards.
type Histogram struct {
	h        *hdrhistogram.Histogram
	min, max time.Duration
	sum      time.Duration
}

// NewHistogram returns an empty histogram. The zero Histogram is also
// ready to use.
func NewHistogram() *Histogram { return &Histogram{} }

func (h *Histogram) hd() *hdrhistogram.Histogram {
	if h.h == nil {
		h.h = hdrhistogram.New(histLowest, histHighest, histDigits)
	}
	return h.h
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN adds n occurrences of one latency.
func (h *Histogram) RecordN(d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	if d < 0 {
		d = 0
	}
	if h.hd().TotalCount() == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.sum += d * time.Duration(n)
	us := int64(d / time.Microsecond)
	us = max(us, histLowest)
	us = min(us, histHighest)
	_ = h.hd().RecordValues(us, n) // cannot fail: us is inside the range
}

// Merge adds every latency recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.Count() == 0 {
		return
	}
	if h.Count() == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.sum += o.sum
	h.hd().Merge(o.hd())
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() int64 { return h.hd().TotalCount() }

// Min and Max are the exact extremes (0 when empty).
func (h *Histogram) Min() time.Duration { return h.min }

// Max is the exact largest latency recorded (0 when empty).
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the exact mean (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return h.sum / time.Duration(h.Count())
}

// Quantile returns the latency at quantile q in [0, 1] (0.99 is p99): the
// upper edge of the bucket holding it, never above the exact maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.Count() == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	if q == 1 {
		return h.max
	}
	v := time.Duration(h.hd().ValueAtQuantile(q*100)) * time.Microsecond
	return min(max(v, h.min), h.max)
}

// CDFPoint is one point of a cumulative distribution: the fraction of
// latencies at or below Latency.
type CDFPoint struct {
	Latency  time.Duration
	Fraction float64
}

// CDF returns the cumulative distribution, one point per non-empty bucket,
// in increasing latency; the last point has Fraction 1.
func (h *Histogram) CDF() []CDFPoint {
	total := h.Count()
	if total == 0 {
		return nil
	}
	var out []CDFPoint
	var seen int64
	for _, b := range h.hd().Distribution() {
		if b.Count == 0 {
			continue
		}
		seen += b.Count
		lat := min(time.Duration(b.To)*time.Microsecond, h.max)
		out = append(out, CDFPoint{Latency: lat, Fraction: float64(seen) / float64(total)})
	}
	return out
}

// histJSON is the stored form: the non-empty buckets as [value µs, count]
// pairs, plus the exact extremes and sum.
type histJSON struct {
	Buckets [][2]int64 `json:"buckets"`
	MinNS   int64      `json:"min_ns"`
	MaxNS   int64      `json:"max_ns"`
	SumNS   int64      `json:"sum_ns"`
}

// MarshalJSON stores the non-empty buckets only.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	j := histJSON{Buckets: [][2]int64{}, MinNS: int64(h.min), MaxNS: int64(h.max), SumNS: int64(h.sum)}
	for _, b := range h.hd().Distribution() {
		if b.Count > 0 {
			j.Buckets = append(j.Buckets, [2]int64{b.From, b.Count})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores what MarshalJSON stored.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h.h = hdrhistogram.New(histLowest, histHighest, histDigits)
	for _, p := range j.Buckets {
		if p[0] < 0 || p[0] > histHighest || p[1] < 0 {
			return fmt.Errorf("loadgen: histogram bucket %v out of range", p)
		}
		_ = h.h.RecordValues(max(p[0], histLowest), p[1])
	}
	h.min, h.max, h.sum = time.Duration(j.MinNS), time.Duration(j.MaxNS), time.Duration(j.SumNS)
	return nil
}
