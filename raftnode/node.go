package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/redraft/redraft/fsm"
)

const (
	// enqueueTimeout bounds handing an entry or a request to raft's main
	// loop; past it nothing was submitted (ErrNotReady).
	enqueueTimeout = 2 * time.Second
	// transportTimeout is the I/O deadline of one raft RPC (scaled up for
	// snapshot installs by the transport).
	transportTimeout = 10 * time.Second
	// logCacheSize is how many recent entries are served from memory to
	// replication instead of from raft.db.
	logCacheSize = 512
)

// State is a replica's raft role.
type State uint8

const (
	Follower State = iota
	Candidate
	Leader
	Shutdown
)

func (s State) String() string {
	switch s {
	case Follower:
		return "follower"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	case Shutdown:
		return "shutdown"
	}
	return "unknown"
}

func stateOf(s raft.RaftState) State {
	switch s {
	case raft.Follower:
		return Follower
	case raft.Candidate:
		return Candidate
	case raft.Leader:
		return Leader
	}
	return Shutdown
}

// Member is one server of the group's latest configuration.
type Member struct {
	ID    string
	Addr  string
	Voter bool
}

// Status is a snapshot of a replica's raft state, for admin and tests.
type Status struct {
	NodeID, GroupID      string
	State                State
	Term                 uint64
	LeaderID, LeaderAddr string
	CommitIndex          uint64 // highest index known committed
	AppliedIndex         uint64 // highest index applied to the machine here
	LastLogIndex         uint64 // highest index in the log (or last snapshot)
	Members              []Member
}

// Node is one replica of one group on this node.
//
// Threading: every method is safe for concurrent use. Ownership: the Node
// owns its Dir, its stream layer on the Mux and the raft instance; the
// fsm.Machine is shared with the caller, which may Read it at any time but
// must change it only through Propose.
type Node struct {
	cfg    Config
	logger *slog.Logger
	mux    *Mux
	layer  *streamLayer
	trans  *raft.NetworkTransport
	store  groupStore // raft.db, or the group's part of the node's WAL
	raft   *raft.Raft
	sm     *stateMachine

	// Proposals (propose.go).
	qmu     sync.Mutex
	queue   []*proposal
	qclosed bool
	wake    chan struct{} // a proposal was queued
	slots   chan struct{} // one token per entry in flight
	batches chan *batch   // submitted entries, in log order, to the waiter

	verify verifier // coalesced VerifyLeader rounds (read.go)

	changes atomic.Int64 // membership changes submitted and not yet done (members.go)

	leaderCh chan bool // latest leadership change, for the owner
	obsCh    chan raft.Observation
	observer *raft.Observer

	stop      chan struct{} // closed at the start of Close
	raftDone  chan struct{} // closed once raft has shut down
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	loops     sync.WaitGroup // proposer loop, waiter, watchers
}

// Open opens (or creates) the replica described by cfg, with m as its state
// machine, registering the group on mux. A Dir without raft state is
// bootstrapped with cfg.Peers; a Dir with state resumes from it. The caller
// must Close the Node.
func Open(cfg Config, mux *Mux, m *fsm.Machine) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if mux == nil || m == nil {
		return nil, errors.New("raftnode: Open needs a Mux and a Machine")
	}
	logger := cfg.Logger.With("group", cfg.GroupID, "node", cfg.NodeID)
	if err := checkPlanted(logger); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftnode: group %s: %w", cfg.GroupID, err)
	}
	n := &Node{
		cfg:      cfg,
		logger:   logger,
		mux:      mux,
		sm:       &stateMachine{m: m, logger: logger},
		wake:     make(chan struct{}, 1),
		slots:    make(chan struct{}, cfg.MaxInflight),
		batches:  make(chan *batch, cfg.MaxInflight),
		leaderCh: make(chan bool, 1),
		stop:     make(chan struct{}),
		raftDone: make(chan struct{}),
	}
	n.verify.n = n
	if err := n.open(); err != nil {
		n.release()
		return nil, err
	}
	n.loops.Add(4)
	go n.proposeLoop()
	go n.waitLoop()
	go n.watchLeadership()
	go n.watchObservations()
	return n, nil
}

