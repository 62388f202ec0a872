package loadgen

import (
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// within reports whether got is within rel (relative) of want.
func within(got, want time.Duration, rel float64) bool {
	d := float64(got - want)
	if d < 0 {
		d = -d
	}
	return d <= rel*float64(want)+float64(time.Microsecond)
}

var seedFlag = flag.Uint64("seed", 0, "random seed of the histogram test (0: from the clock)")

func TestHistogramQuantilesMatchExact(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var h Histogram // the zero value is usable
	var all []time.Duration
	for range 100000 {
		// Log-uniform from 10 µs to 1 s: covers many buckets.
		d := time.Duration(float64(10*time.Microsecond) * math.Pow(1e5, r.Float64()))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	if h.Count() != int64(len(all)) {
		t.Fatalf("count %d, want %d", h.Count(), len(all))
	}
	if h.Min() != all[0] || h.Max() != all[len(all)-1] {
		t.Fatalf("min/max %v/%v, want %v/%v", h.Min(), h.Max(), all[0], all[len(all)-1])
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := all[int(q*float64(len(all)))-1]
		if got := h.Quantile(q); !within(got, want, 0.002) {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if h.Quantile(1) != h.Max() || h.Quantile(0) < h.Min() {
		t.Errorf("extremes: q0 %v q1 %v", h.Quantile(0), h.Quantile(1))
	}
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	if h.Mean() != sum/time.Duration(len(all)) {
		t.Errorf("mean %v, want %v", h.Mean(), sum/time.Duration(len(all)))
	}
}

func TestHistogramClampAndEmpty(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.CDF() != nil {
		t.Fatal("empty histogram should report zeros")
	}
	h.Record(-time.Second) // clamped to the lowest bucket
	h.Record(time.Hour)    // beyond the range: clamped into the top bucket
	h.Record(time.Nanosecond)
	if h.Count() != 3 || h.Max() != time.Hour || h.Min() != 0 {
		t.Fatalf("count %d max %v min %v", h.Count(), h.Max(), h.Min())
	}
	if h.Quantile(0.99) > h.Max() {
		t.Fatal("a quantile above the maximum")
	}
}

func TestHistogramMergeAndCDF(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for i := 1; i <= 1000; i++ {
		a.Record(time.Duration(i) * time.Microsecond)
		b.RecordN(time.Duration(i)*time.Millisecond, 2)
	}
	a.Merge(b)
	a.Merge(nil)
	if a.Count() != 3000 {
		t.Fatalf("count %d", a.Count())
	}
	if a.Min() != time.Microsecond || a.Max() != time.Second {
		t.Fatalf("min %v max %v", a.Min(), a.Max())
	}
	// A third of the values are at most 1 ms.
	if got := a.Quantile(1.0 / 3); !within(got, time.Millisecond, 0.002) {
		t.Errorf("q1/3 = %v", got)
	}
	cdf := a.CDF()
	if len(cdf) == 0 || cdf[len(cdf)-1].Fraction != 1 {
		t.Fatalf("cdf end %v", cdf[len(cdf)-1])
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Latency < cdf[i-1].Latency || cdf[i].Fraction < cdf[i-1].Fraction {
			t.Fatalf("cdf not monotonic at %d: %v %v", i, cdf[i-1], cdf[i])
		}
	}
}

func TestHistogramJSONRoundTrip(t *testing.T) {
	h := NewHistogram()
	for i := range 5000 {
		h.Record(time.Duration(i*i) * time.Nanosecond * 37)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var g Histogram
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Count() != h.Count() || g.Max() != h.Max() || g.Min() != h.Min() || g.Mean() != h.Mean() {
		t.Fatalf("round trip: %d %v %v vs %d %v %v", g.Count(), g.Max(), g.Min(), h.Count(), h.Max(), h.Min())
	}
	for _, q := range []float64{0.1, 0.5, 0.99, 0.999} {
		if g.Quantile(q) != h.Quantile(q) {
			t.Errorf("q%v: %v vs %v", q, g.Quantile(q), h.Quantile(q))
		}
	}
	if err := json.Unmarshal([]byte(`{"buckets":[[-1,1]]}`), &g); err == nil {
		t.Error("a negative bucket should be refused")
	}
}
