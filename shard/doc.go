// Package shard maps keys to slots and slots to raft groups, and hosts every
// group replica that lives on this node.
//
// A key's slot is Redis Cluster's: CRC16/XMODEM of the key (or of its first
// non-empty {hash tag}) modulo 16384 (fsm.KeySlot, which the state machines
// use too). The topology is a Map: the nodes, and the groups with their
// slot ranges and members, at an epoch. Maps are immutable values kept in
// the metadata raft group ("meta") that every node hosts (meta.go); a
// change writes a new map of the next epoch.
//
// The Host of a node opens the metadata replica, reads the newest map from
// it, opens a raftnode.Node for every data group the map makes it a member
// of (all over the node's single peer Mux), and routes a slot to its group.
// The first map is laid out by the metadata leader from the initial cluster
// (InitialMap); a new data group's first entry sets its ownership in its
// own state machine ("__own"), so a group refuses keys of slots it does not
// own, whatever a stale router sends it.
//
// A replica moves from one node to another through the map (move.go):
// MoveReplica writes a map with the new members, the group's leader adds
// and removes raft members to match it, and the removed node deletes its
// replica once its removal is committed.
//
// Besides, the Host runs the leader duties of the groups it leads (the
// ownership entry, active expiry), polls the other nodes for the raft state
// of their groups (peers.go: leaders of groups not hosted here, liveness,
// applied indexes), and hands groups to other members when it leads more
// than its share, ceil(groups/nodes) (duties.go).
//
// Threading: Host, Group and Map are safe for concurrent use; a Map is
// never modified once built.
package shard
