// Package shard maps keys to slots and slots to raft groups, and hosts every
// group replica that lives on this node.
//
// A key's slot is Redis Cluster's: CRC16/XMODEM of the key (or of its first
// non-empty {hash tag}) modulo 16384. Each group owns slot ranges; the Host
// opens one raftnode.Node per group over the node's single peer Mux, runs the
// leader-side duties of each group (active expiry), and resolves a group's
// leader to the addresses clients need (RESP for MOVED, gRPC for NotLeader).
//
// Threading: Host and Group are safe for concurrent use.
package shard
