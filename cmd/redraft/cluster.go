package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/redraft/redraft/proto/redraft/v1"
)

func runCluster(argv []string) error {
	if len(argv) == 0 || argv[0] != "status" {
		return errors.New("usage: redraft cluster status --addr HOST:GRPCPORT")
	}
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8001", "gRPC address of any node")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the node")
	if err := fs.Parse(argv[1:]); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	st, err := pb.NewClusterClient(conn).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return fmt.Errorf("status from %s: %w", *addr, err)
	}
	fmt.Printf("as seen by node %s (%s)\n", st.NodeId, *addr)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSLOTS\tLEADER\tTERM\tLOCAL\tAPPLIED\tCOMMIT\tMEMBERS")
	for _, g := range st.Groups {
		var slots, members []string
		for _, r := range g.SlotRanges {
			slots = append(slots, fmt.Sprintf("%d-%d", r.Start, r.End))
		}
		for _, m := range g.Members {
			members = append(members, m.Id+"@"+m.PeerAddr)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", g.Id, strings.Join(slots, ","), g.LeaderId, g.Term,
			g.State, g.AppliedIndex, g.CommitIndex, strings.Join(members, " "))
	}
	return tw.Flush()
}
