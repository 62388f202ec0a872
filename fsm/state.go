package fsm

import (
	"github.com/tidwall/btree"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// State is one group's keyspace: the keys in an ordered copy-on-write tree,
// an index of the keys that have an expiry ordered by (time, key), and the
// state's clock.
//
// Threading: State is not safe for concurrent use, except that any number of
// goroutines may call Read at once when nothing calls Apply. Machine provides
// exactly that with a read/write lock.
type State struct {
	keys *btree.BTreeG[entry]  // by key; the entries are the data
	exps *btree.BTreeG[expRef] // keys with an expiry; derived, rebuilt on restore
	// clock is the largest NowMs applied (0 at first, so never negative).
	clock int64
	// own is the slots this state accepts keys of; nil: every slot (see owner.go).
	own *owner
	// gen is the snapshot generation: each snapshot increments it. A
	// collection made at an earlier generation may be shared with a
	// snapshot and is copied before it changes (objects.go).
	gen uint64
	// readNonce varies the seed of the random read-only commands served by
	// Read (SRANDMEMBER, RANDOMKEY, ...), updated atomically. It is not part
	// of the replicated state: those replies change nothing.
	readNonce uint64
	// ver numbers the applied commands and remembers deletions, for WATCH
	// (version.go). Replicated state: in the snapshot and the digest.
	ver versions
}

// NewState returns an empty keyspace.
func NewState() *State { return &State{keys: newKeyTree(), exps: newExpTree()} }

// Clock returns the state's clock: the largest command time applied, in Unix ms.
func (s *State) Clock() int64 { return s.clock }

// Apply executes one command of a committed log entry at the command's time,
// max(c.NowMs, Clock()), which becomes the new clock. Any command may be
// applied, read-only and internal ones included. A command that is unknown
// or malformed gets an error reply and changes nothing. Apply does not keep
// c or its arguments: what it stores it copies. c.Epoch is not looked at
// (routing checks it before proposing).
func (s *State) Apply(c *pb.Command) Reply {
	if c.NowMs > s.clock {
		s.clock = c.NowMs
	}
	s.ver.seq++
	args := c.Args
	if len(args) == 0 {
		return ErrorReply("ERR empty command")
	}
	spec := findSpec(args[0])
	if spec == nil {
		return unknownCommand(args)
	}
	if !spec.CheckArity(len(args)) {
		return wrongArgs(spec.Name)
	}
	if r, refused := s.refuseForeign(spec, args); refused {
		return r
	}
	return spec.run(s, Ctx{NowMs: s.clock, Seed: c.Seed}, args)
}

// Read executes a read-only command (FlagReadonly) at time max(nowMs,
// Clock()) without changing the state, so concurrent Reads are safe. Keys
// that expired by then are invisible. Other commands get an error reply.
func (s *State) Read(nowMs int64, args [][]byte) Reply {
	if nowMs < s.clock {
		nowMs = s.clock
	}
	if len(args) == 0 {
		return ErrorReply("ERR empty command")
	}
	spec := findSpec(args[0])
	if spec == nil || spec.Flags&FlagInternal != 0 {
		return unknownCommand(args)
	}
	if spec.Flags&FlagReadonly == 0 {
		return ErrorReply("ERR '" + spec.Name + "' is not a read-only command")
	}
	if !spec.CheckArity(len(args)) {
		return wrongArgs(spec.Name)
	}
	if r, refused := s.refuseForeign(spec, args); refused {
		return r
	}
	c := Ctx{NowMs: nowMs}
	if spec.Flags&FlagRandom != 0 {
		c.Seed = s.readSeed(nowMs)
	}
	return spec.run(s, c, args)
}

// unknownCommand is Redis's reply to an unknown command name.
func unknownCommand(args [][]byte) Reply {
	var rest []byte
	for _, a := range args[1:] {
		if len(rest) >= 128 {
			break
		}
		rest = append(rest, '\'')
		rest = append(rest, clip(a, 128-len(rest))...)
		rest = append(rest, "' "...)
	}
	return errorText("ERR unknown command '" + string(clip(args[0], 128)) + "', with args beginning with: " + string(rest))
}

// clip returns at most the first n bytes of b, as Redis abbreviates
// arguments quoted in error messages.
func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (s *State) len() int { return s.keys.Len() }
