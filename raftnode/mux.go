package raftnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The mux wire protocol. A dialled connection starts with a header:
//
//	magic "RDMX" | version (1 byte) | kind (1 byte)
//	| len(from) (1 byte) | from | len(group) (1 byte) | group
//
// from is the dialler's advertised peer address ("" for FetchInfo), group
// the raft group (empty for an info request). The acceptor answers with one
// status byte. For kindRaft and statusOK the connection then carries that
// group's raft transport traffic; for kindInfo and statusOK a 4-byte
// big-endian length and the node info follow, and the connection is closed.
const (
	muxMagic   = "RDMX"
	muxVersion = 1

	kindRaft = 1
	kindInfo = 2

	statusOK           = 0
	statusUnknownGroup = 1
	statusRefused      = 2

	maxInfoLen = 1 << 20
)

// headerTimeout bounds reading a connection's header and writing the
// status; a variable so tests can shorten it.
var headerTimeout = 5 * time.Second

// Mux is the node's one peer listener, shared by the raft transports of
// every group on the node and by info requests.
//
// Threading: all methods are safe for concurrent use. Ownership: the Mux
// owns the listener given to NewMux and closes it in Close. Failure: a
// connection with a bad or slow header is closed; one for a group not open
// here is answered "unknown group" and closed, logged once per group at debug.
type Mux struct {
	ln     net.Listener
	logger *slog.Logger
	done   chan struct{}
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	advertise string
	info      []byte
	infoFunc  func() []byte // when set, called for every info request instead of info
	groups    map[string]*streamLayer
	conns     map[*muxConn]struct{} // established raft connections, both directions
	pending   map[net.Conn]struct{} // accepted, header not handled yet
	blocked   map[string]bool       // fault injection: peer addresses cut off
	unknown   map[string]bool       // unknown groups already logged
}

// muxConn is an established raft connection, tracked so that closing a
// group, closing the Mux or cutting a peer off closes it.
type muxConn struct {
	net.Conn
	m      *Mux
	peer   string // the other side's advertised peer address
	group  string
	once   sync.Once
	closed atomic.Bool
}

// Read reports a connection closed on this side as io.EOF, the way the
// raft transport expects a finished stream, instead of as an error.
func (c *muxConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.closed.Load() {
		err = io.EOF
	}
	return n, err
}

func (c *muxConn) Close() error {
	c.closed.Store(true)
	c.once.Do(func() { c.m.untrack(c) })
	return c.Conn.Close()
}

