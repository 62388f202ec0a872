package raftnode

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

var detSeed = flag.Uint64("det-seed", 0, "seed of TestReplicasAgreeOnRandomCommands (0: from the clock)")

// TestReplicasAgreeOnRandomCommands: replicas that applied the same log
// through raft have equal state digests after commands whose result comes
// from the entry's seed (SPOP) and after expiry by the leader's __expire
// entries, with snapshots taken along the way; a replica restarted from
// its snapshot and log agrees too.
func TestReplicasAgreeOnRandomCommands(t *testing.T) {
	seed := *detSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (repeat with -det-seed %d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	c := newCluster(t, 3, []string{"g"}, func(cfg *Config) {
		cfg.SnapshotThreshold = 32
		cfg.TrailingLogs = 8
	})
	li := c.leader("g")
	now := time.Now().UnixMilli()
	command := func(args ...string) *pb.Command {
		now += int64(rng.IntN(20))
		pc := &pb.Command{NowMs: now, Seed: rng.Uint64()}
		for _, a := range args {
			pc.Args = append(pc.Args, []byte(a))
		}
		return pc
	}
	for round := range 40 {
		var batch []*pb.Command
		for i := range 20 {
			batch = append(batch, command("SADD", "s", fmt.Sprint(round*20+i)))
		}
		batch = append(batch,
			command("SPOP", "s", "3"),
			command("SPOP", "s"),
			command("HSET", "h", fmt.Sprint("f", round), fmt.Sprint(rng.IntN(100))),
			command("ZADD", "z", fmt.Sprint(rng.IntN(10)), fmt.Sprint("m", round)),
			command("SET", fmt.Sprint("ttl", round), "v", "PX", fmt.Sprint(1+rng.IntN(200))),
			command("LPUSH", "l", fmt.Sprint(round)),
		)
		replies := mustPropose(t, c.nodes[li].nodes["g"], batch...)
		if r := replies[20]; r.Kind != fsm.KindSet || len(r.Array) != 3 {
			t.Fatalf("SPOP s 3 = %v", r)
		}
		// Active expiry as the leader does it: the keys the leader's
		// machine finds expired, in an __expire entry.
		if keys := c.nodes[li].machines["g"].ExpiredKeys(now, 16); len(keys) > 0 {
			pc := command(fsm.ExpireCommand)
			pc.NowMs = now
			pc.Args = append(pc.Args, keys...)
			mustPropose(t, c.nodes[li].nodes["g"], pc)
		}
	}
	c.converge("g", li)
	f := (li + 1) % len(c.nodes)
	c.stop(f)
	mustPropose(t, c.nodes[li].nodes["g"], command("SPOP", "s", "5"))
	c.start(f)
	c.converge("g", li)
}
