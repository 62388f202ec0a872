package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/raftnode"
)

// Moving a replica of a data group from one node to another.
//
// The slot map is the one statement of intent: MoveReplica (on the
// metadata leader) writes a map in which the group's members have the new
// node in place of the old one, and every node converges on it by itself:
//
//  1. The new member's host sees itself in the map and opens an empty
//     replica of the group (not bootstrapped: only the group's founding
//     members, those of the map of epoch 1, bootstrap, and always with the
//     founding configuration, so that their first log entry is the one
//     every member has).
//  2. The group's leader (reconcileMembers, a leader duty) compares the
//     group's raft configuration with the map: it adds every member the
//     configuration lacks as a voter (AddVoter; the new replica catches up
//     by log or snapshot), waits until every member of the map has reported
//     an applied index close to its commit index, then removes the nodes
//     the map no longer lists (RemoveMember), first handing leadership to a
//     member of the map when it is itself one of them. One change per duty
//     round, each committed before the next.
//  3. The old member's host keeps its replica open and routed (it may lead
//     until step 2 hands leadership over) until the removal is committed:
//     the committed configuration in the group's leader's report no
//     longer lists it. It then closes the replica, renames its directory
//     to groups/.removed-<id>, removes that, and drops the group from the
//     node's WAL (retireReplicas).
//
// Crashes. The map write is one log entry: before it nothing happened, and
// MoveReplica may be called again; after it, a repeated call finds the map
// already moved and only waits. Each step after the map write is redone
// from the map and the raft configuration, both durable, by whichever node
// leads or hosts the group after a restart: an AddVoter or RemoveMember
// either committed (the configuration shows it) or not (it is proposed
// again); a new replica opened empty and restarted opens empty again. A
// removed node that restarts opens its leftover replica and retires it as
// above; a crash while the directory is removed leaves
// groups/.removed-<id>, which the next start removes, with the WAL drop,
// before opening anything. The old replica's data is deleted only once its
// removal is committed, so it never goes back to being a voter with its
// term and vote forgotten.

// Errors of MoveReplica.
var (
	// ErrUnknownGroup: the map has no data group of that id.
	ErrUnknownGroup = errors.New("shard: no such group")
	// ErrUnknownNode: the map has no node of that id.
	ErrUnknownNode = errors.New("shard: no such node")
	// ErrMoveRefused: the move is not possible as asked (the detail says
	// why): the target is a member already, the source is not one, the two
	// are the same, or too few of the resulting members are reachable.
	ErrMoveRefused = errors.New("shard: move refused")
	// ErrNotMetaLeader: the call must go to the metadata group's leader.
	ErrNotMetaLeader = errors.New("shard: this node does not lead the metadata group")
)

// WithMove returns the map of the next epoch in which group's member from
// is replaced by to: from leaves the member list, to joins at its end
// (after the preferred leader, unless from was that).
func (m *Map) WithMove(group, from, to string) (*Map, error) {
	gi := m.Group(group)
	switch {
	case gi == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownGroup, group)
	case from == to:
		return nil, fmt.Errorf("%w: from and to are the same node (%s)", ErrMoveRefused, from)
	}
	for _, id := range []string{from, to} {
		if _, ok := m.Node(id); !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownNode, id)
		}
	}
	switch {
	case gi.Has(to):
		return nil, fmt.Errorf("%w: %s is already a member of %s (members %s)", ErrMoveRefused, to, group, strings.Join(gi.Members, ","))
	case !gi.Has(from):
		return nil, fmt.Errorf("%w: %s is not a member of %s (members %s)", ErrMoveRefused, from, group, strings.Join(gi.Members, ","))
	}
	groups := slices.Clone(m.Groups)
	for i := range groups {
		if groups[i].ID == group {
			members := slices.DeleteFunc(slices.Clone(groups[i].Members), func(id string) bool { return id == from })
			groups[i].Members = append(members, to)
		}
	}
	return NewMap(m.Epoch+1, m.Nodes, groups)
}

// moved reports whether m already shows group's replica moved from from to
// to.
func (m *Map) moved(group, from, to string) bool {
	gi := m.Group(group)
	return gi != nil && gi.Has(to) && !gi.Has(from)
}

