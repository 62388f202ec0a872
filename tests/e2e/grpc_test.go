package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// TestGRPC: the typed KV calls and Execute on the leader, the NotLeader
// redirect from a follower, Cluster.Status, reflection and health.
func TestGRPC(t *testing.T) {
	rng := newRand(t)
	c := StartCluster(t, Options{Args: fastRaft})
	li := c.Leader()
	ln := c.Node(li)
	fi := (li + 1) % 3
	fn := c.Node(fi)
	lconn := dialGRPC(t, ln.GRPCAddr)
	fconn := dialGRPC(t, fn.GRPCAddr)
	kv := pb.NewKVClient(lconn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tag := fmt.Sprintf("%08x", rng.Uint32())

	t.Run("typed", func(t *testing.T) {
		// One hash tag: a multi-key Del must stay in one slot.
		key, val := []byte("{grpc"+tag+"}:typed"), []byte("value-"+tag)
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: key, Value: val}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		got, err := kv.Get(ctx, &pb.GetRequest{Key: key})
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !got.GetFound() || string(got.GetValue()) != string(val) {
			t.Fatalf("Get = found %v value %q, want %q", got.GetFound(), got.GetValue(), val)
		}
		// The same command table behind both doors: RESP sees it.
		if v, err := c.Do(ctx, "GET", string(key)); err != nil || v != string(val) {
			t.Fatalf("RESP GET after gRPC Set = %v, %v; want %q", v, err, val)
		}
		del, err := kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{key, []byte("{grpc" + tag + "}:absent")}})
		if err != nil {
			t.Fatalf("Del: %v", err)
		}
		if del.GetDeleted() != 1 {
			t.Fatalf("Del of one present and one absent key = %d, want 1", del.GetDeleted())
		}
		got, err = kv.Get(ctx, &pb.GetRequest{Key: key})
		if err != nil {
			t.Fatalf("Get after Del: %v", err)
		}
		if got.GetFound() {
			t.Fatalf("Get after Del: found %q", got.GetValue())
		}

		ttlKey := []byte("grpc:ttl:" + tag)
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: ttlKey, Value: val, TtlMs: 60000}); err != nil {
			t.Fatalf("Set with ttl: %v", err)
		}
		r := execute(t, ctx, kv, "PTTL", string(ttlKey))
		if p := r.GetInteger(); p <= 0 || p > 60000 {
			t.Fatalf("PTTL after Set with ttl_ms 60000 = %v, want 1..60000", r)
		}
	})

	t.Run("execute", func(t *testing.T) {
		k := "grpc:exec:" + tag
		if r := execute(t, ctx, kv, "SET", k, "1"); r.GetStatus() != "OK" {
			t.Fatalf("SET = %v, want status OK", r)
		}
		if r := execute(t, ctx, kv, "incrby", k, "41"); r.GetValue() == nil || r.GetInteger() != 42 {
			t.Fatalf("INCRBY = %v, want integer 42", r)
		}
		if r := execute(t, ctx, kv, "GET", k); string(r.GetBulk()) != "42" {
			t.Fatalf("GET = %v, want bulk 42", r)
		}
		if r := execute(t, ctx, kv, "GET", k+":absent"); !r.GetNull() {
			t.Fatalf("GET of an absent key = %v, want null", r)
		}
		if r := execute(t, ctx, kv, "SET", k+":s", "abc"); r.GetStatus() != "OK" {
			t.Fatalf("SET = %v", r)
		}
		if r := execute(t, ctx, kv, "INCR", k+":s"); r.GetError() != "ERR value is not an integer or out of range" {
			t.Fatalf("INCR of a non-integer = %v, want the Redis error", r)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		// Either an error reply with Redis's text, or an InvalidArgument
		// status; never a hang, a crash or an OK.
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"NOSUCH", []string{"a"}, "ERR unknown command 'NOSUCH', with args beginning with: 'a' "},
			{"GET", nil, "ERR wrong number of arguments for 'get' command"},
			{"", nil, ""},
		}
		for _, tc := range cases {
			args := make([][]byte, len(tc.args))
			for i, a := range tc.args {
				args[i] = []byte(a)
			}
			res, err := kv.Execute(ctx, &pb.ExecuteRequest{Name: tc.name, Args: args})
			switch {
			case err != nil:
				if status.Code(err) != codes.InvalidArgument {
					t.Errorf("Execute(%q %q): %v, want an error reply or InvalidArgument", tc.name, tc.args, err)
				}
			case tc.want != "" && res.GetReply().GetError() != tc.want:
				t.Errorf("Execute(%q %q) = %v, want error %q", tc.name, tc.args, res.GetReply(), tc.want)
			case tc.want == "" && res.GetReply().GetError() == "":
				t.Errorf("Execute(%q %q) = %v, want an error", tc.name, tc.args, res.GetReply())
			}
		}
		if !ln.Running() {
			t.Fatalf("%s died on bad gRPC requests: %s", ln.ID, ln.exitErr())
		}
	})

	t.Run("not leader", func(t *testing.T) {
		fkv := pb.NewKVClient(fconn)
		key := []byte("grpc:follower:" + tag)
		_, err := fkv.Set(ctx, &pb.SetRequest{Key: key, Value: []byte("x")})
		nl := notLeader(t, err)
		if nl.GetLeaderId() != ln.ID || nl.GetLeaderGrpcAddr() != ln.GRPCAddr || nl.GetLeaderRespAddr() != ln.RESPAddr || nl.GetGroup() != groupID {
			t.Fatalf("NotLeader from follower %s = %v; want group %s, leader %s at %s (RESP %s)", fn.ID, nl, groupID, ln.ID, ln.GRPCAddr, ln.RESPAddr)
		}
		// Reads are linearizable on the leader, so a follower redirects them too.
		_, err = fkv.Get(ctx, &pb.GetRequest{Key: key})
		notLeader(t, err)
		// Following the detail works.
		conn := dialGRPC(t, nl.GetLeaderGrpcAddr())
		if _, err := pb.NewKVClient(conn).Set(ctx, &pb.SetRequest{Key: key, Value: []byte("x")}); err != nil {
			t.Fatalf("Set at the leader named by NotLeader: %v", err)
		}
	})

	t.Run("status", func(t *testing.T) {
		for _, tc := range []struct {
			n     *Node
			conn  *grpc.ClientConn
			state string
		}{{ln, lconn, "Leader"}, {fn, fconn, "Follower"}} {
			st, err := pb.NewClusterClient(tc.conn).Status(ctx, &pb.StatusRequest{})
			if err != nil {
				t.Fatalf("%s Status: %v", tc.n.ID, err)
			}
			if st.GetNodeId() != tc.n.ID {
				t.Errorf("%s Status node_id = %q", tc.n.ID, st.GetNodeId())
			}
			var g *pb.GroupStatus
			for _, x := range st.GetGroups() {
				if x.GetId() == groupID {
					g = x
				}
			}
			if g == nil {
				t.Fatalf("%s Status has no group %s: %v", tc.n.ID, groupID, st)
			}
			if g.GetState() != tc.state || g.GetLeaderId() != ln.ID || len(g.GetMembers()) != 3 {
				t.Errorf("%s Status of %s = state %q leader %q members %d; want %s, %s, 3", tc.n.ID, groupID, g.GetState(), g.GetLeaderId(), len(g.GetMembers()), tc.state, ln.ID)
			}
			sr := g.GetSlotRanges()
			if len(sr) != 1 || sr[0].GetStart() != 0 || sr[0].GetEnd() != 16383 {
				t.Errorf("%s Status slot ranges = %v, want [0, 16383]", tc.n.ID, sr)
			}
		}
	})

	t.Run("reflection", func(t *testing.T) {
		stream, err := reflectionpb.NewServerReflectionClient(lconn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatalf("reflection: %v", err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"},
		}); err != nil {
			t.Fatalf("reflection send: %v", err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection recv: %v", err)
		}
		stream.CloseSend()
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		sort.Strings(names)
		for _, want := range []string{"redraft.v1.KV", "redraft.v1.Cluster", "grpc.health.v1.Health"} {
			found := false
			for _, n := range names {
				found = found || n == want
			}
			if !found {
				t.Errorf("reflection lists %v; %s missing", names, want)
			}
		}
		t.Logf("services: %s", strings.Join(names, " "))
	})

	t.Run("health", func(t *testing.T) {
		for _, conn := range []*grpc.ClientConn{lconn, fconn} {
			r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("%s health: %v", conn.Target(), err)
			}
			if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("%s health = %v, want SERVING", conn.Target(), r.GetStatus())
			}
		}
	})
}

func dialGRPC(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// execute runs a command through KV.Execute and returns its reply; a gRPC
// error fails the test.
func execute(t testing.TB, ctx context.Context, kv pb.KVClient, name string, args ...string) *pb.Reply {
	t.Helper()
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	res, err := kv.Execute(ctx, &pb.ExecuteRequest{Name: name, Args: b})
	if err != nil {
		t.Fatalf("Execute %s %q: %v", name, args, err)
	}
	return res.GetReply()
}

// notLeader checks err is FAILED_PRECONDITION with a NotLeader detail and
// returns the detail.
func notLeader(t testing.TB, err error) *pb.NotLeader {
	t.Helper()
	if err == nil {
		t.Fatalf("a follower accepted the call; want FAILED_PRECONDITION with NotLeader")
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		t.Fatalf("follower answered %v; want FAILED_PRECONDITION", err)
	}
	for _, d := range st.Details() {
		if nl, ok := d.(*pb.NotLeader); ok {
			return nl
		}
		if e, ok := d.(error); ok {
			t.Fatalf("undecodable status detail: %v", e)
		}
	}
	t.Fatalf("FAILED_PRECONDITION without a NotLeader detail: %v", st.Proto())
	return nil
}
