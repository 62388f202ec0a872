// Package robustness checks, on real `redraft server` processes under
// injected faults, the two promises of redraft: every read and write is
// linearizable, and no acknowledged write is lost.
//
// A campaign (RunCampaign) starts a cluster, runs concurrent clients that
// record a history of GET/SET/INCR (and RPUSH/LRANGE when the server has
// lists), lets a nemesis chosen by the seed inject faults, heals, reads
// every key back and then:
//
//   - checks each key's history for linearizability against a sequential
//     model (a register, a list) with porcupine. An operation that failed
//     without effect (MOVED, CLUSTERDOWN, a failed dial) is left out, so the
//     check also holds the server to "refused means not done"; one whose
//     outcome is unknown (-TIMEOUT, a connection lost after sending) may
//     take effect at any point after its call. A key that is not
//     linearizable fails the run and leaves porcupine's HTML visualisation
//     (faults drawn in) and the seed in the output directory;
//   - audits acknowledged writes: every acknowledged write-once SET and
//     every acknowledged RPUSH must be read back after healing;
//   - measures how stale READONLY (follower) reads are, which is allowed,
//     and fails on a follower read of a value never written, which is not.
//
// The faults: kill -9 and restart, SIGSTOP/SIGCONT of a leader, network
// partitions (majority/minority, an isolated leader, a bridge), leadership
// transfers, a node restarted from an image of its data taken while it ran
// (with the process stopped, so that the image is one a crash can leave;
// nemesis.go says why the node first hands over its leaderships), and a
// crash of every node at once. Partitions need real network
// separation: every node runs in its own network namespace (netns.go says
// why that and not a proxy); without root or `ip netns` the suite runs on
// loopback and leaves partitions out.
//
// The campaign in `make test` is short (one seed, about 40 s); `make
// robustness` runs many seeds of at least a minute each:
//
//	go test ./tests/robustness -run TestCampaign -v -args -robust.seed 42
//	go test ./tests/robustness -run TestCampaign -v -timeout 0 \
//		-args -robust.seeds 50 -robust.duration 60s
//
// The long profile (-robust.long) picks each seed's cluster: 3 or 5
// nodes, 1 to 4 groups, and the log store (the node-wide WAL for even
// seeds, a bolt file per group for odd ones). Every run prints, and the
// campaign totals, the operations checked, the faults injected by kind,
// the violations and the lost writes. Two campaign processes may run at
// once (give them different -robust.seed ranges): network namespaces,
// their subnets and the artifact directories are named by process and
// seed.
//
// planted_test.go shows the checker is not blind: it plants a bug in the
// servers (raftnode/faultinject.go: reads without the read check, a SET
// acknowledged before it commits) and requires a short campaign to fail.
//
// membership_test.go moves replicas while clients run (four nodes, groups
// of three replicas): a member's replica to the node without one, the
// leader's back, and a killed member's, whose node deletes its leftover
// replica once restarted; the history is checked and the acknowledged
// writes audited as in a campaign, and the moves must show in every
// node's status, in the nodes that host the group and in the removed
// nodes' directories.
//
// startup_test.go checks that damaged data (a truncated log, a corrupt
// snapshot, a crash in the middle of a snapshot, a corrupt or truncated
// WAL segment) is reported at start with the name of the file.
package robustness
