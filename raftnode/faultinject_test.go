package raftnode

import "testing"

func TestParseFaults(t *testing.T) {
	for _, c := range []struct {
		in   string
		want plantedFaults
		bad  bool
	}{
		{in: "", want: plantedFaults{}},
		{in: "local-reads", want: plantedFaults{localReads: true}},
		{in: "early-ack", want: plantedFaults{earlyAck: true}},
		{in: " early-ack , local-reads ", want: plantedFaults{localReads: true, earlyAck: true}},
		{in: "local-read", bad: true},
		{in: "early-ack,nope", bad: true},
	} {
		got, err := parseFaults(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseFaults(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.bad)
		}
	}
}

// Without $REDRAFT_FAULT_INJECT (as every unit test runs), no bug is
// planted: the hooks in ReadIndex and Propose do nothing.
func TestNoFaultsPlantedByDefault(t *testing.T) {
	if f, err := planted(); err != nil || f != (plantedFaults{}) {
		t.Skipf("$%s is set in this environment: %+v %v", faultEnv, f, err)
	}
	if localReadsPlanted() {
		t.Error("local-reads planted without the variable")
	}
	if r := earlyAckReplies(nil); r != nil {
		t.Errorf("early-ack replies without the variable: %v", r)
	}
}