// open sets up the stores, the transport and raft.
func (n *Node) open() error {
	cfg := n.cfg
	hcl := newHCLogger(n.logger)

	if err := verifyGroupFiles(cfg.Dir); err != nil {
		return err
	}
	gs, logs, err := openLogStore(cfg, n.logger)
	if err != nil {
		return err
	}
	store := &closingStore{groupStore: gs}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hcl.Named("snapshots"))
	if err != nil {
		return fmt.Errorf("raftnode: snapshot store in %s: %w", cfg.Dir, err)
	}
	hasState, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("raftnode: read the raft state of group %s: %w", cfg.GroupID, err)
	}

	layer, err := n.mux.register(cfg.GroupID)
	if err != nil {
		return err
	}
	n.layer = layer
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: transportTimeout,
		Logger:  hcl.Named("net"),
		// One AppendEntries in flight per follower: no pipelining. With
		// pipelining (the default, 2 in flight) hashicorp/raft v1.8.0 can
		// wedge a follower's replication for good: when the follower
		// answers Success=false (a restarted follower's log mismatch, an
		// error), the decoder goroutine quits while the sender may already
		// be committed to one more send, which then blocks forever on an
		// unbuffered channel; heartbeats go on, so no election repairs it.
		// Group commit keeps entries large, so one in flight costs little.
		MaxRPCsInFlight: 1,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.BatchApplyCh = true
	rc.NoLegacyTelemetry = true
	rc.Logger = hcl
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("raftnode: group %s: %w", cfg.GroupID, err)
	}

	// Bootstrap writes the initial configuration straight into the stores,
	// before raft runs: once it runs, a peer's vote request could give it a
	// term and make a bootstrap through the running instance fail.
	bootstrapped := false
	if !hasState && len(cfg.Peers) > 0 {
		var c raft.Configuration
		for _, p := range cfg.Peers {
			c.Servers = append(c.Servers, raft.Server{
				Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr),
			})
		}
		if err := raft.BootstrapCluster(rc, logs, store, snaps, n.trans, c); err != nil {
			return fmt.Errorf("raftnode: bootstrap group %s: %w", cfg.GroupID, err)
		}
		bootstrapped = true
	}

	r, err := raft.NewRaft(rc, n.sm, logs, store, snaps, n.trans)
	if err != nil {
		return fmt.Errorf("raftnode: start group %s: %w", cfg.GroupID, err)
	}
	n.raft = r
	switch {
	case hasState:
		idx, _ := n.sm.appliedIndex()
		n.logger.Info("raftnode: group resumed", "dir", cfg.Dir, "last_index", r.LastIndex(), "snapshot_index", idx)
	case bootstrapped:
		n.logger.Info("raftnode: group bootstrapped", "dir", cfg.Dir, "peers", len(cfg.Peers))
	default:
		n.logger.Info("raftnode: group opened empty, waiting to be added", "dir", cfg.Dir)
	}
	n.obsCh = make(chan raft.Observation, 16)
	n.observer = raft.NewObserver(n.obsCh, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(n.observer)
	return nil
}

// release frees what open acquired, for a failed Open and for Close.
func (n *Node) release() error {
	var errs []error
	if n.layer != nil {
		n.layer.stopDialing()
	}
	if n.raft != nil {
		if n.observer != nil {
			n.raft.DeregisterObserver(n.observer)
		}
		f := n.raft.Shutdown()
		// Shutdown waits for raft's replication goroutines, and one may be
		// blocked on a pipeline to a peer that will never answer: a peer
		// whose own raft has stopped while its transport is still open
		// (it is in this same wait, on us). Cutting the group's
		// connections makes such calls fail, on both sides.
		if n.layer != nil {
			n.layer.closeConns()
		}
		if err := f.Error(); err != nil {
			errs = append(errs, err)
		}
	}
	select {
	case <-n.raftDone:
	default:
		close(n.raftDone)
	}
	if n.trans != nil {
		n.trans.CloseStreams()
		_ = n.trans.Close()
	}
	if n.layer != nil {
		_ = n.layer.Close()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raftnode: close the log store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close shuts the replica down: queued proposals fail with ErrShutdown,
// submitted ones with ErrUnknownOutcome (joined with ErrShutdown), raft
// stops, its connections and its log store (raft.db, or its part of the
// WAL, which stays open) are closed. The Machine is left as it
// is. Close is idempotent; every other method fails with ErrShutdown after it.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		close(n.stop)
		n.verify.shutdown()
		n.failQueued()
		n.closeErr = n.release() // shuts raft down, then closes raftDone
		n.loops.Wait()
		n.logger.Info("raftnode: group closed")
	})
	return n.closeErr
}

