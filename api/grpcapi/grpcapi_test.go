package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	refpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/shard"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails the test unless err is a status with code c whose message
// contains msg.
func wantCode(t *testing.T, err error, c codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != c || !strings.Contains(st.Message(), msg) {
		t.Fatalf("got %v, want %v containing %q", err, c, msg)
	}
}

func execute(t *testing.T, kv pb.KVClient, name string, args ...string) fsm.Reply {
	t.Helper()
	req := &pb.ExecuteRequest{Name: name}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	resp, err := kv.Execute(ctxT(t), req)
	if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return FromProto(resp.GetReply())
}

// TestKV runs every check that needs a cluster against one 3-node cluster.
func TestKV(t *testing.T) {
	nodes := startCluster(t, 3)
	leader := waitLeader(t, nodes)
	kv := leader.kv

	t.Run("typed", func(t *testing.T) {
		ctx := ctxT(t)
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("k1"), Value: []byte("v1")}); err != nil {
			t.Fatal(err)
		}
		got, err := kv.Get(ctx, &pb.GetRequest{Key: []byte("k1")})
		if err != nil || !got.Found || string(got.Value) != "v1" {
			t.Fatalf("Get k1 = %v, %v; want v1", got, err)
		}
		got, err = kv.Get(ctx, &pb.GetRequest{Key: []byte("missing")})
		if err != nil || got.Found || len(got.Value) != 0 {
			t.Fatalf("Get missing = %v, %v; want not found", got, err)
		}
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("empty"), Value: nil}); err != nil {
			t.Fatal(err)
		}
		got, err = kv.Get(ctx, &pb.GetRequest{Key: []byte("empty")})
		if err != nil || !got.Found || len(got.Value) != 0 {
			t.Fatalf("Get empty = %v, %v; want found, empty", got, err)
		}
		del, err := kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{[]byte("k1")}})
		if err != nil || del.Deleted != 1 {
			t.Fatalf("Del k1 = %v, %v; want 1", del, err)
		}
		got, err = kv.Get(ctx, &pb.GetRequest{Key: []byte("k1")})
		if err != nil || got.Found {
			t.Fatalf("Get k1 after Del = %v, %v; want not found", got, err)
		}
		// Keys sharing a hash tag share a slot, so one DEL may name them all.
		for _, k := range []string{"{u}a", "{u}b"} {
			if _, err := kv.Set(ctx, &pb.SetRequest{Key: []byte(k), Value: []byte("x")}); err != nil {
				t.Fatal(err)
			}
		}
		del, err = kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{[]byte("{u}a"), []byte("{u}b"), []byte("{u}c")}})
		if err != nil || del.Deleted != 2 {
			t.Fatalf("Del {u}a {u}b {u}c = %v, %v; want 2", del, err)
		}
	})

	t.Run("ttl", func(t *testing.T) {
		ctx := ctxT(t)
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("short"), Value: []byte("v"), TtlMs: 50}); err != nil {
			t.Fatal(err)
		}
		r := execute(t, kv, "PTTL", "short")
		if r.Kind != fsm.KindInt || r.Int > 50 {
			t.Fatalf("PTTL short = %v; want at most 50 (or -2 if gone already)", r)
		}
		waitFor(t, 5*time.Second, func() error {
			got, err := kv.Get(ctx, &pb.GetRequest{Key: []byte("short")})
			if err != nil {
				return err
			}
			if got.Found {
				return errors.New("short still exists")
			}
			return nil
		})
	})

	t.Run("execute", func(t *testing.T) {
		for _, c := range []struct {
			name string
			args []string
			want fsm.Reply
		}{
			{"SET", []string{"x", "10"}, fsm.ReplyOK},
			{"get", []string{"x"}, fsm.BulkReply([]byte("10"))},
			{"Incr", []string{"x"}, fsm.IntReply(11)},
			{"MGET", []string{"{m}x", "{m}y"}, fsm.ArrayReply([]fsm.Reply{fsm.ReplyNil, fsm.ReplyNil})},
			{"PING", nil, fsm.StatusReply("PONG")},
			{"ping", []string{"hi"}, fsm.BulkReply([]byte("hi"))},
			{"PING", []string{"a", "b"}, fsm.ErrorReply("ERR wrong number of arguments for 'ping' command")},
			{"ECHO", []string{"hello"}, fsm.BulkReply([]byte("hello"))},
			{"nosuch", []string{"a", "b"}, api.UnknownCommand([][]byte{[]byte("nosuch"), []byte("a"), []byte("b")})},
			{"GET", nil, fsm.ErrorReply("ERR wrong number of arguments for 'get' command")},
			{"SET", []string{"s", "abc"}, fsm.ReplyOK},
			{"INCR", []string{"s"}, fsm.ErrorReply(fsm.ErrNotInteger)},
			{"MGET", []string{"a", "b"}, api.CrossSlot},
			{"__expire", []string{"x"}, api.UnknownCommand([][]byte{[]byte("__expire"), []byte("x")})},
			{"GET", []string{"x"}, fsm.BulkReply([]byte("11"))},
		} {
			if got := execute(t, kv, c.name, c.args...); got.String() != c.want.String() || got.Kind != c.want.Kind {
				t.Errorf("%s %q = %v; want %v", c.name, c.args, got, c.want)
			}
		}
		if !strings.HasPrefix(api.UnknownCommand([][]byte{[]byte("nosuch")}).Str, "ERR unknown command 'nosuch'") {
			t.Fatal("unknown-command text changed; update this test")
		}
	})

	t.Run("follower", func(t *testing.T) {
		var f *testNode
		for _, n := range nodes {
			if n != leader {
				f = n
				break
			}
		}
		group := leader.host.Groups()[0].ID()
		var nl *pb.NotLeader
		// The follower may not have resolved the leader's addresses yet;
		// until it has, it answers UNAVAILABLE.
		waitFor(t, 5*time.Second, func() error {
			_, err := f.kv.Set(ctxT(t), &pb.SetRequest{Key: []byte("fk"), Value: []byte("fv")})
			st := status.Convert(err)
			if st.Code() == codes.Unavailable {
				return err
			}
			if st.Code() != codes.FailedPrecondition {
				t.Fatalf("Set on follower: %v; want FAILED_PRECONDITION", err)
			}
			want := fmt.Sprintf("not leader: leader is %s at %s", leader.id, leader.addr)
			if st.Message() != want {
				t.Fatalf("message %q; want %q", st.Message(), want)
			}
			for _, d := range st.Details() {
				if d, ok := d.(*pb.NotLeader); ok {
					nl = d
				}
			}
			if nl == nil {
				t.Fatalf("no NotLeader detail in %v", st.Details())
			}
			return nil
		})
		self := leader.host.Self()
		if nl.Group != group || nl.LeaderId != self.ID || nl.LeaderGrpcAddr != self.GRPCAddr || nl.LeaderRespAddr != self.RESPAddr {
			t.Fatalf("NotLeader = %v; want group %s, leader %+v", nl, group, self)
		}
		_, err := f.kv.Get(ctxT(t), &pb.GetRequest{Key: []byte("fk")})
		wantCode(t, err, codes.FailedPrecondition, "not leader")

		// Follow the redirect.
		redirected := pb.NewKVClient(dial(t, nl.LeaderGrpcAddr))
		if _, err := redirected.Set(ctxT(t), &pb.SetRequest{Key: []byte("fk"), Value: []byte("fv")}); err != nil {
			t.Fatalf("Set on the named leader: %v", err)
		}
		got, err := redirected.Get(ctxT(t), &pb.GetRequest{Key: []byte("fk")})
		if err != nil || string(got.Value) != "fv" {
			t.Fatalf("Get fk on the named leader = %v, %v", got, err)
		}
	})

	t.Run("status", func(t *testing.T) {
		leaders := 0
		for _, n := range nodes {
			st, err := n.cl.Status(ctxT(t), &pb.StatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if st.NodeId != n.id || len(st.Groups) != 1 {
				t.Fatalf("%s: status %v", n.id, st)
			}
			g := st.Groups[0]
			if g.State == "Leader" {
				leaders++
			}
			if g.Id != "g1" || g.LeaderId != leader.id || g.Term == 0 || g.AppliedIndex == 0 || g.LastLogIndex < g.AppliedIndex {
				t.Errorf("%s: group %v", n.id, g)
			}
			if len(g.SlotRanges) != 1 || g.SlotRanges[0].Start != 0 || g.SlotRanges[0].End != shard.Slots-1 {
				t.Errorf("%s: slot ranges %v", n.id, g.SlotRanges)
			}
			var ids []string
			for _, m := range g.Members {
				if !m.Voter || m.PeerAddr == "" {
					t.Errorf("%s: member %v", n.id, m)
				}
				ids = append(ids, m.Id)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, []string{"n1", "n2", "n3"}) {
				t.Errorf("%s: members %v", n.id, ids)
			}
		}
		if leaders != 1 {
			t.Fatalf("%d nodes say they lead; want 1", leaders)
		}
	})

	t.Run("reflection", func(t *testing.T) {
		stream, err := refpb.NewServerReflectionClient(leader.conn).ServerReflectionInfo(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&refpb.ServerReflectionRequest{
			MessageRequest: &refpb.ServerReflectionRequest_ListServices{ListServices: ""},
		}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		for _, want := range []string{"redraft.v1.KV", "redraft.v1.Cluster", "grpc.health.v1.Health"} {
			if !slices.Contains(names, want) {
				t.Errorf("reflection lists %v; %s missing", names, want)
			}
		}
		stream.CloseSend()
	})

	t.Run("health", func(t *testing.T) {
		hc := healthpb.NewHealthClient(leader.conn)
		for _, svc := range []string{"", "redraft.v1.KV", "redraft.v1.Cluster"} {
			resp, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health %q = %v, %v; want SERVING", svc, resp, err)
			}
		}
		_, err := hc.Check(ctxT(t), &healthpb.HealthCheckRequest{Service: "nosuch"})
		wantCode(t, err, codes.NotFound, "")
	})

	t.Run("bad requests", func(t *testing.T) {
		ctx := ctxT(t)
		for _, c := range []struct {
			name string
			call func() error
			msg  string
		}{
			{"Get empty key", func() error { _, err := kv.Get(ctx, &pb.GetRequest{}); return err }, "key is empty"},
			{"Set empty key", func() error { _, err := kv.Set(ctx, &pb.SetRequest{Value: []byte("v")}); return err }, "key is empty"},
			{"Set negative ttl", func() error {
				_, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("k"), Value: []byte("v"), TtlMs: -1})
				return err
			}, "ttl_ms is negative"},
			{"Set huge ttl", func() error {
				_, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("k"), Value: []byte("v"), TtlMs: math.MaxInt64})
				return err
			}, "ERR invalid expire time in 'set' command"},
			{"Del no keys", func() error { _, err := kv.Del(ctx, &pb.DelRequest{}); return err }, "keys is empty"},
			{"Del empty key", func() error {
				_, err := kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{[]byte("a"), nil}})
				return err
			}, "keys[1] is empty"},
			{"Del cross slot", func() error {
				_, err := kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{[]byte("a"), []byte("b")}})
				return err
			}, api.CrossSlot.Str},
			{"Execute no name", func() error { _, err := kv.Execute(ctx, &pb.ExecuteRequest{}); return err }, "name is empty"},
		} {
			t.Run(c.name, func(t *testing.T) { wantCode(t, c.call(), codes.InvalidArgument, c.msg) })
		}
	})

	t.Run("oversized", func(t *testing.T) {
		// A server of its own whose limit is lowered before it serves.
		s := New(Config{Host: leader.host, Logger: testLogger()})
		s.maxArg = 8
		ln := listen(t)
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		t.Cleanup(func() {
			s.Close()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		kv := pb.NewKVClient(dial(t, ln.Addr().String()))
		ctx := ctxT(t)
		nine, eight := bytes.Repeat([]byte("x"), 9), bytes.Repeat([]byte("y"), 8)
		_, err := kv.Get(ctx, &pb.GetRequest{Key: nine})
		wantCode(t, err, codes.InvalidArgument, "key is 9 bytes, over the limit of 8")
		_, err = kv.Set(ctx, &pb.SetRequest{Key: eight, Value: nine})
		wantCode(t, err, codes.InvalidArgument, "value is 9 bytes, over the limit of 8")
		_, err = kv.Del(ctx, &pb.DelRequest{Keys: [][]byte{eight, nine}})
		wantCode(t, err, codes.InvalidArgument, "keys[1] is 9 bytes")
		_, err = kv.Execute(ctx, &pb.ExecuteRequest{Name: "SET", Args: [][]byte{eight, nine}})
		wantCode(t, err, codes.InvalidArgument, "args[1] is 9 bytes")
		if _, err := kv.Set(ctx, &pb.SetRequest{Key: eight, Value: eight}); err != nil {
			t.Fatalf("Set at the limit: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		s := leader.srv
		self := leader.host.Self()
		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		bg := context.Background()
		for _, c := range []struct {
			ctx  context.Context
			err  error
			code codes.Code
			msg  string
		}{
			{bg, &api.MovedError{Slot: 7, Leader: self}, codes.FailedPrecondition, "not leader: leader is " + self.ID + " at " + self.GRPCAddr},
			{bg, fmt.Errorf("wrapped: %w", api.ErrClusterDown), codes.Unavailable, "cluster down"},
			{bg, api.ErrUnknownOutcome, codes.Unknown, "may or may not have been applied"},
			{canceled, api.ErrUnknownOutcome, codes.Canceled, "may or may not have been applied"},
			{canceled, api.ErrClusterDown, codes.Canceled, "canceled"},
			{bg, context.Canceled, codes.Canceled, "canceled"},
			{bg, context.DeadlineExceeded, codes.DeadlineExceeded, "deadline"},
			{bg, replyErr(fsm.ErrorReply(fsm.ErrWrongType)), codes.FailedPrecondition, fsm.ErrWrongType},
			{bg, replyErr(fsm.ErrorReply(fsm.ErrSyntax)), codes.InvalidArgument, fsm.ErrSyntax},
			{bg, invalid("key is empty"), codes.InvalidArgument, "key is empty"},
			{bg, errors.New("something else"), codes.Internal, "internal error"},
		} {
			err := s.statusOf(c.ctx, c.err)
			st := status.Convert(err)
			if st.Code() != c.code || !strings.Contains(st.Message(), c.msg) {
				t.Errorf("statusOf(%v) = %v; want %v containing %q", c.err, err, c.code, c.msg)
			}
		}
		if s.statusOf(bg, nil) != nil {
			t.Error("statusOf(nil) is not nil")
		}
		st := status.Convert(s.statusOf(bg, &api.MovedError{Slot: 7, Leader: self}))
		want := &pb.NotLeader{Group: "g1", LeaderId: self.ID, LeaderGrpcAddr: self.GRPCAddr, LeaderRespAddr: self.RESPAddr}
		if d := st.Details(); len(d) != 1 || d[0].(*pb.NotLeader).String() != want.String() {
			t.Errorf("details %v; want %v", d, want)
		}
	})

	t.Run("every command", func(t *testing.T) {
		// Every command with argument lists of several shapes: each gets a
		// reply (often an error value), never a failed call.
		pool := []string{"k", "", "1", "-1", "x", "PX", "10", "{k}k2", "9223372036854775807", "NX"}
		for _, sp := range fsm.Specs() {
			for n := range 5 {
				args := make([]string, n)
				for i := range args {
					args[i] = pool[(i*3+n+len(sp.Name))%len(pool)]
				}
				if sp.Name == "flushall" || sp.Name == "flushdb" {
					continue // would erase what later checks rely on; covered by fsm
				}
				resp, err := kv.Execute(ctxT(t), &pb.ExecuteRequest{Name: strings.ToUpper(sp.Name), Args: toBytes(args)})
				if err != nil || resp.GetReply() == nil || resp.GetReply().GetValue() == nil {
					t.Errorf("%s %q = %v, %v", sp.Name, args, resp, err)
				}
			}
		}
	})

	t.Run("close", func(t *testing.T) {
		s := New(Config{Host: leader.host, RequestTimeout: 300 * time.Millisecond, Logger: testLogger()})
		ln := listen(t)
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		hc := healthpb.NewHealthClient(dial(t, ln.Addr().String()))
		w, err := hc.Watch(ctxT(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := w.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("watch: %v, %v; want SERVING", r, err)
		}
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		if r, err := w.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("watch after Close: %v, %v; want NOT_SERVING", r, err)
		}
		// The watch never ends by itself: Close must cut it after its bound.
		<-closed
		if err := <-done; err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
		if err := s.Serve(listen(t)); !errors.Is(err, grpc.ErrServerStopped) {
			t.Fatalf("Serve after Close = %v; want grpc.ErrServerStopped", err)
		}
		s.Close() // a second Close is harmless
	})
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestRecover(t *testing.T) {
	s := New(Config{Logger: testLogger()})
	defer s.Close()
	_, err := s.recoverUnary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/t/Unary"},
		func(context.Context, any) (any, error) { panic("boom") })
	wantCode(t, err, codes.Internal, "internal error")
	err = s.recoverStream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/t/Stream"},
		func(any, grpc.ServerStream) error { panic(errors.New("boom")) })
	wantCode(t, err, codes.Internal, "internal error")
}

func TestServeValidates(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Config.Host"},
		{Config{Host: &shard.Host{}, RequestTimeout: -time.Second}, "Config.RequestTimeout"},
	} {
		s := New(c.cfg)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(ln); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Serve with %+v = %v; want an error naming %s", c.cfg, err, c.want)
		}
		s.Close()
	}
}

