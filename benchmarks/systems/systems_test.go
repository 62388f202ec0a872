package systems

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommandLine(t *testing.T) {
	got := CommandLine("/usr/bin/redis-server", []string{"--port", "1", "--save", "", "--x", "a b"})
	if want := `redis-server --port 1 --save "" --x "a b"`; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}

func TestProcStartKillAndStats(t *testing.T) {
	p, err := Start("sleeper", "sleep", []string{"30"}, filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	if rss, err := p.RSS(); err != nil || rss <= 0 {
		t.Fatalf("rss %d %v", rss, err)
	}
	if _, err := p.CPUTime(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(Commands(), "\n"), "sleep 30") {
		t.Fatalf("command not recorded: %v", Commands())
	}
	p.Kill()
	if !p.Exited() {
		t.Fatal("still running after Kill")
	}
	p.Stop(time.Second) // no-op on an ended process
}

func TestFreePortsAndWaitFor(t *testing.T) {
	ports, err := FreePorts(3)
	if err != nil || len(ports) != 3 || ports[0] == ports[1] {
		t.Fatalf("%v %v", ports, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = WaitFor(ctx, "never", func() error { return errors.New("not yet") })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("%v", err)
	}
	n := 0
	if err := WaitFor(context.Background(), "third time", func() error {
		if n++; n < 3 {
			return errors.New("again")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
