package api

import "time"

// nowMs is the node's wall clock for reads; writes carry the leader's clock
// in the entry (shard.Group.Propose).
func nowMs() int64 { return time.Now().UnixMilli() }
