package systems

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
)

// RedraftConfig describes a redraft cluster of Nodes nodes on 127.0.0.1.
type RedraftConfig struct {
	Bin   string // the redraft binary
	Dir   string // parent of the nodes' data directories
	Nodes int    // default 3
	// Groups is passed as --groups when > 0 (the binary must support it).
	Groups int
	// Pprof gives every node a --pprof-addr (the binary must support it).
	Pprof bool
	// Extra flags for every node (snapshot thresholds, log level, ...).
	Extra []string
}

// RedraftNode is one redraft server process.
type RedraftNode struct {
	ID       string
	RESPAddr string
	GRPCAddr string
	PeerAddr string
	// PprofAddr serves net/http/pprof when the cluster was started with Pprof.
	PprofAddr string
	Dir       string
	Args      []string
	Proc      *Proc
	bin       string
	logDir    string
}

// Redraft is a running cluster.
type Redraft struct {
	cfg   RedraftConfig
	Nodes []*RedraftNode
}

// LogStore returns where the first node keeps its raft logs, as its
// node.json records it: "wal" or "bolt" ("bolt" for a binary that predates
// the record; "" if node.json cannot be read).
func (r *Redraft) LogStore() string {
	b, err := os.ReadFile(filepath.Join(r.Nodes[0].Dir, "node.json"))
	if err != nil {
		return ""
	}
	var id struct {
		LogStore string `json:"log_store"`
	}
	if json.Unmarshal(b, &id) != nil {
		return ""
	}
	if id.LogStore == "" {
		return "bolt"
	}
	return id.LogStore
}

// SupportsFlag reports whether bin's server accepts --name.
func SupportsFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "server", "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+name+" ")
}

