package differential

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

var (
	seedFlag  = flag.Uint64("seed", 0, "seed of the command sequence (0: from the clock)")
	nFlag     = flag.Int("cmds", 20000, "commands per run")
	keepGoing = flag.Int("keep-going", 0, "report up to this many mismatches instead of stopping at the first")
)

// startRedis starts a redis-server on a free loopback port for the test,
// with extra arguments.
func startRedis(t *testing.T, extra ...string) string {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed (CI is set, so this is a failure)")
		}
		t.Skip("redis-server is not installed: skipping the differential test (install redis-server, or set CI to make this a failure)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	c := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", dir+"/redis.log")
	c.Args = append(c.Args, extra...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		cl, err := dial(addr, 2)
		if err == nil {
			v, err := cl.do([]byte("PING"))
			cl.close()
			if err == nil && v.typ == '+' {
				return addr
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server did not start on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// harness runs commands on both sides: Redis, and redraft, which is either
// a state machine in the process (m) or a server (srv, by protocol).
type harness struct {
	t       *testing.T
	redis   [4]*client // by protocol: [2] and [3]
	m       *fsm.Machine
	srv     [4]*client
	r       *rand.Rand
	history []string
	fails   int
	txs     int // transactions run
	// txAborted counts transactions that a watched key aborted.
	txAborted int
}

func (h *harness) bytesArgs(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// redisDo runs a command on Redis over protocol proto.
func (h *harness) redisDo(proto int, args []string) rv {
	v, err := h.redis[proto].do(h.bytesArgs(args)...)
	if err != nil {
		h.t.Fatalf("redis: %q: %v", args, err)
	}
	return v
}

// fsmDo runs a command on the state machine as the server would: a write
// as a log entry through ApplyEntry (with a seed), anything else through
// Read, both at the current time.
func (h *harness) fsmDo(args []string) fsm.Reply {
	now := time.Now().UnixMilli()
	a := h.bytesArgs(args)
	spec := fsm.Lookup(a[0])
	if spec == nil || !spec.Write() {
		return h.m.Read(now, a)
	}
	return h.fsmEntry(a)
}

// fsmEntry applies one command as a log entry, at the current time.
func (h *harness) fsmEntry(args [][]byte) fsm.Reply {
	data, err := proto.Marshal(&pb.Entry{Commands: []*pb.Command{{NowMs: time.Now().UnixMilli(), Seed: h.r.Uint64(), Args: args}}})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.m.ApplyEntry(data)[0]
}

// other runs a command on redraft's side over protocol proto.
func (h *harness) other(proto int, args []string) rv {
	if h.srv[proto] == nil {
		return fromReply(h.fsmDo(args), proto)
	}
	v, err := h.srv[proto].do(h.bytesArgs(args)...)
	if err != nil {
		h.t.Fatalf("redraft: %q: %v", args, err)
	}
	return v
}

func (h *harness) both(proto int, args []string) (rv, rv) {
	rr := h.redisDo(proto, args)
	fr := h.other(proto, args)
	return rr, fr
}

func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \"\\\x00\xff") || len(a) > 30 {
			if len(a) > 30 {
				a = a[:10] + "…(" + strconv.Itoa(len(a)) + ")"
			}
			q[i] = strconv.Quote(a)
		} else {
			q[i] = a
		}
	}
	return strings.Join(q, " ")
}

func (h *harness) mismatch(i int, args []string, proto int, format string, a ...any) {
	h.t.Helper()
	h.fails++
	start := max(0, len(h.history)-15)
	msg := fmt.Sprintf("command %d (RESP%d): %s\n  %s\n  recent commands:\n    %s",
		i, proto, quote(args), fmt.Sprintf(format, a...), strings.Join(h.history[start:], "\n    "))
	if h.fails > *keepGoing {
		h.t.Fatal(msg)
	}
	h.t.Error(msg)
}

func TestDifferential(t *testing.T) {
	addr := startRedis(t)
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	fmt.Printf("differential: seed %d (repeat with -seed %d)\n", seed, seed)
	t.Logf("seed %d (repeat with -seed %d)", seed, seed)

	h := &harness{t: t, m: fsm.NewMachine(), r: rand.New(rand.NewPCG(seed, 1))}
	for _, p := range []int{2, 3} {
		c, err := dial(addr, p)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		h.redis[p] = c
	}
	h.runRandom(seed, *nFlag)
}

// runRandom runs n random commands of the sequence seed on both sides.
func (h *harness) runRandom(seed uint64, n int) {
	t := h.t
	g := &gen{r: rand.New(rand.NewPCG(seed, 2)), lists: fsm.Lookup([]byte("lpush")) != nil}
	if !g.lists {
		t.Log("the state machine has no lists: lists are left out")
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		c := g.next()
		proto := 2 + h.r.IntN(2)
		h.history = append(h.history, quote(c.args))
		h.run(i, c, proto)
		if i%500 == 499 {
			h.compareAll(i, g)
		}
	}
	h.compareAll(n, g)
	t.Logf("%d commands (%d of them transactions, %d aborted by WATCH) in %v", n, h.txs, h.txAborted, time.Since(start).Round(time.Millisecond))
}

func (h *harness) run(i int, c command, proto int) {
	switch c.mode {
	case exact:
		rr, fr := h.both(proto, c.args)
		if rr.String() != fr.String() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
	case unordered:
		rr, fr := h.both(proto, c.args)
		if rr.unordered() != fr.unordered() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr.unordered(), fr.unordered())
		}
	case ttl:
		rr, fr := h.both(proto, c.args)
		tol := int64(2)
		if c.args[0] == "PTTL" || c.args[0] == "PEXPIRETIME" {
			tol = 2000
		}
		if rr.typ != ':' || fr.typ != ':' || ((rr.n <= 0 || fr.n <= 0) && rr.n != fr.n) || abs(rr.n-fr.n) > tol {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
	case encoding:
		rr, fr := h.both(proto, c.args)
		if typ := h.other(2, []string{"TYPE", c.args[2]}).s; (typ == "string" || typ == "list") && rr.typ != '-' && fr.typ != '-' {
			break
		}
		if rr.String() != fr.String() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
	case memUsage:
		rr, fr := h.both(proto, c.args)
		if rr.typ != fr.typ || rr.isNil() != fr.isNil() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
	case randomKey:
		rr, fr := h.both(proto, c.args)
		for _, x := range []struct {
			side string
			v    rv
		}{{"redis", rr}, {"fsm", fr}} {
			if x.v.isNil() {
				if n := h.other(2, []string{"DBSIZE"}).n; n != 0 {
					h.mismatch(i, c.args, proto, "%s: nil with %d keys", x.side, n)
				}
				continue
			}
			if x.v.typ != '$' || h.other(2, []string{"EXISTS", x.v.s}).n != 1 {
				h.mismatch(i, c.args, proto, "%s: %s is not a key", x.side, x.v)
			}
		}
	case randPick:
		h.checkRandPick(i, c, proto)
	case spop:
		h.checkSPop(i, c, proto)
	case scanAll:
		h.checkScan(i, c, proto)
	case dumpRestore:
		h.checkDumpRestore(i, c, proto)
	case tx:
		h.checkTx(i, c, proto)
	}
}

