// Package report holds what a benchmark run measured (Results, saved as
// results.json.gz) and renders it: report.md with the targets of the issue
// evaluated against the references of the same run, tables per scenario,
// redis-benchmark's figures, failovers, the many-keys phase, CPU profiles,
// the machine and the exact commands; and PNG plots (latency CDFs,
// throughput per system, writes per 100 ms around a failover).
//
// Rendering depends on Results only, so a report can be regenerated, and
// tested, without running anything.
package report
