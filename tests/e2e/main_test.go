package e2e

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
	flagSeed = flag.Uint64("seed", 0, "random seed for the e2e tests (0: from the clock)")

	// redraftBin is the binary under test, set by TestMain.
	redraftBin string
	// seed is the run's random seed, set by TestMain.
	seed uint64
)

func TestMain(m *testing.M) {
	flag.Parse()
	// go-redis logs every failed dial to stderr; the tests kill nodes on
	// purpose and check every error they care about themselves.
	redis.SetLogger(quietLogger{})
	seed = *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("e2e: seed %d (repeat with -seed %d)\n", seed, seed)

	redraftBin = os.Getenv("REDRAFT_BIN")
	var tmp string
	if redraftBin == "" {
		var err error
		tmp, err = os.MkdirTemp("", "redraft-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			os.Exit(1)
		}
		redraftBin = filepath.Join(tmp, "redraft")
		start := time.Now()
		cmd := exec.Command(goTool(), "build", "-o", redraftBin, "github.com/redraft/redraft/cmd/redraft")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building redraft: %v\n", err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
		fmt.Printf("e2e: built %s in %v\n", redraftBin, time.Since(start).Round(time.Millisecond))
	} else {
		if !filepath.IsAbs(redraftBin) {
			abs, err := filepath.Abs(redraftBin)
			if err == nil {
				redraftBin = abs
			}
		}
		if _, err := os.Stat(redraftBin); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: REDRAFT_BIN: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// goTool is the go command that runs this test, falling back to PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// newRand returns the test's random source: the run's seed mixed with the
// test's name, so one test's draws do not depend on which tests ran before.
func newRand(t testing.TB) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(t.Name()))
	t.Logf("seed %d (repeat with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
