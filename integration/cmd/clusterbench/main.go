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
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"

	"github.com/fleetdock/machine/integration/benchkit"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
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
}

func run(ctx context.Context) error {
	cli := flag.String("cli", "bin/docker-machine", "the docker-machine binary to measure")
	runs := flag.Int("runs", 3, "runs per measurement; the median is reported")
	sizes := flag.String("sizes", "1,3,6", "cluster sizes (nodes) to time")
	seed := flag.Bool("seed-way", true, "also time 3 sequential creates + swarm init + joins")
	flag.Parse()
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
	b := &bench{cli: abs, endpoint: srv.Endpoint(), lb: resp.LoadBalancerId, dir: dir,
		env: []string{"ECS_ACCESS_KEY_ID=" + id, "ECS_ACCESS_KEY_SECRET=" + secret}}
	fmt.Printf("cloudsim with container hosts (%s), Docker preinstalled, %d runs each\n", srv.Image, *runs)

	medians := map[int]time.Duration{}
	for _, n := range ns {
		var times []time.Duration
		for i := range *runs {
			d, err := b.clusterUp(ctx, n, i)
			if err != nil {
				return err
			}
			fmt.Printf("cluster up, %d node(s), run %d: %s\n", n, i+1, d.Round(10*time.Millisecond))
			times = append(times, d)
		}
		medians[n] = benchkit.Median(times)
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
		fmt.Printf("  cluster up, %d node(s): %s\n", n, medians[n].Round(10*time.Millisecond))
	}
	if first, last := ns[0], ns[len(ns)-1]; first == 1 && last > 1 {
		fmt.Printf("  t(%d)/t(1) = %.2f\n", last, float64(medians[last])/float64(medians[1]))
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
	cmd := exec.CommandContext(ctx, b.cli, append([]string{"-s", store}, args...)...)
	cmd.Env = append(os.Environ(), b.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("docker-machine %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

func (b *bench) clusterUp(ctx context.Context, nodes, run int) (time.Duration, error) {
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
		return 0, err
	}
	start := time.Now()
	err := b.dm(ctx, store, "cluster", "up", "-f", file)
	d := time.Since(start)
	if derr := b.dm(context.WithoutCancel(ctx), store, "cluster", "down", "-f", file); derr != nil {
		err = errors.Join(err, derr)
	}
	return d, err
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
	return d, err
}
