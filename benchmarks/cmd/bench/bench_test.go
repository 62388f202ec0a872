package main

import (
	"strings"
	"testing"
)

func TestParseRBCSV(t *testing.T) {
	out := `Cluster has 3 master nodes:

Master 0: 4d1b 127.0.0.1:7001
"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","18181.82","2.007","0.136","1.319","4.775","13.159","41.663"
"GET","24875.62","1.251","0.112","1.095","2.519","5.223","9.647"
`
	rows, err := parseRBCSV(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Test != "SET" || rows[0].RPS != 18181.82 || rows[1].P99MS != 5.223 || rows[1].MaxMS != 9.647 {
		t.Fatalf("%+v", rows)
	}
	if _, err := parseRBCSV("Invalid cluster: 1 node(s).\n"); err == nil {
		t.Fatal("no error for output without results")
	}
}

func TestPerfLine(t *testing.T) {
	for _, c := range []struct {
		line, sym, obj string
		pct            float64
	}{
		{"    32.41%  [kernel.kallsyms]  [k] pvm_irq_enable    -      -", "pvm_irq_enable", "[kernel.kallsyms]", 32.41},
		{"     3.32%  redraft            [.] runtime.tryDeferToSpanScan", "runtime.tryDeferToSpanScan", "redraft", 3.32},
		{"    81.18%     0.00%  [.] runtime.goexit.abi0   -   -", "runtime.goexit.abi0", "", 81.18},
	} {
		m := perfLine.FindStringSubmatch(c.line)
		if m == nil {
			t.Errorf("no match: %q", c.line)
			continue
		}
		sym := strings.TrimSpace(trailingDashes.ReplaceAllString(m[5], ""))
		if sym != c.sym || m[3] != c.obj || m[1] != strings.TrimSuffix(strings.Fields(c.line)[0], "%") {
			t.Errorf("%q: sym %q obj %q pct %q", c.line, sym, m[3], m[1])
		}
	}
}

func TestParsePprofTop(t *testing.T) {
	out := `File: redraft
Type: cpu
Duration: 5s, Total samples = 3.20s (64.00%)
Showing nodes accounting for 2.50s, 78.12% of 3.20s total
      flat  flat%   sum%        cum   cum%
     0.50s 15.62% 15.62%      0.60s 18.75%  syscall.Syscall6
     0.10s  3.12% 18.75%      2.10s 65.62%  github.com/tidwall/btree.(*BTreeG[go.shape.struct { k string }]).bsearch
`
	flat, sum := parsePprofTop(out, false)
	if sum != "Duration: 5s, Total samples = 3.20s (64.00%)" || len(flat) != 2 || flat[0].Percent != 15.62 || flat[0].Symbol != "syscall.Syscall6" {
		t.Fatalf("%q %+v", sum, flat)
	}
	cum, _ := parsePprofTop(out, true)
	if cum[1].Percent != 65.62 || cum[1].Symbol != "github.com/tidwall/btree.(*BTreeG[go.shape.struct{…}]).bsearch" {
		t.Fatalf("%+v", cum)
	}
}

func TestParseHeapTop(t *testing.T) {
	out := `File: redraft
Type: inuse_space
Showing nodes accounting for 252690000B, 98.08% of 257630000B total
      flat  flat%   sum%        cum   cum%
 191370000B 74.28% 74.28%  192370000B 74.67%  github.com/tidwall/btree.(*BTreeG[go.shape.struct { a string; b uint64 }]).nodeSet
  37000000B 14.36% 88.64%   37000000B 14.36%  github.com/redraft/redraft/fsm.allocEntry
         0     0% 88.64%  236070000B 91.63%  github.com/redraft/redraft/fsm.(*Machine).ApplyEntry
`
	flat, total := parseHeapTop(out, false)
	if total != 257630000 || len(flat) != 3 || flat[0].Bytes != 191370000 || flat[0].Percent != 74.28 ||
		flat[0].Symbol != "github.com/tidwall/btree.(*BTreeG[go.shape.struct{…}]).nodeSet" || flat[2].Bytes != -1 {
		t.Fatalf("flat: total %d, %+v", total, flat)
	}
	cum, _ := parseHeapTop(out, true)
	if cum[2].Bytes != 236070000 || cum[2].Percent != 91.63 {
		t.Fatalf("cum: %+v", cum)
	}
}

func TestHeapCauses(t *testing.T) {
	sep := "-----------+-------------------------------------------------------\n"
	out := "File: redraft\nType: inuse_space\n" + sep +
		"     bytes:  6kB\n" +
		"  6000B   github.com/tidwall/btree.(*BTreeG[go.shape.struct { fsm.key string }]).nodeSet\n" +
		"          github.com/redraft/redraft/fsm.(*State).store\n" +
		"          github.com/hashicorp/raft.(*Raft).runFSM\n" + sep +
		"     bytes:  32B\n" +
		"  3000B   github.com/redraft/redraft/fsm.allocEntry\n" +
		"          github.com/redraft/redraft/fsm.stringEntry (inline)\n" + sep +
		"     bytes:  48kB\n" +
		"  500B   github.com/hashicorp/go-msgpack/v2/codec.decByteSlice\n" +
		"         github.com/hashicorp/raft.(*NetworkTransport).handleCommand\n" + sep +
		"     bytes:  112B\n" +
		"         0   time.NewTimer\n" +
		"             github.com/redraft/redraft/raftnode/wal.(*WAL).gather\n" + sep +
		"     bytes:  64kB\n" +
		"  100B   bufio.NewWriterSize (inline)\n" +
		"         github.com/redraft/redraft/api/resp.(*Server).serveConn\n" + sep
	ts := parseTraces(out)
	if len(ts) != 5 || ts[0].Bytes != 6000 || len(ts[0].Frames) != 3 || ts[3].Bytes != 0 || ts[4].Frames[0] != "bufio.NewWriterSize (inline)" {
		t.Fatalf("traces: %+v", ts)
	}
	got := heapCauses(ts)
	want := []struct {
		prefix string
		bytes  int64
	}{{"keyspace B-tree", 6000}, {"key and value bytes", 3000}, {"raft:", 500}, {"other", 100}}
	if len(got) != len(want) {
		t.Fatalf("causes: %+v", got)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i].Cause, w.prefix) || got[i].Bytes != w.bytes {
			t.Fatalf("cause %d: %+v, want %s… %d", i, got[i], w.prefix, w.bytes)
		}
	}
}