// Machine returns the replica's state machine. Read it freely; after
// ReadIndex returned nil it reflects every write acknowledged before
// ReadIndex was called.
func (n *Node) Machine() *fsm.Machine { return n.sm.m }

// IsLeader reports whether this replica is its group's leader now.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the id and peer address of the leader this replica knows
// of, or "" for both when none is known.
func (n *Node) Leader() (id, peerAddr string) {
	addr, sid := n.raft.LeaderWithID()
	return string(sid), string(addr)
}

// LeaderCh delivers leadership changes of this replica: true when it became
// leader, false when it stopped being leader. Only the latest value is
// kept, so a slow reader sees the current state, not every transition; a
// reader should check IsLeader after waking up. The owner runs
// leader-only work (active expiry) from it.
func (n *Node) LeaderCh() <-chan bool { return n.leaderCh }

// Applied returns the index of the last entry applied to the machine here
// and a channel that is closed when a later entry (or a snapshot) has been
// applied. Take the channel before looking at the machine, then wait on
// it: no change can slip in between. Blocked clients (BLPOP) wait on it.
func (n *Node) Applied() (index uint64, next <-chan struct{}) { return n.sm.appliedCh() }

// Status returns the replica's raft state. It asks raft's main loop for the
// membership, so it may wait for a moment while raft is busy.
func (n *Node) Status() Status {
	st := Status{
		NodeID:       n.cfg.NodeID,
		GroupID:      n.cfg.GroupID,
		State:        stateOf(n.raft.State()),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		LastLogIndex: n.raft.LastIndex(),
	}
	st.LeaderID, st.LeaderAddr = n.Leader()
	st.AppliedIndex, _ = n.sm.appliedIndex()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, Member{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter})
		}
	}
	return st
}

// Progress is Status without the membership: it reads only local atomics,
// so it never waits for raft's main loop and is cheap enough to call for
// every group on every request for the node's state.
func (n *Node) Progress() Status {
	st := Status{
		NodeID:       n.cfg.NodeID,
		GroupID:      n.cfg.GroupID,
		State:        stateOf(n.raft.State()),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		LastLogIndex: n.raft.LastIndex(),
	}
	st.LeaderID, st.LeaderAddr = n.Leader()
	st.AppliedIndex, _ = n.sm.appliedIndex()
	return st
}

// TransferLeadership asks this replica, the leader, to hand leadership to
// the member toID ("" = the most up-to-date follower) and waits until the
// transfer is done or failed. On a follower it fails with *NotLeaderError.
func (n *Node) TransferLeadership(ctx context.Context, toID string) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	var f raft.Future
	if toID == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		if toID == n.cfg.NodeID && n.IsLeader() {
			return nil
		}
		addr, err := n.memberAddr(toID)
		if err != nil {
			return err
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(toID), raft.ServerAddress(addr))
	}
	if err := n.waitFuture(ctx, f); err != nil {
		return n.controlErr("transfer leadership", err)
	}
	n.logger.Info("raftnode: leadership transferred", "to", toID)
	return nil
}

// AddVoter adds p as a voting member (or updates its address) and waits
// until the configuration change is committed. Only the leader can.
func (n *Node) AddVoter(ctx context.Context, p Peer) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	if p.ID == "" || p.Addr == "" {
		return errors.New("raftnode: AddVoter needs an id and an address")
	}
	n.changes.Add(1)
	f := n.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.Addr), 0, enqueueTimeout)
	if err := n.waitChange(ctx, f); err != nil {
		return n.controlErr("add voter "+p.ID, err)
	}
	n.logger.Info("raftnode: member added", "member", p.ID, "addr", p.Addr)
	return nil
}

// RemoveMember removes the member id from the group and waits until the
// change is committed. Only the leader can.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	n.changes.Add(1)
	f := n.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout)
	if err := n.waitChange(ctx, f); err != nil {
		return n.controlErr("remove member "+id, err)
	}
	n.logger.Info("raftnode: member removed", "member", id)
	return nil
}

