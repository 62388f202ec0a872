// Package sharding tests multi-group redraft clusters end to end: real
// `redraft server` processes started with --groups, driven with go-redis,
// redis-cli and redis-benchmark (Debian package redis-tools), killed with
// SIGKILL and restarted.
//
// Run with `go test ./tests/sharding/`; REDRAFT_BIN names a prebuilt binary
// (otherwise TestMain builds one), -seed repeats a run's random keys. Without
// redis-tools the tests that need them fail, unless
// REDRAFT_SKIP_REDIS_TOOLS=1.
package sharding

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	flagSeed = flag.Uint64("seed", 0, "random seed (0: from the clock)")

	redraftBin string // the binary under test, set by TestMain
	seed       uint64 // the run's seed, set by TestMain
)

func TestMain(m *testing.M) {
	flag.Parse()
	redis.SetLogger(quietLogger{}) // the tests kill nodes; go-redis would log every failed dial
	seed = *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("sharding: seed %d (repeat with -seed %d)\n", seed, seed)
	redraftBin = os.Getenv("REDRAFT_BIN")
	tmp := ""
	if redraftBin == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "redraft-sharding-bin-"); err != nil {
			fmt.Fprintln(os.Stderr, "sharding:", err)
			os.Exit(1)
		}
		redraftBin = filepath.Join(tmp, "redraft")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		cmd := exec.Command(goTool, "build", "-o", redraftBin, "github.com/redraft/redraft/cmd/redraft")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "sharding: building redraft: %v\n", err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	} else if abs, err := filepath.Abs(redraftBin); err == nil {
		redraftBin = abs
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// newRand returns the test's random source: the run's seed mixed with the
// test's name.
func newRand(t testing.TB) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (repeat with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// tool returns the path of a redis-tools program. A missing one fails the
// test, since acceptance items (redis-cli -c, redis-benchmark --cluster,
// plain redis-cli through --proxy) rest on them; REDRAFT_SKIP_REDIS_TOOLS=1
// turns that into a skip, for a machine that cannot have them.
func tool(t testing.TB, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("REDRAFT_SKIP_REDIS_TOOLS") == "1" {
			t.Skipf("%s not found, skipped (REDRAFT_SKIP_REDIS_TOOLS=1): %v", name, err)
		}
		t.Fatalf("%s not found: install redis-tools, or set REDRAFT_SKIP_REDIS_TOOLS=1 to skip what needs it: %v", name, err)
	}
	return p
}
