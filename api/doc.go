// Package api is what the two front doors, RESP (api/resp) and gRPC
// (api/grpcapi), share: the command table (fsm's data commands plus the
// server commands each protocol answers itself), the routing of a command to
// the group that owns its keys, and the execution of a batch of commands
// with pipelined writes grouped into one log entry.
//
// Replication errors are Go errors (MovedError, ErrClusterDown,
// ErrUnknownOutcome); command outcomes, including Redis's errors such as
// CROSSSLOT and wrong arity, are reply values. Each protocol maps the Go
// errors in one function.
package api
