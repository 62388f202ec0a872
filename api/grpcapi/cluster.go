package grpcapi

import (
	"context"

	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
)

// clusterService implements pb.ClusterServer.
type clusterService struct {
	pb.UnimplementedClusterServer
	s *Server
}

var _ pb.ClusterServer = clusterService{}

// Status reports the local replica of every group on this node. It reads
// local state only, so it answers even when no group has a leader.
func (c clusterService) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	h := c.s.cfg.Host
	resp := &pb.StatusResponse{NodeId: h.Self().ID}
	for _, g := range h.Groups() {
		st := g.Node().Status()
		start, end := g.Slots()
		gs := &pb.GroupStatus{
			Id:           g.ID(),
			State:        stateName(st.State),
			LeaderId:     st.LeaderID,
			Term:         st.Term,
			AppliedIndex: st.AppliedIndex,
			CommitIndex:  st.CommitIndex,
			LastLogIndex: st.LastLogIndex,
			SlotRanges:   []*pb.SlotRange{{Start: uint32(start), End: uint32(end)}},
		}
		for _, m := range st.Members {
			gs.Members = append(gs.Members, &pb.Member{Id: m.ID, PeerAddr: m.Addr, Voter: m.Voter})
		}
		resp.Groups = append(resp.Groups, gs)
	}
	return resp, nil
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