// NewMux starts accepting peer connections on ln and returns the Mux.
// logger may be nil (slog.Default()).
func NewMux(ln net.Listener, logger *slog.Logger) *Mux {
	if logger == nil {
		logger = slog.Default()
	}
	m := &Mux{
		ln:      ln,
		logger:  logger,
		done:    make(chan struct{}),
		groups:  map[string]*streamLayer{},
		conns:   map[*muxConn]struct{}{},
		pending: map[net.Conn]struct{}{},
		blocked: map[string]bool{},
		unknown: map[string]bool{},
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Addr returns the peer address of this node: the one set by
// SetAdvertiseAddr, else the listener's address.
func (m *Mux) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.advertise != "" {
		return m.advertise
	}
	return m.ln.Addr().String()
}

// SetAdvertiseAddr sets the address peers reach this node at, when it
// differs from the listener's (for example a listener on 0.0.0.0). Call it
// before opening any group: raft tells followers the leader's address from it.
func (m *Mux) SetAdvertiseAddr(addr string) {
	m.mu.Lock()
	m.advertise = addr
	m.mu.Unlock()
}

// SetInfo sets the opaque node info served to FetchInfo. The Mux keeps its
// own copy.
func (m *Mux) SetInfo(b []byte) {
	c := append([]byte(nil), b...)
	m.mu.Lock()
	m.info = c
	m.infoFunc = nil
	m.mu.Unlock()
}

// SetInfoFunc makes the Mux answer every info request with what f returns
// then, for info that changes (the groups' raft state). f is called from
// the Mux's goroutines, concurrently; it must be quick and must not call
// the Mux. The Mux does not keep the slice f returns.
func (m *Mux) SetInfoFunc(f func() []byte) {
	m.mu.Lock()
	m.infoFunc = f
	m.mu.Unlock()
}

// Close stops accepting, closes every raft connection accepted or dialled
// through the Mux and waits for its goroutines. Groups still open keep their
// stream layers, which fail to dial from now on; close the Nodes first.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	var toClose []net.Conn
	for c := range m.conns {
		toClose = append(toClose, c)
	}
	for c := range m.pending {
		toClose = append(toClose, c)
	}
	m.mu.Unlock()

	err := m.ln.Close()
	for _, c := range toClose {
		_ = c.Close()
	}
	m.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Partition cuts this node off from the given peer addresses, for fault
// injection in tests: established connections to or from them are closed,
// new dials to them fail and their connections are refused. One side
// suffices for a symmetric cut. Heal undoes it.
func (m *Mux) Partition(peerAddrs ...string) {
	m.mu.Lock()
	for _, a := range peerAddrs {
		m.blocked[a] = true
	}
	var toClose []*muxConn
	for c := range m.conns {
		if m.blocked[c.peer] {
			toClose = append(toClose, c)
		}
	}
	m.mu.Unlock()
	for _, c := range toClose {
		_ = c.Close()
	}
}

// Heal reconnects the given peer addresses cut off by Partition, or every
// one when none is given.
func (m *Mux) Heal(peerAddrs ...string) {
	m.mu.Lock()
	if len(peerAddrs) == 0 {
		clear(m.blocked)
	}
	for _, a := range peerAddrs {
		delete(m.blocked, a)
	}
	m.mu.Unlock()
}

func (m *Mux) isBlocked(addr string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blocked[addr]
}

// track registers c; it reports false when the Mux is closed.
func (m *Mux) track(c *muxConn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.blocked[c.peer] {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c *muxConn) {
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// closeGroupConns closes every tracked connection of group.
func (m *Mux) closeGroupConns(group string) {
	m.mu.Lock()
	var toClose []*muxConn
	for c := range m.conns {
		if c.group == group {
			toClose = append(toClose, c)
		}
	}
	m.mu.Unlock()
	for _, c := range toClose {
		_ = c.Close()
	}
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				m.logger.Error("raftnode: peer listener closed", "addr", m.ln.Addr().String())
				return
			}
			// Out of file descriptors and the like: back off and keep going.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			m.logger.Warn("raftnode: accepting a peer connection failed", "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.done:
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			_ = c.Close()
			return
		}
		m.pending[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.serve(c)
	}
}

// header is a decoded connection header.
type header struct {
	kind  byte
	from  string
	group string
}

func writeHeader(w io.Writer, h header) error {
	if len(h.from) > maxIDLen || len(h.group) > maxIDLen {
		return fmt.Errorf("raftnode: mux header field too long")
	}
	b := make([]byte, 0, 8+len(h.from)+len(h.group))
	b = append(b, muxMagic...)
	b = append(b, muxVersion, h.kind, byte(len(h.from)))
	b = append(b, h.from...)
	b = append(b, byte(len(h.group)))
	b = append(b, h.group...)
	_, err := w.Write(b)
	return err
}

func readHeader(r io.Reader) (header, error) {
	var fixed [7]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return header{}, err
	}
	if string(fixed[:4]) != muxMagic {
		return header{}, fmt.Errorf("bad magic %q", fixed[:4])
	}
	if fixed[4] != muxVersion {
		return header{}, fmt.Errorf("unsupported version %d", fixed[4])
	}
	h := header{kind: fixed[5]}
	from := make([]byte, int(fixed[6])+1) // from, then the group length
	if _, err := io.ReadFull(r, from); err != nil {
		return header{}, err
	}
	h.from = string(from[:len(from)-1])
	group := make([]byte, from[len(from)-1])
	if _, err := io.ReadFull(r, group); err != nil {
		return header{}, err
	}
	h.group = string(group)
	return h, nil
}

