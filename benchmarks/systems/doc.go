// Package systems starts and stops the deployments the benchmarks compare,
// as child processes on 127.0.0.1 with their data in given directories:
// Redis (a master, replicas with asynchronous replication, optionally AOF
// with fsync always, optionally Sentinels) and redraft clusters.
//
// Every process is started with Pdeathsig, so it dies with the benchmark;
// KillAll ends whatever is still running. Every command line started is
// recorded (Commands) for the report. Ports are picked free just before
// the start.
package systems
