//go:build integration

package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
)

// clusterWorld is a cloud simulator whose instances are host containers
// with Docker preinstalled (installation is proven by other tests), and a
// machine store whose CLI reaches it with the seed's environment.
type clusterWorld struct {
	t   *testing.T
	sim *cloudsimtest.Sim
	m   *machine
}

func newClusterWorld(t *testing.T) *clusterWorld {
	t.Helper()
	hostworld.RequireDocker(t)
	img, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{WithDocker: true})
	require.NoError(t, err, "preparing the host image with Docker")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: img, Logger: quiet})
	sim := cloudsimtest.Start(t, cloudsim.Config{Backend: backend, PublicPorts: []int{22, 2376}, Logger: quiet})
	m := newMachine(t)
	id, secret := sim.Credentials()
	m.env = []string{"ECS_ACCESS_KEY_ID=" + id, "ECS_ACCESS_KEY_SECRET=" + secret, "ECS_API_ENDPOINT=" + sim.Endpoint()}
	return &clusterWorld{t: t, sim: sim, m: m}
}

func (w *clusterWorld) createSLB(name string) (id, address string) {
	w.t.Helper()
	req := slb.CreateCreateLoadBalancerRequest()
	req.LoadBalancerName = name
	req.AddressType = "internet"
	resp, err := w.sim.SLB.CreateLoadBalancer(req)
	require.NoError(w.t, err)
	return resp.LoadBalancerId, resp.Address
}

// resources is the simulator's whole resource list, for leak checks.
func (w *clusterWorld) resources() string {
	w.t.Helper()
	resp, err := http.Get(w.sim.AdminURL() + "/resources")
	require.NoError(w.t, err)
	defer resp.Body.Close()
	var r cloudsim.Resources
	require.NoError(w.t, json.NewDecoder(resp.Body).Decode(&r))
	b, err := json.MarshalIndent(r, "", " ")
	require.NoError(w.t, err)
	return string(b)
}

func (w *clusterWorld) listeners(lb string) map[int]string {
	w.t.Helper()
	req := slb.CreateDescribeLoadBalancerListenersRequest()
	req.LoadBalancerId = &[]string{lb}
	resp, err := w.sim.SLB.DescribeLoadBalancerListeners(req)
	require.NoError(w.t, err)
	out := map[int]string{}
	for _, l := range resp.Listeners {
		out[l.ListenerPort] = fmt.Sprintf("%s %d %s", l.Status, l.BackendServerPort, l.Description)
	}
	return out
}

// health is the SLB's view of its backends on one listener port.
func (w *clusterWorld) health(lb string, port int) map[string]string {
	req := slb.CreateDescribeHealthStatusRequest()
	req.LoadBalancerId = lb
	req.ListenerPort = requests.NewInteger(port)
	resp, err := w.sim.SLB.DescribeHealthStatus(req)
	require.NoError(w.t, err)
	out := map[string]string{}
	for _, b := range resp.BackendServers.BackendServer {
		out[b.ServerId] = b.ServerHealthStatus
	}
	return out
}

func (w *clusterWorld) writeFile(text string) string {
	path := filepath.Join(w.t.TempDir(), "cluster.yml")
	require.NoError(w.t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// clusterWait polls cond with backoff until it holds or the timeout
// passes, then fails the test with what it saw last.
func clusterWait(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 200 * time.Millisecond
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("stopped waiting for %s: %v", what, t.Context().Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 2*time.Second)
	}
}

// webImage is a static HTTP server, as an importable tarball, that answers
// with its hostname (the task's container ID).
func webImage(t *testing.T) string {
	t.Helper()
	src := `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello from %s\n", host) })
	if err := http.ListenAndServe(":80", nil); err != nil {
		panic(err)
	}
}
`
	return staticImage(t, src, "server")
}

// staticImage builds the Go program src statically as /name and packs it
// as a tarball for `docker import`: the hosts reach no registry.
func staticImage(t *testing.T, src, name string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+name+"\n\ngo 1.26\n"), 0o644))
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", name, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "building %s: %s", name, out)
	bin, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}))
	_, err = tw.Write(bin)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	path := filepath.Join(dir, name+".tar")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// get asks url once with a short timeout, on a new connection: the SLB
// picks a backend per connection.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// answers waits until n requests in a row succeed and returns who answered.
func answers(t *testing.T, url string, n int, timeout time.Duration) map[string]int {
	t.Helper()
	var seen map[string]int
	clusterWait(t, timeout, fmt.Sprintf("%d answers in a row from %s", n, url), func() (bool, string) {
		seen = map[string]int{}
		for i := range n {
			body, err := get(url)
			if err != nil {
				return false, fmt.Sprintf("request %d: %v", i+1, err)
			}
			seen[body]++
		}
		return true, ""
	})
	return seen
}

