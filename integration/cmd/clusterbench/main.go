// Command clusterbench measures `docker-machine cluster up` on the cloud
// simulator with container-backed instances that have Docker preinstalled,
// so the figures are orchestration, not installation:
//
//	go run ./integration/cmd/clusterbench -cli bin/docker-machine [-runs 3] [-sizes 1,3,6]
//
// For each size it times `cluster up` of a fresh cluster (one manager, the
// rest workers, all behind one SLB), then removes it untimed with `cluster
// down`. It also times the same 3-node cluster the seed's way with the same
// CLI: three sequential `create`, then `swarm init` and `swarm join`. It
// prints every run and the medians, and t(largest)/t(1).
//
// The hosts' boots share this machine's cores, so it also shows the floor
// under those times: the CPU time each run's host containers used (their
// cgroups' cpuacct.usage, read before `cluster down`), the CLI's with its
// driver plugins, and dockerd's and containerd's (anyone's containers), over
// the number of cores; and, with -floor, the wall time
// to boot 1 and the largest number of host containers at once, with nothing
// else (no cloud API, no CLI, no provisioning, no swarm).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"

	"github.com/fleetdock/machine/integration/benchkit"
	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/libmachine/poll"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	cli      string
	env      []string
	endpoint string
	lb       string
	dir      string
	img      string
	backend  *cloudsim.ContainerBackend
	timeline bool
}

// usage is the CPU time one run took, by who spent it.
type usage struct {
	hosts   time.Duration // the run's host containers (systemd, sshd, dockerd inside)
	cli     time.Duration // the CLI and its driver plugins
	daemons time.Duration // dockerd and containerd, for anyone's containers
	machine time.Duration // every core of the machine busy, anyone's work included
}

func (u usage) String() string {
	return fmt.Sprintf("CPU: hosts %s, CLI+plugins %s, dockerd+containerd %s, whole machine %s", sec(u.hosts), sec(u.cli), sec(u.daemons), sec(u.machine))
}

func sec(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

func run(ctx context.Context) error {
	cli := flag.String("cli", "bin/docker-machine", "the docker-machine binary to measure")
	runs := flag.Int("runs", 3, "runs per measurement; the median is reported")
	sizes := flag.String("sizes", "1,3,6", "cluster sizes (nodes) to time")
	seed := flag.Bool("seed-way", true, "also time 3 sequential creates + swarm init + joins")
	timeline := flag.Bool("timeline", false, "print the output of every cluster up with the seconds since it started")
	floor := flag.Bool("floor", true, "also time booting 1 and the largest number of host containers at once, without anything else")
	flag.Parse()
	// hostworld logs every boot; the figures are what this command prints.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes %q: give node counts such as 1,3,6", *sizes)
		}
		ns = append(ns, n)
	}
	abs, err := benchkit.CLI(*cli)
	if err != nil {
		return err
	}
	srv, err := benchkit.StartSim(ctx, true)
	if err != nil {
		return err
	}
	defer srv.Close()
	img, backend := srv.Image, srv.Backend
	id, secret := srv.Credentials()
	client, err := cloudsimtest.NewSLBClient(srv.Domain(), cloudsimtest.Region, id, secret)
	if err != nil {
		return err
	}
	req := slb.CreateCreateLoadBalancerRequest()
	req.LoadBalancerName = "bench"
	resp, err := client.CreateLoadBalancer(req)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "clusterbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{cli: abs, endpoint: srv.Endpoint(), lb: resp.LoadBalancerId, dir: dir, img: img, backend: backend, timeline: *timeline,
		env: []string{"ECS_ACCESS_KEY_ID=" + id, "ECS_ACCESS_KEY_SECRET=" + secret}}
	cores := runtime.NumCPU()
	fmt.Printf("cloudsim with container hosts (%s), Docker preinstalled, %d runs each, %d cores\n", img, *runs, cores)

	medians := map[int]time.Duration{}
	cpu := map[int]usage{}
	for _, n := range ns {
		var times []time.Duration
		var us []usage
		for i := range *runs {
			d, u, err := b.clusterUp(ctx, n, i)
			if err != nil {
				return err
			}
			fmt.Printf("cluster up, %d node(s), run %d: %s (%s)\n", n, i+1, d.Round(10*time.Millisecond), u)
			times = append(times, d)
			us = append(us, u)
		}
		medians[n] = benchkit.Median(times)
		cpu[n] = medianUsage(us)
	}
	boots := map[int]time.Duration{}
	bootCPU := map[int]usage{}
	if *floor {
		for _, n := range []int{1, slices.Max(ns)} {
			if _, done := boots[n]; done {
				continue
			}
			var times []time.Duration
			var us []usage
			for i := range *runs {
				d, u, err := b.bootAtOnce(ctx, n)
				if err != nil {
					return err
				}
				fmt.Printf("boot %d host container(s) at once, run %d: %s (%s)\n", n, i+1, d.Round(10*time.Millisecond), u)
				times = append(times, d)
				us = append(us, u)
			}
			boots[n], bootCPU[n] = benchkit.Median(times), medianUsage(us)
		}
	}
	var seedMedian time.Duration
	if *seed {
		var times []time.Duration
		for i := range *runs {
			d, err := b.seedWay(ctx, i)
			if err != nil {
				return err
			}
			fmt.Printf("seed's way, 3 nodes, run %d: %s\n", i+1, d.Round(10*time.Millisecond))
			times = append(times, d)
		}
		seedMedian = benchkit.Median(times)
	}
	fmt.Println("medians:")
	for _, n := range ns {
		u := cpu[n]
		fmt.Printf("  cluster up, %d node(s): %s (%s; hosts+CLI+daemons over %d cores: %s)\n", n, medians[n].Round(10*time.Millisecond),
			u, cores, sec((u.hosts+u.cli+u.daemons)/time.Duration(cores)))
	}
	if first, last := ns[0], ns[len(ns)-1]; first == 1 && last > 1 {
		fmt.Printf("  t(%d)/t(1) = %.2f\n", last, float64(medians[last])/float64(medians[1]))
	}
	for _, n := range slices.Sorted(maps.Keys(boots)) {
		line := fmt.Sprintf("  boot %d host container(s) at once, nothing else: %s (%s)", n, boots[n].Round(10*time.Millisecond), bootCPU[n])
		if t, ok := medians[n]; ok {
			line += fmt.Sprintf(" (%.0f%% of cluster up's %s)", 100*float64(boots[n])/float64(t), t.Round(10*time.Millisecond))
		}
		fmt.Println(line)
	}
	if *seed {
		fmt.Printf("  seed's way (3 sequential creates, swarm init, 2 joins): %s\n", seedMedian.Round(10*time.Millisecond))
		if m3, ok := medians[3]; ok {
			fmt.Printf("  seed's way / cluster up (3 nodes) = %.2f\n", float64(seedMedian)/float64(m3))
		}
	}
	return nil
}

