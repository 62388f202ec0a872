package systems

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redraft/redraft/benchmarks/loadgen"
)

// RedisConfig describes a Redis deployment: one master, replicas with
// asynchronous replication, optional AOF with fsync on every write, and
// optional Sentinels.
type RedisConfig struct {
	Bin       string // redis-server (default "redis-server" from PATH)
	Dir       string // parent of the nodes' directories
	Replicas  int
	AOFAlways bool // appendonly yes, appendfsync always, on every node
	Sentinels int
	// DownAfter is Sentinel's down-after-milliseconds; 0 leaves Sentinel's
	// default (30 s).
	DownAfter time.Duration
}

// MasterName is the name Sentinels monitor the master under.
const MasterName = "mymaster"

// RedisNode is one redis-server (or sentinel) process.
type RedisNode struct {
	Name string
	Addr string
	Dir  string
	Args []string
	Proc *Proc
	bin  string
}

// Redis is a running deployment.
type Redis struct {
	cfg       RedisConfig
	Master    *RedisNode
	Replicas  []*RedisNode
	Sentinels []*RedisNode
	extra     []*RedisNode // replicas added later
}

func (c *RedisConfig) nodeArgs(port int, dir string) []string {
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "no",
		"--daemonize", "no", "--dir", dir, "--save", "", "--repl-diskless-sync-delay", "0",
	}
	if c.AOFAlways {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return args
}

