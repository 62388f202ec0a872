// Package fsmtest holds test data shared by the state machine's tests and
// the differential tests against Redis.
package fsmtest

// FamilyCommands are the commands of each data type, with K where a key of
// that type is read or written. Run against a key of any other type, each
// gets WRONGTYPE and leaves the state unchanged. "zset|set" commands take
// either type (the sorted-set algebra scores set members 1).
var FamilyCommands = map[string][]string{
	"string": {
		"GET K", "GETSET K v", "GETDEL K", "GETEX K PERSIST", "SET K v GET", "APPEND K v", "STRLEN K",
		"GETRANGE K 0 -1", "SETRANGE K 0 v", "INCR K", "DECR K", "INCRBY K 2", "DECRBY K 2", "INCRBYFLOAT K 1.5",
	},
	"hash": {
		"HSET K f v", "HSETNX K f v", "HGET K f", "HMGET K f g", "HMSET K f v", "HDEL K f", "HLEN K",
		"HSTRLEN K f", "HEXISTS K f", "HKEYS K", "HVALS K", "HGETALL K", "HINCRBY K f 1",
		"HINCRBYFLOAT K f 1.5", "HRANDFIELD K", "HRANDFIELD K -3 WITHVALUES", "HSCAN K 0",
	},
	"list": {
		"LPUSH K a", "RPUSH K a", "LPUSHX K a", "RPUSHX K a", "LPOP K", "RPOP K 2", "LLEN K",
		"LRANGE K 0 -1", "LINDEX K -1", "LSET K 0 a", "LINSERT K BEFORE a b", "LREM K 0 a",
		"LTRIM K 0 1", "LPOS K a", "LPOS K a RANK -1 COUNT 0", "LMOVE K lst LEFT RIGHT",
		"LMOVE lst K LEFT RIGHT", "RPOPLPUSH K lst", "RPOPLPUSH lst K", "LMPOP 1 K LEFT",
		"LMPOP 2 nokey K RIGHT COUNT 2", "BLPOP K 0", "BRPOP nokey K 0", "BLMOVE K lst LEFT LEFT 0",
		"BLMOVE lst K RIGHT LEFT 0", "BLMPOP 0 1 K LEFT",
	},
	"set": {
		"SADD K a", "SREM K a", "SMEMBERS K", "SISMEMBER K a", "SMISMEMBER K a b", "SCARD K", "SPOP K",
		"SPOP K 2", "SPOP K 0", "SRANDMEMBER K", "SRANDMEMBER K -2", "SMOVE K st a", "SMOVE st K a",
		"SINTER K", "SINTER st K", "SINTER nokey K", "SINTERCARD 2 st K", "SUNION st K", "SDIFF K",
		"SDIFF st K", "SINTERSTORE dst st K", "SUNIONSTORE dst K", "SDIFFSTORE dst st K", "SSCAN K 0",
	},
	"zset": {
		"ZADD K 1 a", "ZADD K INCR 1 a", "ZREM K a", "ZSCORE K a", "ZMSCORE K a", "ZINCRBY K 1 a", "ZCARD K",
		"ZCOUNT K 0 1", "ZLEXCOUNT K - +", "ZRANK K a", "ZREVRANK K a", "ZRANGE K 0 -1",
		"ZRANGE K 0 1 BYSCORE", "ZRANGE K - + BYLEX REV", "ZREVRANGE K 0 -1", "ZRANGEBYSCORE K 0 1",
		"ZREVRANGEBYSCORE K 1 0", "ZRANGEBYLEX K - +", "ZREVRANGEBYLEX K + -", "ZRANGESTORE dst K 0 -1",
		"ZPOPMIN K", "ZPOPMAX K 2", "ZRANDMEMBER K", "ZRANDMEMBER K 2 WITHSCORES", "ZREMRANGEBYRANK K 0 1",
		"ZREMRANGEBYSCORE K 0 1", "ZREMRANGEBYLEX K - +", "ZSCAN K 0",
	},
	// The sorted-set algebra takes sets too (each member scores 1).
	"zset|set": {
		"ZUNIONSTORE dst 2 zs K", "ZINTERSTORE dst 2 zs K", "ZDIFFSTORE dst 2 zs K", "ZUNION 2 K zs",
		"ZINTER 2 zs K WITHSCORES", "ZDIFF 2 zs K", "ZINTERCARD 2 zs K",
	},
}