// dm runs the CLI against store; the output is returned for errors only.
func (b *bench) dm(ctx context.Context, store string, args ...string) error {
	_, err := b.dmCPU(ctx, nil, store, args...)
	return err
}

// timeline prints lines with the seconds since start.
type timeline struct {
	start time.Time
	buf   []byte
}

func (t *timeline) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	for {
		line, rest, ok := bytes.Cut(t.buf, []byte("\n"))
		if !ok {
			break
		}
		fmt.Printf("  %6.2fs %s\n", time.Since(t.start).Seconds(), line)
		t.buf = rest
	}
	return len(p), nil
}

// dmCPU is dm that also returns the CPU time of the CLI and the driver
// plugins it waited for; show, when set, gets the output as it comes.
func (b *bench) dmCPU(ctx context.Context, show io.Writer, store string, args ...string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.cli, append([]string{"-s", store}, args...)...)
	cmd.Env = append(os.Environ(), b.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if show != nil {
		// One writer for both streams: exec then copies them in one goroutine.
		w := io.MultiWriter(&out, show)
		cmd.Stdout, cmd.Stderr = w, w
	}
	err := cmd.Run()
	var cpu time.Duration
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return cpu, fmt.Errorf("docker-machine %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return cpu, nil
}

func (b *bench) clusterUp(ctx context.Context, nodes, run int) (time.Duration, usage, error) {
	name := fmt.Sprintf("b%dn%d", run, nodes)
	store := filepath.Join(b.dir, name)
	file := filepath.Join(b.dir, name+".yml")
	text := fmt.Sprintf(`name: %s
driver: aliyunecs
driver_options: {aliyunecs-api-endpoint: %q}
engine: {install_url: none}
groups:
  - {name: manager, role: manager, count: 1, slb: %s}
  - {name: worker, count: %d, slb: %s}
`, name, b.endpoint, b.lb, nodes-1, b.lb)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		return 0, usage{}, err
	}
	var u usage
	busy, err := machineBusy()
	if err != nil {
		return 0, u, err
	}
	daemons := daemonsCPU()
	start := time.Now()
	var show io.Writer
	if b.timeline {
		show = &timeline{start: start}
	}
	u.cli, err = b.dmCPU(ctx, show, store, "cluster", "up", "-f", file)
	d := time.Since(start)
	if after, berr := machineBusy(); berr == nil {
		u.machine = after - busy
	}
	u.daemons = daemonsCPU() - daemons
	if err == nil {
		// Read before down: the hosts' cgroups go with their containers.
		k, v := b.backend.RunLabel()
		u.hosts, err = containersCPU(ctx, map[string]string{k: v})
	}
	if derr := b.dm(context.WithoutCancel(ctx), store, "cluster", "down", "-f", file); derr != nil {
		err = errors.Join(err, derr)
	}
	if err == nil {
		err = b.hostsGone(ctx)
	}
	return d, u, err
}

