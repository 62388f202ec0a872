package grpcapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// testNode is one in-process node: a shard.Host on real listeners, a gRPC
// Server in front of it and a client connected to that server.
type testNode struct {
	id   string
	host *shard.Host
	srv  *Server
	addr string // gRPC address
	conn *grpc.ClientConn
	kv   pb.KVClient
	cl   pb.ClusterClient
}

// testRaft keeps raft's default timeouts (a 200 ms lease lost leadership
// under a loaded machine, failing writes with an unknown outcome) and a
// short commit timeout.
var testRaft = raftnode.Config{
	CommitTimeout: 5 * time.Millisecond,
}

// testLogger discards everything unless -v is given, then shows warnings.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startCluster starts n nodes forming one cluster, each with a gRPC server,
// and stops them all when the test ends.
func startCluster(t *testing.T, n int) []*testNode {
	t.Helper()
	logger := testLogger()
	peerLns := make([]net.Listener, n)
	grpcLns := make([]net.Listener, n)
	peers := make([]raftnode.Peer, n)
	for i := range n {
		peerLns[i], grpcLns[i] = listen(t), listen(t)
		peers[i] = raftnode.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: peerLns[i].Addr().String()}
	}
	nodes := make([]*testNode, n)
	for i := range n {
		// A held listener gives the node a real RESP address nobody serves.
		respLn := listen(t)
		t.Cleanup(func() { respLn.Close() })
		self := shard.NodeInfo{
			ID:       peers[i].ID,
			RESPAddr: respLn.Addr().String(),
			GRPCAddr: grpcLns[i].Addr().String(),
			PeerAddr: peers[i].Addr,
		}
		host, err := shard.Open(shard.Config{
			Self:           self,
			Dir:            filepath.Join(t.TempDir(), self.ID),
			InitialCluster: peers,
			Raft:           testRaft,
			Logger:         logger.With("node", self.ID),
		}, peerLns[i])
		if err != nil {
			t.Fatalf("open %s: %v", self.ID, err)
		}
		t.Cleanup(func() {
			if err := host.Close(); err != nil {
				t.Errorf("close host %s: %v", self.ID, err)
			}
		})
		srv := New(Config{Host: host, RequestTimeout: 5 * time.Second, Logger: logger.With("node", self.ID)})
		serveDone := make(chan error, 1)
		go func(ln net.Listener) { serveDone <- srv.Serve(ln) }(grpcLns[i])
		t.Cleanup(func() {
			srv.Close()
			if err := <-serveDone; err != nil {
				t.Errorf("serve %s: %v", self.ID, err)
			}
		})
		conn := dial(t, self.GRPCAddr)
		nodes[i] = &testNode{
			id: self.ID, host: host, srv: srv, addr: self.GRPCAddr, conn: conn,
			kv: pb.NewKVClient(conn), cl: pb.NewClusterClient(conn),
		}
	}
	return nodes
}

// dial connects to a gRPC address; the connection is closed at the end of the test.
func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// waitFor polls cond every few milliseconds until it returns nil or the
// deadline passes, then fails the test with cond's last error.
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %v", timeout, err)
		}
		<-tick.C
	}
}

// waitLeader waits until every node names the same leader of its one
// group, that leader says it leads, and the leader has applied an entry of
// its term (so it serves reads and writes at once). It returns the leader.
func waitLeader(t *testing.T, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	waitFor(t, 10*time.Second, func() error {
		leader = nil
		var leaderID string
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			st, err := n.cl.Status(ctx, &pb.StatusRequest{})
			cancel()
			if err != nil {
				return fmt.Errorf("%s: status: %v", n.id, err)
			}
			if len(st.Groups) != 1 {
				return fmt.Errorf("%s: %d groups", n.id, len(st.Groups))
			}
			g := st.Groups[0]
			if g.LeaderId == "" {
				return fmt.Errorf("%s: no leader known", n.id)
			}
			if leaderID != "" && g.LeaderId != leaderID {
				return fmt.Errorf("%s names leader %s, another node %s", n.id, g.LeaderId, leaderID)
			}
			leaderID = g.LeaderId
			if g.State == "Leader" {
				if g.LeaderId != n.id {
					return fmt.Errorf("%s leads but names %s", n.id, g.LeaderId)
				}
				leader = n
			}
		}
		if leader == nil {
			return fmt.Errorf("leader %s does not say it leads yet", leaderID)
		}
		// A read through the executor succeeds only once the leader is ready.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := leader.kv.Get(ctx, &pb.GetRequest{Key: []byte("warm-up")}); err != nil {
			return fmt.Errorf("leader %s not serving: %v", leader.id, err)
		}
		return nil
	})
	return leader
}