// serve reads an accepted connection's header and routes it.
func (m *Mux) serve(c net.Conn) {
	defer m.wg.Done()
	handedOff := false
	defer func() {
		m.mu.Lock()
		delete(m.pending, c)
		m.mu.Unlock()
		if !handedOff {
			_ = c.Close()
		}
	}()

	_ = c.SetDeadline(time.Now().Add(headerTimeout))
	h, err := readHeader(c)
	if err != nil {
		m.logger.Debug("raftnode: dropping peer connection with a bad header",
			"remote", c.RemoteAddr().String(), "error", err)
		return
	}
	status := func(s byte) error {
		_, err := c.Write([]byte{s})
		return err
	}
	if h.from != "" && m.isBlocked(h.from) {
		_ = status(statusRefused)
		return
	}

	switch h.kind {
	case kindInfo:
		m.mu.Lock()
		info, f := m.info, m.infoFunc
		m.mu.Unlock()
		if f != nil {
			info = f()
		}
		if len(info) > maxInfoLen {
			info = nil
		}
		b := make([]byte, 5, 5+len(info))
		b[0] = statusOK
		binary.BigEndian.PutUint32(b[1:], uint32(len(info)))
		_, _ = c.Write(append(b, info...))

	case kindRaft:
		m.mu.Lock()
		layer := m.groups[h.group]
		logUnknown := false
		if layer == nil && !m.unknown[h.group] && len(m.unknown) < 4096 {
			m.unknown[h.group] = true
			logUnknown = true
		}
		m.mu.Unlock()
		if layer == nil {
			if logUnknown {
				m.logger.Debug("raftnode: peer connection for a group not open here",
					"group", h.group, "from", h.from)
			}
			_ = status(statusUnknownGroup)
			return
		}
		mc := &muxConn{Conn: c, m: m, peer: h.from, group: h.group}
		if !m.track(mc) {
			_ = status(statusRefused)
			return
		}
		if err := status(statusOK); err != nil {
			_ = mc.Close()
			return
		}
		_ = c.SetDeadline(time.Time{})
		handedOff = true
		select {
		case layer.accepted <- mc:
		case <-layer.done:
			_ = mc.Close()
		case <-m.done:
			_ = mc.Close()
		}

	default:
		m.logger.Debug("raftnode: dropping peer connection of unknown kind",
			"remote", c.RemoteAddr().String(), "kind", h.kind)
	}
}

