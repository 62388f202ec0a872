package main

import (
	"strings"
	"testing"
)

// TestChooseLogStore: a new node takes the flag or the default, an
// existing one keeps what it was created with (bolt when node.json
// predates the record), and a switch is refused.
func TestChooseLogStore(t *testing.T) {
	cases := []struct {
		flag, recorded string
		existing       bool
		want, err      string
	}{
		{"", "", false, defaultLogStore, ""},
		{"bolt", "", false, "bolt", ""},
		{"wal", "", false, "wal", ""},
		{"", "", true, "bolt", ""},
		{"bolt", "", true, "bolt", ""},
		{"wal", "", true, "", "cannot switch"},
		{"", "wal", true, "wal", ""},
		{"wal", "wal", true, "wal", ""},
		{"bolt", "wal", true, "", "cannot switch"},
		{"", "bolt", true, "bolt", ""},
		{"rocks", "", false, "", `"rocks"`},
	}
	for _, c := range cases {
		got, err := chooseLogStore(c.flag, c.recorded, c.existing)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("flag %q, recorded %q, existing %v: %q, %v; want an error containing %q", c.flag, c.recorded, c.existing, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("flag %q, recorded %q, existing %v: %q, %v; want %q", c.flag, c.recorded, c.existing, got, err, c.want)
		}
	}
}