// MoveReplica moves group's replica from node from to node to: it writes
// the map that says so through the metadata group, which this node must
// lead (ErrNotMetaLeader), then waits, until ctx ends, for the group to
// have converged on it (the leader's committed configuration is the map's
// members, and to has caught up). It returns the map with the move. A call
// for a move the map already shows writes nothing and only waits. The move
// is refused when to is not reachable, or fewer than a majority of the
// group's new members are.
func (h *Host) MoveReplica(ctx context.Context, group, from, to string) (*Map, error) {
	var m *Map
	for m == nil {
		if !h.meta.IsLeader() {
			return nil, ErrNotMetaLeader
		}
		if err := h.meta.node.ReadIndex(ctx); err != nil {
			if errors.Is(err, raftnode.ErrNotReady) {
				if err := waitRetry(ctx, 10*time.Millisecond); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		cur, err := readLatestMap(h.meta.m, h.Map())
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, ErrNoMap
		}
		if cur.moved(group, from, to) {
			m = cur
			break
		}
		next, err := cur.WithMove(group, from, to)
		if err != nil {
			return nil, err
		}
		if err := h.checkReachable(next.Group(group), to); err != nil {
			return nil, err
		}
		stored, err := h.writeMap(ctx, next)
		if err != nil {
			return nil, err
		}
		if stored {
			h.log.Info("shard: moving a replica", "group", group, "from", from, "to", to, "map", next.String())
			m = next
		}
		// Not stored: another map of that epoch won; read again.
	}
	return m, h.waitMoved(ctx, m, group, to)
}

// checkReachable refuses a move whose target, or a majority of whose new
// members, this node has not heard from recently.
func (h *Host) checkReachable(gi *GroupInfo, to string) error {
	if !h.Alive(to) {
		return fmt.Errorf("%w: node %s is not reachable", ErrMoveRefused, to)
	}
	up := 0
	for _, id := range gi.Members {
		if h.Alive(id) {
			up++
		}
	}
	if up < len(gi.Members)/2+1 {
		return fmt.Errorf("%w: only %d of the new members %s are reachable, fewer than a majority",
			ErrMoveRefused, up, strings.Join(gi.Members, ","))
	}
	return nil
}

// waitMoved polls until the group's leader reports a committed
// configuration equal to the members of m, and to reports an applied index
// within maxTransferLag of the leader's commit index.
func (h *Host) waitMoved(ctx context.Context, m *Map, group, to string) error {
	gi := m.Group(group)
	want := slices.Sorted(slices.Values(gi.Members))
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		h.RefreshPeers(rctx)
		cancel()
		var leader, target groupReport
		var haveLeader, haveTarget bool
		for _, id := range gi.Members {
			var rep groupReport
			var ok bool
			if id == h.cfg.Self.ID {
				if g := h.Group(group); g != nil {
					rep, ok = localReport(g), true
				}
			} else {
				rep, ok = h.peers.group(id, group, h.aliveWindow())
			}
			if !ok {
				continue
			}
			if rep.State == "leader" && rep.Voters != nil {
				leader, haveLeader = rep, true
			}
			if id == to {
				target, haveTarget = rep, true
			}
		}
		if haveLeader && haveTarget && slices.Equal(slices.Sorted(slices.Values(leader.Voters)), want) &&
			target.Applied+maxTransferLag >= leader.Commit {
			return nil
		}
		if err := waitRetry(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("shard: map of epoch %d written, the group has not converged on it yet (it goes on): %w", m.Epoch, err)
		}
	}
}

// foundingPeers returns the configuration a new replica of gi opened here
// bootstraps with: the group's members in the map of epoch 1, when this
// node is one of them; nil (open empty and wait to be added by the
// group's leader) when it is not. A group that the first map does not have
// bootstraps with its members in m.
func (h *Host) foundingPeers(m *Map, gi *GroupInfo) []raftnode.Peer {
	first, src := m, gi
	if m.Epoch != 1 {
		if r := h.meta.m.Read(0, [][]byte{cmdGET, mapKey(1)}); r.Kind == fsm.KindBulk {
			if fm, err := DecodeMap(r.Bulk); err == nil && fm.Group(gi.ID) != nil {
				first, src = fm, fm.Group(gi.ID)
			}
		}
	}
	if !src.Has(h.cfg.Self.ID) {
		return nil
	}
	peers := make([]raftnode.Peer, 0, len(src.Members))
	for _, id := range src.Members {
		n, _ := first.Node(id)
		peers = append(peers, raftnode.Peer{ID: id, Addr: n.PeerAddr})
	}
	return peers
}

