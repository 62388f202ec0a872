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
	Logger         *slog.Logger
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
		if h := serverCommand(batch[i][0]); h != nil {
			h(s, c, batch[i])
			i++
			if c.quit {
				return
			}
			continue
		}
		j := i + 1
		for j < len(batch) && serverCommand(batch[j][0]) == nil {
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
	if c.readonly {
		// Follower reads: served from this replica, possibly stale.
		// Writes still go through the leader.
		all := true
		for i, a := range cmds {
			r, ok := s.exec.ReadStale(a)
			if !ok {
				all = false
				break
			}
			out[i] = api.Result{Reply: r}
		}
		if all {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	s.exec.ExecBatch(ctx, cmds, out)
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
	case errors.Is(r.Err, api.ErrUnknownOutcome):
		return appendLine(b, "-TIMEOUT the write was submitted but not confirmed in time; it may or may not have been applied")
	default:
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

var _ = fsm.ReplyOK
