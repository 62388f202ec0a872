package grpcapi

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// statusRefresh bounds how long Status waits for the other nodes' reports.
const statusRefresh = time.Second

// clusterService implements pb.ClusterServer.
type clusterService struct {
	pb.UnimplementedClusterServer
	s *Server
}

var _ pb.ClusterServer = clusterService{}

// Status reports every group of the slot map: the local replica's raft
// state for the groups hosted here, what the members reported for the
// others, and for every member its applied index and lag. It first asks
// every other node for a fresh report (up to statusRefresh; a node that
// does not answer in time is shown as last known, or unreachable), so the
// table is the cluster as of the call, not as of the last poll. It needs no
// group to have a leader.
func (c clusterService) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	h := c.s.cfg.Host
	rctx, cancel := context.WithTimeout(ctx, statusRefresh)
	h.RefreshPeers(rctx)
	cancel()
	resp := &pb.StatusResponse{NodeId: h.Self().ID}
	m := h.Map()
	if m == nil {
		// No map yet: the local replicas only.
		for _, g := range h.Groups() {
			resp.Groups = append(resp.Groups, localStatus(g))
		}
		return resp, nil
	}
	resp.SlotMap = m.Proto()
	for _, gi := range m.Groups {
		gs := &pb.GroupStatus{Id: gi.ID, PreferredLeader: gi.Members[0]}
		for _, r := range gi.Ranges {
			gs.SlotRanges = append(gs.SlotRanges, &pb.SlotRange{Start: uint32(r.Start), End: uint32(r.End)})
		}
		if g := h.Group(gi.ID); g != nil {
			st := g.Node().Status()
			gs.Hosted = true
			gs.State = stateName(st.State)
			gs.LeaderId, gs.Term = st.LeaderID, st.Term
			gs.AppliedIndex, gs.CommitIndex, gs.LastLogIndex = st.AppliedIndex, st.CommitIndex, st.LastLogIndex
		}
		members := h.GroupMembers(gi.ID)
		var leaderCommit uint64
		for _, ms := range members {
			if ms.Known && ms.State == "leader" {
				leaderCommit = ms.Commit
				if gs.LeaderId == "" || !gs.Hosted {
					gs.LeaderId, gs.Term = ms.ID, ms.Term
				}
			}
		}
		for _, ms := range members {
			pm := &pb.Member{Id: ms.ID, PeerAddr: ms.PeerAddr, Voter: true, Reachable: ms.Reachable, Lag: -1}
			if ms.Known {
				pm.AppliedIndex, pm.State = ms.Applied, stateTitle(ms.State)
				if leaderCommit > 0 {
					pm.Lag = int64(leaderCommit) - int64(ms.Applied)
					if pm.Lag < 0 {
						pm.Lag = 0
					}
				}
			}
			gs.Members = append(gs.Members, pm)
			if !gs.Hosted && ms.Known && ms.ID == gs.LeaderId {
				gs.AppliedIndex, gs.CommitIndex = ms.Applied, ms.Commit
			}
		}
		resp.Groups = append(resp.Groups, gs)
	}
	return resp, nil
}

// localStatus is the status of a hosted replica from its own raft state.
func localStatus(g *shard.Group) *pb.GroupStatus {
	st := g.Node().Status()
	gs := &pb.GroupStatus{
		Id:           g.ID(),
		State:        stateName(st.State),
		LeaderId:     st.LeaderID,
		Term:         st.Term,
		AppliedIndex: st.AppliedIndex,
		CommitIndex:  st.CommitIndex,
		LastLogIndex: st.LastLogIndex,
		Hosted:       true,
	}
	for _, r := range g.Ranges() {
		gs.SlotRanges = append(gs.SlotRanges, &pb.SlotRange{Start: uint32(r.Start), End: uint32(r.End)})
	}
	for _, m := range st.Members {
		gs.Members = append(gs.Members, &pb.Member{Id: m.ID, PeerAddr: m.Addr, Voter: m.Voter, Lag: -1})
	}
	return gs
}

