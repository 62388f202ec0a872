package robustness

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// The sequential specifications the histories are checked against. Each
// model's state is one key's (the histories are split by key before
// checking, so each key is checked on its own), and an Op is both the
// input and the output of a step.

// register is a string key holding an integer, or no key.
type register struct {
	exists bool
	v      int64
}

// registerModel is a key under GET, SET and INCR.
var registerModel = porcupine.Model{
	Init: func() any { return register{} },
	Step: func(state, input, _ any) (bool, any) {
		st, op := state.(register), input.(Op)
		switch op.Kind {
		case opGet:
			return op.Exists == st.exists && (!st.exists || op.Int == st.v), st
		case opSet:
			return true, register{exists: true, v: op.Arg}
		case opIncr:
			next := register{exists: true, v: st.v + 1}
			return op.Unknown || op.Int == next.v, next
		}
		return false, st
	},
	DescribeOperation: func(input, _ any) string { return input.(Op).describe() },
	DescribeState: func(state any) string {
		st := state.(register)
		if !st.exists {
			return "nil"
		}
		return strconv.FormatInt(st.v, 10)
	},
	DescribeOperationMetadata: func(info any) string {
		if info == nil {
			return ""
		}
		return fmt.Sprint(info)
	},
}

// listModel is a list key under RPUSH and LRANGE 0 -1. The state is the
// list's elements, comma-separated (a comparable value).
var listModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, _ any) (bool, any) {
		st, op := state.(string), input.(Op)
		switch op.Kind {
		case opRange:
			return fmtList(op.List) == st, st
		case opAppend:
			next := strconv.FormatInt(op.Arg, 10)
			if st != "" {
				next = st + "," + next
			}
			return op.Unknown || op.Int == int64(countElems(next)), next
		}
		return false, st
	},
	DescribeOperation: func(input, _ any) string { return input.(Op).describe() },
	DescribeState: func(state any) string {
		if s := state.(string); s != "" {
			return "[" + s + "]"
		}
		return "[]"
	},
	DescribeOperationMetadata: registerModel.DescribeOperationMetadata,
}

func countElems(s string) int {
	if s == "" {
		return 0
	}
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			n++
		}
	}
	return n
}

func modelFor(op Op) porcupine.Model {
	if op.Kind == opAppend || op.Kind == opRange {
		return listModel
	}
	return registerModel
}

// CheckResult is the outcome of checking a history.
type CheckResult struct {
	Ops       int      // operations checked (unknown ones included)
	Unknown   int      // of which with unknown outcome
	Keys      int      // keys (independent histories)
	Illegal   []string // keys whose history is not linearizable
	TimedOut  []string // keys the checker gave up on
	Artifacts []string // visualisations written
}

// checkHistory checks every key's operations for linearizability, using
// up to workers goroutines and at most perKey for one key. For each key
// that is not linearizable it writes porcupine's visualisation to outDir
// (annotated with the faults), when outDir is not empty.
func checkHistory(ops []Op, faults []FaultEvent, workers int, perKey time.Duration, outDir string) CheckResult {
	keys, groups := byKey(ops)
	res := CheckResult{Ops: len(ops), Keys: len(keys)}
	for _, op := range ops {
		if op.Unknown {
			res.Unknown++
		}
	}
	type verdict struct {
		key string
		r   porcupine.CheckResult
	}
	next := make(chan string)
	out := make(chan verdict)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				out <- verdict{k, porcupine.CheckOperationsTimeout(modelFor(groups[k][0]), toPorcupine(groups[k]), perKey)}
			}
		}()
	}
	go func() {
		for _, k := range keys {
			next <- k
		}
		close(next)
		wg.Wait()
		close(out)
	}()
	for v := range out {
		switch v.r {
		case porcupine.Illegal:
			res.Illegal = append(res.Illegal, v.key)
		case porcupine.Unknown:
			res.TimedOut = append(res.TimedOut, v.key)
		}
	}
	sort.Strings(res.Illegal)
	sort.Strings(res.TimedOut)
	if outDir == "" {
		return res
	}
	for i, k := range res.Illegal {
		if i == 5 {
			break // the first few are enough to look at
		}
		model := modelFor(groups[k][0])
		_, info := porcupine.CheckOperationsVerbose(model, toPorcupine(groups[k]), 2*perKey)
		info.AddAnnotations(faultAnnotations(faults))
		path := filepath.Join(outDir, "linearizability-"+safeName(k)+".html")
		if err := os.MkdirAll(outDir, 0o755); err == nil {
			if err := porcupine.VisualizePath(model, info, path); err == nil {
				res.Artifacts = append(res.Artifacts, path)
			}
		}
	}
	return res
}

func toPorcupine(ops []Op) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		meta := op.Node
		if op.Unknown {
			meta += " (outcome unknown)"
		}
		out[i] = porcupine.Operation{
			ClientId: op.Client,
			Input:    op,
			Call:     op.Call,
			Output:   op,
			Return:   op.Return,
			Metadata: meta,
		}
	}
	return out
}

func faultAnnotations(faults []FaultEvent) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(faults))
	for _, f := range faults {
		out = append(out, porcupine.Annotation{
			Tag:             "nemesis",
			Start:           f.Start,
			End:             f.End,
			Description:     f.Kind,
			Details:         f.Detail,
			BackgroundColor: "#f6d2d2",
		})
	}
	return out
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }
