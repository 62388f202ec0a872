package shard

import (
	"testing"

	"github.com/redraft/redraft/fsm"
)

func TestSlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"123456789", 0x31C3 % Slots},
		{"somekey", 11058},
		{"foo{hash_tag}", Slot([]byte("hash_tag"))},
		{"foo{hash_tag}", 2515},
		{"{user1000}.following", Slot([]byte("user1000"))},
		{"foo{}{bar}", int(fsm.CRC16([]byte("foo{}{bar}")) % Slots)}, // an empty tag: the whole key
		{"foo{{bar}}zap", Slot([]byte("{bar"))},
		{"foo{bar}{zap}", Slot([]byte("bar"))},
		{"", 0},
	} {
		if got := Slot([]byte(tc.key)); got != tc.want {
			t.Errorf("Slot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}
