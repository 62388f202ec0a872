package shard

import (
	"context"
	"fmt"
	"time"

	"github.com/redraft/redraft/fsm"
)

// The metadata group.
//
// Every node hosts a replica of the group "meta", whose members are the
// initial cluster. Its state machine is an ordinary fsm.Machine that never
// receives an ownership, and the slot maps are values in it: the map of
// epoch e is the key "map/<e, 20 digits>". That reuses the keyspace's
// snapshot format (checksummed, copy-on-write) and its deterministic apply,
// and needs no second state machine type in raftnode; clients cannot reach
// this keyspace, since no slot routes to it.
//
// Compare-and-set comes from the key naming: a new map is written with
// "SET map/<e> <map> NX", and a writer always derives map e from map e-1,
// so of two writers racing from the same map only the first one's entry
// sets the key; the other gets a nil reply and reads again. The current map
// is the one with the highest epoch, found by probing upward from the last
// one read (epochs are dense).
//
// Only the metadata group's leader writes maps (the keeper, below). Every
// node reads them from its own replica (watchMap) and, after each new one,
// snapshots the metadata group, so that a restarted node has its map at
// once, without waiting for a quorum to commit its log again.

// MetaGroupID is the id of the metadata group.
const MetaGroupID = "meta"

// mapKey is the key the map of epoch e is stored under.
func mapKey(e uint64) []byte { return fmt.Appendf(nil, "map/%020d", e) }

var cmdGET, cmdSET, argNX = []byte("GET"), []byte("SET"), []byte("NX")

// readLatestMap returns the newest map in the metadata machine m, starting
// the search after cur (nil: from the first epoch); cur itself when there
// is none newer. A stored map that does not decode is an error: the
// metadata group is corrupt or written by an incompatible version.
func readLatestMap(m *fsm.Machine, cur *Map) (*Map, error) {
	var e uint64
	if cur != nil {
		e = cur.Epoch
	}
	for {
		r := m.Read(0, [][]byte{cmdGET, mapKey(e + 1)})
		if r.Kind != fsm.KindBulk {
			return cur, nil
		}
		next, err := DecodeMap(r.Bulk)
		if err != nil {
			return cur, fmt.Errorf("shard: stored slot map of epoch %d: %w", e+1, err)
		}
		if next.Epoch != e+1 {
			return cur, fmt.Errorf("shard: slot map stored as epoch %d says epoch %d", e+1, next.Epoch)
		}
		cur, e = next, e+1
	}
}

// writeMap proposes m as the next map through the metadata group, which
// this node must lead. It reports whether m was stored; false means another
// map of that epoch was stored first.
func (h *Host) writeMap(ctx context.Context, m *Map) (bool, error) {
	out, err := h.meta.Propose(ctx, [][]byte{cmdSET, mapKey(m.Epoch), m.Encode(), argNX})
	if err != nil {
		return false, err
	}
	if out[0].Kind == fsm.KindError {
		return false, fmt.Errorf("shard: storing slot map: %s", out[0].Str)
	}
	return out[0].Kind == fsm.KindStatus, nil
}

// watchMap reads the newest map from the local metadata replica every few
// milliseconds and routes with it.
func (h *Host) watchMap() {
	defer h.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.retireReplicas()
		cur := h.Map()
		m, err := readLatestMap(h.meta.m, cur)
		if err != nil {
			h.log.Error("shard: reading the slot map", "err", err)
		}
		if m == nil || m == cur {
			continue
		}
		if err := h.applyMap(m); err != nil {
			h.log.Error("shard: applying the slot map (retrying)", "epoch", m.Epoch, "err", err)
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.meta.node.Snapshot(ctx); err != nil {
				h.log.Warn("shard: snapshot of the metadata group", "err", err)
			}
		}()
	}
}

// keepMap is the metadata leader's duty, run every poll: write the first
// map when there is none, and a new one when a node's client addresses
// changed (a node restarted with other --resp-addr or --grpc-addr). It
// looks at the local replica first and confirms with a linearizable read
// only when something is to be written. A failure is retried at the next
// poll.
func (h *Host) keepMap(leaderSince time.Time) {
	cur, err := readLatestMap(h.meta.m, h.Map())
	if err != nil || !h.mapChange(cur, leaderSince) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.meta.node.ReadIndex(ctx); err != nil {
		return // not (yet) a leader whose replica has everything committed
	}
	if cur, err = readLatestMap(h.meta.m, h.Map()); err != nil {
		return
	}
	next, err := h.nextMap(cur, leaderSince)
	if err != nil {
		h.log.Error("shard: laying out the slot map", "err", err)
		return
	}
	if next == nil {
		return
	}
	stored, err := h.writeMap(ctx, next)
	switch {
	case err != nil:
		h.log.Warn("shard: writing the slot map", "epoch", next.Epoch, "err", err)
	case stored:
		h.log.Info("shard: wrote the slot map", "map", next.String())
	}
}

// mapChange reports whether nextMap has something to write.
func (h *Host) mapChange(cur *Map, leaderSince time.Time) bool {
	next, err := h.nextMap(cur, leaderSince)
	return err != nil || next != nil
}

// nextMap returns the map that should follow cur (nil: none yet): the first
// map when cur is nil, else cur with a node's changed client addresses.
func (h *Host) nextMap(cur *Map, leaderSince time.Time) (*Map, error) {
	if cur == nil {
		nodes := make([]NodeInfo, len(h.cfg.InitialCluster))
		complete := true
		for i, p := range h.cfg.InitialCluster {
			nodes[i] = NodeInfo{ID: p.ID, PeerAddr: p.Addr}
			if ni, ok := h.nodeInfo(p.ID); ok {
				nodes[i].RESPAddr, nodes[i].GRPCAddr = ni.RESPAddr, ni.GRPCAddr
			} else {
				complete = false
			}
		}
		// Give every node a moment to answer, so that the first map has
		// all the addresses; a node still silent is added when it answers.
		if !complete && time.Since(leaderSince) < 3*time.Second {
			return nil, nil
		}
		return InitialMap(nodes, h.cfg.Groups, h.cfg.Replicas)
	}
	for _, n := range cur.Nodes {
		ni, ok := h.nodeInfo(n.ID)
		if ok && (ni.RESPAddr != n.RESPAddr || ni.GRPCAddr != n.GRPCAddr) {
			return cur.WithNode(NodeInfo{ID: n.ID, RESPAddr: ni.RESPAddr, GRPCAddr: ni.GRPCAddr, PeerAddr: n.PeerAddr})
		}
	}
	return nil, nil
}

// nodeInfo returns the client addresses node id announced most recently:
// this node's own, or the last answer to a poll.
func (h *Host) nodeInfo(id string) (NodeInfo, bool) {
	if id == h.cfg.Self.ID {
		return h.cfg.Self, true
	}
	return h.peers.info(id)
}
