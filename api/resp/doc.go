// Package resp is redraft's RESP front door: RESP2 and RESP3 (HELLO),
// pipelining, Redis's replies and error texts byte for byte, and the server
// commands a Redis client expects (PING, HELLO, COMMAND, CLIENT, INFO,
// CONFIG, CLUSTER, ...). Data commands go to api.Executor.
//
// One goroutine serves each connection: it reads every command the client
// has pipelined (up to a bound), runs them as one batch (writes to the same
// group become one log entry), writes the replies and flushes once.
// A malformed frame gets Redis's protocol error and the connection is
// closed; no other connection is affected.
//
// MULTI/EXEC/WATCH (multi.go) queue on the connection and run as one
// transaction entry at EXEC; blocking commands (blocking.go) block their
// connection until a write feeds them, their timeout, a leadership change
// (an error, never a hang) or the client's close.
package resp
