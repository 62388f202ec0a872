package grpcapi

import (
	"context"
	"errors"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/shard"
)

// maxForwardHops bounds how many NotLeader redirects one forwarded command
// follows (a leadership change while it travels).
const maxForwardHops = 3

// Forwarder runs commands on other nodes through their KV.Execute: a node
// started with --proxy forwards a command for a group it does not lead to
// that group's leader, so clients that do not follow MOVED work too. The
// receiving node never forwards again; it answers NotLeader, which the
// Forwarder follows a few times.
//
// Threading: safe for concurrent use; one gRPC connection per address,
// kept until Close.
type Forwarder struct {
	mu     sync.Mutex
	conns  map[string]*grpc.ClientConn
	closed bool
}

// NewForwarder returns a Forwarder with no connections yet.
func NewForwarder() *Forwarder { return &Forwarder{conns: map[string]*grpc.ClientConn{}} }

// Forward runs args (args[0] the name) at leader. Errors are the api's:
// ErrClusterDown when no node could run it (nothing was done, unless the
// command is a write whose fate is unknown: ErrUnknownOutcome).
func (f *Forwarder) Forward(ctx context.Context, leader shard.NodeInfo, args [][]byte) (fsm.Reply, error) {
	write := true
	if sp := fsm.Lookup(args[0]); sp != nil {
		write = sp.Write()
	}
	addr := leader.GRPCAddr
	for hop := 0; ; hop++ {
		if addr == "" {
			return fsm.Reply{}, api.ErrClusterDown
		}
		conn, err := f.conn(addr)
		if err != nil {
			return fsm.Reply{}, api.ErrClusterDown
		}
		resp, err := pb.NewKVClient(conn).Execute(ctx, &pb.ExecuteRequest{Name: string(args[0]), Args: args[1:]})
		if err == nil {
			return FromProto(resp.GetReply()), nil
		}
		st := status.Convert(err)
		switch st.Code() {
		case codes.FailedPrecondition:
			var nl *pb.NotLeader
			for _, d := range st.Details() {
				if d, ok := d.(*pb.NotLeader); ok {
					nl = d
				}
			}
			if nl == nil || hop >= maxForwardHops {
				return fsm.Reply{}, api.ErrClusterDown
			}
			addr = nl.GetLeaderGrpcAddr()
			continue
		case codes.Unknown, codes.DeadlineExceeded, codes.Canceled:
			if write {
				return fsm.Reply{}, api.ErrUnknownOutcome
			}
		case codes.Unavailable:
			// The leader's own refusals (cluster down, a routing change)
			// and a failed dial mean nothing was done; a connection lost
			// after the request went out leaves a write's fate unknown.
			if write && !notSent(st.Message()) {
				return fsm.Reply{}, api.ErrUnknownOutcome
			}
		case codes.InvalidArgument:
			return fsm.ErrorReply("ERR " + st.Message()), nil
		}
		return fsm.Reply{}, api.ErrClusterDown
	}
}

// notSent reports whether an UNAVAILABLE status with message msg says
// the request was not run: refused by the server, or never sent because
// the connection could not be made.
func notSent(msg string) bool {
	for _, p := range []string{"cluster down:", "try again:", "the group has no known leader", "Error while dialing", "connection refused"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (f *Forwarder) conn(addr string) (*grpc.ClientConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errors.New("grpcapi: forwarder closed")
	}
	if c := f.conns[addr]; c != nil {
		return c, nil
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvBytes), grpc.MaxCallSendMsgSize(maxRecvBytes)))
	if err != nil {
		return nil, err
	}
	f.conns[addr] = c
	return c, nil
}

// Close closes every connection.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	var errs []error
	for _, c := range f.conns {
		errs = append(errs, c.Close())
	}
	clear(f.conns)
	return errors.Join(errs...)
}
