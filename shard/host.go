package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
)

// NodeInfo is what clients and peers need to know of a node.
type NodeInfo struct {
	ID       string `json:"id"`
	RESPAddr string `json:"resp_addr"`
	GRPCAddr string `json:"grpc_addr"`
	PeerAddr string `json:"peer_addr"`
}

// Config configures a Host.
type Config struct {
	Self NodeInfo
	// Dir is the node's data directory; groups live in Dir/groups/<id>.
	Dir string
	// InitialCluster is every node's id and peer address; used only by
	// groups whose directory holds no raft state yet.
	InitialCluster []raftnode.Peer
	// Raft is the template for every group's raftnode.Config (timeouts,
	// snapshot policy); NodeID, GroupID, Dir and Peers are filled in here.
	Raft   raftnode.Config
	Logger *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Self.ID == "":
		return errors.New("shard: Config.Self.ID is empty")
	case c.Dir == "":
		return errors.New("shard: Config.Dir is empty")
	case len(c.InitialCluster) == 0:
		return errors.New("shard: Config.InitialCluster is empty")
	}
	return nil
}

// ErrNoLeader is returned when a group has no leader this node can name.
var ErrNoLeader = errors.New("shard: group has no known leader")

// Host owns every group replica on this node. Safe for concurrent use.
type Host struct {
	cfg    Config
	log    *slog.Logger
	mux    *raftnode.Mux
	groups []*Group // ordered by first slot

	mu    sync.Mutex
	nodes map[string]NodeInfo // by node id; learnt from peers' Mux info

	stop chan struct{}
	wg   sync.WaitGroup
}

// Group is one raft group hosted here and the slots it owns.
type Group struct {
	id    string
	start int // first slot owned (inclusive)
	end   int // last slot owned (inclusive)
	node  *raftnode.Node
	m     *fsm.Machine
}

// ID returns the group's id.
func (g *Group) ID() string { return g.id }

// Slots returns the inclusive slot range the group owns.
func (g *Group) Slots() (start, end int) { return g.start, g.end }

// Node returns the group's local raft replica.
func (g *Group) Node() *raftnode.Node { return g.node }

// Machine returns the group's local state machine (for stale local reads).
func (g *Group) Machine() *fsm.Machine { return g.m }

// Open starts every group replica of this node, serving raft on peerLn.
func Open(cfg Config, peerLn net.Listener) (*Host, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Self.PeerAddr == "" {
		cfg.Self.PeerAddr = peerLn.Addr().String()
	}
	h := &Host{
		cfg:   cfg,
		log:   cfg.Logger,
		nodes: map[string]NodeInfo{cfg.Self.ID: cfg.Self},
		stop:  make(chan struct{}),
	}
	h.mux = raftnode.NewMux(peerLn, cfg.Logger)
	info, _ := json.Marshal(cfg.Self)
	h.mux.SetInfo(info)

	// One group owns every slot; the layout already keys replicas by group id.
	const gid = "g1"
	dir := filepath.Join(cfg.Dir, "groups", gid)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.mux.Close()
		return nil, fmt.Errorf("shard: %w", err)
	}
	rc := cfg.Raft
	rc.NodeID, rc.GroupID, rc.Dir, rc.Peers = cfg.Self.ID, gid, dir, cfg.InitialCluster
	if rc.Logger == nil {
		rc.Logger = cfg.Logger
	}
	m := fsm.NewMachine()
	node, err := raftnode.Open(rc, h.mux, m)
	if err != nil {
		h.mux.Close()
		return nil, fmt.Errorf("shard: open group %s: %w", gid, err)
	}
	g := &Group{id: gid, start: 0, end: Slots - 1, node: node, m: m}
	h.groups = append(h.groups, g)
	for _, g := range h.groups {
		h.wg.Add(1)
		go h.expireLoop(g)
	}
	return h, nil
}

// Self returns this node's identity and addresses.
func (h *Host) Self() NodeInfo { return h.cfg.Self }

// Groups returns every group hosted here, ordered by first slot.
func (h *Host) Groups() []*Group { return h.groups }

