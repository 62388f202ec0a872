package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

const clusterUsage = `usage:
  redraft cluster status   --addr HOST:GRPCPORT
  redraft cluster transfer --addr HOST:GRPCPORT --group g1 [--to n2]
  redraft cluster move     --addr HOST:GRPCPORT --group g1 --from n3 --to n4`

func runCluster(argv []string) error {
	if len(argv) == 0 {
		return errors.New(clusterUsage)
	}
	switch argv[0] {
	case "status":
		return runClusterStatus(argv[1:], os.Stdout)
	case "transfer":
		return runClusterTransfer(argv[1:], os.Stdout)
	case "move":
		return runClusterMove(argv[1:], os.Stdout)
	}
	return errors.New(clusterUsage)
}

func dialCluster(addr string) (pb.ClusterClient, func(), error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	return pb.NewClusterClient(conn), func() { conn.Close() }, nil
}

// runClusterStatus prints, as one node sees it, one row per member of
// every group: the group's slots, leader and term, then the member's role,
// applied index and how far it trails the leader.
func runClusterStatus(argv []string, w io.Writer) error {
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC address of any node")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the node")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	cl, closeConn, err := dialCluster(*addr)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	st, err := cl.Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("status from %s: %w", *addr, err)
	}
	printStatus(w, st, *addr)
	return nil
}

func printStatus(w io.Writer, st *pb.StatusResponse, addr string) {
	epoch := "none yet"
	if m := st.GetSlotMap(); m != nil {
		epoch = fmt.Sprint(m.GetEpoch())
	}
	fmt.Fprintf(w, "as seen by node %s (%s), slot map epoch %s\n", st.GetNodeId(), addr, epoch)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSLOTS\tLEADER\tTERM\tMEMBER\tROLE\tAPPLIED\tLAG")
	for _, g := range st.GetGroups() {
		var slots []string
		for _, r := range g.GetSlotRanges() {
			if r.GetStart() == r.GetEnd() {
				slots = append(slots, fmt.Sprint(r.GetStart()))
			} else {
				slots = append(slots, fmt.Sprintf("%d-%d", r.GetStart(), r.GetEnd()))
			}
		}
		leader := g.GetLeaderId()
		if leader == "" {
			leader = "(none)"
		}
		first := true
		for _, m := range g.GetMembers() {
			role, applied, lag := strings.ToLower(m.GetState()), "?", "?"
			switch {
			case !m.GetReachable() && m.GetId() != st.GetNodeId():
				role = "unreachable"
			case role == "":
				role = "?"
			}
			if m.GetAppliedIndex() > 0 || m.GetState() != "" {
				applied = fmt.Sprint(m.GetAppliedIndex())
			}
			if m.GetLag() >= 0 {
				lag = fmt.Sprint(m.GetLag())
			}
			member := m.GetId()
			if m.GetId() == g.GetPreferredLeader() {
				member += "*"
			}
			if first {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", g.GetId(), strings.Join(slots, ","), leader, g.GetTerm(), member, role, applied, lag)
				first = false
			} else {
				fmt.Fprintf(tw, "\t\t\t\t%s\t%s\t%s\t%s\n", member, role, applied, lag)
			}
		}
		if first {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\t\t%d\t\n", g.GetId(), strings.Join(slots, ","), leader, g.GetTerm(), g.GetAppliedIndex())
		}
	}
	tw.Flush()
	fmt.Fprintln(w, "* preferred leader; LAG: entries the member's applied index trails the leader's commit index")
}

// runClusterTransfer moves a group's leadership, following the NotLeader
// redirect to the group's leader.
func runClusterTransfer(argv []string, w io.Writer) error {
	fs := flag.NewFlagSet("cluster transfer", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC address of any node")
	group := fs.String("group", "", "the group whose leadership moves")
	to := fs.String("to", "", "node id of the new leader (empty: raft's choice)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the transfer")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if *group == "" {
		return errors.New("--group is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	target := *addr
	for hop := 0; hop < 3; hop++ {
		cl, closeConn, err := dialCluster(target)
		if err != nil {
			return err
		}
		resp, err := cl.TransferLeader(ctx, &pb.TransferLeaderRequest{Group: *group, To: *to})
		closeConn()
		if err == nil {
			fmt.Fprintf(w, "group %s is now led by %s\n", *group, resp.GetLeaderId())
			return nil
		}
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition {
			return fmt.Errorf("transfer at %s: %w", target, err)
		}
		var next string
		for _, d := range st.Details() {
			if nl, ok := d.(*pb.NotLeader); ok {
				next = nl.GetLeaderGrpcAddr()
			}
		}
		if next == "" {
			return fmt.Errorf("transfer at %s: %w", target, err)
		}
		target = next
	}
	return errors.New("transfer: the leader kept moving")
}

// runClusterMove moves a group's replica from one node to another and
// waits until the group runs on its new members, following the NotLeader
// redirect to the metadata group's leader. While the metadata group is
// between leaders (or redirects to a node that is down) it asks --addr
// again until --timeout: the call is safe to repeat, since a move the map
// already shows is only waited for.
func runClusterMove(argv []string, w io.Writer) error {
	fs := flag.NewFlagSet("cluster move", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC address of any node")
	group := fs.String("group", "", "the group whose replica moves")
	from := fs.String("from", "", "node id of the member that gives up its replica")
	to := fs.String("to", "", "node id of the node that receives the replica")
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the move")
	if err := fs.Parse(argv); err != nil {
		return err
	}
	if *group == "" || *from == "" || *to == "" {
		return errors.New("--group, --from and --to are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	target := *addr
	for hop := 0; ; hop++ {
		cl, closeConn, err := dialCluster(target)
		if err != nil {
			return err
		}
		resp, err := cl.MoveReplica(ctx, &pb.MoveReplicaRequest{Group: *group, From: *from, To: *to})
		closeConn()
		if err == nil {
			fmt.Fprintf(w, "group %s moved from %s to %s: members %s (slot map epoch %d)\n",
				*group, *from, *to, strings.Join(resp.GetMembers(), ","), resp.GetEpoch())
			return nil
		}
		next := notLeaderAddr(err)
		if next == "" && status.Code(err) != codes.Unavailable {
			return fmt.Errorf("move at %s: %w", target, err)
		}
		if next == "" || hop > 2 {
			next = *addr
			select {
			case <-ctx.Done():
				return fmt.Errorf("move at %s: %w", target, err)
			case <-time.After(250 * time.Millisecond):
			}
			hop = 0
		}
		target = next
	}
}

// notLeaderAddr returns the gRPC address in err's NotLeader detail, or "".
func notLeaderAddr(err error) string {
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition {
		return ""
	}
	for _, d := range st.Details() {
		if nl, ok := d.(*pb.NotLeader); ok {
			return nl.GetLeaderGrpcAddr()
		}
	}
	return ""
}
