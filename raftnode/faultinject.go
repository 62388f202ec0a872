package raftnode

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/redraft/redraft/fsm"
	pb "github.com/redraft/redraft/proto/redraft/v1"
)

// Fault injection, for tests only.
//
// The robustness suite (tests/robustness) must show that its checker
// catches the bugs it exists to catch. It starts servers with
// $REDRAFT_FAULT_INJECT set to a comma-separated list of planted bugs and
// asserts that the campaign fails:
//
//   - "local-reads": ReadIndex returns at once, so every replica answers
//     reads from its own state, leader or not, confirmed or not (the read
//     check is skipped);
//   - "early-ack": Propose acknowledges a plain SET (SET key value, which a
//     commit would answer +OK) as soon as it is queued for the leader's
//     log, before it is appended, replicated or committed.
//
// Each breaks a promise of redraft on purpose. The variable is read once,
// when the first Node opens; an unknown name makes Open fail, and every
// Node logs an error while a bug is planted. Production never sets it.
const faultEnv = "REDRAFT_FAULT_INJECT"

// plantedFaults are the bugs planted in this process.
type plantedFaults struct {
	localReads bool
	earlyAck   bool
}

var planted = sync.OnceValues(func() (plantedFaults, error) {
	return parseFaults(os.Getenv(faultEnv))
})

func parseFaults(s string) (plantedFaults, error) {
	var f plantedFaults
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "":
		case "local-reads":
			f.localReads = true
		case "early-ack":
			f.earlyAck = true
		default:
			return plantedFaults{}, fmt.Errorf("raftnode: $%s: unknown fault %q (local-reads, early-ack)", faultEnv, name)
		}
	}
	return f, nil
}

// checkPlanted is called by Open: it fails on a bad $REDRAFT_FAULT_INJECT
// and warns loudly about a good one.
func checkPlanted(logger *slog.Logger) error {
	f, err := planted()
	if err != nil {
		return err
	}
	if f != (plantedFaults{}) {
		logger.Error("raftnode: FAULT INJECTION: planted bugs break linearizability and durability (tests only)",
			"env", faultEnv, "value", os.Getenv(faultEnv))
	}
	return nil
}

// earlyAckReplies returns the replies a commit would give cmds when the
// early-ack bug is planted and every command is a plain SET; else nil.
func earlyAckReplies(cmds []*pb.Command) []fsm.Reply {
	if f, _ := planted(); !f.earlyAck {
		return nil
	}
	for _, c := range cmds {
		if len(c.Args) != 3 || !bytes.EqualFold(c.Args[0], []byte("set")) {
			return nil
		}
	}
	out := make([]fsm.Reply, len(cmds))
	for i := range out {
		out[i] = fsm.ReplyOK
	}
	return out
}

// localReadsPlanted reports whether the local-reads bug is planted.
func localReadsPlanted() bool {
	f, _ := planted()
	return f.localReads
}
