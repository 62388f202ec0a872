// Package shardtest starts in-process redraft nodes (shard.Host on real
// loopback listeners, temp data dirs) for tests of the packages above shard.
package shardtest

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// Raft has short timeouts so elections take a few hundred milliseconds.
var Raft = raftnode.Config{
	HeartbeatTimeout:   200 * time.Millisecond,
	ElectionTimeout:    200 * time.Millisecond,
	LeaderLeaseTimeout: 200 * time.Millisecond,
	CommitTimeout:      5 * time.Millisecond,
}

// Node is one in-process node. RESP and GRPC are listeners reserved for the
// front doors a test starts (their addresses are the node's advertised ones).
type Node struct {
	ID   string
	Host *shard.Host
	RESP net.Listener
	GRPC net.Listener
}

// Logger discards everything unless -v is given, then shows warnings.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Start starts n nodes forming one cluster; they stop when the test ends.
func Start(t testing.TB, n int) []*Node {
	t.Helper()
	logger := Logger()
	peerLns := make([]net.Listener, n)
	peers := make([]raftnode.Peer, n)
	for i := range n {
		peerLns[i] = listen(t)
		peers[i] = raftnode.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: peerLns[i].Addr().String()}
	}
	dir := t.TempDir()
	nodes := make([]*Node, n)
	for i := range n {
		nd := &Node{ID: peers[i].ID, RESP: listen(t), GRPC: listen(t)}
		self := shard.NodeInfo{ID: nd.ID, RESPAddr: nd.RESP.Addr().String(), GRPCAddr: nd.GRPC.Addr().String(), PeerAddr: peers[i].Addr}
		host, err := shard.Open(shard.Config{
			Self:           self,
			Dir:            filepath.Join(dir, nd.ID),
			InitialCluster: peers,
			Raft:           Raft,
			Logger:         logger.With("node", nd.ID),
		}, peerLns[i])
		if err != nil {
			t.Fatalf("open %s: %v", nd.ID, err)
		}
		nd.Host = host
		t.Cleanup(func() {
			if err := host.Close(); err != nil {
				t.Errorf("close %s: %v", nd.ID, err)
			}
			nd.RESP.Close()
			nd.GRPC.Close()
		})
		nodes[i] = nd
	}
	return nodes
}

// WaitLeader polls until one node leads every group and has applied an
// entry of its term, and returns it.
func WaitLeader(t testing.TB, nodes []*Node) *Node {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, nd := range nodes {
			g := nd.Host.Groups()[0]
			if g.Node().IsLeader() && g.Node().ReadIndex(t.Context()) == nil {
				return nd
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready leader after 10s")
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}
