package fsm

import (
	"sort"
	"strings"
)

// Flag describes a command for routing and for COMMAND INFO.
type Flag uint32

const (
	// FlagWrite marks a command that may change state: it goes through the log.
	FlagWrite Flag = 1 << iota
	// FlagReadonly marks a command that only reads: it is served by Read.
	FlagReadonly
	// FlagFast marks O(1)/O(log n) commands (COMMAND INFO "fast").
	FlagFast
	// FlagDenyOOM marks commands that may grow memory (COMMAND INFO "denyoom").
	FlagDenyOOM
	// FlagInternal marks commands only the leader proposes (active expiry);
	// clients cannot call them.
	FlagInternal
	// FlagRandom marks commands whose reply is a random choice (SPOP,
	// SRANDMEMBER, RANDOMKEY, ...): Apply draws from the command's Seed,
	// Read from a seed of its own (random.go).
	FlagRandom
	// FlagBlocking marks the blocking list commands (BLPOP ...). Applied,
	// they never block (as inside MULTI): the front door waits and
	// proposes them again (COMMAND INFO "blocking").
	FlagBlocking
)

// Spec is one data command: its metadata (Redis's conventions: Arity counts
// the name, negative means "at least"; key positions are 1-based, LastKey -1
// means the last argument) and its implementation.
type Spec struct {
	Name     string // lower case
	Arity    int
	Flags    Flag
	FirstKey int
	LastKey  int
	Step     int
	// keys, when set, returns every key argument of a command whose key
	// positions depend on its arguments (a numkeys argument). FirstKey and
	// LastKey then name only the first key, which routes the command; the
	// command itself refuses keys in other slots (CROSSSLOT).
	keys func(args [][]byte) [][]byte
	// run executes the command against s; the arity is already checked.
	// For FlagReadonly commands it must not change s (Read runs them
	// concurrently). Ctx is passed by value so that calling through the
	// function value does not allocate.
	run func(s *State, c Ctx, args [][]byte) Reply
}

var table = map[string]*Spec{}

// register adds specs to the table; called from init functions.
func register(specs ...*Spec) {
	for _, s := range specs {
		if _, dup := table[s.Name]; dup {
			panic("fsm: duplicate command " + s.Name)
		}
		table[s.Name] = s
	}
}

// Lookup returns the spec of a client-callable command by name, case-insensitively,
// or nil if there is none.
func Lookup(name []byte) *Spec {
	s := findSpec(name)
	if s == nil || s.Flags&FlagInternal != 0 {
		return nil
	}
	return s
}

// findSpec returns the spec of any command, internal ones included, by name,
// case-insensitively, without allocating.
func findSpec(name []byte) *Spec {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	lower := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return table[string(lower)]
}

// Specs returns every client-callable command, sorted by name.
func Specs() []*Spec {
	out := make([]*Spec, 0, len(table))
	for _, s := range table {
		if s.Flags&FlagInternal == 0 {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CheckArity reports whether args (name included) fit the spec's arity.
func (s *Spec) CheckArity(n int) bool {
	if s.Arity >= 0 {
		return n == s.Arity
	}
	return n >= -s.Arity
}

// Keys returns the key arguments of args (args[0] is the name).
func (s *Spec) Keys(args [][]byte) [][]byte {
	if s.keys != nil {
		return s.keys(args)
	}
	if s.FirstKey <= 0 {
		return nil
	}
	last := s.LastKey
	if last < 0 {
		last = len(args) + last
	}
	var keys [][]byte
	for i := s.FirstKey; i <= last && i < len(args); i += s.Step {
		keys = append(keys, args[i])
	}
	return keys
}

// Write reports whether the command goes through the log.
func (s *Spec) Write() bool { return s.Flags&FlagWrite != 0 }

// wrongArgs is Redis's arity error for a command.
func wrongArgs(name string) Reply {
	return ErrorReply("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

// eqFold reports whether a equals the lower-case ASCII word s, ignoring case.
func eqFold(a []byte, s string) bool {
	if len(a) != len(s) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
