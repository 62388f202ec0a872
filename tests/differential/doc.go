// Package differential checks the state machine against a real Redis: one
// seeded random sequence of commands (strings, hashes, sets, sorted sets,
// lists when the state machine has them, and the keyspace commands) runs
// against a redis-server started for the test and against an in-process
// fsm.Machine, through the path the server takes (writes as log entries
// through ApplyEntry, reads through Read, time passed explicitly), and
// every pair of replies must agree:
//
//   - exactly, type and bytes, for most commands, over RESP2 or RESP3 (the
//     state machine's replies are shaped as the RESP writer shapes them);
//   - as sets where Redis's order is unspecified (SMEMBERS, HGETALL, KEYS,
//     SINTER, ...);
//   - for random picks (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER,
//     RANDOMKEY), each side's answer must be a valid one, and after SPOP
//     the state machine is brought back in line with Redis;
//   - for cursors (SCAN, HSCAN, SSCAN, ZSCAN), a whole iteration on each
//     side must find the same elements;
//   - for TTLs, within a tolerance: no key expires while the test runs.
//
// Run with -seed to repeat a run (the seed is printed) and -cmds to change
// its length. Without redis-server on the PATH the test is skipped, unless
// the environment variable CI is set, in which case it fails.
package differential
