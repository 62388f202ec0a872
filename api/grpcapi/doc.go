// Package grpcapi is redraft's gRPC front door: the KV service (Get, Set,
// Del, Execute), the Cluster service (Status), the standard health service
// and server reflection, all on one listener.
//
// # Contract
//
// Every KV call runs through the same command table and executor as RESP
// (api.Executor), so a typed call is exactly the Redis command it names:
//
//	Get(key)             GET key
//	Set(key, value, ttl) SET key value [PX ttl_ms]   (ttl_ms 0: no expiry)
//	Del(keys...)         DEL key [key ...]           (all keys in one slot)
//	Execute(name, args)  any data command, plus PING and ECHO answered here
//
// Outcomes are reported in three ways, kept strictly apart:
//
//   - A command outcome, including a command error (unknown command, wrong
//     arity, WRONGTYPE, CROSSSLOT, syntax), is a value. Execute returns it as
//     a successful RPC whose Reply carries it, like RESP; error replies keep
//     Redis's text. The typed calls, whose responses cannot carry an error
//     value, fail with FAILED_PRECONDITION for WRONGTYPE and INVALID_ARGUMENT
//     for every other command error, Redis's text as the message.
//   - A replication error is a gRPC status, chosen in one function (statusOf):
//     the key's group is led elsewhere: FAILED_PRECONDITION, message
//     "not leader: leader is <id> at <grpc addr>", with a redraftv1.NotLeader
//     detail naming the group and the leader's gRPC and RESP addresses
//     (nothing was done; retry there); no known leader or shutting down:
//     UNAVAILABLE (nothing was done; retry later); a write whose fate is
//     unknown (timeout, leadership lost after submission): UNKNOWN; the write
//     may or may not have been applied, and is never reported as not
//     written; the caller cancelled: CANCELED.
//   - A bad request (empty name or key, no keys, negative ttl, an argument
//     over MaxArgBytes) is INVALID_ARGUMENT before anything is routed.
//
// A request whose encoded size exceeds MaxArgBytes plus a small allowance
// for framing is refused by gRPC itself with RESOURCE_EXHAUSTED.
//
// Every unary call runs under Config.RequestTimeout (or the caller's
// deadline if sooner). A panic in any handler is recovered, logged with its
// stack and answered with INTERNAL; it costs no other call anything.
//
// # Lifecycle
//
// New builds a Server; Serve serves one listener until Close. Close marks
// every health status NOT_SERVING, lets calls in flight finish for at most
// RequestTimeout plus a short margin, then cuts what remains. A Server is
// safe for concurrent use.
package grpcapi
