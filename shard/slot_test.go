package shard

import "testing"

func TestCRC16Vector(t *testing.T) {
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
}

func TestSlot(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"somekey", 11058},
		{"foo{hash_tag}", Slot([]byte("hash_tag"))},
		{"foo{hash_tag}", 2515},
		{"{user1000}.following", Slot([]byte("user1000"))},
		{"foo{}{bar}", int(crc16([]byte("foo{}{bar}")) % Slots)},
		{"foo{{bar}}zap", Slot([]byte("{bar"))},
		{"foo{bar}{zap}", Slot([]byte("bar"))},
		{"", 0},
	} {
		if got := Slot([]byte(tc.key)); got != tc.want {
			t.Errorf("Slot(%q) = %d, want %d", tc.key, got, tc.want)
		}
	}
}
