package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/raftnode/wal"
)

// Defaults for zero Config fields.
const (
	DefaultGroups          = 1
	DefaultReplicas        = 3
	DefaultPollInterval    = 500 * time.Millisecond
	DefaultBalanceInterval = time.Second
)

// Config configures a Host. The zero value of every tuning field means its
// default.
type Config struct {
	Self NodeInfo
	// Dir is the node's data directory; groups live in Dir/groups/<id>.
	Dir string
	// InitialCluster is every node's id and peer address, in a fixed order.
	// It is used only while the cluster has no slot map yet: to bootstrap
	// the metadata group and to lay out the first map.
	InitialCluster []raftnode.Peer
	// Groups is how many groups the slots are split into when the cluster
	// is first started (default 1), and Replicas how many replicas each
	// group has (default 3; fewer when there are fewer nodes). Both are
	// read only by the node that writes the first map; later the map in
	// the metadata group is what counts.
	Groups   int
	Replicas int
	// Raft is the template for every group's raftnode.Config (timeouts,
	// snapshot policy, log store); NodeID, GroupID, Dir and Peers are
	// filled in here. With Raft.LogStore "wal" and Raft.WAL nil, the Host
	// opens the node's write-ahead log in Dir/wal for all its groups and
	// closes it after them; a WAL given in Raft.WAL stays the caller's.
	Raft raftnode.Config
	// PollInterval is how often the node asks every other node for the raft
	// state of its groups (leaders, applied indexes), which routing to
	// groups not hosted here, leader balancing and status use.
	PollInterval time.Duration
	// BalanceInterval is how often a leader checks whether a group it leads
	// should move to its preferred leader; negative turns balancing off.
	BalanceInterval time.Duration
	Logger          *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Self.ID == "":
		return errors.New("shard: Config.Self.ID is empty")
	case c.Dir == "":
		return errors.New("shard: Config.Dir is empty")
	case len(c.InitialCluster) == 0:
		return errors.New("shard: Config.InitialCluster is empty")
	case c.Groups < 0 || c.Groups > Slots:
		return fmt.Errorf("shard: Config.Groups is %d (want 1 to %d)", c.Groups, Slots)
	case c.Replicas < 0:
		return fmt.Errorf("shard: Config.Replicas is negative (%d)", c.Replicas)
	case c.PollInterval < 0:
		return fmt.Errorf("shard: Config.PollInterval is negative (%v)", c.PollInterval)
	}
	if !slices.ContainsFunc(c.InitialCluster, func(p raftnode.Peer) bool { return p.ID == c.Self.ID }) {
		return fmt.Errorf("shard: Config.InitialCluster does not name this node (%q)", c.Self.ID)
	}
	return nil
}