// hostsGone waits until the simulator has removed every host container of
// the bench: it deletes them after its API answered, and a run that starts
// while they are still going shares the cores with their removal.
func (b *bench) hostsGone(ctx context.Context) error {
	k, v := b.backend.RunLabel()
	return poll.Until(ctx, poll.Options{What: "the last run's host containers to be removed", Timeout: 3 * time.Minute, Initial: 100 * time.Millisecond, Max: time.Second},
		func(ctx context.Context) (bool, error) {
			out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label="+k+"="+v).Output()
			if err != nil {
				return false, fmt.Errorf("listing the bench's containers: %w", err)
			}
			if n := len(strings.Fields(string(out))); n > 0 {
				return false, poll.NotYet("%d left", n)
			}
			return true, nil
		})
}

// bootAtOnce starts n host containers at once, as cloudsim would for
// instances, and times until every one has booted and answers SSH; it
// returns that and the CPU time the containers used, then removes them.
func (b *bench) bootAtOnce(ctx context.Context, n int) (time.Duration, usage, error) {
	label := map[string]string{"fleetdock.clusterbench.floor": fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())}
	defer func() {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		_ = hostworld.RemoveAllLabelled(c, label)
	}()
	errs := make([]error, n)
	var wg sync.WaitGroup
	var u usage
	busy, err := machineBusy()
	if err != nil {
		return 0, u, err
	}
	daemons := daemonsCPU()
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("clusterbench-floor-%d-%d", os.Getpid(), i)
			// What cloudsim asks for an ECS instance: its login user too.
			_, errs[i] = hostworld.Start(ctx, hostworld.HostOptions{Name: name, Image: b.img, Labels: label, SudoUser: "ecs-user"})
		})
	}
	wg.Wait()
	d := time.Since(start)
	if after, berr := machineBusy(); berr == nil {
		u.machine = after - busy
	}
	u.daemons = daemonsCPU() - daemons
	if err := errors.Join(errs...); err != nil {
		return 0, u, err
	}
	u.hosts, err = containersCPU(ctx, label)
	return d, u, err
}

// daemonsCPU is the CPU time dockerd and containerd have used, with the
// children they waited for; 0 when /proc does not tell.
func daemonsCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lp, rp := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if lp < 0 || rp < lp {
			continue
		}
		if comm := string(data[lp+1 : rp]); comm != "dockerd" && comm != "containerd" {
			continue
		}
		// After the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
		f := strings.Fields(string(data[rp+1:]))
		if len(f) < 15 {
			continue
		}
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// containersCPU is the CPU time used so far by the running containers
// that carry labels, from their cgroups (cgroup v1 cpuacct, as Docker
// lays them out with the cgroupfs driver).
func containersCPU(ctx context.Context, labels map[string]string) (time.Duration, error) {
	args := []string{"ps", "-q", "--no-trunc"}
	for k, v := range labels {
		args = append(args, "--filter", "label="+k+"="+v)
	}
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return 0, fmt.Errorf("listing the run's containers: %w", err)
	}
	var total time.Duration
	for _, id := range strings.Fields(string(out)) {
		data, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuacct/docker", id, "cpuacct.usage"))
		if err != nil {
			return 0, fmt.Errorf("reading the CPU time of container %s (this needs cgroup v1 with Docker's cgroupfs layout): %w", id[:12], err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("the CPU time of container %s: %w", id[:12], err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// machineBusy is the CPU time every core of the machine has been busy
// since boot, from /proc/stat (USER_HZ is 100 on Linux).
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat starts with %q, not the cpu line", line)
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal (guest time is in user)
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

func medianUsage(us []usage) usage {
	var h, c, d, m []time.Duration
	for _, u := range us {
		h, c, d, m = append(h, u.hosts), append(c, u.cli), append(d, u.daemons), append(m, u.machine)
	}
	return usage{hosts: benchkit.Median(h), cli: benchkit.Median(c), daemons: benchkit.Median(d), machine: benchkit.Median(m)}
}

// seedWay is seed 002's flow with this CLI: three creates one after the
// other, then the swarm by hand.
func (b *bench) seedWay(ctx context.Context, run int) (time.Duration, error) {
	store := filepath.Join(b.dir, fmt.Sprintf("seed%d", run))
	names := []string{"node-1", "node-2", "node-3"}
	start := time.Now()
	var err error
	for _, n := range names {
		if err = b.dm(ctx, store, "create", "-d", "aliyunecs", "--aliyunecs-api-endpoint", b.endpoint,
			"--aliyunecs-slb-id", b.lb, "--engine-install-url", "none", n); err != nil {
			break
		}
	}
	if err == nil {
		err = b.dm(ctx, store, "swarm", "init", "node-1")
	}
	if err == nil {
		err = b.dm(ctx, store, "swarm", "join", "--manager", "node-1", "node-2", "node-3")
	}
	d := time.Since(start)
	if rerr := b.dm(context.WithoutCancel(ctx), store, append([]string{"rm", "-y"}, names...)...); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err == nil {
		err = b.hostsGone(ctx)
	}
	return d, err
}
