//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// discoveryProgram serves HTTP, answering with its container's host name
// and the node it runs on ($NODE), or probes a name: it resolves it, asks
// every address and the name itself, and prints what it got as JSON.
const discoveryProgram = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"time"
)

func main() {
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		node := os.Getenv("NODE")
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s on %s", host, node) })
		if err := http.ListenAndServe(":80", nil); err != nil {
			panic(err)
		}
	case "probe":
		name := os.Args[2]
		addrs, err := net.LookupHost(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sort.Strings(addrs)
		c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(url string) string {
			resp, err := c.Get(url)
			if err != nil {
				return "error: " + err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		out := struct {
			Addrs   []string
			Answers map[string]string
			ByName  string
		}{Addrs: addrs, Answers: map[string]string{}}
		for _, a := range addrs {
			out.Answers[a] = get("http://" + a + "/")
		}
		out.ByName = get("http://" + name + "/")
		json.NewEncoder(os.Stdout).Encode(out)
	}
}
`

// probeResult is what `app probe NAME` prints.
type probeResult struct {
	Addrs   []string
	Answers map[string]string
	ByName  string
}

// TestClusterOverlayDiscovery is seed 004's goal, cross-host discovery,
// done with swarm mode: `cluster up` makes a manager, a worker and the
// file's overlay network; a service on that network runs on the worker
// only, with --endpoint-mode dnsrr (this kernel has no IPVS for a virtual
// IP); a container on the manager, attached to the overlay, finds it by
// name and gets its answers over VXLAN from the other host. A second up
// keeps the network, and down leaves the cloud as it was.
func TestClusterOverlayDiscovery(t *testing.T) {
	ctx := t.Context()
	start := time.Now()
	w := newClusterWorld(t)
	tarball := staticImage(t, discoveryProgram, "app")
	before := w.resources()
	path := w.writeFile(`name: s4
driver: aliyunecs
driver_options:
  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
  aliyunecs-region: cn-hangzhou
engine:
  install_url: none
groups:
  - {name: manager, role: manager}
  - {name: worker, role: worker}
networks:
  - name: app
    subnet: 10.231.0.0/24
    labels: {seed: "004"}
`)
	t.Cleanup(func() {
		if t.Failed() {
			_, _, _ = w.m.run(context.WithoutCancel(ctx), "cluster", "down", "-f", path)
		}
	})

	upStart := time.Now()
	out := w.m.must(ctx, "cluster", "up", "-f", path)
	upTook := time.Since(upStart)
	assert.Contains(t, out, "cluster s4: 2 created, 0 already there, 2 joined or changed in the swarm, 0 failed")
	assert.Contains(t, out, "network app: created (")

	envs := map[string][]string{}
	names := map[string]string{} // machine -> the daemon's host name, which the swarm calls the node
	for _, n := range []string{"s4-manager-1", "s4-worker-1"} {
		envs[n] = dockerEnv(t, w.m.must(ctx, "env", n))
		out, err := docker(ctx, t, envs[n], "import", "-c", `CMD ["/app", "serve"]`, tarball, "discovery:1")
		require.NoError(t, err, "importing the image on %s: %s", n, out)
		out, err = docker(ctx, t, envs[n], "info", "--format", "{{.Name}}")
		require.NoError(t, err, out)
		names[n] = strings.TrimSpace(out)
	}
	require.NotEqual(t, names["s4-manager-1"], names["s4-worker-1"])
	mgr := envs["s4-manager-1"]

	out, err := docker(ctx, t, mgr, "network", "inspect", "--format", "{{.Driver}} {{.Scope}} {{.Attachable}} {{range .IPAM.Config}}{{.Subnet}}{{end}} {{index .Labels \"fleetdock.cluster\"}} {{index .Labels \"seed\"}}", "app")
	require.NoError(t, err, out)
	assert.Equal(t, "overlay swarm true 10.231.0.0/24 s4 004", strings.TrimSpace(out), "the network is as the file says, marked with the cluster")

	out, err = docker(ctx, t, mgr, "service", "create", "--detach", "--name", "web", "--network", "app", "--endpoint-mode", "dnsrr",
		"--replicas", "2", "--constraint", "node.role==worker", "--env", "NODE={{.Node.Hostname}}", "discovery:1")
	require.NoError(t, err, out)
	var tasks []string
	clusterWait(t, 2*time.Minute, "2 running tasks of web on the worker", func() (bool, string) {
		out, _ := docker(ctx, t, mgr, "service", "ps", "--filter", "desired-state=running", "--format", "{{.ID}} {{.Node}} {{.CurrentState}}", "web")
		tasks = nil
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && f[1] == names["s4-worker-1"] && f[2] == "Running" {
				tasks = append(tasks, f[0])
			}
		}
		return len(tasks) == 2, out
	})

	// The tasks' addresses on the overlay, as the swarm assigned them.
	subnet := netip.MustParsePrefix("10.231.0.0/24")
	var taskIPs []string
	for _, id := range tasks {
		out, err := docker(ctx, t, mgr, "inspect", "--format", `{{range .NetworksAttachments}}{{if eq .Network.Spec.Name "app"}}{{range .Addresses}}{{.}}{{end}}{{end}}{{end}}`, id)
		require.NoError(t, err, out)
		p, err := netip.ParsePrefix(strings.TrimSpace(out))
		require.NoError(t, err, "task %s's address on app: %q", id, out)
		assert.True(t, subnet.Contains(p.Addr()), "task address %s is in the file's subnet", p)
		taskIPs = append(taskIPs, p.Addr().String())
	}
	slices.Sort(taskIPs)

	// A container on the manager finds the service by name over the
	// overlay. The name resolves once the tasks' records reach the
	// manager's DNS, so ask until every task answers.
	var got probeResult
	clusterWait(t, 2*time.Minute, "a container on the manager to resolve web to both tasks and get their answers", func() (bool, string) {
		out, err := docker(ctx, t, mgr, "run", "--rm", "--network", "app", "discovery:1", "/app", "probe", "web")
		if err != nil {
			return false, out
		}
		got = probeResult{}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			return false, out
		}
		if !slices.Equal(got.Addrs, taskIPs) {
			return false, out
		}
		for _, a := range got.Addrs {
			if strings.HasPrefix(got.Answers[a], "error:") {
				return false, out
			}
		}
		return !strings.HasPrefix(got.ByName, "error:"), out
	})
	hosts := map[string]bool{}
	for _, a := range got.Addrs {
		host, node, ok := strings.Cut(got.Answers[a], " on ")
		require.True(t, ok, "answer of %s: %q", a, got.Answers[a])
		assert.Equal(t, names["s4-worker-1"], node, "%s answered from the worker, across the overlay", a)
		hosts[host] = true
	}
	assert.Len(t, hosts, 2, "each address is a different task: %v", got.Answers)
	assert.True(t, strings.HasSuffix(got.ByName, " on "+names["s4-worker-1"]), "the name itself answers from the worker: %q", got.ByName)

	// Converged: up again keeps the network.
	out = w.m.must(ctx, "cluster", "up", "-f", path)
	assert.Contains(t, out, "cluster s4: 0 created, 2 already there, 0 joined or changed in the swarm, 0 failed")
	assert.Contains(t, out, "network app: kept (")
	status := w.m.must(ctx, "cluster", "status", "-f", path)
	assert.Contains(t, status, "network app (overlay, attachable, 10.231.0.0/24): ok\n")

	out = w.m.must(ctx, "cluster", "down", "-f", path)
	assert.Contains(t, out, "cluster s4: 2 removed, 0 failed")
	assert.Equal(t, before, w.resources(), "cluster down leaves the cloud exactly as it was before up")
	assert.Empty(t, strings.TrimSpace(w.m.must(ctx, "ls", "-q")))
	t.Logf("cluster up of 2 nodes and a network: %s; the whole test: %s", upTook.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}
