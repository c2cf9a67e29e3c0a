//go:build integration

// Package aliyunecs_test drives the built docker-machine CLI with the
// aliyunecs driver against the cloud simulator whose instances are VM-like
// host containers: real SSH, Docker installed by the provisioner, the
// docker CLI over TLS, an SLB proxy health-checking the hosts.
package aliyunecs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/integration/testbin"
)

// binaries builds the CLI and the plugin into one directory. The CLI runs
// its built-in copy of the driver; the plugin serves the stock-client tests.
func binaries(t *testing.T) string {
	return testbin.Build(t, "./cmd/docker-machine", "./cmd/docker-machine-driver-aliyunecs")
}

// world is a simulator with container-backed instances, an install script
// server and a machine store.
type world struct {
	t          *testing.T
	sim        *cloudsim.Server
	slb        *slb.Client
	installURL string
	store      string
	bin        string
	env        []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	hostworld.RequireDocker(t)
	bin := binaries(t)
	ctx := t.Context()
	image, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{})
	require.NoError(t, err, "preparing the host image")

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: image, Logger: logger})
	sim := cloudsimtest.Start(t, cloudsim.Config{Backend: backend, PublicPorts: []int{22, 2376}, Logger: logger})

	url, stop, err := hostworld.ServeInstallScript(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)

	return &world{t: t, sim: sim.Server, slb: sim.SLB, installURL: url, store: filepath.Join(t.TempDir(), "store"), bin: bin}
}

// credentials are the simulator's keys as the seed's env vars give them.
func (w *world) credentials() []string {
	id, secret := w.sim.Credentials()
	return []string{"ECS_ACCESS_KEY_ID=" + id, "ECS_ACCESS_KEY_SECRET=" + secret}
}

// dm runs docker-machine; it fails the test on a non-zero exit unless
// allowFail.
func (w *world) dm(ctx context.Context, env []string, args ...string) (string, error) {
	w.t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(w.bin, "docker-machine"), append([]string{"-s", w.store}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+w.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, w.env...)
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (w *world) must(ctx context.Context, env []string, args ...string) string {
	w.t.Helper()
	out, err := w.dm(ctx, env, args...)
	require.NoError(w.t, err, "docker-machine %s:\n%s", strings.Join(args, " "), out)
	return strings.TrimSpace(out)
}

// createSLB makes a load balancer with a TCP listener on the Docker port,
// so its health check proves the SLB reaches the hosts.
func (w *world) createSLB(ctx context.Context, region string) string {
	w.t.Helper()
	req := slb.CreateCreateLoadBalancerRequest()
	req.RegionId = region
	req.LoadBalancerName = "it-lb"
	req.AddressType = "internet"
	resp, err := w.slb.CreateLoadBalancer(req)
	require.NoError(w.t, err)
	lis := slb.CreateCreateLoadBalancerTCPListenerRequest()
	lis.RegionId = region
	lis.LoadBalancerId = resp.LoadBalancerId
	lis.ListenerPort = requests.NewInteger(12376)
	lis.BackendServerPort = requests.NewInteger(2376)
	lis.Bandwidth = requests.NewInteger(-1)
	_, err = w.slb.CreateLoadBalancerTCPListener(lis)
	require.NoError(w.t, err)
	start := slb.CreateStartLoadBalancerListenerRequest()
	start.RegionId = region
	start.LoadBalancerId = resp.LoadBalancerId
	start.ListenerPort = requests.NewInteger(12376)
	_, err = w.slb.StartLoadBalancerListener(start)
	require.NoError(w.t, err)
	return resp.LoadBalancerId
}

func (w *world) backends(region, lb string) []string {
	w.t.Helper()
	req := slb.CreateDescribeLoadBalancerAttributeRequest()
	req.RegionId = region
	req.LoadBalancerId = lb
	resp, err := w.slb.DescribeLoadBalancerAttribute(req)
	require.NoError(w.t, err)
	var ids []string
	for _, b := range resp.BackendServers.BackendServer {
		ids = append(ids, b.ServerId)
	}
	slices.Sort(ids)
	return ids
}

// healthy waits until the SLB's health check sees every instance as normal.
func (w *world) healthy(ctx context.Context, region, lb string, instances ...string) {
	w.t.Helper()
	var last string
	ok := waitUntil(ctx, 2*time.Minute, func() bool {
		req := slb.CreateDescribeHealthStatusRequest()
		req.RegionId = region
		req.LoadBalancerId = lb
		resp, err := w.slb.DescribeHealthStatus(req)
		if err != nil {
			last = err.Error()
			return false
		}
		normal := map[string]bool{}
		for _, b := range resp.BackendServers.BackendServer {
			normal[b.ServerId] = b.ServerHealthStatus == "normal"
		}
		b, _ := json.Marshal(resp.BackendServers.BackendServer)
		last = string(b)
		for _, id := range instances {
			if !normal[id] {
				return false
			}
		}
		return true
	})
	require.True(w.t, ok, "SLB %s health check never saw %v as normal: %s", lb, instances, last)
}

// userResources is the cloud minus its catalog and defaults.
func (w *world) userResources() string {
	r := w.sim.Resources()
	b, _ := json.MarshalIndent(map[string]any{
		"instances": r.Instances, "security_groups": r.SecurityGroups, "key_pairs": r.KeyPairs, "eips": r.EIPs,
		"public_ips": r.PublicIPs, "route_entries": r.RouteEntries, "load_balancers": r.LoadBalancers,
		"listeners": r.Listeners, "backend_servers": r.BackendServers, "tags": r.Tags, "forwarders": r.Forwarders,
		"vpcs": r.VPCs, "vswitches": r.VSwitches,
	}, "", " ")
	return string(b)
}

// dockerEnv turns `docker-machine env` output into environment entries.
func dockerEnv(t *testing.T, out string) []string {
	t.Helper()
	var env []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "export ") {
			continue
		}
		kv := strings.TrimPrefix(line, "export ")
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+strings.Trim(v, `"`))
	}
	require.NotEmpty(t, env, "no exports in: %s", out)
	return env
}