// StartRedis starts the master, the replicas and the Sentinels, and waits
// until the replicas are in sync and the Sentinels know each other.
func StartRedis(ctx context.Context, cfg RedisConfig) (*Redis, error) {
	if cfg.Bin == "" {
		cfg.Bin = "redis-server"
	}
	r := &Redis{cfg: cfg}
	ports, err := FreePorts(1 + cfg.Replicas + cfg.Sentinels)
	if err != nil {
		return nil, err
	}
	start := func(name string, port int, extra ...string) (*RedisNode, error) {
		dir := filepath.Join(cfg.Dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		n := &RedisNode{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, bin: cfg.Bin,
			Args: append(cfg.nodeArgs(port, dir), extra...)}
		return n, n.Start()
	}
	r.Master, err = start("master", ports[0])
	if err != nil {
		return nil, err
	}
	for i := range cfg.Replicas {
		n, err := start(fmt.Sprintf("replica%d", i+1), ports[1+i], "--replicaof", "127.0.0.1", strconv.Itoa(ports[0]))
		if err != nil {
			r.Stop()
			return nil, err
		}
		r.Replicas = append(r.Replicas, n)
	}
	if err := r.WaitSynced(ctx, r.Master, len(r.Replicas)); err != nil {
		r.Stop()
		return nil, err
	}
	for i := range cfg.Sentinels {
		n, err := r.startSentinel(i, ports[1+cfg.Replicas+i])
		if err != nil {
			r.Stop()
			return nil, err
		}
		r.Sentinels = append(r.Sentinels, n)
	}
	if cfg.Sentinels > 0 {
		err := WaitFor(ctx, "sentinels to know the replicas and each other", func() error {
			for _, s := range r.Sentinels {
				m, err := sentinelMaster(ctx, s.Addr)
				if err != nil {
					return err
				}
				if m["num-slaves"] != strconv.Itoa(cfg.Replicas) || m["num-other-sentinels"] != strconv.Itoa(cfg.Sentinels-1) {
					return fmt.Errorf("%s sees %s replicas, %s other sentinels", s.Name, m["num-slaves"], m["num-other-sentinels"])
				}
			}
			return nil
		})
		if err != nil {
			r.Stop()
			return nil, err
		}
	}
	return r, nil
}

func (r *Redis) startSentinel(i, port int) (*RedisNode, error) {
	name := fmt.Sprintf("sentinel%d", i+1)
	dir := filepath.Join(r.cfg.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := []string{
		fmt.Sprintf("port %d", port),
		"bind 127.0.0.1",
		"protected-mode no",
		"dir " + dir,
		fmt.Sprintf("sentinel monitor %s %s 2", MasterName, strings.Replace(r.Master.Addr, ":", " ", 1)),
	}
	if r.cfg.DownAfter > 0 {
		conf = append(conf, fmt.Sprintf("sentinel down-after-milliseconds %s %d", MasterName, r.cfg.DownAfter.Milliseconds()))
	}
	path := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	Note("sentinel.conf: " + strings.Join(conf[4:], "; "))
	n := &RedisNode{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, bin: r.cfg.Bin, Args: []string{path, "--sentinel"}}
	return n, n.Start()
}

// SentinelAddrs lists the Sentinels' addresses.
func (r *Redis) SentinelAddrs() []string {
	var out []string
	for _, s := range r.Sentinels {
		out = append(out, s.Addr)
	}
	return out
}

// Nodes lists every data node (master, replicas, added replicas).
func (r *Redis) Nodes() []*RedisNode {
	return append(append([]*RedisNode{r.Master}, r.Replicas...), r.extra...)
}

// Stop stops every process.
func (r *Redis) Stop() {
	for _, s := range r.Sentinels {
		s.Stop()
	}
	for _, n := range r.Nodes() {
		n.Stop()
	}
}

// Start starts (or restarts) the node with its arguments.
func (n *RedisNode) Start() error {
	p, err := Start(n.Name, n.bin, n.Args, filepath.Join(n.Dir, "out.log"))
	if err != nil {
		return err
	}
	n.Proc = p
	return nil
}

// Stop ends the node (SIGTERM, then SIGKILL).
func (n *RedisNode) Stop() {
	if n.Proc != nil {
		n.Proc.Stop(5 * time.Second)
	}
}

// Kill ends the node with SIGKILL.
func (n *RedisNode) Kill() {
	if n.Proc != nil {
		n.Proc.Kill()
	}
}

// Do runs one command on addr with a short deadline.
func Do(ctx context.Context, addr string, args ...string) (loadgen.Reply, error) {
	c, err := loadgen.Dial(ctx, addr, 500*time.Millisecond)
	if err != nil {
		return loadgen.Reply{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r, err := c.Do(args...)
	if err == nil {
		err = r.Err()
	}
	return r, err
}

// Info returns the fields of INFO [section] on addr.
func Info(ctx context.Context, addr string, section ...string) (map[string]string, error) {
	r, err := Do(ctx, addr, append([]string{"INFO"}, section...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(r.Str, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	return m, nil
}

// WaitServing waits until addr answers PING (not LOADING).
func WaitServing(ctx context.Context, addr string) error {
	return WaitFor(ctx, addr+" to answer PING", func() error {
		_, err := Do(ctx, addr, "PING")
		return err
	})
}

// WaitSynced waits until master has n replicas online and in sync.
func (r *Redis) WaitSynced(ctx context.Context, master *RedisNode, n int) error {
	return WaitFor(ctx, fmt.Sprintf("%d replicas of %s online", n, master.Name), func() error {
		m, err := Info(ctx, master.Addr, "replication")
		if err != nil {
			return err
		}
		online := 0
		for k, v := range m {
			if strings.HasPrefix(k, "slave") && strings.Contains(v, "state=online") {
				online++
			}
		}
		if online < n {
			return fmt.Errorf("%d of %d replicas online", online, n)
		}
		return nil
	})
}

// AddReplica starts a new, empty replica of the current master.
func (r *Redis) AddReplica(ctx context.Context, master *RedisNode) (*RedisNode, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("replica%d", len(r.Replicas)+len(r.extra)+1)
	dir := filepath.Join(r.cfg.Dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(master.Addr, ":")
	n := &RedisNode{Name: name, Addr: fmt.Sprintf("127.0.0.1:%d", ports[0]), Dir: dir, bin: r.cfg.Bin,
		Args: append(r.cfg.nodeArgs(ports[0], dir), "--replicaof", host, port)}
	r.extra = append(r.extra, n)
	return n, n.Start()
}

func sentinelMaster(ctx context.Context, addr string) (map[string]string, error) {
	rep, err := Do(ctx, addr, "SENTINEL", "MASTER", MasterName)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for i := 0; i+1 < len(rep.Array); i += 2 {
		m[rep.Array[i].Str] = rep.Array[i+1].Str
	}
	return m, nil
}
