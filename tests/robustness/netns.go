package robustness

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Network places the nodes of a cluster on addresses and, when it can,
// separates them. Implementations: netnsNet (one network namespace per
// node, links cut with packet filters inside the nodes' namespaces) and
// loopbackNet (every node on 127.0.0.1, no partitions).
//
// Threading: Cut may be called from the nemesis goroutine while clients
// run; the other methods are fixed after construction.
type Network interface {
	// Host is the address node i listens on; the test process reaches
	// every node there whatever links are cut.
	Host(i int) string
	// Ports are node i's RESP, gRPC and peer ports.
	Ports(i int) (respPort, grpcPort, peerPort int)
	// Command returns a command that runs name in node i's network.
	Command(i int, name string, args ...string) *exec.Cmd
	// CanPartition reports whether Cut works.
	CanPartition() bool
	// Cut makes the links between the given pairs of nodes drop every
	// packet, in both directions, and heals every other link. Cut(nil)
	// heals all.
	Cut(pairs [][2]int) error
	// Describe says what the network is, for the test log.
	Describe() string
	// Close removes what the network created.
	Close() error
}

// --- network namespaces ---

// netnsNet gives every node its own network namespace with one interface,
// plugged into a bridge that lives in a further "hub" namespace. The test
// process, in the root namespace, reaches the bridge through one veth pair
// with an address in the same /24, so its traffic is switched, not routed:
// the root namespace's forwarding policy (Docker sets it to DROP) plays no
// part and no rule is added to the root namespace's packet filter.
//
// Partitions are iptables rules inside the nodes' namespaces: node i drops
// every packet to and from node j. Packets are dropped, not rejected, so a
// cut link looks like a dead network (dials and established streams hang
// until their timeouts), not like a closed port.
//
// Why not the alternatives: a per-link TCP proxy needs each node to dial its
// peers at proxy addresses, but raft's configuration (and the slot map)
// carries one peer address per node that every member must agree on; and
// loopback aliases cannot tell the sender apart, since the nodes' outgoing
// connections all leave from 127.0.0.1.
type netnsNet struct {
	tag    string   // unique per network: names of namespaces and links
	prefix string   // first three octets of the /24
	hub    string   // hub namespace
	nss    []string // node namespaces
	root   string   // root-side veth

	mu  sync.Mutex
	cut map[[2]int]bool
}

const (
	nsRESPPort = 6379
	nsGRPCPort = 7379
	nsPeerPort = 8379
)

// netnsAvailable reports why network namespaces cannot be used, or nil.
func netnsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	for _, tool := range []string{"ip", "iptables-restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found", tool)
		}
	}
	return nil
}

var netSeq struct {
	sync.Mutex
	n int
}

// newNetnsNet creates the namespaces, bridge and links for n nodes.
func newNetnsNet(n int) (*netnsNet, error) {
	reapStaleNamespaces()
	netSeq.Lock()
	netSeq.n++
	seq := netSeq.n
	netSeq.Unlock()
	pid := os.Getpid()
	nw := &netnsNet{
		tag: fmt.Sprintf("rb%d-%d", pid%1000000, seq),
		cut: map[[2]int]bool{},
	}
	prefix, err := freeSubnet(uint32(pid)*31 + uint32(seq)*7919)
	if err != nil {
		return nil, err
	}
	nw.prefix = prefix
	nw.hub = nw.tag + "-hub"
	nw.root = fmt.Sprintf("rbr%d", (pid*64+seq)%10000000)
	ok := false
	defer func() {
		if !ok {
			nw.Close()
		}
	}()
	run := func(args ...string) error { return runTool("ip", args...) }
	if err := run("netns", "add", nw.hub); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"-n", nw.hub, "link", "set", "lo", "up"},
		{"-n", nw.hub, "link", "add", "br0", "type", "bridge"},
		{"-n", nw.hub, "link", "set", "br0", "up"},
		{"link", "add", nw.root, "type", "veth", "peer", "name", "up0", "netns", nw.hub},
		{"-n", nw.hub, "link", "set", "up0", "master", "br0"},
		{"-n", nw.hub, "link", "set", "up0", "up"},
		{"addr", "add", prefix + ".1/24", "dev", nw.root},
		{"link", "set", nw.root, "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return nil, err
		}
	}
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("%s-n%d", nw.tag, i+1)
		if err := run("netns", "add", ns); err != nil {
			return nil, err
		}
		nw.nss = append(nw.nss, ns)
		port := fmt.Sprintf("p%d", i+1)
		steps := [][]string{
			{"-n", ns, "link", "set", "lo", "up"},
			{"-n", nw.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
			{"-n", nw.hub, "link", "set", port, "master", "br0"},
			{"-n", nw.hub, "link", "set", port, "up"},
			{"-n", ns, "addr", "add", nw.Host(i) + "/24", "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
		}
		for _, s := range steps {
			if err := run(s...); err != nil {
				return nil, err
			}
		}
	}
	ok = true
	return nw, nil
}