// reconcileMembers is the leader duty of step 2 above for g, led here: one
// configuration change towards the map's members per call. It does nothing
// once the configuration matched the map of the current epoch.
func (h *Host) reconcileMembers(g *Group) {
	m := h.Map()
	if m == nil {
		return
	}
	gi := m.Group(g.id)
	if gi == nil || g.membersEpoch.Load() == m.Epoch {
		return
	}
	cfg, committed, err := g.node.Configuration()
	if err != nil || !committed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	voters := map[string]bool{}
	for _, mb := range cfg {
		voters[mb.ID] = true
	}
	for _, id := range gi.Members {
		if voters[id] {
			continue
		}
		n, _ := m.Node(id)
		if err := g.node.AddVoter(ctx, raftnode.Peer{ID: id, Addr: n.PeerAddr}); err != nil {
			h.log.Warn("shard: adding a member failed (retrying)", "group", g.id, "member", id, "err", err)
			return
		}
		h.log.Info("shard: member added", "group", g.id, "member", id, "epoch", m.Epoch)
		return
	}
	var extra []string
	for _, mb := range cfg {
		if !gi.Has(mb.ID) {
			extra = append(extra, mb.ID)
		}
	}
	if len(extra) == 0 {
		g.membersEpoch.Store(m.Epoch)
		return
	}
	// Remove only once every member of the map holds the group's state,
	// so that the group keeps as many up-to-date replicas as before.
	commit := g.node.Progress().CommitIndex
	for _, id := range gi.Members {
		if id == h.cfg.Self.ID {
			continue
		}
		rep, ok := h.peers.group(id, g.id, h.aliveWindow())
		if !ok || rep.Applied+maxTransferLag < commit {
			return
		}
	}
	id := extra[0]
	if id == h.cfg.Self.ID {
		to := ""
		for _, mb := range gi.Members {
			if rep, ok := h.peers.group(mb, g.id, h.aliveWindow()); ok && rep.State == "follower" && rep.Leader == h.cfg.Self.ID {
				to = mb
				break
			}
		}
		if to == "" {
			return
		}
		if err := g.node.TransferLeadership(ctx, to); err != nil {
			h.log.Warn("shard: handing over a group this node leaves failed (retrying)", "group", g.id, "to", to, "err", err)
			return
		}
		h.log.Info("shard: handed over a group this node leaves", "group", g.id, "to", to)
		return
	}
	if err := g.node.RemoveMember(ctx, id); err != nil {
		h.log.Warn("shard: removing a member failed (retrying)", "group", g.id, "member", id, "err", err)
		return
	}
	h.log.Info("shard: member removed", "group", g.id, "member", id, "epoch", m.Epoch)
}

// removedPrefix names a group directory being deleted: groups/.removed-<id>.
const removedPrefix = ".removed-"

// retireReplicas closes and deletes the replicas open here of groups whose
// map no longer lists this node, once their removal is committed (step 3
// above). Called by the map watcher.
func (h *Host) retireReplicas() {
	m := h.Map()
	if m == nil {
		return
	}
	self := h.cfg.Self.ID
	h.mu.Lock()
	var retiring []*Group
	for id, g := range h.groups {
		if gi := m.Group(id); gi != nil && !gi.Has(self) {
			retiring = append(retiring, g)
		}
	}
	h.mu.Unlock()
	for _, g := range retiring {
		if !h.removedFrom(m, g) {
			continue
		}
		if err := h.dropReplica(m, g); err != nil {
			h.log.Error("shard: deleting a removed replica (retrying)", "group", g.id, "err", err)
		}
	}
}

// removedFrom reports whether this node's removal from g is committed, as
// the group's leader reports it (a removed follower may never learn that
// its removal committed: the leader stops replicating to it).
func (h *Host) removedFrom(m *Map, g *Group) bool {
	self := h.cfg.Self.ID
	for _, id := range m.Group(g.id).Members {
		rep, ok := h.peers.group(id, g.id, h.aliveWindow())
		if ok && rep.State == "leader" && rep.Voters != nil && !slices.Contains(rep.Voters, self) {
			return true
		}
	}
	return false
}