// TestClusterSeed002 is seed 002 from one cluster file: one manager and
// two workers on aliyunecs behind one SLB, a service from a locally built
// image, `slb sync` making its listener, answers through the SLB that
// survive scaling and a stopped worker, and a down that leaves the cloud
// as it found it.
//
// Publishing uses mode=host: this kernel has no IPVS, which the swarm's
// routing mesh (ingress) needs; the listener sync treats both modes alike.
func TestClusterSeed002(t *testing.T) {
	ctx := t.Context()
	w := newClusterWorld(t)
	lb, lbAddr := w.createSLB("seed002")
	before := w.resources()
	path := w.writeFile(fmt.Sprintf(`name: s2
driver: aliyunecs
driver_options:
  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
  aliyunecs-region: cn-hangzhou
engine:
  install_url: none
  labels: [seed=002]
groups:
  - name: manager
    role: manager
    slb: %[1]s
  - name: worker
    count: 2
    slb: %[1]s
load_balancers:
  - id: %[1]s
    services: true
    service_ports: {web: 8080}
`, lb))

	out := w.m.must(ctx, "cluster", "up", "-f", path)
	assert.Contains(t, out, "cluster s2: 3 created, 0 already there, 3 joined or changed in the swarm, 0 failed")
	nodes := []string{"s2-manager-1", "s2-worker-1", "s2-worker-2"}

	// The image, loaded on every node through its Engine API over TLS.
	tarball := webImage(t)
	envs := map[string][]string{}
	for _, n := range nodes {
		envs[n] = dockerEnv(t, w.m.must(ctx, "env", n))
		out, err := docker(ctx, t, envs[n], "import", "-c", `CMD ["/server"]`, tarball, "web:1")
		require.NoError(t, err, "importing the image on %s: %s", n, out)
	}
	mgr := envs["s2-manager-1"]
	out, err := docker(ctx, t, mgr, "service", "create", "--detach", "--name", "web", "--replicas", "3",
		"--publish", "mode=host,published=30080,target=80", "web:1")
	require.NoError(t, err, out)
	clusterWait(t, 2*time.Minute, "3 running tasks of web", func() (bool, string) {
		out, _ := docker(ctx, t, mgr, "service", "ps", "--filter", "desired-state=running", "--format", "{{.CurrentState}}", "web")
		return strings.Count(out, "Running") == 3, out
	})

	out = w.m.must(ctx, "slb", "sync", "--slb-id", lb, "--manager", "s2-manager-1", "--port", "web=8080")
	assert.Contains(t, out, "created listener TCP 8080 -> 30080 (docker-machine/service/web)")
	assert.Equal(t, map[int]string{8080: "running 30080 docker-machine/service/web"}, w.listeners(lb))
	url := fmt.Sprintf("http://%s:8080/", lbAddr)
	clusterWait(t, 2*time.Minute, "all three nodes to answer through the SLB", func() (bool, string) {
		seen := answers(t, url, 9, time.Minute)
		return len(seen) == 3, fmt.Sprint(seen)
	})

	// Converged: a second up and a second sync change nothing.
	out = w.m.must(ctx, "cluster", "up", "-f", path)
	assert.Contains(t, out, "cluster s2: 0 created, 3 already there, 0 joined or changed in the swarm, 0 failed")
	assert.Contains(t, out, "listener TCP 8080 -> 30080 is up to date")
	out = w.m.must(ctx, "slb", "sync", "--slb-id", lb, "--manager", "s2-manager-1", "--port", "web=8080")
	assert.NotContains(t, out, "created")

	// Scaled to 6: the service keeps answering throughout. With host-mode
	// publishing a node runs one task of the port, so 3 of the 6 wait.
	out, err = docker(ctx, t, mgr, "service", "scale", "--detach", "web=6")
	require.NoError(t, err, out)
	seen := answers(t, url, 20, time.Minute)
	assert.Len(t, seen, 3, "every node still answers: %v", seen)

	// A stopped worker: the health check takes it out; answers go on.
	w.m.must(ctx, "stop", "s2-worker-2")
	clusterWait(t, time.Minute, "the SLB to see the stopped worker as abnormal", func() (bool, string) {
		h := w.health(lb, 8080)
		abnormal := 0
		for _, s := range h {
			if s != "normal" {
				abnormal++
			}
		}
		return abnormal == 1, fmt.Sprint(h)
	})
	seen = answers(t, url, 20, time.Minute)
	assert.Len(t, seen, 2, "the two running nodes answer: %v", seen)

	status := w.m.must(ctx, "cluster", "status", "-f", path)
	assert.Regexp(t, `s2-worker-2\s+worker\s+worker\s+Stopped`, status)
	assert.Contains(t, status, "listener TCP 8080 -> 30080 running docker-machine/service/web")

	out = w.m.must(ctx, "cluster", "down", "-f", path)
	assert.Contains(t, out, "cluster s2: 3 removed, 0 failed")
	assert.Equal(t, before, w.resources(), "cluster down leaves the cloud exactly as it was before up")
	assert.Empty(t, strings.TrimSpace(w.m.must(ctx, "ls", "-q")))
}

