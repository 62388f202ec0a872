package resp

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/fsm"
)

// RedisVersion is the Redis version whose behaviour redraft follows.
const RedisVersion = "7.2.4"

type handler func(s *Server, c *conn, args [][]byte)

// serverSpec is a command answered by the RESP server itself.
type serverSpec struct {
	name  string
	arity int
	flags []string
	run   handler
}

var serverTable map[string]*serverSpec

func init() {
	specs := []*serverSpec{
		{"ping", -1, []string{"fast", "stale"}, cmdPing},
		{"multi", 1, []string{"noscript", "loading", "stale", "fast", "allow_busy"}, txMulti},
		{"exec", 1, []string{"noscript", "loading", "stale", "skip_slowlog"}, txExec},
		{"discard", 1, []string{"noscript", "loading", "stale", "fast", "allow_busy"}, txDiscard},
		{"watch", -2, []string{"noscript", "loading", "stale", "fast", "allow_busy"}, txWatch},
		{"unwatch", 1, []string{"noscript", "loading", "stale", "fast", "allow_busy"}, txUnwatch},
		{"wait", 3, []string{"noscript"}, cmdWait},
		{"echo", 2, []string{"fast"}, cmdEcho},
		{"select", 2, []string{"loading", "stale", "fast"}, cmdSelect},
		{"quit", -1, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, cmdQuit},
		{"reset", 1, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, cmdReset},
		{"hello", -1, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, cmdHello},
		{"auth", -2, []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, cmdAuth},
		{"command", -1, []string{"loading", "stale"}, cmdCommand},
		{"client", -2, []string{"noscript", "loading", "stale"}, cmdClient},
		{"info", -1, []string{"loading", "stale"}, cmdInfo},
		{"config", -2, []string{"admin", "noscript", "loading", "stale"}, cmdConfig},
		{"cluster", -2, []string{"loading", "stale"}, cmdCluster},
		{"readonly", 1, []string{"loading", "stale", "fast"}, cmdReadonly},
		{"readwrite", 1, []string{"loading", "stale", "fast"}, cmdReadwrite},
		{"asking", 1, []string{"fast"}, cmdAsking},
		{"time", 1, []string{"loading", "stale", "fast"}, cmdTime},
		{"function", -2, []string{"noscript"}, cmdFunction},
		{"save", 1, []string{"admin", "noscript", "no_async_loading"}, cmdSave},
		{"bgsave", -1, []string{"admin", "noscript", "no_async_loading"}, cmdBgsave},
		{"lastsave", 1, []string{"loading", "stale", "fast"}, cmdLastsave},
	}
	serverTable = make(map[string]*serverSpec, len(specs))
	for _, sp := range specs {
		serverTable[sp.name] = sp
	}
}

// serverCommand returns the handler of a server command, checking arity,
// or nil when name is not one (a data command, or unknown).
func serverCommand(name []byte) handler {
	if len(name) > 16 {
		return nil
	}
	sp := serverTable[lower(name)]
	if sp == nil {
		return nil
	}
	return func(s *Server, c *conn, args [][]byte) {
		if (sp.arity >= 0 && len(args) != sp.arity) || (sp.arity < 0 && len(args) < -sp.arity) {
			c.out = errReply(c.out, "ERR wrong number of arguments for '"+sp.name+"' command")
			return
		}
		sp.run(s, c, args)
	}
}

