package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layering of DESIGN.md: lower packages
// never import higher ones, and only raftnode imports hashicorp/raft.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/redraft/redraft/"
	forbidden := map[string][]string{
		"fsm":              {mod + "raftnode", mod + "shard", mod + "api", "github.com/hashicorp/raft"},
		"proto/redraft/v1": {mod + "fsm", mod + "raftnode", mod + "shard", mod + "api"},
		"raftnode":         {mod + "shard", mod + "api"},
		"shard":            {mod + "api"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "./../../"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, b := range bad {
			if deps[b] {
				t.Errorf("%s depends on %s", pkg, b)
			}
		}
	}
	// Only raftnode (and its sub-packages) import hashicorp/raft directly.
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./../../...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, "github.com/hashicorp/raft") && !strings.HasPrefix(f[0], mod+"raftnode") {
				t.Errorf("%s imports %s; only raftnode may", f[0], imp)
			}
		}
	}
	// The state machine is pure: no clock, no randomness, no I/O of its own.
	out, err = exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./../../fsm").CombinedOutput()
	if err != nil {
		t.Fatalf("go list fsm: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch imp {
		case "time", "math/rand", "math/rand/v2", "crypto/rand", "net", "os", "os/exec", "syscall":
			t.Errorf("fsm imports %s", imp)
		}
	}
}
