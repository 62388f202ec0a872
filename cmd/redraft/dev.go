package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// runDev runs a local 3-node cluster as child processes until Ctrl-C.
func runDev(argv []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	dir := fs.String("dir", "./data", "data directory (one sub-directory per node)")
	groups := fs.Int("groups", 3, "raft groups the slots are split into (first start only)")
	proxy := fs.Bool("proxy", true, "start the nodes with --proxy, so clients without cluster support work too")
	logStore := fs.String("log-store", "", `passed to every node: "wal" or "bolt" (first start only; default: what the data uses, "wal" for new data)`)
	if err := fs.Parse(argv); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	const n = 3
	cluster := ""
	for i := 1; i <= n; i++ {
		if i > 1 {
			cluster += ","
		}
		cluster += fmt.Sprintf("n%d=127.0.0.1:%d", i, 9000+i)
	}
	var procs []*exec.Cmd
	var wg sync.WaitGroup
	exited := make(chan string, n)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		args := []string{"server",
			"--id", id,
			"--dir", filepath.Join(*dir, id),
			"--resp-addr", fmt.Sprintf("127.0.0.1:%d", 7000+i),
			"--grpc-addr", fmt.Sprintf("127.0.0.1:%d", 8000+i),
			"--peer-addr", fmt.Sprintf("127.0.0.1:%d", 9000+i),
			"--initial-cluster", cluster,
			"--groups", fmt.Sprint(*groups),
			fmt.Sprintf("--proxy=%v", *proxy)}
		if *logStore != "" {
			args = append(args, "--log-store", *logStore)
		}
		cmd := exec.Command(self, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches only us; we stop them in order
		if err := cmd.Start(); err != nil {
			stopAll(procs)
			return fmt.Errorf("start %s: %w", id, err)
		}
		procs = append(procs, cmd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd.Wait()
			exited <- id
		}()
	}
	fmt.Printf(`
redraft dev cluster: 3 nodes, %d groups (first start), data under %s
  RESP:  127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003
  gRPC:  127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003
Connect:   redis-cli -c -p 7001   (-c may be left out while the nodes run with --proxy, the default)
Status:    %s cluster status --addr 127.0.0.1:8001
Ctrl-C stops the cluster.

`, *groups, *dir, os.Args[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var ret error
	select {
	case <-sig:
		fmt.Println("\nstopping the cluster...")
	case id := <-exited:
		ret = fmt.Errorf("node %s exited; stopping the others", id)
	}
	stopAll(procs)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		for _, p := range procs {
			p.Process.Kill()
		}
		<-done
	}
	return ret
}

func stopAll(procs []*exec.Cmd) {
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
}
