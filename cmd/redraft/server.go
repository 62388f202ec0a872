package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof-addr
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redraft/redraft/api/grpcapi"
	"github.com/redraft/redraft/api/resp"
	"github.com/redraft/redraft/raftnode"
	"github.com/redraft/redraft/shard"
)

// identity is DATA/node.json: who this node is, written on first start.
type identity struct {
	ID       string `json:"id"`
	RESPAddr string `json:"resp_addr"`
	GRPCAddr string `json:"grpc_addr"`
	PeerAddr string `json:"peer_addr"`
	// InitialCluster is what the node was first started with (for the record;
	// the raft configuration in the log is what counts after that).
	InitialCluster string `json:"initial_cluster"`
	// LogStore is where the node's groups keep their raft logs, fixed when
	// the node is first started: "wal" (DATA/wal, shared by every group) or
	// "bolt" (a raft.db per group). Absent in a node.json written before it
	// was recorded: such a node uses "bolt".
	LogStore string `json:"log_store,omitempty"`
}

// defaultLogStore is --log-store for a new node.
const defaultLogStore = raftnode.LogStoreWAL

// chooseLogStore returns the log store of a node: flag ("" if not given)
// and what its node.json recorded (old: "" for a new node, "bolt" for one
// that predates the record). A node cannot switch: its logs would be left
// behind.
func chooseLogStore(flag, recorded string, existing bool) (string, error) {
	switch flag {
	case "", raftnode.LogStoreWAL, raftnode.LogStoreBolt:
	default:
		return "", fmt.Errorf("--log-store is %q; want %q or %q", flag, raftnode.LogStoreWAL, raftnode.LogStoreBolt)
	}
	if existing && recorded == "" {
		recorded = raftnode.LogStoreBolt
	}
	switch {
	case recorded == "" && flag == "":
		return defaultLogStore, nil
	case recorded == "":
		return flag, nil
	case flag != "" && flag != recorded:
		return "", fmt.Errorf("--log-store %s: this node's data directory uses %q (node.json); a node cannot switch", flag, recorded)
	}
	return recorded, nil
}

func parseCluster(s string) ([]raftnode.Peer, error) {
	var peers []raftnode.Peer
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, addr, ok := strings.Cut(part, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("--initial-cluster: %q is not id=host:port", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--initial-cluster: %q: %v", part, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("--initial-cluster: node id %q appears twice", id)
		}
		seen[id] = true
		peers = append(peers, raftnode.Peer{ID: id, Addr: addr})
	}
	return peers, nil
}

