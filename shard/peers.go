package shard

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
)

// What nodes tell each other.
//
// Every node answers info requests on its peer listener (raftnode.Mux) with
// a report: its addresses and the raft state of each group it hosts. Every
// PollInterval a node asks each other node of the map for its report. The
// reports give the leaders of groups not hosted here (routing, CLUSTER
// SLOTS), which nodes are up (CLUSTER NODES, leader balancing), and every
// member's applied index (lag in the status). They are hints, up to a poll
// interval old: routing errors they cause are corrected by the groups
// themselves (MOVED from a follower, refusal of a foreign slot). What is
// shown to a person asks again first (RefreshPeers), so that a status
// taken right after a leadership change does not show the old roles.

// report is a node's answer to an info request. It embeds NodeInfo, so a
// reader that wants only the addresses decodes it as a NodeInfo.
type report struct {
	NodeInfo
	Epoch  uint64        `json:"epoch,omitempty"`
	Groups []groupReport `json:"groups,omitempty"`
}

// groupReport is the raft state of one replica.
type groupReport struct {
	ID      string `json:"id"`
	State   string `json:"state"` // leader, follower, candidate, shutdown
	Term    uint64 `json:"term"`
	Leader  string `json:"leader,omitempty"`
	Applied uint64 `json:"applied"`
	Commit  uint64 `json:"commit"`
	// Voters are the voters of the committed configuration, reported by
	// the leader only.
	Voters []string `json:"voters,omitempty"`
}

// reportJSON is this node's report; the Mux calls it for every info request.
func (h *Host) reportJSON() []byte {
	r := report{NodeInfo: h.cfg.Self}
	if m := h.Map(); m != nil {
		r.Epoch = m.Epoch
	}
	for _, g := range append([]*Group{h.meta}, h.Groups()...) {
		r.Groups = append(r.Groups, localReport(g))
	}
	b, _ := json.Marshal(r)
	return b
}

func localReport(g *Group) groupReport {
	st := g.node.Progress()
	return groupReport{
		ID: g.id, State: strings.ToLower(st.State.String()), Term: st.Term,
		Leader: st.LeaderID, Applied: st.AppliedIndex, Commit: st.CommitIndex,
		Voters: leaderVoters(g),
	}
}

// peerView is the latest report of every other node.
type peerView struct {
	mu    sync.Mutex
	nodes map[string]*peerState
}

type peerState struct {
	rep      report
	ok       time.Time // when the last report arrived; zero: never
	asked    time.Time // when the request that brought rep was sent
	inflight bool
}

// store keeps rep, asked for at asked, unless a report asked for later is
// already kept: a slow answer never replaces a fresher one.
func (ps *peerState) store(rep report, asked time.Time) {
	if asked.Before(ps.asked) {
		return
	}
	ps.rep, ps.ok, ps.asked = rep, time.Now(), asked
}

func (v *peerView) state(id string) *peerState {
	ps := v.nodes[id]
	if ps == nil {
		ps = &peerState{}
		v.nodes[id] = ps
	}
	return ps
}

// alive reports whether node id answered within window.
func (v *peerView) alive(id string, window time.Duration) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	ps := v.nodes[id]
	return ps != nil && !ps.ok.IsZero() && time.Since(ps.ok) < window
}

// info returns the addresses node id last reported.
func (v *peerView) info(id string) (NodeInfo, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ps := v.nodes[id]
	if ps == nil || ps.ok.IsZero() {
		return NodeInfo{}, false
	}
	return ps.rep.NodeInfo, true
}

// group returns what node id last reported of group gid, if that report is
// younger than window.
func (v *peerView) group(id, gid string, window time.Duration) (groupReport, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	ps := v.nodes[id]
	if ps == nil || ps.ok.IsZero() || time.Since(ps.ok) >= window {
		return groupReport{}, false
	}
	for _, g := range ps.rep.Groups {
		if g.ID == gid {
			return g, true
		}
	}
	return groupReport{}, false
}

// leaderOf returns the leader of group gid according to the reports younger
// than window: a node that says it leads, with the highest term, else the
// leader named with the highest term; "" if none.
func (v *peerView) leaderOf(gid string, window time.Duration) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var self, named string
	var selfTerm, namedTerm uint64
	for id, ps := range v.nodes {
		if ps.ok.IsZero() || time.Since(ps.ok) >= window {
			continue
		}
		for _, g := range ps.rep.Groups {
			if g.ID != gid {
				continue
			}
			if g.State == "leader" && (self == "" || g.Term > selfTerm) {
				self, selfTerm = id, g.Term
			}
			if g.Leader != "" && (named == "" || g.Term > namedTerm) {
				named, namedTerm = g.Leader, g.Term
			}
		}
	}
	if self != "" {
		return self
	}
	return named
}