func docker(ctx context.Context, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	delay := 100 * time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(delay)
		delay = min(delay*2, 2*time.Second)
	}
}

// TestCreateUseAndRemove is the acceptance flow: create with an SLB, Docker
// over TLS through `docker-machine env`, the lifecycle commands, ssh, and rm
// leaving the cloud exactly as it was.
func TestCreateUseAndRemove(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	const region = "cn-hangzhou"
	lb := w.createSLB(ctx, region)
	before := w.userResources()
	id, secret := w.sim.Credentials()
	name := "ali-1"

	start := time.Now()
	out := w.must(ctx, nil, "create", "-d", "aliyunecs",
		"--aliyunecs-api-endpoint", w.sim.Endpoint(),
		"--aliyunecs-access-key-id", id, "--aliyunecs-access-key-secret", secret,
		"--aliyunecs-slb-id", lb,
		"--engine-install-url", w.installURL,
		"--engine-label", "it=aliyunecs",
		name)
	t.Logf("docker-machine create (instance, SLB, Docker install and TLS setup) took %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { _, _ = w.dm(context.Background(), nil, "rm", "-f", "-y", name) })
	assert.Contains(t, out, "Docker is up and running!")
	assert.NotContains(t, out, secret)

	instance := w.must(ctx, nil, "inspect", "-f", "{{.Driver.InstanceId}}", name)
	require.True(t, strings.HasPrefix(instance, "i-"), instance)
	assert.Equal(t, []string{instance}, w.backends(region, lb), "the SLB lists the host")
	w.healthy(ctx, region, lb, instance)

	env := dockerEnv(t, w.must(ctx, nil, "env", name))
	info, err := docker(ctx, env, "info", "--format", "{{.Name}} {{json .Labels}}")
	require.NoError(t, err, info)
	assert.Contains(t, info, name)
	assert.Contains(t, info, "provider=aliyunecs")

	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	ip := w.must(ctx, nil, "ip", name)
	r := w.sim.Resources()
	require.Len(t, r.Instances, 1)
	assert.Equal(t, r.Instances[0].PublicIP, ip)
	assert.Equal(t, "tcp://"+ip+":2376", w.must(ctx, nil, "url", name))
	assert.Equal(t, name, w.must(ctx, nil, "ssh", name, "hostname"))

	w.must(ctx, nil, "stop", name)
	assert.Equal(t, "Stopped", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "start", name)
	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	_, err = docker(ctx, env, "version")
	assert.NoError(t, err, "Docker answers after start")
	w.must(ctx, nil, "restart", name)
	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "kill", name)
	assert.Equal(t, "Stopped", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "start", name)
	out, err = docker(ctx, env, "version", "--format", "{{.Server.Version}}")
	assert.NoError(t, err, out)

	start = time.Now()
	w.must(ctx, nil, "rm", "-y", name)
	t.Logf("docker-machine rm took %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, before, w.userResources(), "after rm the cloud is exactly as before create")
}

// TestSeedEnvFlow is seed 002: settings in env vars, three nodes created
// (in parallel) behind one SLB, then a swarm across them.
func TestSeedEnvFlow(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	const region = "cn-beijing"
	lb := w.createSLB(ctx, region)
	before := w.userResources()
	env := append(w.credentials(),
		"DEBUG=true",
		"ECS_API_ENDPOINT="+w.sim.Endpoint(),
		"ECS_REGION="+region,
		"ECS_ZONE=cn-beijing-b",
		"ECS_SSH_PASSWORD=Seed-002-Passw0rd",
		"ECS_UPGRADE_KERNEL=true",
		"MACHINE_DOCKER_INSTALL_URL="+w.installURL,
		"ENGINE_REGISTRY_MIRROR=https://registry-mirror.seed.test",
		"ECS_SLB_ID="+lb,
	)
	nodes := []string{"node-1", "node-2", "node-3"}
	for _, n := range nodes {
		t.Cleanup(func() { _, _ = w.dm(context.Background(), env, "rm", "-f", "-y", n) })
	}
	// The first create makes the store's CA; the other two then run in
	// parallel. (Parallel first creates would each make a CA of their own.)
	outs := make([]string, len(nodes))
	errs := make([]error, len(nodes))
	outs[0], errs[0] = w.dm(ctx, env, "create", "-d", "aliyunecs", nodes[0])
	require.NoError(t, errs[0], "create %s:\n%s", nodes[0], outs[0])
	var wg sync.WaitGroup
	for i, n := range nodes[1:] {
		wg.Go(func() { outs[i+1], errs[i+1] = w.dm(ctx, env, "create", "-d", "aliyunecs", n) })
	}
	wg.Wait()
	for i, n := range nodes {
		require.NoError(t, errs[i], "create %s:\n%s", n, outs[i])
		assert.NotContains(t, outs[i], "Seed-002-Passw0rd")
	}

	var instances []string
	for _, n := range nodes {
		instances = append(instances, w.must(ctx, env, "inspect", "-f", "{{.Driver.InstanceId}}", n))
		zone := w.must(ctx, env, "inspect", "-f", "{{.Driver.Zone}}", n)
		assert.Equal(t, "cn-beijing-b", zone)
	}
	slices.Sort(instances)
	assert.Equal(t, instances, w.backends(region, lb), "every node is an SLB backend")
	w.healthy(ctx, region, lb, instances...)

	// The registry mirror reached the engines.
	denv := dockerEnv(t, w.must(ctx, env, "env", "node-1"))
	mirrors, err := docker(ctx, denv, "info", "--format", "{{json .RegistryConfig.Mirrors}}")
	require.NoError(t, err, mirrors)
	assert.Contains(t, mirrors, "https://registry-mirror.seed.test/")

	// The seed goes on to build a swarm on the private addresses.
	addr := strings.Fields(w.must(ctx, env, "ssh", "node-1", "ip -4 -o addr show eth0"))
	require.GreaterOrEqual(t, len(addr), 4)
	managerIP, _, _ := strings.Cut(addr[3], "/")
	w.must(ctx, env, "ssh", "node-1", "docker swarm init --advertise-addr "+managerIP)
	token := w.must(ctx, env, "ssh", "node-1", "docker swarm join-token -q worker")
	for _, n := range nodes[1:] {
		w.must(ctx, env, "ssh", n, "docker swarm join --token "+token+" "+managerIP+":2377")
	}
	ready, err := docker(ctx, denv, "node", "ls", "--format", "{{.Status}}")
	require.NoError(t, err, ready)
	assert.Equal(t, 3, strings.Count(ready, "Ready"), ready)

	rmOut := w.must(ctx, env, "rm", "-y", nodes[0], nodes[1], nodes[2])
	assert.NotContains(t, rmOut, "Error")
	assert.Equal(t, before, w.userResources(), "after rm the cloud is exactly as before the three creates")
}