func runServer(argv []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	id := fs.String("id", "", "node id (stable for the node's life)")
	dir := fs.String("dir", "", "data directory")
	respAddr := fs.String("resp-addr", "127.0.0.1:7001", "RESP listen address")
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:8001", "gRPC listen address")
	peerAddr := fs.String("peer-addr", "127.0.0.1:9001", "raft peer listen address (all groups)")
	initial := fs.String("initial-cluster", "", "id=peer-addr,... of every node; used on first start only")
	heartbeat := fs.Duration("heartbeat-timeout", 0, "raft heartbeat timeout (0: default)")
	election := fs.Duration("election-timeout", 0, "raft election timeout (0: default)")
	snapThreshold := fs.Uint64("snapshot-threshold", 0, "log entries between snapshots (0: default)")
	trailing := fs.Uint64("trailing-logs", 0, "log entries kept after a snapshot (0: default)")
	snapInterval := fs.Duration("snapshot-interval", 0, "how often to check whether to snapshot (0: default)")
	reqTimeout := fs.Duration("request-timeout", 5*time.Second, "how long a request waits for the cluster")
	groups := fs.Int("groups", defaultGroups, "raft groups the 16384 slots are split into when the cluster is first started")
	replicas := fs.Int("replicas", shard.DefaultReplicas, "replicas per group when the cluster is first started (fewer if fewer nodes)")
	proxy := fs.Bool("proxy", false, "run commands for groups this node does not lead at their leader instead of answering MOVED, so clients without cluster support work")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this address (empty: off)")
	logStore := fs.String("log-store", "", `where the groups' raft logs live: "wal" (one write-ahead log for all groups of the node, one fsync per round for all of them) or "bolt" (a raft.db per group, each synced on its own); fixed when the node is first started (default: what the data directory uses, "wal" for a new node)`)
	if err := fs.Parse(argv); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	if *id == "" {
		return errors.New("--id is required")
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	if *groups < 1 || *groups > shard.Slots {
		return fmt.Errorf("--groups is %d; want 1 to %d", *groups, shard.Slots)
	}
	if *replicas < 1 {
		return fmt.Errorf("--replicas is %d; want at least 1", *replicas)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("node", *id)
	if *pprofAddr != "" {
		go func() {
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				logger.Error("pprof server stopped", "err", err)
			}
		}()
	}

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	idPath := filepath.Join(*dir, "node.json")
	me := identity{ID: *id, RESPAddr: *respAddr, GRPCAddr: *grpcAddr, PeerAddr: *peerAddr, InitialCluster: *initial}
	var old identity
	existing := false
	if b, err := os.ReadFile(idPath); err == nil {
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %v", idPath, err)
		}
		if old.ID != *id {
			return fmt.Errorf("%s belongs to node %q, not %q", idPath, old.ID, *id)
		}
		me.InitialCluster = old.InitialCluster
		existing = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ls, err := chooseLogStore(*logStore, old.LogStore, existing)
	if err != nil {
		return err
	}
	me.LogStore = ls
	if existing {
		logger.Info("resuming from existing data", "dir", *dir, "log_store", me.LogStore)
	}
	clusterSpec := me.InitialCluster
	if clusterSpec == "" {
		clusterSpec = *id + "=" + *peerAddr
	}
	peers, err := parseCluster(clusterSpec)
	if err != nil {
		return err
	}
	found := false
	for _, p := range peers {
		found = found || p.ID == *id
	}
	if !found {
		return fmt.Errorf("--initial-cluster does not name this node (%q)", *id)
	}
	b, _ := json.MarshalIndent(me, "", "  ")
	if err := writeFileSync(idPath, b); err != nil {
		return err
	}

	peerLn, err := net.Listen("tcp", *peerAddr)
	if err != nil {
		return fmt.Errorf("--peer-addr: %w", err)
	}
	respLn, err := net.Listen("tcp", *respAddr)
	if err != nil {
		peerLn.Close()
		return fmt.Errorf("--resp-addr: %w", err)
	}
	grpcLn, err := net.Listen("tcp", *grpcAddr)
	if err != nil {
		peerLn.Close()
		respLn.Close()
		return fmt.Errorf("--grpc-addr: %w", err)
	}
	host, err := shard.Open(shard.Config{
		Self:           shard.NodeInfo{ID: *id, RESPAddr: *respAddr, GRPCAddr: *grpcAddr, PeerAddr: *peerAddr},
		Dir:            *dir,
		InitialCluster: peers,
		Groups:         *groups,
		Replicas:       *replicas,
		Raft: raftnode.Config{
			LogStore:          me.LogStore,
			HeartbeatTimeout:  *heartbeat,
			ElectionTimeout:   *election,
			SnapshotThreshold: *snapThreshold,
			TrailingLogs:      *trailing,
			SnapshotInterval:  *snapInterval,
		},
		Logger: logger,
	}, peerLn)
	if err != nil {
		respLn.Close()
		grpcLn.Close()
		return err
	}
	fwd := grpcapi.NewForwarder()
	defer fwd.Close()
	rs := resp.New(resp.Config{Host: host, RequestTimeout: *reqTimeout, Proxy: *proxy, Forward: fwd.Forward, Logger: logger})
	gs := grpcapi.New(grpcapi.Config{Host: host, RequestTimeout: *reqTimeout, Logger: logger})
	errc := make(chan error, 2)
	go func() { errc <- rs.Serve(respLn) }()
	go func() { errc <- gs.Serve(grpcLn) }()
	logger.Info("serving", "resp", *respAddr, "grpc", *grpcAddr, "peer", *peerAddr)
	// Only now that the groups have restored their state (gctune.go).
	gcStop := make(chan struct{})
	defer close(gcStop)
	go tuneGC(gcStop)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		logger.Info("shutting down", "signal", s.String())
	case err = <-errc:
		logger.Error("server stopped", "err", err)
	}
	rs.Close()
	gs.Close()
	if cerr := host.Close(); cerr != nil {
		logger.Error("close", "err", cerr)
	}
	return err
}

// defaultGroups is --groups when not given: three groups, so that a
// 3-node cluster has one leader per node and writes are spread over all
// of them.
const defaultGroups = 3

// writeFileSync writes a file durably: temp file, fsync, rename.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
