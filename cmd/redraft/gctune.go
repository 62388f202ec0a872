package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The server keeps its heap goal at the live heap plus
// max(gcHeadroomMin, live/gcHeadroomDiv), instead of Go's default of twice
// the live heap (GOGC=100).
//
// A node's heap is mostly the keyspace: long-lived, and large. Doubling it
// before each collection makes the process twice the size of its data
// (resident memory per key with 1M 16-byte values: 303-309 B with
// GOGC=100, 228-231 B tuned; Redis 114 B). A heap under 48 MiB, on the
// other hand, gets more headroom than Go's default, so a node with little
// data under a heavy write load collects less often than before. The cost
// is more frequent collections of a large heap when it churns quickly; an
// operator who prefers otherwise sets GOGC, and the server then leaves the
// collector alone. The tuner starts once the node serves: while the groups
// restore their state the heap grows fast, and collecting it often slowed
// a restart with 1M keys by a third.
const (
	gcHeadroomMin = 48 << 20
	gcHeadroomDiv = 8
	// gcPercentMin and gcPercentMax bound the GOGC the tuner sets.
	gcPercentMin = 10
	gcPercentMax = 10_000
	// gcTunePeriod is how often the tuner looks for a finished collection.
	gcTunePeriod = 250 * time.Millisecond
)

// gcPercent returns the GOGC that gives a heap of live bytes the headroom
// described above.
func gcPercent(live uint64) int {
	if live < 100 {
		return gcPercentMax
	}
	headroom := max(uint64(gcHeadroomMin), live/gcHeadroomDiv)
	p := float64(headroom) * 100 / float64(live)
	return int(min(max(p, gcPercentMin), gcPercentMax))
}

// tuneGC sets GOGC from the live heap after each collection until stop is
// closed. It does nothing when the GOGC environment variable is set.
func tuneGC(stop <-chan struct{}) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/gogc:percent"},
	}
	tick := time.NewTicker(gcTunePeriod)
	defer tick.Stop()
	var cycles uint64
	for {
		metrics.Read(samples)
		if c := samples[1].Value.Uint64(); c != cycles {
			cycles = c
			want := gcPercent(samples[0].Value.Uint64())
			// Setting GOGC briefly stops the world: only on a change of
			// more than a tenth.
			if cur := int(samples[2].Value.Uint64()); cur*10 < want*9 || cur*10 > want*11 {
				debug.SetGCPercent(want)
			}
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
