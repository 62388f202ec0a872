package resp

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/shard"
)

// How redraft presents itself as a Redis Cluster.
//
// A Redis Cluster shard (a master and its replicas owning some slots) is a
// raft group here: its master is the group's leader, its replicas are the
// other members. CLUSTER SLOTS and CLUSTER SHARDS say exactly that, group by
// group, with the leader first.
//
// CLUSTER NODES has one line per node, and a node leads some groups and
// follows in others, so it cannot be one group's master and another's
// replica there. Every node is therefore shown as a master, owning the
// slots of the groups it leads right now (possibly none), and no node as a
// replica. The set of masters is then the set of nodes and never changes
// when leadership moves: a client that reads the node list once and later
// follows CLUSTER SLOTS (redis-benchmark --cluster exits if a master id in
// CLUSTER SLOTS is not one of the masters it started with) keeps working
// through any leadership change. Node ids are a hash of the node's
// configured id, stable for its life.

// NodeID is the 40-hex-character Redis Cluster id of a redraft node: a hash
// of its configured id, so it is stable for the node's life.
func NodeID(id string) string {
	h := sha1.Sum([]byte("redraft-node:" + id))
	return hex.EncodeToString(h[:])
}

func splitHostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return addr, 0
	}
	p, _ := strconv.Atoi(addr[i+1:])
	return addr[:i], p
}

// Slots is the number of hash slots.
const Slots = shard.Slots

// groupView is one group as the CLUSTER commands show it.
type groupView struct {
	info      *shard.GroupInfo
	leader    string // node id; "" when unknown
	members   []shard.MemberState
	hasLeader bool
}

// clusterView is the cluster as this node sees it at one moment.
type clusterView struct {
	m      *shard.Map
	groups []groupView
	leads  map[string][]shard.Range // node id -> slot ranges of the groups it leads
}

// view collects the map and every group's leader; nil before a map is known.
func (s *Server) view(ctx context.Context) *clusterView {
	h := s.cfg.Host
	m := h.Map()
	if m == nil {
		return nil
	}
	v := &clusterView{m: m, leads: map[string][]shard.Range{}}
	for i := range m.Groups {
		gi := &m.Groups[i]
		gv := groupView{info: gi, members: h.GroupMembers(gi.ID)}
		if li, err := h.LeaderOf(ctx, gi.ID); err == nil {
			gv.leader, gv.hasLeader = li.ID, true
			v.leads[li.ID] = append(v.leads[li.ID], gi.Ranges...)
		}
		v.groups = append(v.groups, gv)
	}
	return v
}

// node returns the addresses of node id from the map, else from the node.
func (s *Server) node(ctx context.Context, m *shard.Map, id string) shard.NodeInfo {
	if n, ok := m.Node(id); ok && n.RESPAddr != "" {
		return n
	}
	if n, err := s.cfg.Host.Resolve(ctx, id, ""); err == nil {
		return n
	}
	n, _ := m.Node(id)
	return n
}

