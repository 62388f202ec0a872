// Package differential checks redraft against a real Redis: one seeded
// random sequence of commands (strings, hashes, lists, sets, sorted sets,
// the keyspace commands with SCAN, RENAME, COPY, DUMP/RESTORE and expiry,
// and transactions with WATCH) runs against a redis-server started for the
// test and against redraft, and every pair of replies must agree:
//
//   - exactly, type and bytes, for most commands, over RESP2 or RESP3;
//   - as sets where Redis's order is unspecified (SMEMBERS, HGETALL, KEYS,
//     SINTER, ...);
//   - for random picks (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER,
//     RANDOMKEY), each side's answer must be a valid one, and after SPOP
//     redraft is brought back in line with Redis;
//   - for cursors (SCAN, HSCAN, SSCAN, ZSCAN), a whole iteration on each
//     side must find the same elements;
//   - for TTLs, within a tolerance: no key expires while the test runs;
//   - for transactions, the EXEC replies (a null when a watched key
//     changed, which the commands run between WATCH and MULTI often do).
//
// Every 500 commands, and at the end, every key's type, content, TTL and
// encoding are compared too.
//
// TestDifferential runs the sequence against an in-process fsm.Machine,
// through the path the server takes (writes as log entries through
// ApplyEntry, reads through Read, transactions as one __exec entry guarded
// by the versions WATCH read). TestDifferentialServer runs it against a
// one-node redraft cluster over RESP and a one-node Redis Cluster, so that
// the command table, CROSSSLOT, MULTI/EXEC/WATCH at the front door, the log
// and the RESP writer are compared too. TestDifferentialCorners and
// TestDifferentialWrongType run the corner cases and the WRONGTYPE sweep of
// fsm's table tests, whose expected replies are written there, on both.
//
// Run with -seed to repeat a run (the seed is printed), -cmds and
// -server-cmds to change the runs' lengths (20000 commands each by
// default), -keep-going N to see up to N mismatches. Without redis-server
// on the PATH the tests are skipped, unless the environment variable CI is
// set (.ci/run sets it and installs redis-server), in which case they fail.
package differential
