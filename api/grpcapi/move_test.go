package grpcapi

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// TestMoveReplicaRefusals: a node that does not lead the metadata group
// redirects to the one that does; the leader refuses bad moves with a
// status that says why (three nodes, every one a member of the group, so
// no move is possible).
func TestMoveReplicaRefusals(t *testing.T) {
	nodes := startCluster(t, 3)
	waitLeader(t, nodes)
	var meta, other *testNode
	waitFor(t, 10*time.Second, func() error {
		meta, other = nil, nil
		for _, n := range nodes {
			if n.host.Meta().IsLeader() {
				meta = n
			} else {
				other = n
			}
		}
		if meta == nil || other == nil {
			return status.Error(codes.Unavailable, "no metadata leader yet")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g := nodes[0].host.Map().Groups[0]

	_, err := other.cl.MoveReplica(ctx, &pb.MoveReplicaRequest{Group: g.ID, From: g.Members[0], To: g.Members[1]})
	st := status.Convert(err)
	var redirect *pb.NotLeader
	for _, d := range st.Details() {
		if nl, ok := d.(*pb.NotLeader); ok {
			redirect = nl
		}
	}
	if st.Code() != codes.FailedPrecondition || redirect == nil || redirect.GetGroup() != "meta" || redirect.GetLeaderGrpcAddr() != meta.addr {
		t.Fatalf("move sent to %s (metadata leader %s): %v, detail %v", other.id, meta.id, err, redirect)
	}
	for _, tc := range []struct {
		name string
		req  *pb.MoveReplicaRequest
		want codes.Code
	}{
		{"empty group", &pb.MoveReplicaRequest{From: "n1", To: "n2"}, codes.InvalidArgument},
		{"metadata group", &pb.MoveReplicaRequest{Group: "meta", From: "n1", To: "n2"}, codes.InvalidArgument},
		{"no to", &pb.MoveReplicaRequest{Group: g.ID, From: "n1"}, codes.InvalidArgument},
		{"unknown group", &pb.MoveReplicaRequest{Group: "g9", From: "n1", To: "n2"}, codes.NotFound},
		{"unknown node", &pb.MoveReplicaRequest{Group: g.ID, From: g.Members[0], To: "n9"}, codes.NotFound},
		{"to already a member", &pb.MoveReplicaRequest{Group: g.ID, From: g.Members[0], To: g.Members[1]}, codes.FailedPrecondition},
		{"same node", &pb.MoveReplicaRequest{Group: g.ID, From: g.Members[0], To: g.Members[0]}, codes.FailedPrecondition},
	} {
		_, err := meta.cl.MoveReplica(ctx, tc.req)
		if status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	if e := meta.host.Map().Epoch; e != nodes[0].host.Map().Epoch || len(meta.host.Map().Group(g.ID).Members) != 3 {
		t.Fatalf("a refused move changed the map: %s", meta.host.Map())
	}
}