func cmdCluster(s *Server, c *conn, args [][]byte) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	h := s.cfg.Host
	sub := lower(args[1])
	arity := map[string]int{"myid": 2, "keyslot": 3, "slots": 2, "shards": 2, "nodes": 2, "info": 2, "countkeysinslot": 3, "getkeysinslot": 4}
	if n, ok := arity[sub]; ok && len(args) != n {
		c.out = errReply(c.out, "ERR wrong number of arguments for 'cluster|"+sub+"' command")
		return
	}
	switch sub {
	case "myid":
		c.out = appendBulkString(c.out, NodeID(h.Self().ID))
	case "keyslot":
		c.out = appendReply(c.out, fsm.IntReply(int64(shard.Slot(args[2]))), c.proto)
	case "slots":
		c.out = s.clusterSlots(ctx, c.out, c.proto)
	case "shards":
		c.out = s.clusterShards(ctx, c.out, c.proto)
	case "nodes":
		c.out = appendBulkString(c.out, s.clusterNodes(ctx))
	case "info":
		c.out = appendBulkString(c.out, s.clusterInfo(ctx))
	case "countkeysinslot":
		slot, err := strconv.ParseInt(string(args[2]), 10, 64)
		switch {
		case err != nil:
			c.out = errReply(c.out, fsm.ErrNotInteger)
		case slot < 0 || slot >= Slots:
			c.out = errReply(c.out, "ERR Invalid slot")
		default:
			n := 0
			if m := s.slotMachine(ctx, int(slot)); m != nil {
				n = m.CountKeysInSlot(int(slot), time.Now().UnixMilli())
			}
			c.out = appendReply(c.out, fsm.IntReply(int64(n)), c.proto)
		}
	case "getkeysinslot":
		slot, err1 := strconv.ParseInt(string(args[2]), 10, 64)
		count, err2 := strconv.ParseInt(string(args[3]), 10, 64)
		switch {
		case err1 != nil || err2 != nil:
			c.out = errReply(c.out, fsm.ErrNotInteger)
		case slot < 0 || slot >= Slots || count < 0:
			c.out = errReply(c.out, "ERR Invalid slot or number of keys")
		default:
			var keys [][]byte
			if m := s.slotMachine(ctx, int(slot)); m != nil && count > 0 {
				keys = m.KeysInSlot(int(slot), time.Now().UnixMilli(), int(min(count, 1<<20)))
			}
			c.out = appendLen(c.out, '*', len(keys))
			for _, k := range keys {
				c.out = appendBulk(c.out, k)
			}
		}
	case "help":
		lines := []string{
			"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"COUNTKEYSINSLOT <slot>", "    Return the number of keys in <slot> held by this node's replica.",
			"GETKEYSINSLOT <slot> <count>", "    Return key names stored by this node's replica in a slot.",
			"INFO", "    Return information about the cluster.",
			"KEYSLOT <key>", "    Return the hash slot for <key>.",
			"MYID", "    Return the node id.",
			"NODES", "    Return cluster configuration seen by node.",
			"SHARDS", "    Return information about slot range mappings and the nodes of each shard (raft group).",
			"SLOTS", "    Return information about slots range mappings.",
		}
		c.out = appendLen(c.out, '*', len(lines))
		for _, l := range lines {
			c.out = append(c.out, '+')
			c.out = appendLine(c.out, l)
		}
	default:
		c.out = errReply(c.out, "ERR unknown subcommand '"+string(args[1])+"'. Try CLUSTER HELP.")
	}
}

// slotMachine returns this node's replica of the group of slot, after a
// linearizability check when this node leads it; nil when no replica of
// that group is here. COUNTKEYSINSLOT and GETKEYSINSLOT answer from it, as
// a Redis node answers from the keys it holds.
func (s *Server) slotMachine(ctx context.Context, slot int) *fsm.Machine {
	g := s.cfg.Host.GroupOf(slot)
	if g == nil {
		return nil
	}
	if g.IsLeader() {
		_ = g.Node().ReadIndex(ctx) // on failure, answer from the replica as it is
	}
	return g.Machine()
}

// clusterSlots renders CLUSTER SLOTS: one entry per slot range of each group
// that has a leader, the leader first, then the other members that are up.
func (s *Server) clusterSlots(ctx context.Context, b []byte, proto int) []byte {
	v := s.view(ctx)
	if v == nil {
		return appendLen(b, '*', 0)
	}
	type entry struct {
		r     shard.Range
		nodes []shard.NodeInfo
	}
	var entries []entry
	for _, gv := range v.groups {
		if !gv.hasLeader {
			continue
		}
		nodes := []shard.NodeInfo{s.node(ctx, v.m, gv.leader)}
		for _, id := range gv.info.Members {
			if id != gv.leader && s.cfg.Host.Alive(id) {
				nodes = append(nodes, s.node(ctx, v.m, id))
			}
		}
		for _, r := range gv.info.Ranges {
			entries = append(entries, entry{r, nodes})
		}
	}
	b = appendLen(b, '*', len(entries))
	for _, e := range entries {
		b = appendLen(b, '*', 2+len(e.nodes))
		b = appendReply(b, fsm.IntReply(int64(e.r.Start)), proto)
		b = appendReply(b, fsm.IntReply(int64(e.r.End)), proto)
		for _, n := range e.nodes {
			host, port := splitHostPort(n.RESPAddr)
			b = appendLen(b, '*', 4)
			b = appendBulkString(b, host)
			b = appendReply(b, fsm.IntReply(int64(port)), proto)
			b = appendBulkString(b, NodeID(n.ID))
			b = appendMapLen(b, 0, proto)
		}
	}
	return b
}

