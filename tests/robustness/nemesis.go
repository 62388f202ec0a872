package robustness

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Fault kinds the nemesis injects.
const (
	faultKill      = "kill"           // SIGKILL a node (often a leader), restart it later
	faultPause     = "pause"          // SIGSTOP a group's leader, SIGCONT later
	faultPartition = "partition"      // split the nodes into a majority and a minority
	faultIsolate   = "isolate-leader" // cut one group's leader off from every other node
	faultBridge    = "bridge"         // two sides that see one bridge node but not each other
	faultTransfer  = "transfer"       // move leaderships around (gRPC TransferLeader)
	faultLoseData  = "lose-unsynced"  // restart a node from a copy of its data taken while it ran
	faultCrashAll  = "crash-all"      // SIGKILL every node at once, restart them all
)

// allFaults are every kind, in a fixed order (the seed picks among them).
var allFaults = []string{faultKill, faultPause, faultPartition, faultIsolate, faultBridge, faultTransfer, faultLoseData, faultCrashAll}

// defaultFaults is the nemesis's bag when not chosen by flag: every kind,
// and a paused leader twice, since a stopped leader that resumes is the
// fault that puts a deposed leader's reads at risk.
var defaultFaults = append(append([]string(nil), allFaults...), faultPause)

// partitionFaults need a network that can cut links.
var partitionFaults = []string{faultPartition, faultIsolate, faultBridge}

// NemesisConfig paces the faults.
type NemesisConfig struct {
	Kinds []string
	// Each fault lasts a random time in [HoldMin, HoldMax], followed by a
	// quiet time in [QuietMin, QuietMax] once the cluster is healthy again.
	HoldMin, HoldMax   time.Duration
	QuietMin, QuietMax time.Duration
	// Recover bounds how long the cluster may take to become healthy again
	// after a fault is healed; longer is a failure.
	Recover time.Duration
	// EveryKind makes a run go on past its duration until it has injected
	// every kind of Kinds at least once.
	EveryKind bool
}

// Nemesis injects one fault at a time, chosen by its random source, heals
// it and waits for the cluster to recover. The sequence of fault kinds,
// durations and target choices is fixed by the seed; which node is leader
// when a target is chosen depends on the run.
type Nemesis struct {
	c       *Cluster
	cfg     NemesisConfig
	rng     *rand.Rand
	hist    *History
	scratch string // directory for data copies
	logf    func(string, ...any)

	mu     sync.Mutex
	events []FaultEvent
}

func newNemesis(c *Cluster, cfg NemesisConfig, seed uint64, hist *History, scratch string, logf func(string, ...any)) *Nemesis {
	return &Nemesis{c: c, cfg: cfg, rng: rand.New(rand.NewPCG(seed, 0x6e656d65736973)), hist: hist, scratch: scratch, logf: logf}
}

// Events returns the faults injected so far.
func (n *Nemesis) Events() []FaultEvent {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]FaultEvent(nil), n.events...)
}

// Counts returns how many faults of each kind were injected.
func (n *Nemesis) Counts() map[string]int {
	out := map[string]int{}
	for _, e := range n.Events() {
		out[e.Kind]++
	}
	return out
}

func (n *Nemesis) dur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)))
}

// Run injects faults for d, and with cfg.EveryKind past d until every
// kind has been injected once; ctx bounds it all (a fault in force when
// ctx ends is healed at once). An error means the cluster did not recover
// from a fault within cfg.Recover, or a fault could not be injected or
// healed.
func (n *Nemesis) Run(ctx context.Context, d time.Duration) error {
	until := time.Now().Add(d)
	// Let the clients warm up on a healthy cluster first.
	if !sleepCtx(ctx, n.dur(n.cfg.QuietMin, n.cfg.QuietMax)) {
		return nil
	}
	seen := map[string]bool{}
	missing := func() bool {
		if !n.cfg.EveryKind {
			return false
		}
		for _, k := range n.cfg.Kinds {
			if !seen[k] {
				return true
			}
		}
		return false
	}
	var bag []string
	for ctx.Err() == nil && (time.Now().Before(until) || missing()) {
		// Kinds are drawn without replacement from a shuffled bag that is
		// refilled when empty, so a run long enough for len(Kinds) faults
		// injects every kind.
		if len(bag) == 0 {
			bag = append(bag, n.cfg.Kinds...)
			n.rng.Shuffle(len(bag), func(a, b int) { bag[a], bag[b] = bag[b], bag[a] })
		}
		kind := bag[0]
		bag = bag[1:]
		seen[kind] = true
		hold := n.dur(n.cfg.HoldMin, n.cfg.HoldMax)
		quiet := n.dur(n.cfg.QuietMin, n.cfg.QuietMax)
		ev := FaultEvent{Kind: kind, Start: n.hist.Now()}
		detail, err := n.inject(ctx, kind, hold)
		ev.End, ev.Detail = n.hist.Now(), detail
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.mu.Unlock()
		n.logf("nemesis: %s", ev)
		if err != nil {
			return fmt.Errorf("nemesis %s (%s): %w", kind, detail, err)
		}
		// Recovery is measured on a fresh context: the run may be ending,
		// but the cluster must come back all the same.
		if err := n.c.WaitHealthy(context.Background(), n.cfg.Recover); err != nil {
			return fmt.Errorf("cluster did not recover within %v after %s (%s): %w", n.cfg.Recover, kind, detail, err)
		}
		sleepCtx(ctx, quiet)
	}
	return nil
}