// pollLoop asks every other node for its report every PollInterval, and on
// the metadata leader runs the map keeper after each round.
func (h *Host) pollLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.PollInterval)
	defer t.Stop()
	var leaderSince time.Time
	for {
		h.pollPeers()
		if h.meta.node.IsLeader() {
			if leaderSince.IsZero() {
				leaderSince = time.Now()
			}
			h.keepMap(leaderSince)
		} else {
			leaderSince = time.Time{}
		}
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

// pollPeers starts a request to every node that has none in flight. Before
// a map is known the initial cluster is polled, so that the first map can
// carry every node's addresses.
func (h *Host) pollPeers() {
	timeout := min(2*h.cfg.PollInterval, 2*time.Second)
	for _, tg := range h.pollTargets() {
		h.peers.mu.Lock()
		ps := h.peers.state(tg.id)
		busy := ps.inflight
		ps.inflight = true
		h.peers.mu.Unlock()
		if busy {
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			h.fetchReport(ctx, tg, true)
		}()
	}
}

// RefreshPeers asks every other node for its report now and waits for the
// answers, or until ctx ends; the view then reflects the cluster as of the
// call rather than of the last poll. For callers that show the state to a
// person (status), not for the request path. Threading: safe to call
// concurrently with the poll loop; an answer never replaces a fresher one.
func (h *Host) RefreshPeers(ctx context.Context) {
	var wg sync.WaitGroup
	for _, tg := range h.pollTargets() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.fetchReport(ctx, tg, false)
		}()
	}
	wg.Wait()
}

type pollTarget struct{ id, addr string }

// pollTargets is every other node with its peer address: the map's nodes,
// or the initial cluster before a map is known.
func (h *Host) pollTargets() []pollTarget {
	var targets []pollTarget
	if m := h.Map(); m != nil {
		for _, n := range m.Nodes {
			targets = append(targets, pollTarget{n.ID, n.PeerAddr})
		}
	} else {
		for _, p := range h.cfg.InitialCluster {
			targets = append(targets, pollTarget{p.ID, p.Addr})
		}
	}
	return slices.DeleteFunc(targets, func(tg pollTarget) bool {
		return tg.id == h.cfg.Self.ID || tg.addr == ""
	})
}

// fetchReport asks node tg for its report and keeps it; polled says the
// request is the poll loop's, which clears the node's in-flight mark.
func (h *Host) fetchReport(ctx context.Context, tg pollTarget, polled bool) {
	asked := time.Now()
	var rep report
	b, err := h.mux.FetchInfo(ctx, tg.addr)
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	ps := h.peers.state(tg.id)
	if polled {
		ps.inflight = false
	}
	if err == nil && rep.ID == tg.id {
		ps.store(rep, asked)
	}
}

// MemberState is what this node knows of one member of a group.
type MemberState struct {
	ID        string
	PeerAddr  string
	Reachable bool
	Known     bool   // the fields below come from a fresh report
	State     string // leader, follower, candidate
	Term      uint64
	Leader    string
	Applied   uint64
	Commit    uint64
}

// GroupMembers returns the members of group id in map order (preferred
// leader first) with their raft state: this node's own replica's, or the
// state in the member's latest report.
func (h *Host) GroupMembers(id string) []MemberState {
	m := h.Map()
	if m == nil {
		return nil
	}
	gi := m.Group(id)
	if gi == nil {
		return nil
	}
	out := make([]MemberState, 0, len(gi.Members))
	for _, mid := range gi.Members {
		n, _ := m.Node(mid)
		ms := MemberState{ID: mid, PeerAddr: n.PeerAddr, Reachable: h.Alive(mid)}
		var gr groupReport
		var ok bool
		if mid == h.cfg.Self.ID {
			if g := h.Group(id); g != nil {
				gr, ok = localReport(g), true
			}
		} else {
			gr, ok = h.peers.group(mid, id, h.aliveWindow())
		}
		if ok {
			ms.Known, ms.State, ms.Term, ms.Leader, ms.Applied, ms.Commit = true, gr.State, gr.Term, gr.Leader, gr.Applied, gr.Commit
		}
		out = append(out, ms)
	}
	return out
}
