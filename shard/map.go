package shard

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// NodeInfo is what clients and peers need to know of a node.
type NodeInfo struct {
	ID       string `json:"id"`
	RESPAddr string `json:"resp_addr"`
	GRPCAddr string `json:"grpc_addr"`
	PeerAddr string `json:"peer_addr"`
}

// Range is an inclusive range of hash slots.
type Range = fsm.SlotRange

// GroupInfo is one raft group of a Map.
type GroupInfo struct {
	ID string
	// Ranges are the slots the group owns, ascending and disjoint.
	Ranges []Range
	// Members are the ids of the nodes that hold a replica. Members[0] is
	// the preferred leader: leader balancing moves leadership there.
	Members []string
}

// Has reports whether id is a member of g.
func (g *GroupInfo) Has(id string) bool { return slices.Contains(g.Members, id) }

// Map is the cluster's topology at one epoch: the nodes, and the groups with
// their slot ranges and members. Every slot belongs to exactly one group.
//
// A Map is immutable: it is shared by every goroutine that routes with it,
// so neither it nor the slices it holds may be modified. A change makes a
// new Map with a higher epoch. The maps are kept in the metadata group
// (meta.go), so every node reads the same sequence of them.
type Map struct {
	Epoch  uint64
	Nodes  []NodeInfo  // in the order of the initial cluster
	Groups []GroupInfo // ordered by first slot

	slotGroup [Slots]int16 // index into Groups
}

// Errors of map construction.
var (
	// ErrBadMap is returned (wrapped, with the detail) for a topology that
	// breaks a rule of Map: a slot owned twice or by no group, a member that
	// is not a node, a duplicate id.
	ErrBadMap = errors.New("shard: invalid slot map")
)

// NewMap checks a topology and returns it as a Map. It keeps the slices.
func NewMap(epoch uint64, nodes []NodeInfo, groups []GroupInfo) (*Map, error) {
	m := &Map{Epoch: epoch, Nodes: nodes, Groups: groups}
	if err := m.index(); err != nil {
		return nil, err
	}
	return m, nil
}

func badMap(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadMap, fmt.Sprintf(format, args...))
}

// index validates m and builds its slot index.
func (m *Map) index() error {
	if m.Epoch == 0 {
		return badMap("epoch 0")
	}
	if len(m.Groups) > math.MaxInt16 {
		return badMap("%d groups", len(m.Groups))
	}
	nodes := map[string]bool{}
	for _, n := range m.Nodes {
		if n.ID == "" || nodes[n.ID] {
			return badMap("node id %q empty or repeated", n.ID)
		}
		nodes[n.ID] = true
	}
	for i := range m.slotGroup {
		m.slotGroup[i] = -1
	}
	ids := map[string]bool{}
	for gi, g := range m.Groups {
		if g.ID == "" || ids[g.ID] || g.ID == MetaGroupID {
			return badMap("group id %q empty, repeated or reserved", g.ID)
		}
		ids[g.ID] = true
		if len(g.Members) == 0 {
			return badMap("group %s has no members", g.ID)
		}
		seen := map[string]bool{}
		for _, id := range g.Members {
			if !nodes[id] || seen[id] {
				return badMap("group %s: member %q unknown or repeated", g.ID, id)
			}
			seen[id] = true
		}
		for ri, r := range g.Ranges {
			if r.Start < 0 || r.End >= Slots || r.Start > r.End || (ri > 0 && r.Start <= g.Ranges[ri-1].End) {
				return badMap("group %s: slot ranges %v not ascending and disjoint within 0-%d", g.ID, g.Ranges, Slots-1)
			}
			for s := r.Start; s <= r.End; s++ {
				if m.slotGroup[s] >= 0 {
					return badMap("slot %d is in groups %s and %s", s, m.Groups[m.slotGroup[s]].ID, g.ID)
				}
				m.slotGroup[s] = int16(gi)
			}
		}
	}
	for s, gi := range m.slotGroup {
		if gi < 0 {
			return badMap("slot %d is in no group", s)
		}
	}
	return nil
}

// GroupOf returns the group that owns slot.
func (m *Map) GroupOf(slot int) *GroupInfo { return &m.Groups[m.slotGroup[slot]] }

// groupIndex returns the index in Groups of the group that owns slot.
func (m *Map) groupIndex(slot int) int { return int(m.slotGroup[slot]) }

// Group returns the group with id, or nil.
func (m *Map) Group(id string) *GroupInfo {
	for i := range m.Groups {
		if m.Groups[i].ID == id {
			return &m.Groups[i]
		}
	}
	return nil
}

// Node returns the node with id.
func (m *Map) Node(id string) (NodeInfo, bool) {
	for _, n := range m.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return NodeInfo{}, false
}

// WithNode returns a map of the next epoch in which node ni.ID has ni's
// addresses. ni.ID must be a node of m.
func (m *Map) WithNode(ni NodeInfo) (*Map, error) {
	nodes := slices.Clone(m.Nodes)
	found := false
	for i := range nodes {
		if nodes[i].ID == ni.ID {
			nodes[i], found = ni, true
		}
	}
	if !found {
		return nil, badMap("no node %q", ni.ID)
	}
	return NewMap(m.Epoch+1, nodes, m.Groups)
}