// checkTx runs a transaction on both sides: on Redis (and on a redraft
// server) over one connection: WATCH, the commands in between on the same
// connection, MULTI, the queued commands, EXEC. On a state machine, as the
// front door does it: the watched keys' versions read at WATCH, the
// commands in between applied, then one __exec entry.
func (h *harness) checkTx(i int, c command, proto int) {
	conns := []*client{h.redis[proto]}
	if h.srv[proto] != nil {
		conns = append(conns, h.srv[proto])
	}
	var versions []fsm.Version
	if len(c.watch) > 0 {
		h.history = append(h.history, "  WATCH "+quote(c.watch))
		var replies []string
		for _, cl := range conns {
			r, err := cl.do(h.bytesArgs(append([]string{"WATCH"}, c.watch...))...)
			if err != nil {
				h.t.Fatalf("WATCH: %v", err)
			}
			replies = append(replies, r.String())
		}
		// CROSSSLOT from a cluster (both sides, or neither).
		if replies[len(replies)-1] != replies[0] || (len(replies) == 1 && replies[0] != "+OK") {
			h.mismatch(i, append([]string{"WATCH"}, c.watch...), proto, "redis: %s\n  redraft: %s", replies[0], replies[len(replies)-1])
		}
		if h.srv[proto] == nil {
			versions = h.m.Versions(time.Now().UnixMilli(), h.bytesArgs(c.watch))
		}
	}
	for _, m := range c.meddle {
		h.history = append(h.history, "  (between WATCH and MULTI) "+quote(m.args))
		h.run(i, m, proto)
	}
	var cmds [][][]byte
	for _, q := range append([]command{{args: []string{"MULTI"}}}, c.queued...) {
		if q.args[0] != "MULTI" {
			h.history = append(h.history, "  (queued) "+quote(q.args))
			cmds = append(cmds, h.bytesArgs(q.args))
		}
		var replies []string
		for _, cl := range conns {
			r, err := cl.do(h.bytesArgs(q.args)...)
			if err != nil {
				h.t.Fatalf("%q: %v", q.args, err)
			}
			replies = append(replies, r.String())
		}
		if (len(replies) == 1 && replies[0] != "+OK" && replies[0] != "+QUEUED") || replies[len(replies)-1] != replies[0] {
			h.mismatch(i, q.args, proto, "queued: redis %s, redraft %s", replies[0], replies[len(replies)-1])
		}
	}
	h.history = append(h.history, "  EXEC")
	rr := h.redisDo(proto, []string{"EXEC"})
	var fr rv
	if h.srv[proto] != nil {
		fr = h.other(proto, []string{"EXEC"})
	} else {
		watches := make([]fsm.Watch, len(versions))
		for j, v := range versions {
			watches[j] = fsm.Watch{Key: []byte(c.watch[j]), Version: v}
		}
		fr = fromReply(h.fsmEntry(fsm.ExecArgs(watches, cmds)), proto)
	}
	if rr.String() != fr.String() {
		h.mismatch(i, []string{"EXEC"}, proto, "redis: %s\n  fsm:   %s", rr, fr)
	}
	h.txs++
	if rr.isNil() {
		h.txAborted++
	}
}