// HealAll undoes every fault that may be in force.
func (n *Nemesis) HealAll(ctx context.Context) error {
	var errs []error
	if err := n.c.net.Cut(nil); err != nil {
		errs = append(errs, err)
	}
	for i, nd := range n.c.nodes {
		if nd.Running() && !nd.Up() {
			if err := n.c.Resume(i); err != nil {
				errs = append(errs, err)
			}
		}
		if !nd.Running() {
			if err := n.c.Restart(ctx, i); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// leaderOfRandomGroup picks a group (a data group, or the metadata group
// too when withMeta) and returns its leader's index and the group id, or
// -1.
func (n *Nemesis) leaderOfRandomGroup(withMeta bool) (int, string) {
	v := n.c.View()
	var groups []string
	for _, g := range v.Groups() {
		if withMeta || g != "meta" {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return -1, ""
	}
	g := groups[n.rng.IntN(len(groups))]
	return v.Leader(g), g
}

// target picks a node: with probability pLeader the leader of a random
// group (data groups only unless withMeta), else a random node.
func (n *Nemesis) target(pLeader float64, withMeta bool) (int, string) {
	coin := n.rng.Float64()
	pick := n.rng.IntN(n.c.N())
	if coin < pLeader {
		if l, g := n.leaderOfRandomGroup(withMeta); l >= 0 {
			return l, "leader of " + g
		}
	}
	return pick, "random"
}

func (n *Nemesis) id(i int) string { return n.c.nodes[i].ID }

func (n *Nemesis) ids(is []int) string {
	s := make([]string, len(is))
	for k, i := range is {
		s[k] = n.id(i)
	}
	return strings.Join(s, ",")
}

// inject applies one fault, holds it for hold, and heals it.
func (n *Nemesis) inject(ctx context.Context, kind string, hold time.Duration) (string, error) {
	switch kind {
	case faultKill:
		i, why := n.target(0.7, true)
		if err := n.c.Kill(i); err != nil {
			return n.id(i), err
		}
		sleepCtx(ctx, hold)
		return fmt.Sprintf("%s (%s) down %v", n.id(i), why, hold.Round(time.Millisecond)), n.c.Restart(context.Background(), i)

	case faultPause:
		i, why := n.target(0.9, false)
		if err := n.c.Pause(i); err != nil {
			return n.id(i), err
		}
		sleepCtx(ctx, hold)
		return fmt.Sprintf("%s (%s) stopped %v", n.id(i), why, hold.Round(time.Millisecond)), n.c.Resume(i)

	case faultPartition:
		perm := n.rng.Perm(n.c.N())
		k := 1 + n.rng.IntN((n.c.N()-1)/2) // minority size
		minority, majority := perm[:k], perm[k:]
		slices.Sort(minority)
		slices.Sort(majority)
		detail := fmt.Sprintf("{%s} | {%s} for %v", n.ids(minority), n.ids(majority), hold.Round(time.Millisecond))
		return detail, n.cutFor(ctx, hold, crossPairs(minority, majority))

	case faultIsolate:
		i, why := n.target(1, false)
		var others []int
		for j := range n.c.N() {
			if j != i {
				others = append(others, j)
			}
		}
		detail := fmt.Sprintf("%s (%s) alone for %v", n.id(i), why, hold.Round(time.Millisecond))
		return detail, n.cutFor(ctx, hold, crossPairs([]int{i}, others))

	case faultBridge:
		perm := n.rng.Perm(n.c.N())
		bridge := perm[0]
		rest := perm[1:]
		a, b := rest[:len(rest)/2], rest[len(rest)/2:]
		detail := fmt.Sprintf("{%s} - %s - {%s} for %v", n.ids(a), n.id(bridge), n.ids(b), hold.Round(time.Millisecond))
		return detail, n.cutFor(ctx, hold, crossPairs(a, b))

	case faultTransfer:
		var done []string
		deadline := time.Now().Add(hold)
		for len(done) == 0 || time.Now().Before(deadline) {
			l, g := n.leaderOfRandomGroup(true)
			if l < 0 {
				break
			}
			to := ""
			if k := n.rng.IntN(2 * (n.c.N() - 1)); k < n.c.N()-1 {
				// Half the time a chosen member (never the leader itself,
				// which may not be a member: then the transfer fails and
				// says so in the fault's detail).
				to = n.id((l + 1 + k) % n.c.N())
			}
			err := transferLeader(ctx, n.c.nodes[l].GRPCAddr, g, to)
			res := g + ":" + n.id(l) + "->" + to
			if to == "" {
				res += "any"
			}
			if err != nil {
				res += "(" + shortErr(err) + ")"
			}
			done = append(done, res)
			if !sleepCtx(ctx, n.dur(100*time.Millisecond, 600*time.Millisecond)) {
				break
			}
		}
		return strings.Join(done, " "), nil

	case faultLoseData:
		return n.loseUnsynced(ctx, hold)

	case faultCrashAll:
		for i := range n.c.N() {
			if err := n.c.Kill(i); err != nil {
				return "all", err
			}
		}
		sleepCtx(ctx, hold/2)
		var errs []error
		for i := range n.c.N() {
			errs = append(errs, n.c.Restart(context.Background(), i))
		}
		return fmt.Sprintf("all nodes down %v", (hold / 2).Round(time.Millisecond)), errors.Join(errs...)
	}
	return "", fmt.Errorf("unknown fault kind %q", kind)
}

// cutFor cuts the given links for hold, then heals them.
func (n *Nemesis) cutFor(ctx context.Context, hold time.Duration, pairs [][2]int) error {
	if err := n.c.net.Cut(pairs); err != nil {
		return err
	}
	sleepCtx(ctx, hold)
	return n.c.net.Cut(nil)
}

// loseUnsynced restarts a node from an image of its data directory taken
// up to 1.5 s earlier while it ran, so the node forgets what it wrote
// since: its log's tail, its term and its vote.
//
// The image must be one a crash can leave, or the node would rightly
// refuse to start on it: a file-by-file copy of a running process can
// pair a bolt meta page with pages of a later transaction (a "log that
// jumps" from one index to a much later one) or catch a WAL segment in
// mid-write. So the image is taken with the process stopped (SIGSTOP):
// it is then the page cache as the process left it, what a crash at that
// instant leaves when every issued write reaches the disk.
//
// Forgetting writes that were synced (the node acknowledged appends and
// granted votes after the image) is beyond raft's fault model: raft
// counts on them being durable. With one such node at a time and the
// group's leader alive, the leader re-sends what the node lost (and
// pre-vote keeps the node's stale term from disturbing it). But if the
// node led a group when it dies, the election that follows can make a
// lagging follower leader with the amnesiac node's vote and lose entries
// that the old leader committed with a copy the amnesiac node has just
// forgotten: a lost write the fault, not redraft, causes. So before the
// node is killed it hands over every leadership it holds; if it cannot
// within a few seconds, the rollback is skipped (the node is killed and
// restarted on its own data, and the fault's detail says so).
func (n *Nemesis) loseUnsynced(ctx context.Context, hold time.Duration) (string, error) {
	i, why := n.target(0.3, true)
	id := n.id(i)
	copyDir := filepath.Join(n.scratch, fmt.Sprintf("%s-copy-%d", id, n.hist.Now()))
	if err := n.c.Pause(i); err != nil {
		return id, err
	}
	err := n.c.CopyData(i, copyDir)
	if rerr := n.c.Resume(i); err == nil {
		err = rerr
	}
	if err != nil {
		return id, fmt.Errorf("copy data: %w", err)
	}
	run := min(hold, 1500*time.Millisecond)
	sleepCtx(ctx, run)
	shed, shedErr := n.shedLeadership(ctx, i, 10*time.Second)
	if err := n.c.Kill(i); err != nil {
		return id, err
	}
	detail := fmt.Sprintf("%s (%s) rolled back by %v", id, why, run.Round(time.Millisecond))
	if shed != "" {
		detail += "; handed over " + shed
	}
	if shedErr != nil {
		os.RemoveAll(copyDir)
		detail = fmt.Sprintf("%s (%s) killed, rollback skipped: %v", id, why, shedErr)
		return detail, n.c.Restart(context.Background(), i)
	}
	if err := n.c.ReplaceData(i, copyDir); err != nil {
		return id, err
	}
	return detail, n.c.Restart(context.Background(), i)
}

// shedLeadership transfers away every leadership node i holds and waits
// until it leads no group (as every up node sees it), for at most
// timeout. It returns the groups it handed over.
func (n *Nemesis) shedLeadership(ctx context.Context, i int, timeout time.Duration) (string, error) {
	var moved []string
	err := poll(ctx, timeout, 100*time.Millisecond, func() error {
		v := n.c.View()
		var led []string
		for _, g := range v.Groups() {
			if v.Leader(g) == i {
				led = append(led, g)
			}
		}
		if len(led) == 0 && v.ByNode[i] != nil {
			return nil
		}
		for _, g := range led {
			if err := transferLeader(ctx, n.c.nodes[i].GRPCAddr, g, ""); err == nil && !slices.Contains(moved, g) {
				moved = append(moved, g)
			}
		}
		return fmt.Errorf("%s still leads %v", n.id(i), led)
	})
	return strings.Join(moved, ","), err
}

func crossPairs(a, b []int) [][2]int {
	var out [][2]int
	for _, i := range a {
		for _, j := range b {
			out = append(out, [2]int{i, j})
		}
	}
	return out
}

func transferLeader(ctx context.Context, grpcAddr, group, to string) error {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = pb.NewClusterClient(conn).TransferLeader(ctx, &pb.TransferLeaderRequest{Group: group, To: to})
	return err
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
