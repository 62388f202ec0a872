package grpcapi

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redraft/redraft/api"
	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// kvService implements pb.KVServer on top of the shared executor.
type kvService struct {
	pb.UnimplementedKVServer
	s *Server
}

var _ pb.KVServer = kvService{}

var (
	nameGet = []byte("GET")
	nameSet = []byte("SET")
	nameDel = []byte("DEL")
	namePX  = []byte("PX")
)

// Get runs GET key.
func (k kvService) Get(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	if err := k.s.checkKey("key", req.GetKey()); err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	r, err := k.s.exec.Exec(ctx, [][]byte{nameGet, req.GetKey()})
	if err == nil {
		err = replyErr(r)
	}
	if err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	switch r.Kind {
	case fsm.KindBulk:
		return &pb.GetResponse{Value: r.Bulk, Found: true}, nil
	case fsm.KindNil:
		return &pb.GetResponse{}, nil
	}
	return nil, k.s.statusOf(ctx, fmt.Errorf("grpcapi: GET replied %s", r))
}

// Set runs SET key value, with PX ttl_ms when ttl_ms is positive.
func (k kvService) Set(ctx context.Context, req *pb.SetRequest) (*pb.SetResponse, error) {
	err := k.s.checkKey("key", req.GetKey())
	switch {
	case err != nil:
	case len(req.GetValue()) > k.s.maxArg:
		err = invalid("value is %d bytes, over the limit of %d", len(req.GetValue()), k.s.maxArg)
	case req.GetTtlMs() < 0:
		err = invalid("ttl_ms is negative (%d)", req.GetTtlMs())
	}
	if err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	args := [][]byte{nameSet, req.GetKey(), req.GetValue()}
	if ttl := req.GetTtlMs(); ttl > 0 {
		args = append(args, namePX, strconv.AppendInt(nil, ttl, 10))
	}
	r, err := k.s.exec.Exec(ctx, args)
	if err == nil {
		err = replyErr(r)
	}
	if err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	if r.Kind != fsm.KindStatus {
		return nil, k.s.statusOf(ctx, fmt.Errorf("grpcapi: SET replied %s", r))
	}
	return &pb.SetResponse{}, nil
}

// Del runs DEL keys...; the keys must hash to one slot (else CROSSSLOT).
func (k kvService) Del(ctx context.Context, req *pb.DelRequest) (*pb.DelResponse, error) {
	keys := req.GetKeys()
	if len(keys) == 0 {
		return nil, k.s.statusOf(ctx, invalid("keys is empty"))
	}
	args := make([][]byte, 0, 1+len(keys))
	args = append(args, nameDel)
	for i, key := range keys {
		if err := k.s.checkKey(fmt.Sprintf("keys[%d]", i), key); err != nil {
			return nil, k.s.statusOf(ctx, err)
		}
		args = append(args, key)
	}
	r, err := k.s.exec.Exec(ctx, args)
	if err == nil {
		err = replyErr(r)
	}
	if err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	if r.Kind != fsm.KindInt {
		return nil, k.s.statusOf(ctx, fmt.Errorf("grpcapi: DEL replied %s", r))
	}
	return &pb.DelResponse{Deleted: r.Int}, nil
}

// Execute runs any command by name. A command error is a successful call
// whose reply is an error value; only replication errors and bad requests
// fail the call.
func (k kvService) Execute(ctx context.Context, req *pb.ExecuteRequest) (*pb.ExecuteResponse, error) {
	name := req.GetName()
	if name == "" {
		return nil, k.s.statusOf(ctx, invalid("name is empty"))
	}
	args := make([][]byte, 0, 1+len(req.GetArgs()))
	args = append(args, []byte(name))
	for i, a := range req.GetArgs() {
		if len(a) > k.s.maxArg {
			return nil, k.s.statusOf(ctx, invalid("args[%d] is %d bytes, over the limit of %d", i, len(a), k.s.maxArg))
		}
		args = append(args, a)
	}
	if len(name) <= maxLocalName {
		if local, ok := localCommands[strings.ToLower(name)]; ok {
			return &pb.ExecuteResponse{Reply: ToProto(local(args))}, nil
		}
	}
	r, err := k.s.exec.Exec(ctx, args)
	if err != nil {
		return nil, k.s.statusOf(ctx, err)
	}
	return &pb.ExecuteResponse{Reply: ToProto(r)}, nil
}

// localCommands are the server commands Execute answers itself; every other
// name goes to the executor, which answers unknown ones with Redis's
// unknown-command error.
var localCommands = map[string]func(args [][]byte) fsm.Reply{
	"ping": func(args [][]byte) fsm.Reply {
		switch len(args) {
		case 1:
			return fsm.StatusReply("PONG")
		case 2:
			return fsm.BulkReply(args[1])
		}
		return api.WrongArity("ping")
	},
	"echo": func(args [][]byte) fsm.Reply {
		if len(args) != 2 {
			return api.WrongArity("echo")
		}
		return fsm.BulkReply(args[1])
	},
}

// maxLocalName is the longest name in localCommands; longer names skip the
// lookup (and lower-casing a name of any size).
const maxLocalName = 4

// checkKey refuses an empty or oversized key; field names it in the message.
func (s *Server) checkKey(field string, key []byte) error {
	switch {
	case len(key) == 0:
		return invalid("%s is empty", field)
	case len(key) > s.maxArg:
		return invalid("%s is %d bytes, over the limit of %d", field, len(key), s.maxArg)
	}
	return nil
}
