package raftnode

import (
	"testing"
	"time"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newStallWatch(t0)
	gap, window := 100*time.Millisecond, 500*time.Millisecond
	at := t0
	step := func(d time.Duration) { at = at.Add(d); w.tick(at) }
	for i := 0; i < 10; i++ {
		step(stallTick)
	}
	if w.suspect(at.Add(time.Millisecond), gap, window) {
		t.Fatal("regular ticks: suspected a stall")
	}
	// The ticker has not run for longer than gap: the process may be
	// resuming right now, before the watch could record it.
	if !w.suspect(at.Add(gap), gap, window) {
		t.Fatal("no tick for gap: not suspected")
	}
	// A short hiccup (below gap) is ignored.
	step(60 * time.Millisecond)
	if w.suspect(at.Add(time.Millisecond), gap, window) {
		t.Fatal("a 60 ms hiccup was taken for a stall")
	}
	// A long stall is suspected for window after it, then forgotten.
	step(2 * time.Second)
	resumed := at
	for at.Sub(resumed) < window-stallTick {
		step(stallTick)
		if !w.suspect(at, gap, window) {
			t.Fatalf("%v after a 2 s stall: not suspected", at.Sub(resumed))
		}
	}
	for at.Sub(resumed) <= window {
		step(stallTick)
	}
	if w.suspect(at, gap, window) {
		t.Fatalf("%v after the stall (window %v): still suspected", at.Sub(resumed), window)
	}
	// A node with a shorter threshold still sees the 60 ms hiccup.
	if w.suspect(at, 50*time.Millisecond, 10*time.Second) != true {
		t.Fatal("threshold 50 ms: the 60 ms hiccup within the window was not seen")
	}
}
