package robustness

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// redraftBin is the binary under test, set by TestMain: $REDRAFT_BIN, or
// ./cmd/redraft built into a temporary directory.
var redraftBin string

func TestMain(m *testing.M) {
	flag.Parse()
	redraftBin = os.Getenv("REDRAFT_BIN")
	var tmp string
	if redraftBin == "" {
		var err error
		tmp, err = os.MkdirTemp("", "redraft-robustness-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "robustness:", err)
			os.Exit(1)
		}
		redraftBin = filepath.Join(tmp, "redraft")
		cmd := exec.Command(goTool(), "build", "-o", redraftBin, "github.com/redraft/redraft/cmd/redraft")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "robustness: building redraft: %v\n", err)
			os.RemoveAll(tmp)
			os.Exit(1)
		}
	} else if abs, err := filepath.Abs(redraftBin); err == nil {
		redraftBin = abs
	}
	if _, err := os.Stat(redraftBin); err != nil {
		fmt.Fprintf(os.Stderr, "robustness: REDRAFT_BIN: %v\n", err)
		os.Exit(1)
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

// outDir is where failed runs leave their artifacts: -robust.out, else
// $REDRAFT_ROBUST_OUT, else a directory under the system's temp dir that
// outlives the test.
func outDir() string {
	switch {
	case *flagOut != "":
		return *flagOut
	case os.Getenv("REDRAFT_ROBUST_OUT") != "":
		return os.Getenv("REDRAFT_ROBUST_OUT")
	}
	return filepath.Join(os.TempDir(), "redraft-robustness")
}
