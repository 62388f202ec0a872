package resp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestMemoryAndEncodings: INFO memory reports used_memory, MEMORY USAGE
// grows with a key's value, small collections are compact and convert
// once they grow, DUMP/RESTORE round-trips a value with its TTL, and MOVE
// is refused, all through a replicated group.
func TestMemoryAndEncodings(t *testing.T) {
	_, leader := startServers(t, 1)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: leader.addr})
	defer c.Close()

	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	used, rss := int64(-1), int64(-1)
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			used, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(l, "used_memory_rss:"); ok {
			rss, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if !strings.HasPrefix(info, "# Memory\r\n") || used <= 0 {
		t.Fatalf("INFO memory gives used_memory %d:\n%s", used, info)
	}
	// The server runs in this process: used_memory_rss is its resident
	// size, which the kernel also reports as VmRSS (in kB).
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var vmRSS int64 = -1
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			vmRSS = kb << 10
		}
	}
	if vmRSS <= 0 || rss < vmRSS/2 || rss > vmRSS*2 {
		t.Fatalf("used_memory_rss %d; the process's VmRSS is %d", rss, vmRSS)
	}

	if err := c.MemoryUsage(ctx, "nokey").Err(); err != redis.Nil {
		t.Fatalf("MEMORY USAGE of a missing key: %v, want nil", err)
	}
	usage := func(key string) int64 {
		t.Helper()
		n, err := c.MemoryUsage(ctx, key).Result()
		if err != nil || n <= 0 {
			t.Fatalf("MEMORY USAGE %s = %d %v", key, n, err)
		}
		return n
	}
	encoding := func(key string) string {
		t.Helper()
		e, err := c.ObjectEncoding(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Each type: compact while small, converted past Redis's default
	// thresholds (128 entries for hashes and sorted sets, 512 integers for
	// sets, 8 KB for lists), and MEMORY USAGE grows with the elements.
	long := strings.Repeat("e", 100)
	for _, tc := range []struct {
		key, small, large string
		smallAt, n        int // compact with smallAt elements, not with n
		add               func(key string, i int) error
	}{
		{"h", "listpack", "hashtable", 128, 129, func(k string, i int) error { return c.HSet(ctx, k, fmt.Sprint("f", i), i).Err() }},
		{"z", "listpack", "skiplist", 128, 129, func(k string, i int) error {
			return c.ZAdd(ctx, k, redis.Z{Score: float64(i), Member: fmt.Sprint("m", i)}).Err()
		}},
		{"s", "intset", "hashtable", 512, 513, func(k string, i int) error { return c.SAdd(ctx, k, i).Err() }},
		{"l", "listpack", "quicklist", 40, 100, func(k string, i int) error { return c.RPush(ctx, k, fmt.Sprint(long, i)).Err() }},
	} {
		var prev int64
		for i := 1; i <= tc.n; i++ {
			if err := tc.add(tc.key, i); err != nil {
				t.Fatal(err)
			}
			if i == tc.smallAt {
				if e := encoding(tc.key); e != tc.small {
					t.Errorf("%s with %d elements: encoding %s, want %s", tc.key, i, e, tc.small)
				}
			}
			if i%16 == 1 || i == tc.n {
				n := usage(tc.key)
				if n <= prev {
					t.Errorf("%s with %d elements: MEMORY USAGE %d, not above %d", tc.key, i, n, prev)
				}
				prev = n
			}
		}
		if e := encoding(tc.key); e != tc.large {
			t.Errorf("%s with %d elements: encoding %s, want %s", tc.key, tc.n, e, tc.large)
		}
	}

	// DUMP and RESTORE keep the value and, with a TTL, set it.
	payload, err := c.Dump(ctx, "z").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, "z2", 100_000_000, payload).Err(); err != nil {
		t.Fatal(err)
	}
	a, _ := c.ZRangeWithScores(ctx, "z", 0, -1).Result()
	b, _ := c.ZRangeWithScores(ctx, "z2", 0, -1).Result()
	if len(a) != 129 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("restored sorted set differs: %d vs %d elements", len(a), len(b))
	}
	if ttl := c.PTTL(ctx, "z2").Val(); ttl <= 0 || ttl > 100_000_000 {
		t.Fatalf("PTTL after RESTORE with a TTL: %v", ttl)
	}
	if err := c.Restore(ctx, "z2", 0, payload).Err(); err == nil || err.Error() != "BUSYKEY Target key name already exists." {
		t.Fatalf("RESTORE over a key: %v", err)
	}
	if err := c.Do(ctx, "MOVE", "z", "1").Err(); err == nil || err.Error() != "ERR MOVE is not allowed in cluster mode" {
		t.Fatalf("MOVE: %v", err)
	}
}