func (c *Config) withDefaults() {
	if c.Groups == 0 {
		c.Groups = DefaultGroups
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.BalanceInterval == 0 {
		c.BalanceInterval = DefaultBalanceInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Errors of routing.
var (
	// ErrNoLeader is returned when a group has no leader this node can name.
	ErrNoLeader = errors.New("shard: group has no known leader")
	// ErrNoMap is returned before the node has read a slot map.
	ErrNoMap = errors.New("shard: no slot map yet")
)

// Host owns every group replica on this node: the metadata group, which
// every node hosts, and the data groups the slot map makes it a member of.
// Safe for concurrent use.
type Host struct {
	cfg  Config
	log  *slog.Logger
	mux  *raftnode.Mux
	meta *Group
	wal  *wal.WAL // the node's WAL when the Host opened it; closed after every group

	route atomic.Pointer[routing] // nil until the first map is read
	peers peerView

	mu     sync.Mutex
	groups map[string]*Group // open data groups, by id
	// retiring are the groups whose removed replica is being closed and
	// deleted (move.go); no new replica of them opens meanwhile.
	retiring map[string]bool
	nodes    map[string]NodeInfo // resolved addresses of nodes the map does not describe yet
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// routing is the map and the local replicas of its groups, swapped as one.
type routing struct {
	m     *Map
	local []*Group // parallel to m.Groups; nil where no replica is here
	list  []*Group // the local replicas, in map order
}

// Open starts the node's groups, serving raft on peerLn: the metadata group
// at once, and the data groups of the slot map as soon as it is known (at
// once on a restart, from the metadata group's snapshot). It does not wait
// for any election; until a map is known, routing fails with ErrNoMap.
func Open(cfg Config, peerLn net.Listener) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	if cfg.Self.PeerAddr == "" {
		cfg.Self.PeerAddr = peerLn.Addr().String()
	}
	var ownWAL *wal.WAL
	if cfg.Raft.LogStore == raftnode.LogStoreWAL && cfg.Raft.WAL == nil {
		w, err := wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Options{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("shard: open the node's WAL: %w", err)
		}
		cfg.Raft.WAL, ownWAL = w, w
	}
	h := &Host{
		wal:      ownWAL,
		cfg:      cfg,
		log:      cfg.Logger,
		groups:   map[string]*Group{},
		retiring: map[string]bool{},
		nodes:    map[string]NodeInfo{cfg.Self.ID: cfg.Self},
		stop:     make(chan struct{}),
	}
	if err := h.cleanRemoved(); err != nil {
		h.closeWAL()
		return nil, err
	}
	h.peers.nodes = map[string]*peerState{}
	h.mux = raftnode.NewMux(peerLn, cfg.Logger)
	self, _ := json.Marshal(report{NodeInfo: cfg.Self})
	h.mux.SetInfo(self)

	meta, err := h.openGroup(MetaGroupID, cfg.InitialCluster)
	if err != nil {
		h.mux.Close()
		h.closeWAL()
		return nil, err
	}
	h.meta = meta
	// From now on the report includes the groups' state (the Mux's lock
	// orders the write of h.meta before any call).
	h.mux.SetInfoFunc(h.reportJSON)
	if m, err := readLatestMap(meta.m, nil); err != nil {
		h.log.Error("shard: reading the slot map from the metadata replica", "err", err)
	} else if m != nil {
		h.mu.Lock()
		h.openLeftovers(m)
		h.mu.Unlock()
		if err := h.applyMap(m); err != nil {
			h.closeGroups()
			h.mux.Close()
			h.closeWAL()
			return nil, err
		}
	}
	h.wg.Add(4)
	go h.watchMap()
	go h.pollLoop()
	go h.leaderLoop()
	go h.balanceLoop()
	return h, nil
}

// openGroup opens the replica of group id, bootstrapping it with peers if
// its directory holds no raft state.
func (h *Host) openGroup(id string, peers []raftnode.Peer) (*Group, error) {
	dir := filepath.Join(h.cfg.Dir, "groups", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	rc := h.cfg.Raft
	rc.NodeID, rc.GroupID, rc.Dir, rc.Peers = h.cfg.Self.ID, id, dir, peers
	if rc.Logger == nil {
		rc.Logger = h.cfg.Logger
	}
	m := fsm.NewMachine()
	node, err := raftnode.Open(rc, h.mux, m)
	if err != nil {
		return nil, fmt.Errorf("shard: open group %s: %w", id, err)
	}
	return &Group{id: id, h: h, node: node, m: m, meta: id == MetaGroupID}, nil
}

// applyMap opens the data groups of m this node is a member of and routes
// with m from now on. A replica of a group the node no longer belongs to
// stays open and routed until its removal is committed (move.go).
func (h *Host) applyMap(m *Map) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return raftnode.ErrShutdown
	}
	if cur := h.route.Load(); cur != nil && cur.m.Epoch >= m.Epoch {
		return nil
	}
	rt := &routing{m: m, local: make([]*Group, len(m.Groups))}
	var errs []error
	for i, gi := range m.Groups {
		if !gi.Has(h.cfg.Self.ID) {
			// A replica the map no longer lists serves (as leader or
			// follower) until its removal from the group is committed.
			if g := h.groups[gi.ID]; g != nil {
				rt.local[i] = g
				rt.list = append(rt.list, g)
			}
			continue
		}
		g := h.groups[gi.ID]
		if g == nil {
			if h.retiring[gi.ID] {
				errs = append(errs, fmt.Errorf("shard: group %s: its removed replica is still being deleted", gi.ID))
				continue
			}
			var err error
			g, err = h.openGroup(gi.ID, h.foundingPeers(m, &gi))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			h.groups[gi.ID] = g
		}
		rt.local[i] = g
		rt.list = append(rt.list, g)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, n := range m.Nodes {
		if n.RESPAddr != "" {
			h.nodes[n.ID] = n
		}
	}
	h.route.Store(rt)
	h.log.Info("shard: routing with slot map", "map", m.String(), "local_groups", len(rt.list))
	return nil
}

// Close stops every group and the peer listener, then closes the node's
// WAL if the Host opened it.
func (h *Host) Close() error {
	close(h.stop)
	h.wg.Wait()
	errs := h.closeGroups()
	errs = append(errs, h.mux.Close(), h.closeWAL())
	return errors.Join(errs...)
}

// closeWAL closes the WAL the Host opened, once every group using it is
// closed.
func (h *Host) closeWAL() error {
	if h.wal == nil {
		return nil
	}
	if err := h.wal.Close(); err != nil {
		return fmt.Errorf("shard: close the node's WAL: %w", err)
	}
	return nil
}

// DropLog forgets what the node's WAL holds of group id, for a replica
// removed from this node: close the replica, remove its directory, then
// call DropLog. (In that order: a crash in between leaves stale WAL state
// that the next replica of the group opened here drops itself, whereas a
// directory whose log is gone from the WAL is refused at open.) Without
// DropLog the WAL keeps the group's last entries (raft's trailing logs)
// until a replica of the group is opened here again. With the bolt log
// store it does nothing: the log goes with the directory.
func (h *Host) DropLog(id string) error {
	w := h.cfg.Raft.WAL
	if w == nil {
		return nil
	}
	if err := w.Drop(id); err != nil {
		return fmt.Errorf("shard: drop group %s from the node's WAL: %w", id, err)
	}
	return nil
}

func (h *Host) closeGroups() []error {
	h.mu.Lock()
	h.closed = true
	groups := make([]*Group, 0, len(h.groups)+1)
	for _, g := range h.groups {
		groups = append(groups, g)
	}
	h.mu.Unlock()
	if h.meta != nil {
		groups = append(groups, h.meta)
	}
	var errs []error
	for _, g := range groups {
		errs = append(errs, g.node.Close())
	}
	return errs
}

// Self returns this node's identity and addresses.
func (h *Host) Self() NodeInfo { return h.cfg.Self }

// Map returns the slot map the node routes with, or nil before it has read
// one.
func (h *Host) Map() *Map {
	if rt := h.route.Load(); rt != nil {
		return rt.m
	}
	return nil
}

// Groups returns the data groups hosted here, ordered by first slot. The
// slice is shared: callers must not modify it.
func (h *Host) Groups() []*Group {
	if rt := h.route.Load(); rt != nil {
		return rt.list
	}
	return nil
}

// Meta returns the metadata group's replica.
func (h *Host) Meta() *Group { return h.meta }

// Group returns the local replica of group id, or nil.
func (h *Host) Group(id string) *Group {
	rt := h.route.Load()
	if rt == nil {
		return nil
	}
	for i, gi := range rt.m.Groups {
		if gi.ID == id {
			return rt.local[i]
		}
	}
	return nil
}

// GroupOf returns the local replica of the group that owns slot, or nil
// when this node holds none (or knows no map yet); Route says which group
// that is.
func (h *Host) GroupOf(slot int) *Group {
	if rt := h.route.Load(); rt != nil {
		return rt.local[rt.m.groupIndex(slot)]
	}
	return nil
}

// Route returns the group that owns slot in the current map and its local
// replica (nil if not hosted here), or ErrNoMap.
func (h *Host) Route(slot int) (*GroupInfo, *Group, error) {
	rt := h.route.Load()
	if rt == nil {
		return nil, nil, ErrNoMap
	}
	i := rt.m.groupIndex(slot)
	return &rt.m.Groups[i], rt.local[i], nil
}

// Resolve returns the addresses of node id, whose peer address is peerAddr
// ("" if unknown): from the map, else from the node itself.
func (h *Host) Resolve(ctx context.Context, id, peerAddr string) (NodeInfo, error) {
	h.mu.Lock()
	ni, ok := h.nodes[id]
	h.mu.Unlock()
	if ok && ni.RESPAddr != "" && (peerAddr == "" || ni.PeerAddr == peerAddr) {
		return ni, nil
	}
	if peerAddr == "" {
		if m := h.Map(); m != nil {
			if n, ok := m.Node(id); ok {
				peerAddr = n.PeerAddr
			}
		}
	}
	if peerAddr == "" {
		return NodeInfo{}, ErrNoLeader
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	b, err := h.mux.FetchInfo(ctx, peerAddr)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("shard: node %s at %s: %w", id, peerAddr, err)
	}
	if err := json.Unmarshal(b, &ni); err != nil {
		return NodeInfo{}, fmt.Errorf("shard: node %s at %s sent bad info: %w", id, peerAddr, err)
	}
	if ni.ID != id {
		return NodeInfo{}, fmt.Errorf("shard: node at %s is %q, not %q", peerAddr, ni.ID, id)
	}
	h.mu.Lock()
	h.nodes[id] = ni
	h.mu.Unlock()
	return ni, nil
}

// Leader returns the addresses of the current leader of g, a local
// replica, or ErrNoLeader.
func (h *Host) Leader(ctx context.Context, g *Group) (NodeInfo, error) {
	id, addr := g.node.Leader()
	if id == "" {
		return NodeInfo{}, ErrNoLeader
	}
	return h.Resolve(ctx, id, addr)
}

// LeaderOf returns the addresses of the leader of group id, hosted here or
// not: a local replica's knowledge first, else what the group's members
// reported. ErrNoLeader when none is known.
func (h *Host) LeaderOf(ctx context.Context, id string) (NodeInfo, error) {
	if g := h.Group(id); g != nil {
		if ni, err := h.Leader(ctx, g); err == nil {
			return ni, nil
		}
	}
	lid := h.peers.leaderOf(id, h.aliveWindow())
	if lid == "" {
		return NodeInfo{}, ErrNoLeader
	}
	return h.Resolve(ctx, lid, "")
}

// WaitLeader polls for up to d until the local replica g knows a leader,
// for a caller that was just told the group is between leaders (the new
// one is usually known within milliseconds). The leader may be this node.
func (h *Host) WaitLeader(ctx context.Context, g *Group, d time.Duration) (NodeInfo, error) {
	deadline := time.Now().Add(d)
	for {
		if id, addr := g.node.Leader(); id != "" {
			if id == h.cfg.Self.ID {
				return h.cfg.Self, nil
			}
			return h.Resolve(ctx, id, addr)
		}
		if time.Now().After(deadline) {
			return NodeInfo{}, ErrNoLeader
		}
		if err := waitRetry(ctx, 5*time.Millisecond); err != nil {
			return NodeInfo{}, err
		}
	}
}

// Members returns the addresses of every member of g this node can
// resolve, preferred leader first; unreachable ones are left out.
func (h *Host) Members(ctx context.Context, g *Group) []NodeInfo {
	var ids []string
	if m := h.Map(); m != nil && !g.meta {
		if gi := m.Group(g.id); gi != nil {
			ids = gi.Members
		}
	}
	if ids == nil {
		for _, mb := range g.node.Status().Members {
			ids = append(ids, mb.ID)
		}
	}
	var out []NodeInfo
	for _, id := range ids {
		if ni, err := h.Resolve(ctx, id, ""); err == nil {
			out = append(out, ni)
		}
	}
	return out
}

// Alive reports whether node id answered this node recently (always true
// for this node).
func (h *Host) Alive(id string) bool {
	return id == h.cfg.Self.ID || h.peers.alive(id, h.aliveWindow())
}

// aliveWindow is how long a node counts as alive after its last answer.
func (h *Host) aliveWindow() time.Duration {
	return max(4*h.cfg.PollInterval, 1500*time.Millisecond)
}

// TransferLeader hands the leadership of group id, led by this node, to
// member to ("": raft's choice) and waits until it is done.
// *raftnode.NotLeaderError when this node does not lead the group.
func (h *Host) TransferLeader(ctx context.Context, id, to string) error {
	g := h.Group(id)
	if id == MetaGroupID {
		g = h.meta
	}
	if g == nil {
		return fmt.Errorf("shard: group %q has no replica on this node", id)
	}
	return g.node.TransferLeadership(ctx, to)
}

// waitRetry waits d, or until ctx ends.
func waitRetry(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