// StartRedraft starts every node and waits until every slot is served and
// a write through the cluster succeeds.
func StartRedraft(ctx context.Context, cfg RedraftConfig) (*Redraft, error) {
	if cfg.Nodes <= 0 {
		cfg.Nodes = 3
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := FreePorts(4 * cfg.Nodes)
	if err != nil {
		return nil, err
	}
	r := &Redraft{cfg: cfg}
	var initial []string
	for i := range cfg.Nodes {
		n := &RedraftNode{
			ID:       fmt.Sprintf("n%d", i+1),
			RESPAddr: fmt.Sprintf("127.0.0.1:%d", ports[4*i]),
			GRPCAddr: fmt.Sprintf("127.0.0.1:%d", ports[4*i+1]),
			PeerAddr: fmt.Sprintf("127.0.0.1:%d", ports[4*i+2]),
			bin:      cfg.Bin,
		}
		if cfg.Pprof {
			n.PprofAddr = fmt.Sprintf("127.0.0.1:%d", ports[4*i+3])
		}
		n.Dir = filepath.Join(cfg.Dir, n.ID)
		n.logDir = cfg.Dir
		initial = append(initial, n.ID+"="+n.PeerAddr)
		r.Nodes = append(r.Nodes, n)
	}
	for _, n := range r.Nodes {
		n.Args = []string{"server", "--id", n.ID, "--dir", n.Dir, "--resp-addr", n.RESPAddr,
			"--grpc-addr", n.GRPCAddr, "--peer-addr", n.PeerAddr, "--initial-cluster", strings.Join(initial, ",")}
		if cfg.Groups > 0 {
			n.Args = append(n.Args, "--groups", strconv.Itoa(cfg.Groups))
		}
		if n.PprofAddr != "" {
			n.Args = append(n.Args, "--pprof-addr", n.PprofAddr)
		}
		n.Args = append(n.Args, cfg.Extra...)
		if err := n.Start(); err != nil {
			r.Stop()
			return nil, err
		}
	}
	if err := r.WaitReady(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// Seeds lists the RESP addresses of every node.
func (r *Redraft) Seeds() []string {
	var out []string
	for _, n := range r.Nodes {
		out = append(out, n.RESPAddr)
	}
	return out
}

// WaitReady waits until every running node answers, every slot has a
// leader, and a write through a cluster router succeeds.
func (r *Redraft) WaitReady(ctx context.Context) error {
	for _, n := range r.Nodes {
		if n.Proc == nil || n.Proc.Exited() {
			continue
		}
		if err := WaitServing(ctx, n.RESPAddr); err != nil {
			return err
		}
	}
	err := WaitFor(ctx, "a write through the cluster", func() error {
		cl, err := loadgen.NewCluster(ctx, r.Seeds()...)
		if err != nil {
			return err
		}
		for _, g := range r.groupSlots(ctx) {
			key := fmt.Sprintf("bench:ready:{%s}", g)
			if _, err := Do(ctx, cl.Addr(loadgen.Slot([]byte(key))), "SET", key, "1"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The nodes move leaderships until each leads its share of the groups;
	// wait for that (a while at most), so runs do not race the moves.
	bctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_ = WaitFor(bctx, "balanced leaders", func() error { return r.balanced(ctx) })
	return nil
}

// balanced reports whether every running node leads at most its share of
// the data groups (the metadata group "meta" aside), or why not.
func (r *Redraft) balanced(ctx context.Context) error {
	counts := map[string]int{}
	groups := map[string]bool{}
	running := 0
	for _, n := range r.Nodes {
		if n.Proc == nil || n.Proc.Exited() {
			continue
		}
		running++
		gs, err := n.Groups(ctx)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.Group == "meta" {
				continue
			}
			groups[g.Group] = true
			if g.Role == "leader" {
				counts[n.ID]++
			}
		}
	}
	share := (len(groups) + running - 1) / max(running, 1)
	for id, c := range counts {
		if c > share {
			return fmt.Errorf("%s leads %d groups, more than %d", id, c, share)
		}
	}
	return nil
}

// groupSlots returns a hash tag that lands in each slot range CLUSTER SLOTS
// lists (one per group), so a probe can touch every group.
func (r *Redraft) groupSlots(ctx context.Context) []string {
	var tags []string
	for _, n := range r.Nodes {
		rep, err := Do(ctx, n.RESPAddr, "CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		for _, rng := range rep.Array {
			if len(rng.Array) < 2 {
				continue
			}
			lo, hi := int(rng.Array[0].Int), int(rng.Array[1].Int)
			for i := 0; i < 100000; i++ {
				t := strconv.Itoa(i)
				if s := loadgen.Slot([]byte(t)); s >= lo && s <= hi {
					tags = append(tags, t)
					break
				}
			}
		}
		break
	}
	if len(tags) == 0 {
		tags = []string{"0"}
	}
	return tags
}

// Stop stops every node.
func (r *Redraft) Stop() {
	for _, n := range r.Nodes {
		n.Stop()
	}
}

// Start starts (or restarts) the node with its arguments.
func (n *RedraftNode) Start() error {
	p, err := Start("redraft-"+n.ID, n.bin, n.Args, filepath.Join(n.logDir, n.ID+".log"))
	if err != nil {
		return err
	}
	n.Proc = p
	return nil
}

// Stop ends the node (SIGTERM, then SIGKILL).
func (n *RedraftNode) Stop() {
	if n.Proc != nil {
		n.Proc.Stop(10 * time.Second)
	}
}

// Kill ends the node with SIGKILL.
func (n *RedraftNode) Kill() {
	if n.Proc != nil {
		n.Proc.Kill()
	}
}

// Wipe removes the node's data directory (the node must be stopped).
func (n *RedraftNode) Wipe() error { return os.RemoveAll(n.Dir) }

// GroupState is one group as a node's INFO replication describes it.
type GroupState struct {
	Group   string
	Role    string // leader, follower, candidate
	Leader  string
	Applied int64
	Commit  int64
	Term    int64
}

// Groups returns the groups the node hosts, from INFO replication
// (lines "group_<id>:role=...,leader=...,applied_index=...").
func (n *RedraftNode) Groups(ctx context.Context) ([]GroupState, error) {
	m, err := Info(ctx, n.RESPAddr, "replication")
	if err != nil {
		return nil, err
	}
	var out []GroupState
	for k, v := range m {
		id, ok := strings.CutPrefix(k, "group_")
		if !ok {
			continue
		}
		g := GroupState{Group: id}
		for _, kv := range strings.Split(v, ",") {
			key, val, _ := strings.Cut(kv, "=")
			switch key {
			case "role":
				g.Role = val
			case "leader":
				g.Leader = val
			case "applied_index":
				g.Applied, _ = strconv.ParseInt(val, 10, 64)
			case "commit_index":
				g.Commit, _ = strconv.ParseInt(val, 10, 64)
			case "term":
				g.Term, _ = strconv.ParseInt(val, 10, 64)
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// LeaderNode returns the running node that leads the most groups, and how
// many it leads.
func (r *Redraft) LeaderNode(ctx context.Context) (*RedraftNode, int, error) {
	var best *RedraftNode
	most := 0
	for _, n := range r.Nodes {
		if n.Proc == nil || n.Proc.Exited() {
			continue
		}
		gs, err := n.Groups(ctx)
		if err != nil {
			continue
		}
		c := 0
		for _, g := range gs {
			if g.Role == "leader" {
				c++
			}
		}
		if c > most {
			best, most = n, c
		}
	}
	if best == nil {
		return nil, 0, fmt.Errorf("systems: no node leads a group")
	}
	return best, most, nil
}

// Follower returns a running node that leads no group, if any.
func (r *Redraft) Follower(ctx context.Context) (*RedraftNode, error) {
	for _, n := range r.Nodes {
		if n.Proc == nil || n.Proc.Exited() {
			continue
		}
		gs, err := n.Groups(ctx)
		if err != nil {
			continue
		}
		leads := false
		for _, g := range gs {
			leads = leads || g.Role == "leader"
		}
		if !leads {
			return n, nil
		}
	}
	return nil, fmt.Errorf("systems: every running node leads a group")
}
