package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, gcPercentMax},
		{100 << 10, gcPercentMax}, // 48 MiB of headroom would be 49152%
		{1 * mib, 4800},
		{32 * mib, 150},  // the 48 MiB floor: more than Go's default
		{48 * mib, 100},  // the floor equals the live heap
		{160 * mib, 30},  // a node holding about 1M small keys
		{384 * mib, 12},  // from here on, an eighth
		{4096 * mib, 12}, // (12.5, rounded down)
		{1 << 62, 12},    // no overflow
	} {
		if got := gcPercent(c.live); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}

// TestTuneGC: after a collection, the tuner sets GOGC from the live heap;
// with GOGC in the environment it leaves it alone. Not parallel: it
// changes the process's GOGC.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	gogc := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	live := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); tuneGC(stop) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		want := gcPercent(live())
		if got := gogc(); got*10 >= want*9 && got*10 <= want*11 && got != 100 {
			t.Logf("live heap %d KiB: GOGC %d (want about %d)", live()>>10, got, want)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d, want about %d", gogc(), want)
		}
		time.Sleep(gcTunePeriod / 5)
	}
	close(stop)
	<-done

	debug.SetGCPercent(100)
	t.Setenv("GOGC", "100")
	if _, ok := os.LookupEnv("GOGC"); !ok {
		t.Fatal("GOGC not set")
	}
	stop = make(chan struct{})
	done = make(chan struct{})
	go func() { defer close(done); tuneGC(stop) }()
	select {
	case <-done: // returned at once
	case <-time.After(5 * time.Second):
		close(stop)
		<-done
		t.Fatal("tuneGC ran although GOGC is set")
	}
	runtime.GC()
	if got := gogc(); got != 100 {
		t.Fatalf("GOGC changed to %d although set in the environment", got)
	}
	close(stop)
}
