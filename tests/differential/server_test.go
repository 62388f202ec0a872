package differential

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redraft/redraft/api/resp"
	"github.com/redraft/redraft/shard/shardtest"
)

var serverCmds = flag.Int("server-cmds", 20000, "commands per run of TestDifferentialServer")

// TestDifferentialServer runs the random sequence against a one-node Redis
// Cluster and a one-node redraft cluster serving RESP: the whole path of a
// command (the command table, routing, CROSSSLOT, MULTI/EXEC/WATCH at the
// front door, the log, the RESP writer) against Redis's, byte for byte.
// Both sides own every slot, so multi-key commands over keys of several
// slots get CROSSSLOT on both.
func TestDifferentialServer(t *testing.T) {
	addr := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"))
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("differential (server): seed %d (repeat with -seed %d)\n", seed, seed)
	t.Logf("seed %d (repeat with -seed %d)", seed, seed)

	h := &harness{t: t, r: rand.New(rand.NewPCG(seed, 1))}
	for _, p := range []int{2, 3} {
		c, err := dial(addr, p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		h.redis[p] = c
	}
	if r := h.redisDo(2, []string{"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}); r.String() != "+OK" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %s", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.redisDo(2, []string{"CLUSTER", "INFO"}).s, "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("the Redis cluster is not ready")
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}

	nodes := shardtest.Start(t, 1)
	shardtest.WaitReady(t, nodes)
	srv := resp.New(resp.Config{Host: nodes[0].Host, Logger: shardtest.Logger()})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(nodes[0].RESP) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for _, p := range []int{2, 3} {
		c, err := dial(nodes[0].RESP.Addr().String(), p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		h.srv[p] = c
	}
	h.runRandom(seed, *serverCmds)
}