func TestReply(t *testing.T) {
	for _, c := range []struct {
		in, back fsm.Reply // back: what FromProto(ToProto(in)) gives
	}{
		{fsm.ReplyOK, fsm.ReplyOK},
		{fsm.ErrorReply(fsm.ErrWrongType), fsm.ErrorReply(fsm.ErrWrongType)},
		{fsm.IntReply(-42), fsm.IntReply(-42)},
		{fsm.IntReply(math.MinInt64), fsm.IntReply(math.MinInt64)},
		{fsm.BulkReply([]byte("v")), fsm.BulkReply([]byte("v"))},
		{fsm.BulkReply(nil), fsm.BulkReply([]byte{})},
		{fsm.ReplyNil, fsm.ReplyNil},
		{fsm.Reply{Kind: fsm.KindNilArray}, fsm.ReplyNil},
		{fsm.Reply{Kind: fsm.KindDouble, Dbl: 1.5}, fsm.Reply{Kind: fsm.KindDouble, Dbl: 1.5}},
		{fsm.ArrayReply(nil), fsm.ArrayReply([]fsm.Reply{})},
		{
			fsm.ArrayReply([]fsm.Reply{fsm.IntReply(1), fsm.ReplyNil, fsm.ArrayReply([]fsm.Reply{fsm.BulkReply([]byte("a")), fsm.StatusReply("OK")})}),
			fsm.ArrayReply([]fsm.Reply{fsm.IntReply(1), fsm.ReplyNil, fsm.ArrayReply([]fsm.Reply{fsm.BulkReply([]byte("a")), fsm.StatusReply("OK")})}),
		},
	} {
		p := ToProto(c.in)
		got := FromProto(p)
		if got.Kind != c.back.Kind || got.String() != c.back.String() || !sameShape(got, c.back) {
			t.Errorf("%v -> %v -> %v; want %v", c.in, p, got, c.back)
		}
	}
	// An empty bulk string and null stay apart on the wire.
	if _, ok := ToProto(fsm.BulkReply(nil)).Value.(*pb.Reply_Bulk); !ok {
		t.Error("an empty bulk string became something else")
	}
	// Unknown kinds and empty messages do not panic.
	if r := ToProto(fsm.Reply{Kind: 200}); r.GetError() == "" {
		t.Errorf("unknown kind -> %v; want an error reply", r)
	}
	for _, p := range []*pb.Reply{nil, {}, {Value: &pb.Reply_Array{}}} {
		_ = FromProto(p)
	}
}

// sameShape compares nil-ness of Bulk and Array, which String hides.
func sameShape(a, b fsm.Reply) bool {
	if (a.Bulk == nil) != (b.Bulk == nil) || (a.Array == nil) != (b.Array == nil) || len(a.Array) != len(b.Array) {
		return false
	}
	for i := range a.Array {
		if !sameShape(a.Array[i], b.Array[i]) {
			return false
		}
	}
	return true
}
