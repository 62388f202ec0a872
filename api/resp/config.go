package resp

import (
	"context"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type contextT = context.Context

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// configStore holds the CONFIG parameters clients and tools read and set.
// Parameters that mean nothing here are stored and reported as Redis would;
// redraft's durability does not depend on them.
type configStore struct {
	mu     sync.Mutex
	params map[string]string
}

// configDefaults are Redis 7's defaults for the parameters tools ask about.
var configDefaults = map[string]string{
	"save":                          "",
	"appendonly":                    "no",
	"appendfsync":                   "everysec",
	"databases":                     "1",
	"maxmemory":                     "0",
	"maxmemory-policy":              "noeviction",
	"maxclients":                    "10000",
	"timeout":                       "0",
	"tcp-keepalive":                 "300",
	"proto-max-bulk-len":            "536870912",
	"client-query-buffer-limit":     "1073741824",
	"hash-max-listpack-entries":     "128",
	"hash-max-listpack-value":       "64",
	"hash-max-ziplist-entries":      "128",
	"hash-max-ziplist-value":        "64",
	"list-max-listpack-size":        "-2",
	"list-max-ziplist-size":         "-2",
	"list-compress-depth":           "0",
	"set-max-intset-entries":        "512",
	"set-max-listpack-entries":      "128",
	"set-max-listpack-value":        "64",
	"zset-max-listpack-entries":     "128",
	"zset-max-listpack-value":       "64",
	"zset-max-ziplist-entries":      "128",
	"zset-max-ziplist-value":        "64",
	"stream-node-max-bytes":         "4096",
	"stream-node-max-entries":       "100",
	"lua-time-limit":                "5000",
	"busy-reply-threshold":          "5000",
	"slowlog-log-slower-than":       "10000",
	"slowlog-max-len":               "128",
	"latency-tracking":              "yes",
	"lazyfree-lazy-user-del":        "no",
	"lazyfree-lazy-user-flush":      "no",
	"active-expire-effort":          "1",
	"hz":                            "10",
	"cluster-enabled":               "yes",
	"cluster-node-timeout":          "15000",
	"cluster-require-full-coverage": "yes",
	"cluster-allow-reads-when-down": "no",
	"notify-keyspace-events":        "",
	"loglevel":                      "notice",
	"dir":                           "",
	"dbfilename":                    "dump.rdb",
	"min-replicas-to-write":         "0",
	"repl-diskless-sync":            "yes",
	"activedefrag":                  "no",
	"close-on-oom":                  "no",
	"enable-debug-command":          "no",
}

// numericParams must parse as integers when set.
var numericParams = map[string]bool{
	"databases": true, "maxmemory": true, "maxclients": true, "timeout": true, "tcp-keepalive": true,
	"proto-max-bulk-len": true, "client-query-buffer-limit": true, "hz": true,
	"hash-max-listpack-entries": true, "hash-max-listpack-value": true, "hash-max-ziplist-entries": true,
	"hash-max-ziplist-value": true, "list-max-listpack-size": true, "list-max-ziplist-size": true,
	"list-compress-depth": true, "set-max-intset-entries": true, "set-max-listpack-entries": true,
	"set-max-listpack-value": true, "zset-max-listpack-entries": true, "zset-max-listpack-value": true,
	"zset-max-ziplist-entries": true, "zset-max-ziplist-value": true, "stream-node-max-bytes": true,
	"stream-node-max-entries": true, "lua-time-limit": true, "busy-reply-threshold": true,
	"slowlog-log-slower-than": true, "slowlog-max-len": true, "active-expire-effort": true,
	"cluster-node-timeout": true, "min-replicas-to-write": true,
}

// immutableParams cannot be changed at run time.
var immutableParams = map[string]bool{"databases": true, "cluster-enabled": true, "dir": false}

func newConfigStore() *configStore {
	p := make(map[string]string, len(configDefaults))
	for k, v := range configDefaults {
		p[k] = v
	}
	return &configStore{params: p}
}

// get returns name/value pairs for every parameter matching a pattern.
func (cs *configStore) get(patterns []string) []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	seen := map[string]bool{}
	var names []string
	for _, p := range patterns {
		for k := range cs.params {
			if ok, _ := path.Match(p, k); ok && !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	out := make([]string, 0, 2*len(names))
	for _, k := range names {
		out = append(out, k, cs.params[k])
	}
	return out
}

// set applies name/value pairs atomically; it returns Redis's error text or "".
func (cs *configStore) set(args [][]byte) string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	upd := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		k, v := strings.ToLower(string(args[i])), string(args[i+1])
		if _, ok := cs.params[k]; !ok {
			return "ERR Unknown option or number of arguments for CONFIG SET - '" + string(args[i]) + "'"
		}
		if immutableParams[k] {
			return "ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - can't set immutable config"
		}
		if numericParams[k] {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return "ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - argument couldn't be parsed into an integer"
			}
		}
		if _, dup := upd[k]; dup {
			return "ERR CONFIG SET failed (possibly related to argument '" + string(args[i]) + "') - duplicate parameter"
		}
		upd[k] = v
	}
	for k, v := range upd {
		cs.params[k] = v
	}
	return ""
}
