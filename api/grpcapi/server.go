package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/redraft/redraft/api"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/shard"
)

// MaxArgBytes is the largest key, value or command argument accepted, the
// same bound as Redis's proto-max-bulk-len.
const MaxArgBytes = 512 << 20

// maxRecvBytes is the largest request message gRPC accepts: one maximal
// argument plus room for the rest of the message.
const maxRecvBytes = MaxArgBytes + 1<<20

// DefaultRequestTimeout is used when Config.RequestTimeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// closeMargin is added to the request timeout to bound Close's wait for
// calls in flight.
const closeMargin = 100 * time.Millisecond

// Config configures a Server. The zero value of every field but Host means
// its default.
type Config struct {
	// Host is the node whose groups the server fronts. Required.
	Host *shard.Host
	// RequestTimeout bounds each unary call's wait for the cluster (the
	// caller's own deadline applies when sooner). Zero: DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Logger receives one line per event (start-up errors, recovered panics,
	// unexpected failures), never one per request. Nil: slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Host == nil:
		return errors.New("grpcapi: Config.Host is nil")
	case c.RequestTimeout < 0:
		return fmt.Errorf("grpcapi: Config.RequestTimeout is negative (%v)", c.RequestTimeout)
	}
	return nil
}

// Server serves the KV, Cluster, health and reflection services. Safe for
// concurrent use.
type Server struct {
	cfg    Config
	exec   *api.Executor
	log    *slog.Logger
	grpc   *grpc.Server
	health *health.Server

	// maxArg is MaxArgBytes; tests lower it to exercise the check cheaply.
	maxArg int

	closeOnce sync.Once
}

// New returns a server for cfg. Configuration errors are reported by Serve.
func New(cfg Config) *Server {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:    cfg,
		exec:   &api.Executor{Host: cfg.Host},
		log:    cfg.Logger,
		health: health.NewServer(),
		maxArg: MaxArgBytes,
	}
	// The recovery interceptors come first so that they also cover a panic
	// in any interceptor after them.
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(maxRecvBytes),
		grpc.ChainUnaryInterceptor(s.recoverUnary, s.timeoutUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	)
	pb.RegisterKVServer(s.grpc, kvService{s: s})
	pb.RegisterClusterServer(s.grpc, clusterService{s: s})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	for _, name := range []string{"", pb.KV_ServiceDesc.ServiceName, pb.Cluster_ServiceDesc.ServiceName} {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	return s
}

// Serve accepts connections on ln until Close, after which it returns nil.
// It closes ln when it returns. Calling Serve after Close returns
// grpc.ErrServerStopped.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.cfg.validate(); err != nil {
		ln.Close()
		return err
	}
	return s.grpc.Serve(ln)
}

// Close marks every service NOT_SERVING, stops accepting, waits for calls in
// flight for at most RequestTimeout plus a short margin, then closes every
// connection, ending any calls left (health watches, reflection streams).
// It is safe to call more than once and always returns nil.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.health.Shutdown()
		done := make(chan struct{})
		go func() {
			s.grpc.GracefulStop()
			close(done)
		}()
		t := time.NewTimer(s.cfg.RequestTimeout + closeMargin)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			s.grpc.Stop()
			<-done
		}
	})
	return nil
}

// recoverUnary turns a panic in a unary handler into INTERNAL.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, s.panicked(info.FullMethod, p)
		}
	}()
	return h(ctx, req)
}

// recoverStream turns a panic in a stream handler into INTERNAL.
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = s.panicked(info.FullMethod, p)
		}
	}()
	return h(srv, ss)
}

func (s *Server) panicked(method string, p any) error {
	s.log.Error("grpcapi: panic in handler", "method", method, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

// timeoutUnary bounds every unary call by the request timeout.
func (s *Server) timeoutUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	return h(ctx, req)
}
