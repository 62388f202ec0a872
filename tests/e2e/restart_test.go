package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestFullRestart: every acknowledged write survives all three nodes being
// killed with SIGKILL at once and restarted from their data directories;
// then the same after a clean stop (SIGTERM) of all three.
func TestFullRestart(t *testing.T) {
	rng := newRand(t)
	c := StartCluster(t, Options{Args: fastRaft})
	cc := c.ClusterClient()

	first := genKVs(rng, "first", 500)
	setAll(t, cc, first, 8, 30*time.Second)
	// Overwrite some keys, so that the last write must win after replay.
	for i := 0; i < len(first); i += 7 {
		first[i].val += "-overwritten"
	}
	setAll(t, cc, first, 8, 30*time.Second)

	for i := range c.Nodes() {
		c.Kill9(i)
	}
	t.Logf("killed all three with SIGKILL")
	for i := range c.Nodes() {
		c.Restart(i)
	}
	c.WaitReady(30 * time.Second)
	for _, n := range c.Nodes() {
		if !strings.Contains(n.runLog(), "resuming") {
			t.Logf("note: %s's log does not say it resumed from its data", n.ID)
		}
	}
	c.readBack(t, first, 30*time.Second)
	t.Logf("after kill -9 of all: %d acknowledged writes read back", len(first))

	second := genKVs(rng, "second", 200)
	setAll(t, cc, second, 8, 30*time.Second)
	for i := range c.Nodes() {
		c.Stop(i)
	}
	t.Logf("stopped all three with SIGTERM")
	for i := range c.Nodes() {
		c.Restart(i)
	}
	c.WaitReady(30 * time.Second)
	c.readBack(t, append(append([]kv(nil), first...), second...), 30*time.Second)
	c.WaitReplicasEqual(t, keysOf(first, second), append(append([]kv(nil), first...), second...), 30*time.Second)
}