// swarmLsNode is one entry of `swarm ls --format json`.
type swarmLsNode struct {
	Name, Role, Status, ManagerStatus string
}

// TestClusterSeed000 is seed 000's layout: three managers behind one SLB
// with 2377 and 443 listeners, two workers behind another; the swarm keeps
// three reachable managers, stays writable without one of them, and down
// removes everything the cluster made.
func TestClusterSeed000(t *testing.T) {
	ctx := t.Context()
	w := newClusterWorld(t)
	ctrl, _ := w.createSLB("controllers")
	work, _ := w.createSLB("workers")
	before := w.resources()
	path := w.writeFile(fmt.Sprintf(`name: s0
driver: aliyunecs
driver_options:
  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
engine:
  install_url: none
groups:
  - {name: manager, role: manager, count: 3, slb: %[1]s}
  - {name: worker, count: 2, slb: %[2]s}
load_balancers:
  - id: %[1]s
    listeners: [{port: 2377}, {port: 443}]
  - id: %[2]s
    services: true
`, ctrl, work))

	out := w.m.must(ctx, "cluster", "up", "--parallel", "4", "-f", path)
	assert.Contains(t, out, "cluster s0: 5 created, 0 already there, 5 joined or changed in the swarm, 0 failed")
	// The swarm is initialised on the first manager ready, whichever it is.
	runs := regexp.MustCompile(`swarm \S+ runs through (s0-manager-[1-3]);`).FindStringSubmatch(out)
	require.NotNil(t, runs, out)
	leader := runs[1]
	assert.Equal(t, map[int]string{
		443:  "running 443 docker-machine/cluster/s0",
		2377: "running 2377 docker-machine/cluster/s0",
	}, w.listeners(ctrl))
	assert.Empty(t, w.listeners(work), "no service publishes a port yet")

	var ls []swarmLsNode
	require.NoError(t, json.Unmarshal([]byte(w.m.must(ctx, "swarm", "ls", "--format", "json", leader)), &ls))
	managers := map[string]string{}
	for _, n := range ls {
		assert.Equal(t, "Ready", n.Status, n.Name)
		if n.Role == "manager" {
			managers[n.Name] = n.ManagerStatus
		}
	}
	assert.Len(t, ls, 5)
	want := map[string]string{"s0-manager-1": "Reachable", "s0-manager-2": "Reachable", "s0-manager-3": "Reachable"}
	want[leader] = "Leader"
	assert.Equal(t, want, managers)
	clusterWait(t, time.Minute, "the 2377 listener to see three healthy managers", func() (bool, string) {
		h := w.health(ctrl, 2377)
		normal := 0
		for _, s := range h {
			if s == "normal" {
				normal++
			}
		}
		return normal == 3, fmt.Sprint(h)
	})

	// Up again: nothing to do.
	out = w.m.must(ctx, "cluster", "up", "-f", path)
	assert.Contains(t, out, "cluster s0: 0 created, 5 already there, 0 joined or changed in the swarm, 0 failed")

	// One manager lost: the other two keep the raft quorum, so the swarm
	// still takes writes.
	lost := "s0-manager-3"
	if leader == lost {
		lost = "s0-manager-2"
	}
	w.m.must(ctx, "stop", lost)
	mgr := dockerEnv(t, w.m.must(ctx, "env", leader))
	clusterWait(t, 2*time.Minute, "the swarm to accept a write without "+lost, func() (bool, string) {
		out, err := docker(ctx, t, mgr, "network", "create", "--driver", "overlay", "probe")
		if err != nil && !strings.Contains(out, "already exists") {
			return false, out
		}
		return true, ""
	})
	out, err := docker(ctx, t, mgr, "network", "ls", "--filter", "name=probe", "--format", "{{.Name}} {{.Driver}}")
	require.NoError(t, err, out)
	assert.Equal(t, "probe overlay", strings.TrimSpace(out))

	status := w.m.must(ctx, "cluster", "status", "-f", path)
	assert.Regexp(t, lost+`\s+manager\s+manager\s+Stopped`, status)
	assert.Regexp(t, leader+`\s+manager\s+manager\s+Running\s+manager\s+Ready\s+Leader`, status)

	out = w.m.must(ctx, "cluster", "down", "-f", path)
	assert.Contains(t, out, "cluster s0: 5 removed, 0 failed")
	assert.Equal(t, before, w.resources(), "cluster down leaves the cloud exactly as it was before up")
}
