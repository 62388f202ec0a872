package fsm

import "strconv"

// Transactions. The front door queues a client's commands between MULTI and
// EXEC and proposes them at EXEC as one internal command, so that they
// apply atomically, in one log entry, on every replica:
//
//	__exec <nwatch> (<key> <version>){nwatch} (<argc> <arg>{argc})...
//
// Applying it first checks that every key, watched or used, is in a slot
// the state owns (else the whole transaction is refused with the not-owner
// reply, and nothing runs), then that no watched key changed since WATCH
// read its version (else the reply is a null array and nothing runs), then
// runs the commands in order and replies with the array of their replies:
// errors of single commands are elements of that array, as Redis reports
// them, and do not stop the others.
//
// Each command runs with the transaction's time and a seed of its own
// derived from the transaction's, so that two random commands in one
// transaction do not draw the same numbers.

// ExecCommand is the name of the internal transaction command.
const ExecCommand = "__exec"

func init() {
	register(&Spec{Name: ExecCommand, Arity: -2, Flags: FlagWrite | FlagInternal, run: cmdExec})
}

// Watch is a watched key and the version WATCH read.
type Watch struct {
	Key     []byte
	Version Version
}

// ExecArgs returns the __exec command for the queued commands cmds (each
// with its name first) guarded by watches.
func ExecArgs(watches []Watch, cmds [][][]byte) [][]byte {
	n := 2 + 2*len(watches)
	for _, c := range cmds {
		n += 1 + len(c)
	}
	args := make([][]byte, 0, n)
	args = append(args, []byte(ExecCommand), strconv.AppendInt(nil, int64(len(watches)), 10))
	for _, w := range watches {
		args = append(args, w.Key, []byte(w.Version.String()))
	}
	for _, c := range cmds {
		args = append(args, strconv.AppendInt(nil, int64(len(c)), 10))
		args = append(args, c...)
	}
	return args
}

var replyBadExec = ErrorReply("ERR __exec: malformed transaction")

// parseExec splits the arguments of __exec (after the name).
func parseExec(a [][]byte) (watches []Watch, cmds [][][]byte, ok bool) {
	nw, ok := parseInt(a[0])
	if !ok || nw < 0 || nw > int64(len(a)-1)/2 {
		return nil, nil, false
	}
	i := 1
	for range nw {
		v, ok := parseVersion(a[i+1])
		if !ok {
			return nil, nil, false
		}
		watches = append(watches, Watch{Key: a[i], Version: v})
		i += 2
	}
	for i < len(a) {
		argc, ok := parseInt(a[i])
		if !ok || argc < 1 || argc > int64(len(a)-i-1) {
			return nil, nil, false
		}
		cmds = append(cmds, a[i+1:i+1+int(argc)])
		i += 1 + int(argc)
	}
	return watches, cmds, true
}

func cmdExec(s *State, c Ctx, a [][]byte) Reply {
	watches, cmds, ok := parseExec(a[1:])
	if !ok {
		return replyBadExec
	}
	specs := make([]*Spec, len(cmds))
	for i, args := range cmds {
		spec := findSpec(args[0])
		if spec == nil || spec.Flags&FlagInternal != 0 {
			return replyBadExec // the front door queues only client commands
		}
		specs[i] = spec
		if r, refused := s.refuseForeign(spec, args); refused {
			return r
		}
	}
	if s.own != nil {
		for _, w := range watches {
			if slot := KeySlot(w.Key); !s.own.has(slot) {
				return notOwner(slot, s.own.epoch)
			}
		}
	}
	for _, w := range watches {
		if s.changed(w.Key, w.Version, c.NowMs) {
			return replyNilArray
		}
	}
	out := make([]Reply, len(cmds))
	for i, args := range cmds {
		spec := specs[i]
		if !spec.CheckArity(len(args)) {
			out[i] = wrongArgs(spec.Name)
			continue
		}
		sc := c
		sc.Seed = c.Seed + uint64(i)*0x9e3779b97f4a7c15
		out[i] = spec.run(s, sc, args)
	}
	return ArrayReply(out)
}