// clusterShards renders CLUSTER SHARDS: one shard per group, with its slot
// ranges and its members (the leader as master, the others as replicas).
func (s *Server) clusterShards(ctx context.Context, b []byte, proto int) []byte {
	v := s.view(ctx)
	if v == nil {
		return appendLen(b, '*', 0)
	}
	b = appendLen(b, '*', len(v.groups))
	for _, gv := range v.groups {
		b = appendMapLen(b, 2, proto)
		b = appendBulkString(b, "slots")
		b = appendLen(b, '*', 2*len(gv.info.Ranges))
		for _, r := range gv.info.Ranges {
			b = appendReply(b, fsm.IntReply(int64(r.Start)), proto)
			b = appendReply(b, fsm.IntReply(int64(r.End)), proto)
		}
		b = appendBulkString(b, "nodes")
		b = appendLen(b, '*', len(gv.members))
		for _, ms := range gv.members {
			n := s.node(ctx, v.m, ms.ID)
			host, port := splitHostPort(n.RESPAddr)
			role, health := "replica", "online"
			if gv.hasLeader && ms.ID == gv.leader {
				role = "master"
			}
			if !ms.Reachable {
				health = "failed"
			}
			b = appendMapLen(b, 7, proto)
			b = appendBulkString(b, "id")
			b = appendBulkString(b, NodeID(ms.ID))
			b = appendBulkString(b, "port")
			b = appendReply(b, fsm.IntReply(int64(port)), proto)
			b = appendBulkString(b, "ip")
			b = appendBulkString(b, host)
			b = appendBulkString(b, "endpoint")
			b = appendBulkString(b, host)
			b = appendBulkString(b, "role")
			b = appendBulkString(b, role)
			b = appendBulkString(b, "replication-offset")
			b = appendReply(b, fsm.IntReply(int64(ms.Applied)), proto)
			b = appendBulkString(b, "health")
			b = appendBulkString(b, health)
		}
	}
	return b
}

// clusterNodes renders CLUSTER NODES: every node of the map as a master
// owning the slots of the groups it leads now (see the comment at the top).
func (s *Server) clusterNodes(ctx context.Context) string {
	v := s.view(ctx)
	if v == nil {
		self := s.cfg.Host.Self()
		host, port := splitHostPort(self.RESPAddr)
		_, pport := splitHostPort(self.PeerAddr)
		return fmt.Sprintf("%s %s:%d@%d myself,master - 0 0 0 connected\n", NodeID(self.ID), host, port, pport)
	}
	selfID := s.cfg.Host.Self().ID
	now := time.Now().UnixMilli()
	var b strings.Builder
	for _, n := range v.m.Nodes {
		n = s.node(ctx, v.m, n.ID)
		host, port := splitHostPort(n.RESPAddr)
		_, pport := splitHostPort(n.PeerAddr)
		flags, link, pong := "master", "connected", now
		if n.ID == selfID {
			flags = "myself,master"
		} else if !s.cfg.Host.Alive(n.ID) {
			flags, link, pong = "master,fail", "disconnected", 0
		}
		fmt.Fprintf(&b, "%s %s:%d@%d %s - 0 %d %d %s", NodeID(n.ID), host, port, pport, flags, pong, v.m.Epoch, link)
		for _, r := range mergeRanges(v.leads[n.ID]) {
			b.WriteString(" " + r.String())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// mergeRanges sorts ranges and joins adjacent ones, as CLUSTER NODES lists
// a master's slots.
func mergeRanges(rs []shard.Range) []shard.Range {
	if len(rs) == 0 {
		return nil
	}
	rs = append([]shard.Range(nil), rs...)
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Start < rs[j-1].Start; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	out := rs[:1]
	for _, r := range rs[1:] {
		if last := &out[len(out)-1]; r.Start == last.End+1 {
			last.End = r.End
		} else {
			out = append(out, r)
		}
	}
	return out
}

// clusterInfo renders CLUSTER INFO: the state is ok only when every slot's
// group has a leader.
func (s *Server) clusterInfo(ctx context.Context) string {
	v := s.view(ctx)
	assigned, ok, known, epoch := 0, 0, 1, uint64(0)
	masters := 0
	if v != nil {
		assigned, known, epoch = Slots, len(v.m.Nodes), v.m.Epoch
		for _, gv := range v.groups {
			if gv.hasLeader {
				for _, r := range gv.info.Ranges {
					ok += r.End - r.Start + 1
				}
			}
		}
		masters = len(v.leads)
	}
	state := "fail"
	if v != nil && ok == Slots {
		state = "ok"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster_state:%s\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:%d\r\n",
		state, assigned, ok, assigned-ok)
	fmt.Fprintf(&b, "cluster_known_nodes:%d\r\ncluster_size:%d\r\ncluster_current_epoch:%d\r\ncluster_my_epoch:%d\r\n",
		known, masters, epoch, epoch)
	fmt.Fprintf(&b, "cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n")
	return b.String()
}