func cmdPing(s *Server, c *conn, args [][]byte) {
	switch len(args) {
	case 1:
		c.out = append(c.out, "+PONG\r\n"...)
	case 2:
		c.out = appendBulk(c.out, args[1])
	default:
		c.out = errReply(c.out, "ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(s *Server, c *conn, args [][]byte) { c.out = appendBulk(c.out, args[1]) }

func cmdSelect(s *Server, c *conn, args [][]byte) {
	n, err := strconv.ParseInt(string(args[1]), 10, 64)
	switch {
	case err != nil:
		c.out = errReply(c.out, fsm.ErrNotInteger)
	case n != 0:
		c.out = errReply(c.out, "ERR SELECT is not allowed in cluster mode")
	default:
		c.out = okReply(c.out)
	}
}

func cmdQuit(s *Server, c *conn, args [][]byte) {
	c.out = okReply(c.out)
	c.quit = true
}

func cmdReset(s *Server, c *conn, args [][]byte) {
	c.proto = 2
	c.tx = txState{}
	c.readonly = false
	c.mu.Lock()
	c.name = ""
	c.mu.Unlock()
	c.out = append(c.out, "+RESET\r\n"...)
}

func cmdAuth(s *Server, c *conn, args [][]byte) {
	c.out = errReply(c.out, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
}

func cmdHello(s *Server, c *conn, args [][]byte) {
	proto := c.proto
	if len(args) >= 2 {
		v, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			c.out = errReply(c.out, "ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.out = errReply(c.out, "NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
	}
	name, setName := "", false
	for i := 2; i < len(args); i++ {
		opt := lower(args[i])
		switch {
		case opt == "auth" && i+2 < len(args):
			c.out = errReply(c.out, "WRONGPASS invalid username-password pair or user is disabled.")
			return
		case opt == "setname" && i+1 < len(args):
			name, setName = string(args[i+1]), true
			if !validClientName(name) {
				c.out = errReply(c.out, "ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			i++
		default:
			c.out = errReply(c.out, "ERR Syntax error in HELLO option '"+string(args[i])+"'")
			return
		}
	}
	c.proto = proto
	if setName {
		c.mu.Lock()
		c.name = name
		c.mu.Unlock()
	}
	b := appendMapLen(c.out, 7, proto)
	b = appendBulkString(b, "server")
	b = appendBulkString(b, "redis")
	b = appendBulkString(b, "version")
	b = appendBulkString(b, RedisVersion)
	b = appendBulkString(b, "proto")
	b = appendReply(b, fsm.IntReply(int64(proto)), proto)
	b = appendBulkString(b, "id")
	b = appendReply(b, fsm.IntReply(c.id), proto)
	b = appendBulkString(b, "mode")
	b = appendBulkString(b, "cluster")
	b = appendBulkString(b, "role")
	b = appendBulkString(b, "master")
	b = appendBulkString(b, "modules")
	b = appendLen(b, '*', 0)
	c.out = b
}

func validClientName(n string) bool {
	for i := 0; i < len(n); i++ {
		if n[i] < '!' || n[i] > '~' {
			return false
		}
	}
	return true
}

func cmdReadonly(s *Server, c *conn, args [][]byte) {
	c.readonly = true
	c.out = okReply(c.out)
}

func cmdReadwrite(s *Server, c *conn, args [][]byte) {
	c.readonly = false
	c.out = okReply(c.out)
}

func cmdAsking(s *Server, c *conn, args [][]byte) { c.out = okReply(c.out) }

func cmdTime(s *Server, c *conn, args [][]byte) {
	now := time.Now()
	c.out = appendLen(c.out, '*', 2)
	c.out = appendBulkString(c.out, strconv.FormatInt(now.Unix(), 10))
	c.out = appendBulkString(c.out, strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdFunction(s *Server, c *conn, args [][]byte) {
	switch lower(args[1]) {
	case "flush":
		c.out = okReply(c.out)
	case "list":
		c.out = appendLen(c.out, '*', 0)
	default:
		c.out = errReply(c.out, "ERR unknown subcommand '"+string(args[1])+"'. Try FUNCTION HELP.")
	}
}

// Raft keeps every group durable on every commit; SAVE has nothing to add.
func cmdSave(s *Server, c *conn, args [][]byte) { c.out = okReply(c.out) }

func cmdBgsave(s *Server, c *conn, args [][]byte) {
	c.out = append(c.out, "+Background saving started\r\n"...)
}

func cmdLastsave(s *Server, c *conn, args [][]byte) {
	c.out = appendReply(c.out, fsm.IntReply(time.Now().Unix()), c.proto)
}

// --- COMMAND ---

// commandEntry is one row of COMMAND's reply.
type commandEntry struct {
	name                    string
	arity                   int
	flags                   []string
	firstKey, lastKey, step int
}

func allCommands() []commandEntry {
	var out []commandEntry
	for _, sp := range fsm.Specs() {
		out = append(out, dataEntry(sp))
	}
	for _, sp := range serverTable {
		out = append(out, commandEntry{name: sp.name, arity: sp.arity, flags: sp.flags})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func dataEntry(sp *fsm.Spec) commandEntry {
	var flags []string
	if sp.Flags&fsm.FlagWrite != 0 {
		flags = append(flags, "write")
	}
	if sp.Flags&fsm.FlagReadonly != 0 {
		flags = append(flags, "readonly")
	}
	if sp.Flags&fsm.FlagDenyOOM != 0 {
		flags = append(flags, "denyoom")
	}
	if sp.Flags&fsm.FlagFast != 0 {
		flags = append(flags, "fast")
	}
	if sp.Flags&fsm.FlagBlocking != 0 {
		flags = append(flags, "blocking")
	}
	return commandEntry{name: sp.Name, arity: sp.Arity, flags: flags, firstKey: sp.FirstKey, lastKey: sp.LastKey, step: sp.Step}
}

func lookupEntry(name []byte) (commandEntry, bool) {
	if sp := fsm.Lookup(name); sp != nil {
		return dataEntry(sp), true
	}
	if sp := serverTable[lower(name)]; sp != nil {
		return commandEntry{name: sp.name, arity: sp.arity, flags: sp.flags}, true
	}
	return commandEntry{}, false
}

func appendCommandEntry(b []byte, e commandEntry, proto int) []byte {
	b = appendLen(b, '*', 10)
	b = appendBulkString(b, e.name)
	b = appendReply(b, fsm.IntReply(int64(e.arity)), proto)
	b = appendSetLen(b, len(e.flags), proto)
	for _, f := range e.flags {
		b = append(b, '+')
		b = appendLine(b, f)
	}
	b = appendReply(b, fsm.IntReply(int64(e.firstKey)), proto)
	b = appendReply(b, fsm.IntReply(int64(e.lastKey)), proto)
	b = appendReply(b, fsm.IntReply(int64(e.step)), proto)
	b = appendSetLen(b, 0, proto) // ACL categories
	b = appendSetLen(b, 0, proto) // tips
	b = appendLen(b, '*', 0)      // key specs
	b = appendLen(b, '*', 0)      // subcommands
	return b
}

func cmdCommand(s *Server, c *conn, args [][]byte) {
	if len(args) == 1 {
		all := allCommands()
		c.out = appendLen(c.out, '*', len(all))
		for _, e := range all {
			c.out = appendCommandEntry(c.out, e, c.proto)
		}
		return
	}
	switch lower(args[1]) {
	case "count":
		c.out = appendReply(c.out, fsm.IntReply(int64(len(allCommands()))), c.proto)
	case "list":
		all := allCommands()
		c.out = appendLen(c.out, '*', len(all))
		for _, e := range all {
			c.out = appendBulkString(c.out, e.name)
		}
	case "info":
		names := args[2:]
		if len(names) == 0 {
			cmdCommand(s, c, args[:1])
			return
		}
		c.out = appendLen(c.out, '*', len(names))
		for _, n := range names {
			if e, ok := lookupEntry(n); ok {
				c.out = appendCommandEntry(c.out, e, c.proto)
			} else {
				c.out = appendReply(c.out, fsm.Reply{Kind: fsm.KindNilArray}, c.proto)
			}
		}
	case "docs":
		// Documentation is not shipped; clients treat an empty map as "no hints".
		c.out = appendMapLen(c.out, 0, c.proto)
	case "getkeys":
		if len(args) < 3 {
			c.out = errReply(c.out, "ERR wrong number of arguments for 'command|getkeys' command")
			return
		}
		sp := fsm.Lookup(args[2])
		if sp == nil {
			c.out = errReply(c.out, "ERR Invalid command specified")
			return
		}
		if !sp.CheckArity(len(args) - 2) {
			c.out = errReply(c.out, "ERR Invalid number of arguments specified for command")
			return
		}
		keys := sp.Keys(args[2:])
		if len(keys) == 0 {
			c.out = errReply(c.out, "ERR The command has no key arguments")
			return
		}
		c.out = appendLen(c.out, '*', len(keys))
		for _, k := range keys {
			c.out = appendBulk(c.out, k)
		}
	default:
		c.out = errReply(c.out, "ERR unknown subcommand '"+string(args[1])+"'. Try COMMAND HELP.")
	}
}

// --- CLIENT ---

func cmdClient(s *Server, c *conn, args [][]byte) {
	sub := lower(args[1])
	switch sub {
	case "id":
		c.out = appendReply(c.out, fsm.IntReply(c.id), c.proto)
	case "setname":
		if len(args) != 3 {
			c.out = errReply(c.out, "ERR wrong number of arguments for 'client|setname' command")
			return
		}
		if !validClientName(string(args[2])) {
			c.out = errReply(c.out, "ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.mu.Lock()
		c.name = string(args[2])
		c.mu.Unlock()
		c.out = okReply(c.out)
	case "getname":
		c.mu.Lock()
		n := c.name
		c.mu.Unlock()
		if n == "" {
			c.out = appendReply(c.out, fsm.ReplyNil, c.proto)
		} else {
			c.out = appendBulkString(c.out, n)
		}
	case "setinfo":
		if len(args) != 4 {
			c.out = errReply(c.out, "ERR wrong number of arguments for 'client|setinfo' command")
			return
		}
		v := string(args[3])
		if !validClientName(v) && v != "" {
			c.out = errReply(c.out, "ERR "+strings.ToUpper(string(args[2]))+" cannot contain spaces, newlines or special characters.")
			return
		}
		c.mu.Lock()
		switch lower(args[2]) {
		case "lib-name":
			c.libName = v
		case "lib-ver":
			c.libVer = v
		default:
			c.mu.Unlock()
			c.out = errReply(c.out, "ERR Unrecognized option '"+string(args[2])+"'")
			return
		}
		c.mu.Unlock()
		c.out = okReply(c.out)
	case "info":
		c.out = appendBulkString(c.out, s.clientLine(c)+"\n")
	case "list":
		s.mu.Lock()
		var lines []string
		for o := range s.conns {
			lines = append(lines, s.clientLine(o))
		}
		s.mu.Unlock()
		sort.Strings(lines)
		c.out = appendBulkString(c.out, strings.Join(lines, "\n")+"\n")
	case "no-evict", "no-touch":
		c.out = okReply(c.out)
	default:
		c.out = errReply(c.out, "ERR unknown subcommand '"+string(args[1])+"'. Try CLIENT HELP.")
	}
}

func (s *Server) clientLine(c *conn) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	age := int64(time.Since(c.created).Seconds())
	flags := "N"
	if c.readonly {
		flags = "r"
	}
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=0 name=%s age=%d idle=0 flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=%d lib-name=%s lib-ver=%s",
		c.id, c.nc.RemoteAddr(), c.nc.LocalAddr(), c.name, age, flags, c.proto, c.libName, c.libVer)
}

// --- INFO ---

func cmdInfo(s *Server, c *conn, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[lower(a)] = true
	}
	all := len(want) == 0 || want["all"] || want["everything"] || want["default"]
	var b strings.Builder
	section := func(name string, body func()) {
		if all || want[name] {
			if b.Len() > 0 {
				b.WriteString("\r\n")
			}
			b.WriteString("# " + strings.ToUpper(name[:1]) + name[1:] + "\r\n")
			body()
		}
	}
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s:%v\r\n", k, v) }
	self := s.cfg.Host.Self()
	section("server", func() {
		kv("redis_version", RedisVersion)
		kv("redraft_version", "0.1.0")
		kv("redis_mode", "cluster")
		kv("os", runtime.GOOS+" "+runtime.GOARCH)
		kv("arch_bits", 64)
		kv("process_id", os.Getpid())
		kv("run_id", NodeID(self.ID))
		kv("tcp_port", portOf(self.RESPAddr))
		kv("uptime_in_seconds", int64(time.Since(s.start).Seconds()))
		kv("go_version", runtime.Version())
	})
	section("clients", func() {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		kv("connected_clients", n)
		kv("blocked_clients", s.exec.Blocked())
	})
	section("memory", func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		kv("used_memory", ms.HeapAlloc)
		kv("used_memory_human", fmt.Sprintf("%.2fM", float64(ms.HeapAlloc)/(1<<20)))
		kv("used_memory_rss", residentBytes(ms.Sys))
		kv("maxmemory", 0)
		kv("maxmemory_policy", "noeviction")
	})
	section("persistence", func() {
		kv("loading", 0)
		kv("aof_enabled", 0)
		kv("raft_log_fsync", "always")
	})
	section("stats", func() {
		kv("total_commands_processed", s.commands.Load())
	})
	section("replication", func() {
		groups := s.cfg.Host.Groups()
		role := "slave"
		for _, g := range groups {
			if g.IsLeader() {
				role = "master"
			}
		}
		kv("role", role)
		kv("raft_groups", len(groups))
		if m := s.cfg.Host.Map(); m != nil {
			kv("slot_map_epoch", m.Epoch)
		}
		for _, g := range append(slices.Clone(groups), s.cfg.Host.Meta()) {
			st := g.Node().Progress()
			var rs []string
			for _, r := range g.Ranges() {
				rs = append(rs, r.String())
			}
			fmt.Fprintf(&b, "group_%s:role=%s,term=%d,leader=%s,applied_index=%d,commit_index=%d,last_log_index=%d,slots=%s,keys=%d\r\n",
				g.ID(), strings.ToLower(st.State.String()), st.Term, st.LeaderID, st.AppliedIndex, st.CommitIndex, st.LastLogIndex, strings.Join(rs, ";"), g.Machine().Len())
		}
	})
	section("cluster", func() { kv("cluster_enabled", 1) })
	section("keyspace", func() {
		n := 0
		for _, g := range s.cfg.Host.Groups() {
			n += g.Machine().Len()
		}
		if n > 0 {
			kv("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", n))
		}
	})
	c.out = appendBulkString(c.out, b.String())
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// --- CONFIG ---

func cmdConfig(s *Server, c *conn, args [][]byte) {
	switch lower(args[1]) {
	case "get":
		if len(args) < 3 {
			c.out = errReply(c.out, "ERR wrong number of arguments for 'config|get' command")
			return
		}
		var pats []string
		for _, a := range args[2:] {
			pats = append(pats, lower(a))
		}
		pairs := s.conf.get(pats)
		c.out = appendMapLen(c.out, len(pairs)/2, c.proto)
		for _, p := range pairs {
			c.out = appendBulkString(c.out, p)
		}
	case "set":
		if len(args) < 4 || len(args)%2 != 0 {
			c.out = errReply(c.out, "ERR wrong number of arguments for 'config|set' command")
			return
		}
		if msg := s.conf.set(args[2:]); msg != "" {
			c.out = errReply(c.out, msg)
			return
		}
		c.out = okReply(c.out)
	case "resetstat", "rewrite":
		c.out = okReply(c.out)
	default:
		c.out = errReply(c.out, "ERR unknown subcommand '"+string(args[1])+"'. Try CONFIG HELP.")
	}
}

// residentBytes is the process's resident set size from /proc/self/statm,
// or fallback where that cannot be read.
func residentBytes(fallback uint64) uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return fallback
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return fallback
	}
	return pages * uint64(os.Getpagesize())
}