// GroupOf returns the group that owns slot.
func (h *Host) GroupOf(slot int) *Group {
	for _, g := range h.groups {
		if slot >= g.start && slot <= g.end {
			return g
		}
	}
	return nil
}

// Close stops every group and the peer listener.
func (h *Host) Close() error {
	close(h.stop)
	h.wg.Wait()
	var errs []error
	for _, g := range h.groups {
		errs = append(errs, g.node.Close())
	}
	errs = append(errs, h.mux.Close())
	return errors.Join(errs...)
}

// Propose replicates commands (each args[0] the name) through g's log as one
// batch and returns their replies. The leader's clock and a random seed go
// into every command. Errors are raftnode's: *raftnode.NotLeaderError,
// raftnode.ErrUnknownOutcome, raftnode.ErrShutdown.
func (g *Group) Propose(ctx context.Context, cmds ...[][]byte) ([]fsm.Reply, error) {
	now := time.Now().UnixMilli()
	pcs := make([]*pb.Command, len(cmds))
	for i, a := range cmds {
		pcs[i] = &pb.Command{NowMs: now, Args: a, Seed: rand.Uint64()}
	}
	for {
		out, err := g.node.Propose(ctx, pcs)
		if !errors.Is(err, raftnode.ErrNotReady) {
			return out, err
		}
		if err := waitRetry(ctx); err != nil {
			return nil, err
		}
	}
}

// Read runs a read-only command linearizably: it is served only by the
// leader, after confirming leadership and applying everything committed.
func (g *Group) Read(ctx context.Context, args [][]byte) (fsm.Reply, error) {
	for {
		err := g.node.ReadIndex(ctx)
		if err == nil {
			return g.m.Read(time.Now().UnixMilli(), args), nil
		}
		if !errors.Is(err, raftnode.ErrNotReady) {
			return fsm.Reply{}, err
		}
		if err := waitRetry(ctx); err != nil {
			return fsm.Reply{}, err
		}
	}
}

// waitRetry waits a moment before retrying an operation on a leader that
// has not applied its first entry of the term yet.
func waitRetry(ctx context.Context) error {
	t := time.NewTimer(2 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Resolve returns the addresses of node id at peerAddr, asking its Mux when
// they are not known yet.
func (h *Host) Resolve(ctx context.Context, id, peerAddr string) (NodeInfo, error) {
	h.mu.Lock()
	ni, ok := h.nodes[id]
	h.mu.Unlock()
	if ok && (peerAddr == "" || ni.PeerAddr == peerAddr) {
		return ni, nil
	}
	if peerAddr == "" {
		return NodeInfo{}, ErrNoLeader
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	b, err := raftnode.FetchInfo(ctx, peerAddr)
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

// Leader returns the addresses of g's current leader, or ErrNoLeader.
func (h *Host) Leader(ctx context.Context, g *Group) (NodeInfo, error) {
	id, addr := g.node.Leader()
	if id == "" {
		return NodeInfo{}, ErrNoLeader
	}
	return h.Resolve(ctx, id, addr)
}

// Members returns the addresses of every member of g this node can resolve,
// in the group's configuration order; unreachable ones are left out.
func (h *Host) Members(ctx context.Context, g *Group) []NodeInfo {
	var out []NodeInfo
	for _, m := range g.node.Status().Members {
		if ni, err := h.Resolve(ctx, m.ID, m.Addr); err == nil {
			out = append(out, ni)
		}
	}
	return out
}

// expireLoop, on the leader of g, proposes the deletion of expired keys.
// Followers never delete on their own: expiry reaches them through the log.
func (h *Host) expireLoop(g *Group) {
	defer h.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		if !g.node.IsLeader() {
			continue
		}
		for range 16 { // at most 16 batches a tick, so a mass expiry cannot starve writes
			keys := g.m.ExpiredKeys(time.Now().UnixMilli(), 512)
			if len(keys) == 0 {
				break
			}
			args := append([][]byte{[]byte("__expire")}, keys...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := g.Propose(ctx, args)
			cancel()
			if err != nil {
				h.log.Debug("active expiry stopped", "group", g.id, "err", err)
				break
			}
		}
	}
}
