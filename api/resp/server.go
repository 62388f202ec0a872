package resp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	"github.com/redraft/redraft/shard"
)

// maxBatch bounds the commands taken from one connection's pipeline at once.
const maxBatch = 1024

// Config configures a Server.
type Config struct {
	Host *shard.Host
	// RequestTimeout bounds each batch's wait for the cluster; zero means 5 s.
	RequestTimeout time.Duration
	// Proxy makes the server run a keyed command whose group this node
	// does not lead at the group's leader, through Forward, instead of
	// answering MOVED: clients that do not follow redirects work too.
	Proxy bool
	// Forward runs a command at another node (grpcapi.Forwarder.Forward);
	// required with Proxy.
	Forward func(ctx context.Context, leader shard.NodeInfo, args [][]byte) (fsm.Reply, error)
	Logger  *slog.Logger
}

// Server serves RESP connections. Safe for concurrent use.
type Server struct {
	cfg   Config
	exec  *api.Executor
	log   *slog.Logger
	start time.Time
	conf  *configStore

	nextID   atomic.Int64
	commands atomic.Int64

	mu    sync.Mutex
	ln    net.Listener
	conns map[*conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{
		cfg:   cfg,
		exec:  &api.Executor{Host: cfg.Host},
		log:   cfg.Logger,
		start: time.Now(),
		conf:  newConfigStore(),
		conns: map[*conn]struct{}{},
	}
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			done := s.done
			s.mu.Unlock()
			if done {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		c := s.newConn(nc)
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.done = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// conn is one client connection; only its own goroutine touches it, except
// the fields under Server.mu read by CLIENT LIST / INFO.
type conn struct {
	nc       net.Conn
	rd       *reader
	bw       *bufio.Writer
	out      []byte
	id       int64
	created  time.Time
	proto    int
	readonly bool
	quit     bool
	tx       txState // MULTI and WATCH (multi.go)

	mu      sync.Mutex // guards name, lib*
	name    string
	libName string
	libVer  string
}

func (s *Server) newConn(nc net.Conn) *conn {
	return &conn{
		nc:      nc,
		rd:      newReader(nc),
		bw:      bufio.NewWriterSize(nc, 64*1024),
		id:      s.nextID.Add(1),
		created: time.Now(),
		proto:   2,
	}
}

func (s *Server) serveConn(c *conn) {
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	var batch [][][]byte
	for {
		c.rd.reset()
		batch = batch[:0]
		var perr error
		for {
			args, err := c.rd.readCommand()
			if err != nil {
				perr = err
				break
			}
			if args != nil {
				batch = append(batch, args)
			}
			if len(batch) >= maxBatch || !c.rd.buffered() {
				break
			}
		}
		s.run(c, batch)
		var pe *ProtocolError
		if errors.As(perr, &pe) {
			c.out = appendLine(append(c.out, '-'), pe.Error())
		}
		if len(c.out) > 0 {
			if _, err := c.bw.Write(c.out); err != nil {
				return
			}
			c.out = c.out[:0]
		}
		if err := c.bw.Flush(); err != nil {
			return
		}
		if c.out != nil && cap(c.out) > 1<<20 {
			c.out = nil // do not keep a huge reply buffer per idle connection
		}
		if perr != nil || c.quit {
			if perr != nil && pe == nil && !errors.Is(perr, io.EOF) && !errors.Is(perr, net.ErrClosed) {
				s.log.Debug("connection closed", "client", c.nc.RemoteAddr().String(), "err", perr)
			}
			return
		}
	}
}

// run executes a batch: runs of data commands go to the executor together;
// server commands are answered here, in order.
func (s *Server) run(c *conn, batch [][][]byte) {
	s.commands.Add(int64(len(batch)))
	var results []api.Result
	for i := 0; i < len(batch); {
		if h := s.handlerOf(c, batch[i]); h != nil {
			h(s, c, batch[i])
			i++
			if c.quit {
				return
			}
			continue
		}
		j := i + 1
		for j < len(batch) && s.handlerOf(c, batch[j]) == nil {
			j++
		}
		if cap(results) < j-i {
			results = make([]api.Result, j-i)
		}
		results = results[:j-i]
		s.execData(c, batch[i:j], results)
		for _, r := range results {
			c.out = s.appendResult(c.out, r, c.proto)
		}
		i = j
	}
}

func (s *Server) execData(c *conn, cmds [][][]byte, out []api.Result) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	if c.readonly {
		// Follower reads: served from this replica, possibly stale.
		// Writes still go through the leader.
		all := true
		for i, a := range cmds {
			r, ok := s.exec.ReadStale(ctx, a)
			if !ok {
				all = false
				break
			}
			out[i] = r
		}
		if all {
			s.proxy(ctx, cmds, out, false) // keyless stale reads already cover every local replica
			return
		}
	}
	s.exec.ExecBatch(ctx, cmds, out)
	s.proxy(ctx, cmds, out, true)
}

// proxy, on a --proxy node, makes the cluster look like one server to a
// client that knows nothing of slots: each MOVED result is replaced by the
// reply of the slot's leader, and a command without keys (DBSIZE,
// FLUSHALL), which answered for this node's groups, also runs on every
// other node that leads a group and the replies are combined, so it covers
// the whole keyspace (unless keyless is false). Commands run in order.
// (While leadership moves, a group may be counted twice or not at all.)
func (s *Server) proxy(ctx context.Context, cmds [][][]byte, out []api.Result, keyless bool) {
	if !s.cfg.Proxy || s.cfg.Forward == nil {
		return
	}
	for i, r := range out {
		var moved *api.MovedError
		switch {
		case errors.As(r.Err, &moved):
			reply, err := s.cfg.Forward(ctx, moved.Leader, cmds[i])
			out[i] = api.Result{Reply: reply, Err: err}
		case keyless && r.Err == nil && api.Keyless(cmds[i]):
			out[i] = s.everywhere(ctx, cmds[i], r.Reply)
		}
	}
}

// everywhere runs a keyless command on every other node that leads a group
// and combines the replies with this node's own.
func (s *Server) everywhere(ctx context.Context, args [][]byte, local fsm.Reply) api.Result {
	others, err := s.exec.OtherLeaders(ctx)
	if err != nil {
		return api.Result{Err: err}
	}
	replies := []fsm.Reply{local}
	for _, n := range others {
		r, err := s.cfg.Forward(ctx, n, args)
		if err != nil {
			return api.Result{Err: err}
		}
		replies = append(replies, r)
	}
	return api.Result{Reply: api.Combine(replies)}
}

// appendResult encodes a result, mapping replication errors to Redis's
// cluster errors. This is the one place that mapping lives for RESP.
func (s *Server) appendResult(b []byte, r api.Result, proto int) []byte {
	if r.Err == nil {
		return appendReply(b, r.Reply, proto)
	}
	var moved *api.MovedError
	switch {
	case errors.As(r.Err, &moved):
		return appendLine(b, "-MOVED "+itoa(moved.Slot)+" "+moved.Leader.RESPAddr)
	case errors.Is(r.Err, api.ErrTryAgain):
		return appendLine(b, "-TRYAGAIN Multiple keys request during rehashing of slot")
	case errors.Is(r.Err, api.ErrUnknownOutcome):
		return appendLine(b, "-TIMEOUT the write was submitted but not confirmed in time; it may or may not have been applied")
	default:
		s.log.Debug("resp: replying CLUSTERDOWN", "cause", r.Err)
		return appendLine(b, "-CLUSTERDOWN The cluster is down")
	}
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	if neg {
		n = -n
	}
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

func errReply(b []byte, text string) []byte { return appendLine(append(b, '-'), text) }

func okReply(b []byte) []byte { return append(b, "+OK\r\n"...) }

func lower(b []byte) string { return strings.ToLower(string(b)) }
