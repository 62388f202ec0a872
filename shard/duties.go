package shard

import (
	"context"
	"time"

	"github.com/redraft/redraft/fsm"
)

// Leader duties: what the leader of a data group does besides serving
// requests. One loop serves every group, so an idle node with many groups
// wakes up ten times a second, not ten times per group.

// leaderLoop runs, every 100 ms, for each data group led here: the
// ownership entry of a new group, then active expiry.
func (h *Host) leaderLoop() {
	defer h.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		for _, g := range h.Groups() {
			if !g.node.IsLeader() {
				continue
			}
			if !g.Owned() {
				// An entry with no client command: Propose adds "__own".
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := g.Propose(ctx)
				cancel()
				if err != nil {
					h.log.Debug("shard: ownership entry failed", "group", g.id, "err", err)
					continue
				}
			}
			h.expire(g)
			h.reconcileMembers(g)
		}
	}
}

// expire proposes the deletion of g's expired keys, at most 16 batches of
// 512 at a time so that a mass expiry cannot starve writes. Followers never
// delete on their own: expiry reaches them through the log.
func (h *Host) expire(g *Group) {
	for range 16 {
		keys := g.m.ExpiredKeys(time.Now().UnixMilli(), 512)
		if len(keys) == 0 {
			return
		}
		args := append([][]byte{[]byte(fsm.ExpireCommand)}, keys...)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := g.Propose(ctx, args)
		cancel()
		if err != nil {
			h.log.Debug("shard: active expiry stopped", "group", g.id, "err", err)
			return
		}
	}
}

// Leader balancing. No node should lead more than ceil(groups/nodes)
// groups while every node is up: that cap is what spreads the write load.
// Every BalanceInterval, a node that leads more than the cap (counting each
// group's leader as this node knows it: its own replicas, and the other
// nodes' reports) hands groups it leads to members that lead fewer than the
// cap and whose replica is up, follows this leader and is nearly caught up;
// the group's preferred leader (Members[0]) first, so the initial layout
// comes back when it can. A node within the cap moves nothing, so a single
// group, or a cluster that is already balanced, never sees a transfer;
// while a node is down the others may stay above the cap, since no member
// is below it. A failed transfer is retried after a back-off (2 s, doubling
// to 30 s), since a transfer blocks the group's writes while it runs.

// maxTransferLag is how many entries a new leader's replica may trail
// before a transfer is attempted (raft catches it up the rest of the way as
// part of the transfer).
const maxTransferLag = 256

func (h *Host) balanceLoop() {
	defer h.wg.Done()
	if h.cfg.BalanceInterval < 0 {
		return
	}
	t := time.NewTicker(h.cfg.BalanceInterval)
	defer t.Stop()
	backoff := map[string]time.Duration{}
	notBefore := map[string]time.Time{}
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		m := h.Map()
		if m == nil {
			continue
		}
		limit := (len(m.Groups) + len(m.Nodes) - 1) / len(m.Nodes)
		counts := h.leaderCounts(m)
		self := h.cfg.Self.ID
		// Groups whose preferred leader is another node go first.
		var mine []*Group
		for _, g := range h.Groups() {
			if g.IsLeader() && time.Now().After(notBefore[g.id]) {
				if gi := g.Info(); gi != nil && gi.Members[0] != self {
					mine = append([]*Group{g}, mine...)
				} else {
					mine = append(mine, g)
				}
			}
		}
		for _, g := range mine {
			if counts[self] <= limit {
				break
			}
			to, ok := h.transferTarget(g, counts, limit)
			if !ok {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := g.node.TransferLeadership(ctx, to)
			cancel()
			if err != nil {
				d := min(max(2*backoff[g.id], 2*time.Second), 30*time.Second)
				backoff[g.id], notBefore[g.id] = d, time.Now().Add(d)
				h.log.Warn("shard: moving leadership for balance failed", "group", g.id, "to", to, "err", err, "retry_in", d)
				continue
			}
			delete(backoff, g.id)
			counts[self]--
			counts[to]++
			h.log.Info("shard: leadership moved for balance", "group", g.id, "to", to, "limit", limit)
		}
	}
}

// leaderCounts returns how many groups of m each node leads, as this node
// knows it.
func (h *Host) leaderCounts(m *Map) map[string]int {
	counts := map[string]int{}
	for _, gi := range m.Groups {
		id := ""
		if g := h.Group(gi.ID); g != nil {
			id, _ = g.node.Leader()
		}
		if id == "" {
			id = h.peers.leaderOf(gi.ID, h.aliveWindow())
		}
		if id != "" {
			counts[id]++
		}
	}
	return counts
}

// transferTarget picks the member of g, which this node leads, to hand it
// to: one that leads fewer than limit groups and whose replica is ready to
// lead (up, following this node, nearly caught up); the preferred leader
// if it qualifies, else the one that leads fewest.
func (h *Host) transferTarget(g *Group, counts map[string]int, limit int) (string, bool) {
	gi := g.Info()
	if gi == nil {
		return "", false
	}
	commit := g.node.Progress().CommitIndex
	best := ""
	for _, id := range gi.Members {
		if id == h.cfg.Self.ID || counts[id] >= limit || !h.Alive(id) {
			continue
		}
		rep, ok := h.peers.group(id, g.id, h.aliveWindow())
		if !ok || rep.State != "follower" || rep.Leader != h.cfg.Self.ID || rep.Applied+maxTransferLag < commit {
			continue
		}
		if best == "" || counts[id] < counts[best] {
			best = id
		}
		if id == gi.Members[0] {
			return id, true
		}
	}
	return best, best != ""
}
