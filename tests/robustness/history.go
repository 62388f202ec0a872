package robustness

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// opKind is what an operation of the history does.
type opKind uint8

const (
	opGet    opKind = iota // GET key -> value or nil
	opSet                  // SET key value -> OK
	opIncr                 // INCR key -> new value
	opAppend               // RPUSH key element -> new length
	opRange                // LRANGE key 0 -1 -> elements
)

func (k opKind) String() string {
	return [...]string{"get", "set", "incr", "rpush", "lrange"}[k]
}

// Op is one completed operation: invoked at Call, answered at Return
// (nanoseconds since the history began). An operation whose outcome is
// unknown has Unknown set and, once the history is closed, Return after
// every other event: it may take effect at any time after its call.
type Op struct {
	Client  int
	Kind    opKind
	Key     string
	Arg     int64 // SET value, RPUSH element
	Call    int64
	Return  int64
	Unknown bool
	// Results: GET (Exists, Int), INCR (Int), RPUSH (Int: the length),
	// LRANGE (List).
	Exists bool
	Int    int64
	List   []int64
	Node   string // address that answered
}

// History records operations from many goroutines.
type History struct {
	start time.Time

	mu  sync.Mutex
	ops []Op
}

func newHistory() *History { return &History{start: time.Now()} }

// Now is the time since the history began, in nanoseconds.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records a completed (or unknown) operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Close returns the operations with every unknown one's return moved past
// the end of the history.
func (h *History) Close() []Op {
	h.mu.Lock()
	ops := append([]Op(nil), h.ops...)
	h.mu.Unlock()
	var end int64
	for _, op := range ops {
		end = max(end, op.Call)
		if !op.Unknown {
			end = max(end, op.Return)
		}
	}
	for i := range ops {
		if ops[i].Unknown {
			ops[i].Return = end + 1
		}
	}
	return ops
}

// byKey groups operations by key, in a stable order.
func byKey(ops []Op) (keys []string, groups map[string][]Op) {
	groups = map[string][]Op{}
	for _, op := range ops {
		if _, ok := groups[op.Key]; !ok {
			keys = append(keys, op.Key)
		}
		groups[op.Key] = append(groups[op.Key], op)
	}
	sort.Strings(keys)
	return keys, groups
}

func (op Op) describe() string {
	var in string
	switch op.Kind {
	case opGet, opIncr, opRange:
		in = fmt.Sprintf("%s(%s)", op.Kind, op.Key)
	default:
		in = fmt.Sprintf("%s(%s, %d)", op.Kind, op.Key, op.Arg)
	}
	if op.Unknown {
		return in + " -> ?"
	}
	switch op.Kind {
	case opGet:
		if !op.Exists {
			return in + " -> nil"
		}
		return fmt.Sprintf("%s -> %d", in, op.Int)
	case opSet:
		return in + " -> OK"
	case opRange:
		return fmt.Sprintf("%s -> %v", in, op.List)
	}
	return fmt.Sprintf("%s -> %d", in, op.Int)
}

// --- fault timeline, for the report and the visualisation ---

// FaultEvent is one fault the nemesis injected, from Start to End (history
// time).
type FaultEvent struct {
	Kind   string
	Detail string
	Start  int64
	End    int64
}

func (f FaultEvent) String() string {
	return fmt.Sprintf("%7.2fs–%7.2fs %-14s %s", float64(f.Start)/1e9, float64(f.End)/1e9, f.Kind, f.Detail)
}

// --- small helpers ---

func fmtList(l []int64) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(parts, ",")
}

const never = math.MaxInt64