// String is a one-line summary, for logs.
func (m *Map) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d:", m.Epoch)
	for _, g := range m.Groups {
		rs := make([]string, len(g.Ranges))
		for i, r := range g.Ranges {
			rs[i] = r.String()
		}
		fmt.Fprintf(&b, " %s[%s]@%s", g.ID, strings.Join(rs, ","), strings.Join(g.Members, ","))
	}
	return b.String()
}

// SplitSlots splits the slots into n contiguous ranges whose sizes differ by
// at most one, the way redis-cli splits them among masters (3 ranges:
// 0-5460, 5461-10922, 10923-16383).
func SplitSlots(n int) []Range {
	out := make([]Range, n)
	first := 0
	for i := range n {
		last := int(math.Round(float64(i+1)*Slots/float64(n))) - 1
		if i == n-1 {
			last = Slots - 1
		}
		out[i] = Range{Start: first, End: last}
		first = last + 1
	}
	return out
}

// InitialMap is the topology a cluster starts with (epoch 1): the slots
// split into groups contiguous ranges, each group with min(replicas,
// len(nodes)) members. Replicas are laid out round-robin over the nodes, so
// no node holds more than one replica more than another; each group's
// preferred leader (Members[0]) is the member that leads the fewest groups
// so far, so no node is the preferred leader of more than
// ceil(groups/len(nodes)) groups. The result depends only on the arguments.
func InitialMap(nodes []NodeInfo, groups, replicas int) (*Map, error) {
	n := len(nodes)
	switch {
	case n == 0:
		return nil, badMap("no nodes")
	case groups < 1 || groups > Slots:
		return nil, badMap("%d groups (want 1 to %d)", groups, Slots)
	case replicas < 1:
		return nil, badMap("%d replicas", replicas)
	}
	r := min(replicas, n)
	led := make([]int, n)
	ranges := SplitSlots(groups)
	gs := make([]GroupInfo, groups)
	for i := range gs {
		idx := make([]int, r)
		for k := range idx {
			idx[k] = (i*r + k) % n
		}
		best := 0
		for k := range idx {
			if led[idx[k]] < led[idx[best]] {
				best = k
			}
		}
		led[idx[best]]++
		members := []string{nodes[idx[best]].ID}
		for k := range idx {
			if k != best {
				members = append(members, nodes[idx[k]].ID)
			}
		}
		gs[i] = GroupInfo{ID: fmt.Sprintf("g%d", i+1), Ranges: []Range{ranges[i]}, Members: members}
	}
	return NewMap(1, slices.Clone(nodes), gs)
}

// Proto returns m as the protobuf message it is stored as.
func (m *Map) Proto() *pb.SlotMap {
	p := &pb.SlotMap{Epoch: m.Epoch}
	for _, n := range m.Nodes {
		p.Nodes = append(p.Nodes, &pb.NodeDesc{Id: n.ID, RespAddr: n.RESPAddr, GrpcAddr: n.GRPCAddr, PeerAddr: n.PeerAddr})
	}
	for _, g := range m.Groups {
		pg := &pb.GroupDesc{Id: g.ID, Members: slices.Clone(g.Members)}
		for _, r := range g.Ranges {
			pg.SlotRanges = append(pg.SlotRanges, &pb.SlotRange{Start: uint32(r.Start), End: uint32(r.End)})
		}
		p.Groups = append(p.Groups, pg)
	}
	return p
}

// Encode returns the stored form of m.
func (m *Map) Encode() []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto())
	if err != nil {
		panic(fmt.Sprintf("shard: encoding a slot map: %v", err)) // cannot fail for this message
	}
	return b
}

// DecodeMap parses and checks a map written by Encode.
func DecodeMap(b []byte) (*Map, error) {
	var p pb.SlotMap
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMap, err)
	}
	return MapFromProto(&p)
}

// MapFromProto converts and checks a map message.
func MapFromProto(p *pb.SlotMap) (*Map, error) {
	var nodes []NodeInfo
	for _, n := range p.GetNodes() {
		nodes = append(nodes, NodeInfo{ID: n.GetId(), RESPAddr: n.GetRespAddr(), GRPCAddr: n.GetGrpcAddr(), PeerAddr: n.GetPeerAddr()})
	}
	var groups []GroupInfo
	for _, g := range p.GetGroups() {
		gi := GroupInfo{ID: g.GetId(), Members: slices.Clone(g.GetMembers())}
		for _, r := range g.GetSlotRanges() {
			if r.GetStart() >= Slots || r.GetEnd() >= Slots {
				return nil, badMap("group %s: slot range %d-%d out of bounds", gi.ID, r.GetStart(), r.GetEnd())
			}
			gi.Ranges = append(gi.Ranges, Range{Start: int(r.GetStart()), End: int(r.GetEnd())})
		}
		groups = append(groups, gi)
	}
	return NewMap(p.GetEpoch(), nodes, groups)
}
