// Package api is what the two front doors, RESP (api/resp) and gRPC
// (api/grpcapi), share: the command table (fsm's data commands plus the
// server commands each protocol answers itself), the routing of a command to
// the group that owns its keys, and the execution of a batch of commands
// with pipelined writes grouped into one log entry.
//
// Routing: a keyed command runs on this node's replica of its slot's group
// when that replica leads, else it fails with MovedError naming the leader
// (which the RESP server answers as -MOVED, or with --proxy forwards). A
// group that refuses a key because it does not own its slot (the router's
// map was stale) did nothing; the executor turns that into a redirect to
// the slot's group in the current map. Commands without keys answer for
// the groups this node leads (see Executor).
//
// Replication errors are Go errors (MovedError, ErrClusterDown,
// ErrUnknownOutcome, ErrTryAgain); command outcomes, including Redis's
// errors such as CROSSSLOT and wrong arity, are reply values. Each protocol
// maps the Go errors in one function.
package api
