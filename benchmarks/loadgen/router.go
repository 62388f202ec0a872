package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Router says where the command for a slot goes. Implementations are safe
// for concurrent use.
type Router interface {
	// Addr is the address that serves slot now, as far as the router knows.
	Addr(slot int) string
	// Moved records a redirection: the server said slot is served at addr.
	Moved(slot int, addr string)
	// Refresh learns the topology again after a failure. Concurrent calls
	// are coalesced; calls closer together than a few milliseconds are
	// served by the previous refresh.
	Refresh(ctx context.Context) error
	// Addrs lists the distinct addresses that currently serve slots.
	Addrs() []string
}

// Static sends everything to one address: a single Redis master.
type Static string

var _ Router = Static("")

func (s Static) Addr(int) string               { return string(s) }
func (s Static) Moved(int, string)             {}
func (s Static) Refresh(context.Context) error { return nil }
func (s Static) Addrs() []string               { return []string{string(s)} }

// Cluster routes by CLUSTER SLOTS, learnt from any of the seed addresses,
// and follows MOVED replies.
type Cluster struct {
	seeds []string

	mu    sync.RWMutex
	slots [SlotCount]string

	refreshMu   sync.Mutex
	lastRefresh time.Time
	background  atomic.Bool // a refresh started by Moved is running
}

var _ Router = (*Cluster)(nil)

// NewCluster learns the slot map from the first seed that answers.
func NewCluster(ctx context.Context, seeds ...string) (*Cluster, error) {
	c := &Cluster{seeds: seeds}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) Addr(slot int) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.slots[slot]
}

// Moved records the new address of slot and, since in a cluster a whole
// slot range usually moves at once, learns the whole map again in the
// background (one refresh at a time).
func (c *Cluster) Moved(slot int, addr string) {
	c.mu.Lock()
	c.slots[slot] = addr
	c.mu.Unlock()
	if c.background.CompareAndSwap(false, true) {
		go func() {
			defer c.background.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = c.Refresh(ctx)
		}()
	}
}

func (c *Cluster) Addrs() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range c.slots {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// ErrNoTopology is returned by Refresh when no seed gave a complete slot map.
var ErrNoTopology = errors.New("loadgen: no seed returned a complete slot map")

func (c *Cluster) Refresh(ctx context.Context) error {
	start := time.Now()
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.lastRefresh.After(start.Add(-5 * time.Millisecond)) {
		return nil // someone refreshed while we waited
	}
	var errs []error
	for _, seed := range c.seeds {
		table, err := clusterSlots(ctx, seed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.mu.Lock()
		c.slots = *table
		c.mu.Unlock()
		c.lastRefresh = time.Now()
		return nil
	}
	return fmt.Errorf("%w: %w", ErrNoTopology, errors.Join(errs...))
}

// clusterSlots asks one node for CLUSTER SLOTS and returns the master of every slot.
func clusterSlots(ctx context.Context, addr string) (*[SlotCount]string, error) {
	conn, err := Dial(ctx, addr, 300*time.Millisecond)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	r, err := conn.Do("CLUSTER", "SLOTS")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	var table [SlotCount]string
	for _, rng := range r.Array {
		if len(rng.Array) < 3 || len(rng.Array[2].Array) < 2 {
			return nil, fmt.Errorf("%s: %w: CLUSTER SLOTS entry %+v", addr, ErrProtocol, rng)
		}
		lo, hi := int(rng.Array[0].Int), int(rng.Array[1].Int)
		m := rng.Array[2].Array
		master := net.JoinHostPort(m[0].Str, strconv.FormatInt(m[1].Int, 10))
		for s := max(lo, 0); s <= hi && s < SlotCount; s++ {
			table[s] = master
		}
	}
	for s, a := range table {
		if a == "" {
			return nil, fmt.Errorf("%s: slot %d is not served", addr, s)
		}
	}
	return &table, nil
}

// Sentinel routes everything to the master that Redis Sentinels name.
type Sentinel struct {
	sentinels []string
	name      string

	mu     sync.RWMutex
	master string

	refreshMu   sync.Mutex
	lastRefresh time.Time
}

var _ Router = (*Sentinel)(nil)

// NewSentinel asks the sentinels for the master of name.
func NewSentinel(ctx context.Context, name string, sentinels ...string) (*Sentinel, error) {
	s := &Sentinel{sentinels: sentinels, name: name}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sentinel) Addr(int) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.master
}

func (s *Sentinel) Moved(int, string) {}

func (s *Sentinel) Addrs() []string { return []string{s.Addr(0)} }

func (s *Sentinel) Refresh(ctx context.Context) error {
	start := time.Now()
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if s.lastRefresh.After(start.Add(-5 * time.Millisecond)) {
		return nil
	}
	var errs []error
	for _, addr := range s.sentinels {
		conn, err := Dial(ctx, addr, 300*time.Millisecond)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conn.SetDeadline(time.Now().Add(time.Second))
		r, err := conn.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name)
		conn.Close()
		if err == nil {
			err = r.Err()
		}
		if err == nil && len(r.Array) != 2 {
			err = fmt.Errorf("%w: %+v", ErrProtocol, r)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		s.mu.Lock()
		s.master = net.JoinHostPort(r.Array[0].Str, r.Array[1].Str)
		s.mu.Unlock()
		s.lastRefresh = time.Now()
		return nil
	}
	return fmt.Errorf("loadgen: no sentinel named a master: %w", errors.Join(errs...))
}
