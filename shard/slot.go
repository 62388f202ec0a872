package shard

import "github.com/redraft/redraft/fsm"

// Slots is the number of hash slots, as in Redis Cluster.
const Slots = fsm.Slots

// Slot returns the hash slot of key: CRC16/XMODEM modulo 16384, hashing only
// the bytes between the first '{' and the first '}' after it when there is
// at least one. The state machines check ownership with the same function
// (fsm.KeySlot), so a router and a group can never disagree on a key's slot.
func Slot(key []byte) int { return fsm.KeySlot(key) }
