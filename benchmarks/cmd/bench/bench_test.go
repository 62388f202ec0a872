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
