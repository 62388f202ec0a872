package grpcapi

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/redraft/redraft/api"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/shard"
)

// stuckKV accepts Execute calls and never answers them.
type stuckKV struct {
	pb.UnimplementedKVServer
	got chan struct{}
}

func (s stuckKV) Execute(ctx context.Context, _ *pb.ExecuteRequest) (*pb.ExecuteResponse, error) {
	s.got <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestForwardLostConnection: a forwarded write whose connection is lost
// after the leader received it has an unknown outcome (never "cluster
// down", which clients retry as not done); a read is simply refused; a
// leader that cannot be dialled did nothing.
func TestForwardLostConnection(t *testing.T) {
	for _, c := range []struct {
		args [][]byte
		want error
	}{
		{[][]byte{[]byte("INCR"), []byte("k")}, api.ErrUnknownOutcome},
		{[][]byte{[]byte("GET"), []byte("k")}, api.ErrClusterDown},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		kv := stuckKV{got: make(chan struct{}, 1)}
		pb.RegisterKVServer(srv, kv)
		go srv.Serve(ln)
		f := NewForwarder()
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := f.Forward(ctx, shard.NodeInfo{GRPCAddr: ln.Addr().String()}, c.args)
			done <- err
		}()
		select {
		case <-kv.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the leader never received the request", c.args[0])
		}
		srv.Stop() // closes the connection under the pending call
		if err := <-done; !errors.Is(err, c.want) {
			t.Errorf("%s, connection lost after sending: %v; want %v", c.args[0], err, c.want)
		}
		f.Close()
	}

	// Nothing listens: the write was never sent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := NewForwarder()
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := f.Forward(ctx, shard.NodeInfo{GRPCAddr: addr}, [][]byte{[]byte("INCR"), []byte("k")}); !errors.Is(err, api.ErrClusterDown) {
		t.Errorf("INCR to a closed port: %v; want %v", err, api.ErrClusterDown)
	}
}
