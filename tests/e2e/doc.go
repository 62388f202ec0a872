// Package e2e holds end-to-end tests that start real `redraft server`
// processes on free loopback ports and talk to them the way users do:
// go-redis (plain and cluster clients), redis-cli, raw RESP over TCP and gRPC.
//
// The harness (cluster_test.go) starts, kills (SIGKILL), stops (SIGTERM),
// restarts and wipes nodes, and finds the leader through INFO replication.
// Every wait is a poll with a deadline, never a bare sleep. Each node's
// stderr goes to a file in the test's temp dir; a failing test prints the
// tail of every node's log.
//
// The binary is $REDRAFT_BIN when set (make test sets it); otherwise
// TestMain builds ./cmd/redraft into a temp dir. Randomness comes from
// -seed (default: the clock), printed at start so a run can be repeated:
//
//	go test ./tests/e2e -run TestFailover -v -seed 12345
package e2e
