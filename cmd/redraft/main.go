// Command redraft is the single redraft binary:
//
//	redraft server ...            one node
//	redraft dev                   a local 3-node cluster as child processes
//	redraft cluster status ...    the groups as one node sees them
//	redraft cluster transfer ...  move a group's leadership
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  redraft server --id n1 --dir DATA --resp-addr 127.0.0.1:7001 --grpc-addr 127.0.0.1:8001 \
                 --peer-addr 127.0.0.1:9001 --initial-cluster n1=127.0.0.1:9001,n2=...,n3=...
  redraft dev [--dir ./data]
  redraft cluster status --addr 127.0.0.1:8001
  redraft cluster transfer --addr 127.0.0.1:8001 --group g1 --to n2
Run a subcommand with -h for its flags.
`)
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "dev":
		err = runDev(os.Args[2:])
	case "cluster":
		err = runCluster(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "redraft: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "redraft:", err)
		os.Exit(1)
	}
}