// freeSubnet picks a 10.x.y.0/24 no local interface uses, starting from a
// hash so that concurrent test processes pick different ones.
func freeSubnet(h uint32) (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				used[fmt.Sprintf("%d.%d.%d", ip4[0], ip4[1], ip4[2])] = true
			}
		}
	}
	for k := uint32(0); k < 4096; k++ {
		v := (h + k*2654435761) % (56 * 256)
		p := fmt.Sprintf("10.%d.%d", 200+v/256, v%256)
		if !used[p] {
			return p, nil
		}
	}
	return "", errors.New("no free 10.x.y.0/24 subnet")
}

// reapStaleNamespaces deletes namespaces left behind by test processes
// that died without cleaning up (their names carry the dead pid).
func reapStaleNamespaces() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "rb") {
			continue
		}
		pidStr, _, ok := strings.Cut(name[2:], "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid == os.Getpid()%1000000 {
			continue
		}
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			continue // alive (or a pid reused by another process: leave it)
		}
		_ = runTool("ip", "netns", "del", name)
	}
}

func runTool(name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (nw *netnsNet) Host(i int) string { return fmt.Sprintf("%s.%d", nw.prefix, 11+i) }

func (nw *netnsNet) Ports(int) (int, int, int) { return nsRESPPort, nsGRPCPort, nsPeerPort }

func (nw *netnsNet) Command(i int, name string, args ...string) *exec.Cmd {
	// ip execs the command in place: the process's pid is the server's.
	return exec.Command("ip", append([]string{"netns", "exec", nw.nss[i], name}, args...)...)
}

func (nw *netnsNet) CanPartition() bool { return true }

func (nw *netnsNet) Describe() string {
	return fmt.Sprintf("network namespaces %s-n1..n%d on %s.0/24, bridged in %s; partitions by iptables DROP inside the nodes' namespaces",
		nw.tag, len(nw.nss), nw.prefix, nw.hub)
}

func (nw *netnsNet) Cut(pairs [][2]int) error {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	want := map[[2]int]bool{}
	for _, p := range pairs {
		a, b := min(p[0], p[1]), max(p[0], p[1])
		if a != b {
			want[[2]int{a, b}] = true
		}
	}
	// Rewrite the rules of every node whose set of cut peers changes.
	var errs []error
	for i := range nw.nss {
		if peersOf(want, i) == peersOf(nw.cut, i) {
			continue
		}
		var rules strings.Builder
		rules.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
		for _, j := range peerList(want, i) {
			fmt.Fprintf(&rules, "-A INPUT -s %s -j DROP\n-A OUTPUT -d %s -j DROP\n", nw.Host(j), nw.Host(j))
		}
		rules.WriteString("COMMIT\n")
		cmd := exec.Command("ip", "netns", "exec", nw.nss[i], "iptables-restore")
		cmd.Stdin = strings.NewReader(rules.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("iptables-restore in %s: %v: %s", nw.nss[i], err, out))
		}
	}
	if len(errs) == 0 {
		nw.cut = want
	}
	return errors.Join(errs...)
}

func peerList(cut map[[2]int]bool, i int) []int {
	var out []int
	for p := range cut {
		switch i {
		case p[0]:
			out = append(out, p[1])
		case p[1]:
			out = append(out, p[0])
		}
	}
	sort.Ints(out)
	return out
}

func peersOf(cut map[[2]int]bool, i int) string { return fmt.Sprint(peerList(cut, i)) }

func (nw *netnsNet) Close() error {
	var errs []error
	for _, ns := range nw.nss {
		if err := runTool("ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if nw.hub != "" {
		// Deleting the hub deletes the bridge and the veth pairs, the
		// root-side end included.
		if err := runTool("ip", "netns", "del", nw.hub); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// --- loopback ---

// loopbackNet runs every node on 127.0.0.1 with its own free ports. It
// cannot separate nodes: the nemesis then leaves out partitions.
type loopbackNet struct {
	ports []int // 3 per node
}

func newLoopbackNet(n int) (*loopbackNet, error) {
	ports, err := freePorts(3 * n)
	if err != nil {
		return nil, err
	}
	return &loopbackNet{ports: ports}, nil
}

func (l *loopbackNet) Host(int) string { return "127.0.0.1" }
func (l *loopbackNet) Ports(i int) (int, int, int) {
	return l.ports[3*i], l.ports[3*i+1], l.ports[3*i+2]
}
func (l *loopbackNet) Command(_ int, name string, args ...string) *exec.Cmd {
	return exec.Command(name, args...)
}
func (l *loopbackNet) CanPartition() bool { return false }
func (l *loopbackNet) Cut(pairs [][2]int) error {
	if len(pairs) > 0 {
		return errors.New("loopback network cannot partition")
	}
	return nil
}
func (l *loopbackNet) Describe() string {
	return "loopback 127.0.0.1, free ports (no partitions: network namespaces unavailable or disabled)"
}
func (l *loopbackNet) Close() error { return nil }

// freePorts returns k distinct loopback ports that were free a moment ago.
func freePorts(k int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, k)
	for len(ports) < k {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