// TransferLeader hands a group led by this node to another member.
func (c clusterService) TransferLeader(ctx context.Context, req *pb.TransferLeaderRequest) (*pb.TransferLeaderResponse, error) {
	h := c.s.cfg.Host
	if req.GetGroup() == "" {
		return nil, status.Error(codes.InvalidArgument, "group is empty")
	}
	g := h.Group(req.GetGroup())
	if req.GetGroup() == shard.MetaGroupID {
		g = h.Meta()
	}
	if g == nil {
		return nil, status.Errorf(codes.NotFound, "group %q has no replica on node %s", req.GetGroup(), h.Self().ID)
	}
	if !g.IsLeader() {
		leader, err := h.Leader(ctx, g)
		if err != nil {
			return nil, status.Error(codes.Unavailable, "the group has no known leader; retry later")
		}
		return nil, c.s.notLeaderOf(g.ID(), leader)
	}
	err := h.TransferLeader(ctx, req.GetGroup(), req.GetTo())
	var nl *raftnode.NotLeaderError
	switch {
	case err == nil:
	case errors.As(err, &nl):
		return nil, status.Error(codes.Aborted, "leadership changed during the transfer: "+err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return nil, status.Error(codes.DeadlineExceeded, "the transfer did not finish in time")
	default:
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	// The old leader learns the new one from its first heartbeat.
	leader, err := h.WaitLeader(ctx, g, 2*time.Second)
	if err != nil {
		return &pb.TransferLeaderResponse{}, nil
	}
	return &pb.TransferLeaderResponse{LeaderId: leader.ID}, nil
}

// stateName spells a raft state as GroupStatus.state documents it.
func stateName(s raftnode.State) string {
	switch s {
	case raftnode.Follower:
		return "Follower"
	case raftnode.Candidate:
		return "Candidate"
	case raftnode.Leader:
		return "Leader"
	case raftnode.Shutdown:
		return "Shutdown"
	}
	return "Unknown"
}

// stateTitle turns a reported state ("leader") into the status spelling.
func stateTitle(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// MoveReplica moves a group's replica from one node to another; it runs on
// the metadata group's leader (shard.Host.MoveReplica says how).
func (c clusterService) MoveReplica(ctx context.Context, req *pb.MoveReplicaRequest) (*pb.MoveReplicaResponse, error) {
	h := c.s.cfg.Host
	switch {
	case req.GetGroup() == "":
		return nil, status.Error(codes.InvalidArgument, "group is empty")
	case req.GetGroup() == shard.MetaGroupID:
		return nil, status.Error(codes.InvalidArgument, "the metadata group has a replica on every node and does not move")
	case req.GetFrom() == "" || req.GetTo() == "":
		return nil, status.Error(codes.InvalidArgument, "from and to must both name a node")
	}
	m, err := h.MoveReplica(ctx, req.GetGroup(), req.GetFrom(), req.GetTo())
	var nl *raftnode.NotLeaderError
	switch {
	case err == nil:
	case errors.Is(err, shard.ErrNotMetaLeader) || errors.As(err, &nl):
		leader, lerr := h.Leader(ctx, h.Meta())
		if lerr != nil || leader.ID == h.Self().ID {
			return nil, status.Error(codes.Unavailable, "the metadata group has no known leader; retry later")
		}
		return nil, c.s.notLeaderOf(shard.MetaGroupID, leader)
	case errors.Is(err, shard.ErrUnknownGroup), errors.Is(err, shard.ErrUnknownNode):
		return nil, status.Error(codes.NotFound, err.Error())
	case errors.Is(err, shard.ErrMoveRefused):
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return nil, status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return nil, status.Error(codes.Canceled, err.Error())
	default:
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	gi := m.Group(req.GetGroup())
	return &pb.MoveReplicaResponse{Epoch: m.Epoch, Members: gi.Members}, nil
}
