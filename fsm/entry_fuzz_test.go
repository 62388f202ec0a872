package fsm_test

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// FuzzDecodeEntry feeds raw bytes to the log-entry decoder, as a replica
// reads them from its log:
//
//	go test -run '^$' -fuzz '^FuzzDecodeEntry$' -fuzztime 10s ./fsm/
//
// Bytes that do not decode as an Entry are what ApplyEntry refuses (by a
// panic, on purpose: see ApplyEntry); every Entry that does decode, with
// whatever commands, arguments, times and epochs, must apply without a
// panic, with one reply per command, and identically on two replicas.
func FuzzDecodeEntry(f *testing.F) {
	seed := func(cmds ...[]string) []byte {
		e := &pb.Entry{}
		for _, c := range cmds {
			cmd := &pb.Command{NowMs: 1_700_000_000_000}
			for _, a := range c {
				cmd.Args = append(cmd.Args, []byte(a))
			}
			e.Commands = append(e.Commands, cmd)
		}
		b, err := proto.Marshal(e)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(seed([]string{"SET", "k", "v"}, []string{"INCR", "n"}, []string{"RPUSH", "l", "a", "b"}))
	f.Add(seed([]string{"SET"}, []string{}, []string{"NOSUCH", "x"}))
	f.Add(seed([]string{"EXPIRE", "k", "-1"}, []string{"ZADD", "z", "nan", "m"}, []string{"HSET", "h", "f"}))
	f.Add([]byte{0x0a, 0x05, 0x12, 0x03, 'S', 'E', 'T'})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		var e pb.Entry
		if proto.Unmarshal(in, &e) != nil {
			return
		}
		a, b := fsm.NewMachine(), fsm.NewMachine()
		ra := a.ApplyEntry(in)
		if len(ra) != len(e.Commands) {
			t.Fatalf("%d replies for %d commands", len(ra), len(e.Commands))
		}
		rb := b.ApplyEntry(in)
		if !reflect.DeepEqual(ra, rb) || a.Digest() != b.Digest() {
			t.Fatal("the same entry gives different replies or states on two replicas")
		}
	})
}
