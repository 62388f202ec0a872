// Package loadgen is a load generator for RESP servers: Redis, and
// redraft or any Redis Cluster through its slot map.
//
// A Router says where the command for a slot goes: Static (one master),
// Cluster (CLUSTER SLOTS, then MOVED replies) or Sentinel (the master the
// Sentinels name). Run drives a Workload:
//
//   - closed loop: N clients, each sending a batch of P commands (split by
//     the address that serves each key, the parts pipelined in parallel)
//     and waiting for all replies before the next batch;
//   - open loop: commands sent at a fixed total rate whatever the replies
//     do, each latency counted from its scheduled send time, so a stall is
//     charged to every command it delays (no coordinated omission).
//
// Latencies go into HDR histograms (Histogram: log buckets, linear inside,
// 3 significant digits, exact min/max/mean, mergeable, stored as the
// non-empty buckets in JSON). Fill writes a keyspace once. Writer keeps a
// steady write load across a failure and remembers every acknowledged
// write; WriteLog measures the unavailability and ReadBack counts the
// acknowledged writes that were lost.
//
// Failures are counted, never hidden: a connection error, a timeout, a
// WAIT that reports too few replicas, or an error reply makes the command
// fail (TRYAGAIN, CLUSTERDOWN, READONLY, LOADING and connection errors
// also refresh the topology and pause for 10 ms); MOVED is followed and
// counted as a redirect.
package loadgen