// Snapshot takes a snapshot of the group's state now and waits until it is
// written, so that a restart restores that state at once, without waiting
// for a leader to tell it which of its log entries are committed. It is for
// small groups whose state must be readable right after a restart (the
// metadata group); nothing new to snapshot is not an error.
func (n *Node) Snapshot(ctx context.Context) error {
	if n.closed.Load() {
		return ErrShutdown
	}
	err := n.waitFuture(ctx, n.raft.Snapshot())
	switch {
	case err == nil, errors.Is(err, raft.ErrNothingNewToSnapshot):
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	}
	return fmt.Errorf("raftnode: snapshot of group %s: %w", n.cfg.GroupID, err)
}

func (n *Node) memberAddr(id string) (string, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", n.controlErr("read configuration", err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			return string(s.Address), nil
		}
	}
	return "", fmt.Errorf("raftnode: %q is not a member of group %s", id, n.cfg.GroupID)
}

// notLeader is the *NotLeaderError for the leader this replica knows of.
func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == n.cfg.NodeID { // stepping down: raft has not cleared it yet
		id, addr = "", ""
	}
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
}

// controlErr maps a raft error of a request that changes nothing on
// failure (transfer, membership, verify) to this package's errors.
func (n *Node) controlErr(what string, err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost):
		return n.notLeader()
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %s: %v", ErrNotReady, what, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("raftnode: %s: %w", what, err)
	}
	return fmt.Errorf("raftnode: %s: %w", what, err)
}

// waitFuture waits for f, for ctx, or for raft to have shut down. Raft
// leaves some futures unanswered when it shuts down (entries still in its
// apply queue), so waiting on f alone could block forever; the helper
// goroutine then stays parked, which only happens at Close.
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	return n.waitFutureThen(ctx, f, nil)
}

// waitFutureThen is waitFuture that also runs done, if not nil, when f is
// done, even after the caller stopped waiting. (A raft future may be
// waited on by one goroutine only.)
func (n *Node) waitFutureThen(ctx context.Context, f raft.Future, done func()) error {
	ch := make(chan error, 1)
	go func() {
		err := f.Error()
		if done != nil {
			done()
		}
		ch <- err
	}()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.raftDone:
		select {
		case err := <-ch:
			return err
		default:
			return raft.ErrRaftShutdown
		}
	}
}

// watchLeadership turns raft's leadership signal into the owner's LeaderCh,
// logs it, and on becoming leader proposes the term's no-op entry: once the
// state machine has applied an entry of the current term, every entry
// committed in earlier terms is applied too, and ReadIndex may serve.
func (n *Node) watchLeadership() {
	defer n.loops.Done()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-n.raft.LeaderCh():
			term := n.raft.CurrentTerm()
			if leader {
				n.logger.Info("raftnode: became leader", "term", term)
			} else {
				n.logger.Info("raftnode: lost leadership", "term", term)
			}
			notifyLatest(n.leaderCh, leader)
			if leader {
				n.proposeNoop(term)
			}
		}
	}
}

// proposeNoop commits an entry with no commands, which the machine applies
// as nothing. It retries while this replica still leads in term and no
// entry of the term is applied: without one, ReadIndex stays ErrNotReady.
func (n *Node) proposeNoop(term uint64) {
	wait := 20 * time.Millisecond
	for {
		err := n.waitFuture(context.Background(), n.raft.Apply(nil, enqueueTimeout))
		if err == nil || n.closed.Load() {
			return
		}
		if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
			return // a later leadership, if any, proposes its own
		}
		if _, t := n.sm.appliedIndex(); t == term {
			return // another entry of the term made it
		}
		n.logger.Warn("raftnode: no-op entry of the new term failed, retrying", "term", term, "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.stop:
			t.Stop()
			return
		}
		wait = min(2*wait, time.Second)
	}
}

// watchObservations logs leader changes seen by this replica (followers'
// view; the leader logs its own in watchLeadership).
func (n *Node) watchObservations() {
	defer n.loops.Done()
	last := ""
	for {
		select {
		case <-n.stop:
			return
		case o := <-n.obsCh:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok {
				continue
			}
			id := string(lo.LeaderID)
			if id != "" && id != last && id != n.cfg.NodeID {
				n.logger.Info("raftnode: following leader", "leader", id, "addr", string(lo.LeaderAddr))
			}
			if id != "" {
				last = id
			}
		}
	}
}

// notifyLatest puts v in ch (capacity 1), replacing an unread value.
func notifyLatest(ch chan bool, v bool) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Dial opens a raft connection for the layer's group to the Mux at address.
func (l *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.dialRaft(string(address), timeout)
}

var _ raft.StreamLayer = (*streamLayer)(nil)
