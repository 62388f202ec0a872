package fsm

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"sort"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// PLACEHOLDER IMPLEMENTATION: a plain map with SET/GET/DEL only, so other
// packages can build and test against the Machine API. To be replaced by the
// full keyspace.

type entry struct {
	val      []byte
	expireAt int64 // Unix ms; 0: no expiry
}

// State is one group's keyspace. Not safe for concurrent use.
type State struct {
	keys  map[string]entry
	nowMs int64
}

// NewState returns an empty keyspace.
func NewState() *State { return &State{keys: map[string]entry{}} }

// Apply applies one command at the command's time.
func (s *State) Apply(c *pb.Command) Reply {
	if c.NowMs > s.nowMs {
		s.nowMs = c.NowMs
	}
	if len(c.Args) == 0 {
		return ErrorReply("ERR empty command")
	}
	spec := table[lower(c.Args[0])]
	if spec == nil {
		return ErrorReply("ERR unknown command")
	}
	if !spec.CheckArity(len(c.Args)) {
		return wrongArgs(spec.Name)
	}
	return spec.run(s, &Ctx{NowMs: s.nowMs, Seed: c.Seed}, c.Args)
}

// Read runs a read-only command at time nowMs (never below the state's clock).
func (s *State) Read(nowMs int64, args [][]byte) Reply {
	if nowMs < s.nowMs {
		nowMs = s.nowMs
	}
	spec := table[lower(args[0])]
	if spec == nil || spec.Flags&FlagReadonly == 0 {
		return ErrorReply("ERR not a read-only command")
	}
	if !spec.CheckArity(len(args)) {
		return wrongArgs(spec.Name)
	}
	return spec.run(s, &Ctx{NowMs: nowMs}, args)
}

func lower(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}

func (s *State) len() int { return len(s.keys) }

func (s *State) expiredKeys(nowMs int64, max int) [][]byte { return nil }

func (s *State) digest() uint64 {
	h := fnv.New64a()
	ks := make([]string, 0, len(s.keys))
	for k := range s.keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		h.Write([]byte(k))
		h.Write(s.keys[k].val)
	}
	return h.Sum64()
}

// Snapshot is a point-in-time copy of a State.
type Snapshot struct{ keys map[string]entry }

func (s *State) snapshot() *Snapshot {
	c := make(map[string]entry, len(s.keys))
	for k, v := range s.keys {
		c[k] = v
	}
	return &Snapshot{keys: c}
}

// WriteTo writes the snapshot to w.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for k, v := range sn.keys {
		var hdr [8]byte
		binary.LittleEndian.PutUint32(hdr[:4], uint32(len(k)))
		binary.LittleEndian.PutUint32(hdr[4:], uint32(len(v.val)))
		for _, b := range [][]byte{hdr[:], []byte(k), v.val} {
			m, err := w.Write(b)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Release frees the snapshot's resources.
func (sn *Snapshot) Release() {}

func readSnapshot(r io.Reader) (*State, error) {
	s := NewState()
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return s, nil
			}
			return nil, err
		}
		k := make([]byte, binary.LittleEndian.Uint32(hdr[:4]))
		v := make([]byte, binary.LittleEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(r, k); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(r, v); err != nil {
			return nil, err
		}
		s.keys[string(k)] = entry{val: v}
	}
}

func init() {
	register(
		&Spec{Name: "get", Arity: 2, Flags: FlagReadonly | FlagFast, FirstKey: 1, LastKey: 1, Step: 1,
			run: func(s *State, c *Ctx, a [][]byte) Reply {
				e, ok := s.keys[string(a[1])]
				if !ok {
					return ReplyNil
				}
				return BulkReply(e.val)
			}},
		&Spec{Name: "set", Arity: -3, Flags: FlagWrite | FlagDenyOOM, FirstKey: 1, LastKey: 1, Step: 1,
			run: func(s *State, c *Ctx, a [][]byte) Reply {
				s.keys[string(a[1])] = entry{val: append([]byte(nil), a[2]...)}
				return ReplyOK
			}},
		&Spec{Name: "del", Arity: -2, Flags: FlagWrite, FirstKey: 1, LastKey: -1, Step: 1,
			run: func(s *State, c *Ctx, a [][]byte) Reply {
				n := 0
				for _, k := range a[1:] {
					if _, ok := s.keys[string(k)]; ok {
						delete(s.keys, string(k))
						n++
					}
				}
				return IntReply(int64(n))
			}},
		&Spec{Name: "dbsize", Arity: 1, Flags: FlagReadonly | FlagFast,
			run: func(s *State, c *Ctx, a [][]byte) Reply { return IntReply(int64(len(s.keys))) }},
	)
}
