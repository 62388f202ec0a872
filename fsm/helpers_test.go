package fsm

import (
	"bytes"
	"flag"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

var (
	seedFlag   = flag.Int64("seed", 0, "seed for randomized tests (0: from the clock)")
	updateFlag = flag.Bool("update", false, "rewrite golden files in testdata/")
)

// testSeed returns the seed of a randomized test and logs it, so that a
// failure can be replayed with -seed.
func testSeed(t testing.TB) int64 {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (rerun with -seed %d)", seed, seed)
	return seed
}

// split turns "SET k \"a b\" \"\"" into arguments: words separated by
// spaces, a word in double quotes is a Go string literal (escapes allowed).
func split(t testing.TB, line string) [][]byte {
	t.Helper()
	var out [][]byte
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				t.Fatalf("bad quoted word in %q: %v", line, err)
			}
			u, _ := strconv.Unquote(q)
			out = append(out, []byte(u))
			line = line[len(q):]
			continue
		}
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			i = len(line)
		}
		out = append(out, []byte(line[:i]))
		line = line[i:]
	}
	return out
}

// t0 is the time the table tests start at (Unix ms).
const t0 = 1_000_000_000

// step is one command of a table test and the reply it must get, as
// Reply.String renders it.
type step struct {
	at   int64 // command time, Unix ms; 0 keeps the previous step's
	cmd  string
	want string
}

// do runs one command at time now: a read-only command both through Read
// and through Apply (which must agree), others through Apply.
func do(t testing.TB, s *State, now int64, line string) Reply {
	t.Helper()
	args := split(t, line)
	spec := findSpec(args[0])
	if spec != nil && spec.Flags&FlagReadonly != 0 {
		r := s.Read(now, args)
		a := s.Apply(&pb.Command{NowMs: now, Args: args})
		if r.String() != a.String() {
			t.Fatalf("%s: Read gives %s, Apply gives %s", line, r, a)
		}
		return r
	}
	return s.Apply(&pb.Command{NowMs: now, Args: args})
}

// run runs steps on a fresh State starting at t0.
func run(t *testing.T, steps []step) *State {
	t.Helper()
	s := NewState()
	now := int64(t0)
	for i, st := range steps {
		if st.at != 0 {
			now = st.at
		}
		if got := unordered(st.cmd, do(t, s, now, st.cmd)).String(); got != st.want {
			t.Errorf("step %d @%d: %s\n got: %s\nwant: %s", i, now-t0, st.cmd, got, st.want)
		}
	}
	return s
}

// unordered sorts the keys that KEYS and SCAN return, whose order Redis
// leaves undefined, so that tables can list them sorted.
func unordered(cmd string, r Reply) Reply {
	name, _, _ := strings.Cut(cmd, " ")
	var keys []Reply
	switch {
	case strings.EqualFold(name, "KEYS") && r.Kind == KindArray:
		keys = r.Array
	case strings.EqualFold(name, "SCAN") && r.Kind == KindArray && len(r.Array) == 2:
		keys = r.Array[1].Array
	}
	slices.SortFunc(keys, func(a, b Reply) int { return bytes.Compare(a.Bulk, b.Bulk) })
	return r
}

type tableCase struct {
	name  string
	steps []step
}

func runTable(t *testing.T, cases []tableCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, c.steps) })
	}
}

// ms returns t0+d as a decimal string, for absolute times in commands.
func ms(d int64) string { return strconv.FormatInt(t0+d, 10) }

// sec returns (t0+d)/1000 as a decimal string.
func sec(d int64) string { return strconv.FormatInt((t0+d)/1000, 10) }