// dial opens a connection to the Mux at addr and completes the handshake.
func (m *Mux) dial(ctx context.Context, addr string, h header) (net.Conn, error) {
	if m != nil {
		select {
		case <-m.done:
			return nil, ErrMuxClosed
		default:
		}
		if m.isBlocked(addr) {
			return nil, fmt.Errorf("raftnode: traffic to %s is cut off (fault injection)", addr)
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(headerTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if err := writeHeader(c, h); err != nil {
		_ = c.Close()
		return nil, err
	}
	var st [1]byte
	if _, err := io.ReadFull(c, st[:]); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("raftnode: handshake with %s: %w", addr, err)
	}
	switch st[0] {
	case statusOK:
	case statusUnknownGroup:
		_ = c.Close()
		return nil, fmt.Errorf("raftnode: group %q is not open at %s", h.group, addr)
	default:
		_ = c.Close()
		return nil, fmt.Errorf("raftnode: %s refused the connection", addr)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// FetchInfo asks the Mux at peerAddr for its node info (see SetInfo).
// Without a deadline on ctx the exchange is bounded by a few seconds.
func FetchInfo(ctx context.Context, peerAddr string) ([]byte, error) {
	var m *Mux
	return m.FetchInfo(ctx, peerAddr)
}

// FetchInfo is the package's FetchInfo sent from this Mux: it names this
// node to the other side and honours Partition on both sides, so a node cut
// off by a fault test also stops hearing about its peers.
func (m *Mux) FetchInfo(ctx context.Context, peerAddr string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, headerTimeout)
		defer cancel()
	}
	h := header{kind: kindInfo}
	if m != nil {
		h.from = m.Addr()
	}
	c, err := m.dial(ctx, peerAddr, h)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, fmt.Errorf("raftnode: fetch info from %s: %w", peerAddr, err)
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxInfoLen {
		return nil, fmt.Errorf("raftnode: fetch info from %s: %d bytes is too large", peerAddr, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, fmt.Errorf("raftnode: fetch info from %s: %w", peerAddr, err)
	}
	return b, nil
}

// register creates the stream layer of group.
func (m *Mux) register(group string) (*streamLayer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMuxClosed
	}
	if m.groups[group] != nil {
		return nil, fmt.Errorf("raftnode: group %q is already open on this mux", group)
	}
	l := &streamLayer{m: m, group: group, accepted: make(chan net.Conn), done: make(chan struct{}), stopping: make(chan struct{})}
	m.groups[group] = l
	delete(m.unknown, group)
	return l, nil
}

// streamLayer is one group's view of the Mux: a net.Listener of the
// connections peers opened for the group, and a dialer that opens
// connections to the same group on other nodes. It satisfies
// raft.StreamLayer.
type streamLayer struct {
	m        *Mux
	group    string
	accepted chan net.Conn
	done     chan struct{} // closed by Close
	stopping chan struct{} // closed by stopDialing or Close: dials fail at once
	stopOnce sync.Once
	once     sync.Once
}

// Accept waits for the next connection for the group. It fails only once
// the layer is closed (closing the Mux does not end it).
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accepted:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close unregisters the group and closes all of its connections.
func (l *streamLayer) Close() error {
	l.stopDialing()
	l.once.Do(func() {
		close(l.done)
		l.m.mu.Lock()
		if l.m.groups[l.group] == l {
			delete(l.m.groups, l.group)
		}
		l.m.mu.Unlock()
		l.m.closeGroupConns(l.group)
	})
	return nil
}

// Addr is the node's peer address: raft advertises it to followers.
func (l *streamLayer) Addr() net.Addr { return muxAddr(l.m.Addr()) }

// closeConns closes every established connection of the layer's group,
// both directions; the layer stays open.
func (l *streamLayer) closeConns() { l.m.closeGroupConns(l.group) }

// stopDialing makes every dial of the layer, waiting or new, fail at once;
// the Node calls it before stopping raft so that no raft goroutine is held
// up in a dial retry.
func (l *streamLayer) stopDialing() {
	l.stopOnce.Do(func() { close(l.stopping) })
}

// Dial retry backoff while a peer is unreachable.
const (
	dialRetryMin = 20 * time.Millisecond
	dialRetryMax = 250 * time.Millisecond
)

// dialRaft opens a raft connection for the group to the Mux at address.
//
// While the peer is unreachable (down, refusing, cut off, or the group not
// open there yet) it retries, backing off up to dialRetryMax, until timeout
// passes. Raft backs off replication to a follower exponentially, up to
// seconds, for each failed call; failing once per timeout instead of once
// per attempt keeps that backoff short, so a follower that comes back is
// caught up within a retry interval rather than after a long pause.
func (l *streamLayer) dialRaft(address string, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	h := header{kind: kindRaft, from: l.m.Addr(), group: l.group}
	wait := dialRetryMin
	for {
		select {
		case <-l.stopping:
			return nil, net.ErrClosed
		default:
		}
		c, err := l.m.dial(ctx, address, h)
		if err == nil {
			mc := &muxConn{Conn: c, m: l.m, peer: address, group: l.group}
			if !l.m.track(mc) {
				_ = c.Close()
				return nil, fmt.Errorf("raftnode: connection to %s dropped: mux closed or peer cut off", address)
			}
			return mc, nil
		}
		if errors.Is(err, ErrMuxClosed) {
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-l.stopping:
			t.Stop()
			return nil, err
		}
		wait = min(2*wait, dialRetryMax)
	}
}

// muxAddr is a peer address as a net.Addr.
type muxAddr string

func (a muxAddr) Network() string { return "tcp" }
func (a muxAddr) String() string  { return string(a) }