// members returns the fsm's content of key as the random picks see it:
// each member (field) with its value (score), and whether the key holds
// type typ. The two sides hold the same content before the pick.
func (h *harness) members(key, typ string) (map[string]string, bool) {
	if got := h.other(2, []string{"TYPE", key}).s; got != typ {
		return nil, got == "none"
	}
	out := map[string]string{}
	var r rv
	switch typ {
	case "set":
		r = h.other(3, []string{"SMEMBERS", key})
		for _, e := range r.elems {
			out[e.s] = ""
		}
		return out, true
	case "hash":
		r = h.other(3, []string{"HGETALL", key})
	case "zset":
		r = h.other(3, []string{"ZRANGE", key, "0", "-1", "WITHSCORES"})
	}
	items := flat(r) // RESP3: scores are doubles, as picks with scores give them
	for j := 0; j+1 < len(items); j += 2 {
		out[items[j].s] = items[j+1].s
	}
	return out, true
}

// flat returns the picks of a reply: pairs of RESP3 flattened.
func flat(v rv) []rv {
	var out []rv
	for _, e := range v.elems {
		if e.typ == '*' && len(e.elems) == 2 {
			out = append(out, e.elems...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// checkRandPick checks SRANDMEMBER, HRANDFIELD and ZRANDMEMBER: the same
// errors on both sides, else on each side a valid pick from the content.
func (h *harness) checkRandPick(i int, c command, proto int) {
	content, isType := h.members(c.args[1], c.typ)
	rr, fr := h.both(proto, c.args)
	if rr.typ == '-' || fr.typ == '-' || !isType {
		if rr.String() != fr.String() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
		return
	}
	for _, x := range []struct {
		side string
		v    rv
	}{{"redis", rr}, {"fsm", fr}} {
		if err := validPick(x.v, c, content, proto); err != nil {
			h.mismatch(i, c.args, proto, "%s: %s: %v (content %v)", x.side, x.v, err, content)
		}
	}
	if rr.typ != fr.typ {
		h.mismatch(i, c.args, proto, "reply types differ: redis %s, fsm %s", rr, fr)
	}
}

func validPick(v rv, c command, content map[string]string, proto int) error {
	if len(c.args) == 2 { // no count: one member, nil if none
		if len(content) == 0 {
			if !v.isNil() {
				return errors.New("not nil for a missing key")
			}
			return nil
		}
		if _, ok := content[v.s]; v.typ != '$' || !ok {
			return errors.New("not a member")
		}
		return nil
	}
	count, _ := strconv.ParseInt(c.args[2], 10, 64)
	with := len(c.args) == 4
	if v.typ != '*' {
		return errors.New("not an array")
	}
	items := flat(v)
	if with && proto == 3 {
		for _, e := range v.elems {
			if e.typ != '*' || len(e.elems) != 2 {
				return errors.New("RESP3 pairs expected")
			}
		}
	}
	step := 1
	if with {
		step = 2
	}
	n := len(items) / step
	want := int(count)
	switch {
	case len(content) == 0:
		want = 0
	case count >= 0:
		want = min(int(count), len(content))
	default:
		want = int(-count)
	}
	if n != want {
		return fmt.Errorf("%d picks, want %d", n, want)
	}
	seen := map[string]bool{}
	for j := 0; j < len(items); j += step {
		m := items[j].s
		val, ok := content[m]
		if !ok {
			return fmt.Errorf("%q is not a member", m)
		}
		if with && items[j+1].s != val {
			return fmt.Errorf("%q comes with %q, holds %q", m, items[j+1].s, val)
		}
		if count > 0 && seen[m] {
			return fmt.Errorf("%q picked twice", m)
		}
		seen[m] = true
	}
	return nil
}

// checkSPop checks SPOP's picks on both sides, then makes the state
// machine's set what Redis's is (the picks differ).
func (h *harness) checkSPop(i int, c command, proto int) {
	key := c.args[1]
	content, isSet := h.members(key, "set")
	rr, fr := h.both(proto, c.args)
	if rr.typ == '-' || fr.typ == '-' || !isSet {
		if rr.String() != fr.String() {
			h.mismatch(i, c.args, proto, "redis: %s\n  fsm:   %s", rr, fr)
		}
		return
	}
	picks := func(v rv) ([]string, error) {
		if len(c.args) == 2 {
			if v.isNil() {
				if len(content) != 0 {
					return nil, errors.New("nil from a set")
				}
				return nil, nil
			}
			if _, ok := content[v.s]; v.typ != '$' || !ok {
				return nil, errors.New("not a member")
			}
			return []string{v.s}, nil
		}
		count, _ := strconv.Atoi(c.args[2])
		want := min(count, len(content))
		wantTyp := byte('*')
		if proto == 3 {
			wantTyp = '~'
		}
		if v.typ != wantTyp || len(v.elems) != want {
			return nil, fmt.Errorf("want %d members in a %q reply", want, wantTyp)
		}
		var out []string
		seen := map[string]bool{}
		for _, e := range v.elems {
			if _, ok := content[e.s]; !ok || seen[e.s] {
				return nil, fmt.Errorf("%q is not a member, or twice", e.s)
			}
			seen[e.s] = true
			out = append(out, e.s)
		}
		return out, nil
	}
	rp, err1 := picks(rr)
	fp, err2 := picks(fr)
	if err1 != nil || err2 != nil {
		h.mismatch(i, c.args, proto, "redis: %s (%v)\n  fsm:   %s (%v)", rr, err1, fr, err2)
		return
	}
	// Put back what the state machine took, take what Redis took.
	if len(fp) > 0 && len(rp) < len(content) {
		h.other(2, append([]string{"SADD", key}, fp...))
		h.other(2, append([]string{"SREM", key}, rp...))
	}
}

// scanElements runs a whole iteration and returns what it found: keys or
// members, or "field=value" pairs for HSCAN and ZSCAN.
func (h *harness) scanElements(side string, proto int, args []string) (map[string]bool, string, error) {
	curPos := 1
	if args[0] != "SCAN" {
		curPos = 2
	}
	pairs := args[0] == "HSCAN" || args[0] == "ZSCAN"
	found := map[string]bool{}
	cursor := "0"
	for calls := 0; ; calls++ {
		if calls > 100000 {
			return nil, "", errors.New("the iteration does not end")
		}
		a := append([]string(nil), args...)
		a[curPos] = cursor
		var v rv
		if side == "redis" {
			v = h.redisDo(proto, a)
		} else {
			v = h.other(proto, a)
		}
		if v.typ == '-' {
			return nil, v.String(), nil
		}
		if v.typ != '*' || len(v.elems) != 2 || v.elems[0].typ != '$' || v.elems[1].typ != '*' {
			return nil, "", fmt.Errorf("bad reply %s", v)
		}
		items := v.elems[1].elems
		for j := 0; j < len(items); j++ {
			if pairs && j+1 < len(items) {
				found[items[j].s+"="+items[j+1].s] = true
				j++
			} else {
				found[items[j].s] = true
			}
		}
		cursor = v.elems[0].s
		if cursor == "0" {
			return found, "", nil
		}
	}
}

func (h *harness) checkScan(i int, c command, proto int) {
	rf, rerr, err1 := h.scanElements("redis", proto, c.args)
	ff, ferr, err2 := h.scanElements("fsm", proto, c.args)
	if err1 != nil || err2 != nil {
		h.mismatch(i, c.args, proto, "redis: %v\n  fsm: %v", err1, err2)
		return
	}
	if rerr != ferr || setString(rf) != setString(ff) {
		h.mismatch(i, c.args, proto, "redis: %s%s\n  fsm:   %s%s", rerr, setString(rf), ferr, setString(ff))
	}
}

func setString(m map[string]bool) string {
	var keys []string
	for k := range m {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	return "{" + strings.Join(keys, " ") + "}"
}

// checkDumpRestore dumps a key on each side and restores each side's
// payload under another key, with a random TTL and options.
func (h *harness) checkDumpRestore(i int, c command, proto int) {
	src, dst := c.args[1], c.args[2]
	rd, fd := h.both(proto, []string{"DUMP", src})
	if rd.isNil() != fd.isNil() || rd.typ == '-' || fd.typ == '-' {
		h.mismatch(i, c.args, proto, "DUMP: redis %s, fsm %s", rd, fd)
		return
	}
	if rd.isNil() {
		return
	}
	opts := []string{"0"}
	switch h.r.IntN(4) {
	case 0:
		opts = []string{"1000000"}
	case 1:
		opts = []string{strconv.FormatInt(time.Now().UnixMilli()+1e7, 10), "ABSTTL"}
	case 2:
		opts = []string{"1", "ABSTTL"} // long expired: nothing is created
	}
	if h.r.IntN(4) > 0 {
		opts = append(opts, "REPLACE")
	}
	if h.r.IntN(5) == 0 {
		opts = append(opts, "IDLETIME", "10")
	}
	rargs := append([]string{"RESTORE", dst, opts[0], rd.s}, opts[1:]...)
	fargs := append([]string{"RESTORE", dst, opts[0], fd.s}, opts[1:]...)
	rr := h.redisDo(proto, rargs)
	fr := h.other(proto, fargs)
	if rr.String() != fr.String() {
		h.mismatch(i, append([]string{"RESTORE", dst}, opts...), proto, "redis: %s\n  fsm:   %s", rr, fr)
	}
}

// compareAll compares every key's type, content, expiry and encoding, and
// the number of keys.
func (h *harness) compareAll(i int, g *gen) { h.compareKeys(i, g.allKeys()) }

// compareKeys compares the number of keys, and keys' type, content, expiry
// and encoding.
func (h *harness) compareKeys(i int, keys []string) {
	check := func(args []string, m mode) {
		rr, fr := h.both(2, args)
		a, b := rr.String(), fr.String()
		if m == unordered {
			a, b = rr.unordered(), fr.unordered()
		}
		if a != b {
			h.mismatch(i, args, 2, "state differs:\n  redis: %s\n  fsm:   %s", a, b)
		}
	}
	check([]string{"DBSIZE"}, exact)
	for _, k := range keys {
		rr, _ := h.both(2, []string{"TYPE", k})
		check([]string{"TYPE", k}, exact)
		switch rr.s {
		case "string":
			check([]string{"GET", k}, exact)
		case "hash":
			check([]string{"HGETALL", k}, unordered)
		case "set":
			check([]string{"SMEMBERS", k}, unordered)
		case "zset":
			check([]string{"ZRANGE", k, "0", "-1", "WITHSCORES"}, exact)
		case "list":
			check([]string{"LRANGE", k, "0", "-1"}, exact)
		}
		if rr.s != "string" && rr.s != "list" { // see mode encoding
			check([]string{"OBJECT", "ENCODING", k}, exact)
		}
		rt, ft := h.both(2, []string{"TTL", k})
		if (rt.n < 0 || ft.n < 0) && rt.n != ft.n {
			h.mismatch(i, []string{"TTL", k}, 2, "state differs: redis %s, fsm %s", rt, ft)
		}
	}
}

// edgeCases are commands from the documentation and the corners found
// around it, compared exactly (U: as sets), in order on one keyspace.
var edgeCases = []string{
	"ZADD z NX XX 1 a", "ZADD z GT LT 1 a", "ZADD z NX GT 1 a", "ZADD z INCR 1 a 2 b",
	"ZADD z 1 a 2", "ZADD z NX 1", "ZADD z nan a", `ZADD z "" a`, `ZADD z " 1" a`, "ZADD z 1e400 a",
	"ZADD z 1e-400 a", "ZADD z 0x10 hex", "ZSCORE z hex", "ZADD z 4e-320 tiny", "ZSCORE z tiny",
	"ZADD z XX INCR 1 a", "ZADD z 5 a", "ZADD z GT CH 3 a", "ZADD z LT CH 4 a", "ZADD z INCR inf a",
	"ZADD z INCR -inf a", "ZINCRBY y -0 a", "ZSCORE y a", "ZADD z2 1 one 2 two 3 three 4 four",
	"ZRANGE z2 0 -1 LIMIT 0 1", "ZRANGE z2 0 -1 LIMIT 0 -1", "ZRANGE z2 0 -1 LIMIT 0", "ZREVRANGE z2 0 -1 REV",
	"ZRANGE z2 -inf +inf BYSCORE LIMIT -1 2", "ZRANGE z2 -inf +inf BYSCORE LIMIT 4 2", "ZRANGE z2 (3 (1 BYSCORE REV",
	`ZRANGE z2 "" +inf BYSCORE`, `ZRANGE z2 " 2" +inf BYSCORE`, `ZRANGE z2 "2 " +inf BYSCORE`, "ZRANGEBYSCORE z2 1e400 inf",
	"ZRANGEBYSCORE z2 -inf 2 BYSCORE", "ZRANGE z2 1 2 BYSCORE BYLEX", "ZRANGE z2 - + BYLEX WITHSCORES",
	"ZRANGESTORE dst z2 0 -1 WITHSCORES", "ZRANGESTORE dst z2 3 (1 BYSCORE REV LIMIT 0 1", "ZRANGE dst 0 -1 WITHSCORES",
	"ZCOUNT nokey x 1", "ZPOPMIN z2 -1", "ZPOPMIN z2 1 2", "ZPOPMIN z2 0", "ZPOPMAX z2 2", "ZPOPMIN nokey",
	"ZADD lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g", "ZRANGEBYLEX lex - [c", "ZRANGEBYLEX lex [aaa (g", "ZREVRANGEBYLEX lex [c -",
	"ZRANGE lex + - BYLEX", "ZRANGE lex (c [c BYLEX", "ZRANGEBYLEX lex a [c", `ZRANGEBYLEX lex "" [c`, "ZRANGEBYLEX lex -a [c",
	"ZLEXCOUNT lex (b (f", "ZREMRANGEBYLEX lex [b (d", "ZRANGE lex 0 -1",
	"ZADD m 5 x 1 y 3 z", "ZRANGEBYLEX m - +", "ZRANGEBYLEX m [y +", "ZLEXCOUNT m [a [y", "ZRANGEBYLEX m [z -", // mixed scores, compact
	"ZADD a 1 x +inf y", "ZADD b 1 x -inf y", "ZUNION 2 a b WITHSCORES", "ZUNION 2 a b WEIGHTS 0 1 WITHSCORES",
	"ZINTER 2 a b WEIGHTS 0 0 WITHSCORES", "ZUNION 2 a b WEIGHTS 1 x", "ZUNION 2 a b WEIGHTS 1", "ZUNION 2 a b AGGREGATE AVG",
	"ZDIFF 2 a b WEIGHTS 1 1", "ZUNIONSTORE out 2 a b WITHSCORES", "ZUNION 0 a", "ZUNIONSTORE out 0 a", "ZINTERCARD 0 a",
	"ZINTER x a", "ZDIFF 3 a b", "SET str v", "ZUNION 2 nokey str WEIGHTS x", "ZINTERCARD 2 a b LIMIT -1",
	"ZRANDMEMBER a 1 WITHSCORE", "ZRANDMEMBER a -9223372036854775808", "ZRANDMEMBER a 5000000000000000000 WITHSCORES",
	"HSET h f", "HMSET h a 1 b", "HINCRBY h f x", "HSET h s abc", "HINCRBY h s 1", "HINCRBYFLOAT h s 1",
	"HINCRBYFLOAT h f inf", "HSET h big 9223372036854775800", "HINCRBY h big 8", "HRANDFIELD h 1 WITHVALUE",
	"HRANDFIELD h -9223372036854775808", "HRANDFIELD h 5000000000000000000 WITHVALUES", "HSCAN nokey 0 COUNT 0",
	"HSCAN nokey x", "HSCAN h 0 COUNT 0", "HSCAN h 0 MATCH", "HSCAN h 0 TYPE string", "HINCRBYFLOAT h x 0.1", "HINCRBYFLOAT h x 0.2",
	"SPOP nokey 2", "SPOP str 2", "SADD s a", "SPOP s -1", "SPOP s 1 2", "SRANDMEMBER s 1 2",
	"SRANDMEMBER s -9223372036854775808", "SMOVE nokey str x", "SMOVE s str x", "SMOVE str s x", "SINTER nokey str",
	"SINTERCARD 0 s", "SINTERCARD x s", "SINTERCARD 3 s s", "SINTERCARD 1 s LIMIT -1", "SINTERCARD 1 s LIMIT",
	"SINTERCARD 1 s FOO 1", "SADD i 1 2 3", "OBJECT ENCODING i", "SADD i 007", "OBJECT ENCODING i",
	"OBJECT ENCODING nokey", "OBJECT ENCODING", "OBJECT ENCODING a b", "OBJECT HELP x", "OBJECT foo s", "OBJECT FREQ s",
	"OBJECT HELP", "MEMORY USAGE nokey", "MEMORY USAGE s SAMPLES -1", "MEMORY USAGE s SAMPLES", "MEMORY USAGE",
	"MEMORY HELP", "RESTORE k 0 garbage", "RESTORE s 0 garbage", "RESTORE s -1 garbage REPLACE", "RESTORE s x garbage REPLACE",
	"RESTORE s 0 garbage REPLACE IDLETIME -1", "RESTORE s 0 garbage REPLACE FREQ 256", "RESTORE s 0 garbage REPLACE FREQ 1 IDLETIME 1",
	"RESTORE s 0 garbage FOO", "DUMP nokey", "RENAME nokey x", "RENAMENX nokey x", "RENAME s s", "RENAMENX s s",
	"COPY s s", "COPY nokey d", "COPY s d FOO", "COPY s d", "COPY s d", "COPY s d REPLACE",
	"SCAN 0 COUNT 0", "SCAN 0 COUNT", "SCAN x", `SCAN " 1"`, "SCAN 18446744073709551616",
	"U:KEYS *", "U:KEYS ?", "U:KEYS [a-c]*", "U:KEYS *[", `U:KEYS \*`, "U:KEYS [^s]*",
	"ZRANK z2 two", "ZREVRANK z2 two", "ZRANK nokey a", "TOUCH s nokey s",
	"ZADD big 1 LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL", "ZADD big -0 x", "ZSCORE big x",
	"ZUNIONSTORE u 1 big", "ZSCORE u x", "ZREM u LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL",
	"ZUNIONSTORE u 1 u", "OBJECT ENCODING u", "ZSCORE u x",
}

// TestDifferentialEdgeCases runs edgeCases on both sides, over RESP2 and
// RESP3.
func TestDifferentialEdgeCases(t *testing.T) {
	addr := startRedis(t)
	for _, p := range []int{2, 3} {
		h := &harness{t: t, m: fsm.NewMachine(), r: rand.New(rand.NewPCG(1, 1))}
		for _, q := range []int{2, 3} {
			c, err := dial(addr, q)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			h.redis[q] = c
		}
		h.redisDo(p, []string{"FLUSHALL"})
		for i, line := range edgeCases {
			m := exact
			if strings.HasPrefix(line, "U:") {
				m, line = unordered, line[2:]
			}
			args := splitLine(t, line)
			h.history = append(h.history, line)
			h.run(i, command{args: args, mode: m}, p)
		}
	}
}

// splitLine splits a command line at spaces; a word in double quotes is a
// Go string literal.
func splitLine(t *testing.T, line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			u, _ := strconv.Unquote(q)
			out = append(out, u)
			line = line[len(q):]
			continue
		}
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			i = len(line)
		}
		out = append(out, line[:i])
		line = line[i:]
	}
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