// dropReplica closes g, unless the map lists this node again, and deletes
// its directory and its part of the node's WAL.
func (h *Host) dropReplica(m *Map, g *Group) error {
	h.mu.Lock()
	if h.closed || h.groups[g.id] != g {
		h.mu.Unlock()
		return nil
	}
	if cur := h.Map(); cur != nil && cur.Group(g.id) != nil && cur.Group(g.id).Has(h.cfg.Self.ID) {
		h.mu.Unlock()
		return nil // moved back meanwhile: the replica serves again
	}
	delete(h.groups, g.id)
	h.retiring[g.id] = true
	if rt := h.route.Load(); rt != nil {
		next := &routing{m: rt.m, local: slices.Clone(rt.local)}
		for i, lg := range next.local {
			if lg == g {
				next.local[i] = nil
			} else if lg != nil {
				next.list = append(next.list, lg)
			}
		}
		h.route.Store(next)
	}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.retiring, g.id)
		h.mu.Unlock()
	}()
	if err := g.node.Close(); err != nil {
		h.log.Warn("shard: closing a removed replica", "group", g.id, "err", err)
	}
	if err := h.removeGroupDir(g.id); err != nil {
		return err
	}
	h.log.Info("shard: removed replica deleted", "group", g.id, "epoch", m.Epoch)
	return nil
}

// removeGroupDir deletes groups/<id> by renaming it to groups/.removed-<id>
// first, so that a crash leaves either the whole directory or one that is
// plainly garbage (removed by cleanRemoved at the next start), then drops
// the group from the node's WAL.
func (h *Host) removeGroupDir(id string) error {
	groups := filepath.Join(h.cfg.Dir, "groups")
	dead := filepath.Join(groups, removedPrefix+id)
	if err := os.RemoveAll(dead); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	if err := os.Rename(filepath.Join(groups, id), dead); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("shard: %w", err)
	}
	if err := syncDir(groups); err != nil {
		return err
	}
	if err := os.RemoveAll(dead); err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	return h.DropLog(id)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("shard: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("shard: sync %s: %w", dir, err)
	}
	return nil
}

// cleanRemoved finishes, at start-up, the deletions a crash interrupted.
func (h *Host) cleanRemoved() error {
	entries, err := os.ReadDir(filepath.Join(h.cfg.Dir, "groups"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("shard: %w", err)
	}
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), removedPrefix); ok && e.IsDir() {
			if err := os.RemoveAll(filepath.Join(h.cfg.Dir, "groups", e.Name())); err != nil {
				return fmt.Errorf("shard: %w", err)
			}
			if err := h.DropLog(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// openLeftovers opens, unrouted, the replicas whose directories are here
// but whose group's map does not list this node (a node removed while it
// was down, or that crashed before deleting the replica), so that
// retireReplicas deletes them once their removal is committed. Called with
// h.mu held, before the first map is applied (which routes them).
func (h *Host) openLeftovers(m *Map) {
	entries, err := os.ReadDir(filepath.Join(h.cfg.Dir, "groups"))
	if err != nil {
		return
	}
	for _, e := range entries {
		id := e.Name()
		gi := m.Group(id)
		if !e.IsDir() || id == MetaGroupID || gi == nil || gi.Has(h.cfg.Self.ID) || h.groups[id] != nil {
			continue
		}
		g, err := h.openGroup(id, nil)
		if err != nil {
			h.log.Error("shard: opening a replica this node no longer belongs to", "group", id, "err", err)
			continue
		}
		h.groups[id] = g
		h.log.Info("shard: replica of a group this node no longer belongs to, kept until its removal is committed", "group", id)
	}
}

// leaderVoters returns the voters of g's committed configuration when g is
// led here, for the node's report; nil otherwise.
func leaderVoters(g *Group) []string {
	if !g.node.IsLeader() {
		return nil
	}
	cfg, committed, err := g.node.Configuration()
	if err != nil || !committed {
		return nil
	}
	ids := make([]string, 0, len(cfg))
	for _, mb := range cfg {
		if mb.Voter {
			ids = append(ids, mb.ID)
		}
	}
	return ids
}
