package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
	"github.com/redraft/redraft/shard"
)

// commandError is a command error reply (Redis's text, prefix included)
// that a typed call must report as a status because its response message
// cannot carry it.
type commandError struct{ text string }

func (e *commandError) Error() string { return e.text }

// badRequest is a request refused before routing.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// statusOf is the one place where a Go error becomes a gRPC status; ctx is
// the call's context. Errors it does not know are INTERNAL and logged.
func (s *Server) statusOf(ctx context.Context, err error) error {
	var (
		moved *api.MovedError
		cmd   *commandError
		bad   *badRequest
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &bad):
		return status.Error(codes.InvalidArgument, bad.msg)
	case errors.As(err, &cmd):
		if strings.HasPrefix(cmd.text, "WRONGTYPE ") {
			return status.Error(codes.FailedPrecondition, cmd.text)
		}
		return status.Error(codes.InvalidArgument, cmd.text)
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		// The caller is gone; the code is for the logs of any proxy between.
		msg := "canceled"
		if errors.Is(err, api.ErrUnknownOutcome) {
			msg += "; the write may or may not have been applied"
		}
		return status.Error(codes.Canceled, msg)
	case errors.As(err, &moved):
		return s.notLeader(moved)
	case errors.Is(err, api.ErrTryAgain):
		return status.Error(codes.Unavailable, "try again: the request met a routing change and was not applied")
	case errors.Is(err, api.ErrClusterDown):
		return status.Error(codes.Unavailable, "cluster down: the key's group has no reachable leader; retry later")
	case errors.Is(err, api.ErrUnknownOutcome):
		return status.Error(codes.Unknown, "outcome unknown: the write may or may not have been applied")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.log.Error("grpcapi: unexpected error", "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}

// notLeader is FAILED_PRECONDITION with a NotLeader detail naming the leader
// of the slot's group.
func (s *Server) notLeader(m *api.MovedError) error {
	group := m.Group
	if group == "" {
		if gi, _, err := s.cfg.Host.Route(m.Slot); err == nil {
			group = gi.ID
		}
	}
	return s.notLeaderOf(group, m.Leader)
}

// notLeaderOf is FAILED_PRECONDITION with a NotLeader detail naming leader
// as the leader of group.
func (s *Server) notLeaderOf(group string, leader shard.NodeInfo) error {
	addr := leader.GRPCAddr
	if addr == "" {
		addr = "(gRPC address unknown)"
	}
	st := status.New(codes.FailedPrecondition, "not leader: leader is "+leader.ID+" at "+addr)
	d := &pb.NotLeader{
		Group:          group,
		LeaderId:       leader.ID,
		LeaderGrpcAddr: leader.GRPCAddr,
		LeaderRespAddr: leader.RESPAddr,
	}
	if ds, err := st.WithDetails(d); err == nil {
		st = ds
	}
	return st.Err()
}

// replyErr returns r as an error if it is a command error reply, else nil.
func replyErr(r fsm.Reply) error {
	if r.Kind == fsm.KindError {
		return &commandError{text: r.Str}
	}
	return nil
}
