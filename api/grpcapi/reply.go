package grpcapi

import (
	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// ToProto converts a command reply to its wire form, recursively for arrays.
// Both nil kinds (nil bulk, nil array) become null; an empty array stays an
// empty array. Bulk strings are shared, not copied.
func ToProto(r fsm.Reply) *pb.Reply {
	switch r.Kind {
	case fsm.KindNil, fsm.KindNilArray:
		return &pb.Reply{Value: &pb.Reply_Null{Null: true}}
	case fsm.KindStatus:
		return &pb.Reply{Value: &pb.Reply_Status{Status: r.Str}}
	case fsm.KindError:
		return &pb.Reply{Value: &pb.Reply_Error{Error: r.Str}}
	case fsm.KindInt:
		return &pb.Reply{Value: &pb.Reply_Integer{Integer: r.Int}}
	case fsm.KindBulk:
		b := r.Bulk
		if b == nil {
			b = []byte{} // an empty bulk string, never confused with null
		}
		return &pb.Reply{Value: &pb.Reply_Bulk{Bulk: b}}
	case fsm.KindDouble:
		return &pb.Reply{Value: &pb.Reply_Double{Double: r.Dbl}}
	case fsm.KindArray, fsm.KindMap, fsm.KindSet, fsm.KindPairs:
		// Maps, sets and pairs travel flattened, as RESP2 sends them.
		items := make([]*pb.Reply, len(r.Array))
		for i, e := range r.Array {
			items[i] = ToProto(e)
		}
		return &pb.Reply{Value: &pb.Reply_Array{Array: &pb.ReplyArray{Items: items}}}
	}
	return &pb.Reply{Value: &pb.Reply_Error{Error: "ERR internal error: unknown reply kind"}}
}

// FromProto converts a wire reply back to a command reply, recursively for
// arrays. Null becomes fsm.KindNil (the wire form does not keep nil bulk and
// nil array apart); a nil message or one with no value set is also null.
func FromProto(p *pb.Reply) fsm.Reply {
	switch v := p.GetValue().(type) {
	case *pb.Reply_Status:
		return fsm.StatusReply(v.Status)
	case *pb.Reply_Error:
		return fsm.ErrorReply(v.Error)
	case *pb.Reply_Integer:
		return fsm.IntReply(v.Integer)
	case *pb.Reply_Bulk:
		b := v.Bulk
		if b == nil {
			b = []byte{}
		}
		return fsm.BulkReply(b)
	case *pb.Reply_Double:
		return fsm.Reply{Kind: fsm.KindDouble, Dbl: v.Double}
	case *pb.Reply_Array:
		items := v.Array.GetItems()
		out := make([]fsm.Reply, len(items))
		for i, e := range items {
			out[i] = FromProto(e)
		}
		return fsm.ArrayReply(out)
	}
	return fsm.ReplyNil
}
