//go:build integration

// Package amazonec2_test drives the built docker-machine CLI with the
// amazonec2 plugin against the cloud simulator's EC2, whose instances are
// VM-like host containers: real SSH, Docker installed by the provisioner,
// the docker CLI over TLS.
package amazonec2_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/integration/testbin"
)

// world is a simulator with container-backed instances, an install script
// server, a machine store and an isolated AWS environment.
type world struct {
	t          *testing.T
	sim        *cloudsim.Server
	installURL string
	store      string
	bin        string
	env        []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	hostworld.RequireDocker(t)
	// The CLI runs the plugin it finds next to itself for amazonec2.
	bin := testbin.Build(t, "./cmd/docker-machine", "./cmd/docker-machine-driver-amazonec2")
	ctx := t.Context()
	image, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{})
	require.NoError(t, err, "preparing the host image")

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: image, Logger: logger})
	sim := cloudsimtest.Start(t, cloudsim.Config{Backend: backend, PublicPorts: []int{22, 2376}, Logger: logger})

	url, stop, err := hostworld.ServeInstallScript(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)

	home := t.TempDir()
	// No AWS set-up of the machine reaches the CLI or the plugin, and no
	// metadata lookup leaves loopback.
	env := []string{"HOME=" + home, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED=true"}
	return &world{t: t, sim: sim.Server, installURL: url, store: filepath.Join(t.TempDir(), "store"), bin: bin, env: env}
}

// cleanEnviron is os.Environ without any AWS_* variable.
func cleanEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
}

func (w *world) dm(ctx context.Context, env []string, args ...string) (string, error) {
	w.t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(w.bin, "docker-machine"), append([]string{"-s", w.store}, args...)...)
	cmd.Env = append(cleanEnviron(), "PATH="+w.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
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

// gone are states in which EC2 still lists what no longer holds anything.
var gone = []string{"terminated", "deleted", "cancelled", "closed"}

// userResources is the simulator's resource list without what EC2 keeps
// listing after it is gone (terminated instances, cancelled requests) and
// their tags.
func (w *world) userResources() string {
	resp, err := http.Get(w.sim.AdminURL() + "/resources")
	require.NoError(w.t, err)
	defer resp.Body.Close()
	var all map[string]json.RawMessage
	require.NoError(w.t, json.NewDecoder(resp.Body).Decode(&all))
	out := map[string][]any{}
	goneIDs := map[string]bool{}
	for k, raw := range all {
		var list []any
		if json.Unmarshal(raw, &list) != nil {
			continue
		}
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				st := fmt.Sprint(m["state"], m["status"])
				if slices.ContainsFunc(gone, func(g string) bool { return strings.Contains(strings.ToLower(st), g) }) {
					goneIDs[fmt.Sprint(m["id"])] = true
					continue
				}
			}
			out[k] = append(out[k], item)
		}
	}
	for k, list := range out {
		out[k] = slices.DeleteFunc(list, func(item any) bool {
			m, ok := item.(map[string]any)
			return ok && (goneIDs[fmt.Sprint(m["resource_id"])] || goneIDs[fmt.Sprint(m["instance_id"])])
		})
	}
	b, _ := json.MarshalIndent(out, "", " ")
	return string(b)
}

func (w *world) lastSeq() int64 {
	calls := w.sim.Calls(0).Calls
	if len(calls) == 0 {
		return 0
	}
	return calls[len(calls)-1].Seq
}

// callsSince sums up the EC2 calls after seq: the total and per action.
func (w *world) callsSince(seq int64) string {
	counts := map[string]int{}
	total := 0
	for _, c := range w.sim.Calls(seq).Calls {
		if c.Version == "2016-11-15" {
			counts[c.Action]++
			total++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d (", total)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%d", k, counts[k])
	}
	b.WriteString(")")
	return b.String()
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
		k, v, _ := strings.Cut(strings.TrimPrefix(line, "export "), "=")
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

// TestCreateUseAndRemove is the acceptance flow: create through the
// plugin, Docker over TLS through `docker-machine env`, the lifecycle
// commands, ssh, and rm leaving the cloud exactly as it was.
func TestCreateUseAndRemove(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	before := w.userResources()
	id, secret := w.sim.AWSCredentials()
	name := "ec2-1"

	seq := w.lastSeq()
	start := time.Now()
	out := w.must(ctx, nil, "create", "-d", "amazonec2",
		"--amazonec2-endpoint", w.sim.EC2Endpoint(),
		"--amazonec2-access-key", id, "--amazonec2-secret-key", secret,
		"--engine-install-url", w.installURL,
		"--engine-label", "it=amazonec2",
		name)
	t.Logf("docker-machine create (instance, Docker install and TLS setup) took %s; EC2 calls: %s",
		time.Since(start).Round(time.Millisecond), w.callsSince(seq))
	t.Cleanup(func() { _, _ = w.dm(context.Background(), nil, "rm", "-f", "-y", name) })
	assert.Contains(t, out, "Docker is up and running!")
	assert.NotContains(t, out, secret)

	instance := w.must(ctx, nil, "inspect", "-f", "{{.Driver.InstanceId}}", name)
	require.True(t, strings.HasPrefix(instance, "i-"), instance)

	env := dockerEnv(t, w.must(ctx, nil, "env", name))
	info, err := docker(ctx, env, "info", "--format", "{{.Name}} {{json .Labels}}")
	require.NoError(t, err, info)
	assert.Contains(t, info, "provider=amazonec2")

	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	ip := w.must(ctx, nil, "ip", name)
	assert.Equal(t, "tcp://"+ip+":2376", w.must(ctx, nil, "url", name))
	assert.NotEmpty(t, w.must(ctx, nil, "ssh", name, "hostname"))

	w.must(ctx, nil, "stop", name)
	assert.Equal(t, "Stopped", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "start", name)
	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "restart", name)
	assert.Equal(t, "Running", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "kill", name)
	assert.Equal(t, "Stopped", w.must(ctx, nil, "status", name))
	w.must(ctx, nil, "start", name)
	env = dockerEnv(t, w.must(ctx, nil, "env", name))
	out, err = docker(ctx, env, "version", "--format", "{{.Server.Version}}")
	assert.NoError(t, err, out)

	seq = w.lastSeq()
	start = time.Now()
	w.must(ctx, nil, "rm", "-y", name)
	t.Logf("docker-machine rm took %s; EC2 calls: %s", time.Since(start).Round(time.Millisecond), w.callsSince(seq))
	assert.Equal(t, before, w.userResources(), "after rm the cloud is exactly as before create")
}

// A profile in a shared credentials file creates a host; its secret is in
// no file of the store.
func TestProfileCredentialsStayOutOfTheStore(t *testing.T) {
	ctx := t.Context()
	w := newWorld(t)
	before := w.userResources()
	id, secret := w.sim.AWSCredentials()
	creds := filepath.Join(t.TempDir(), "credentials")
	require.NoError(t, os.WriteFile(creds, []byte(fmt.Sprintf("[sim]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, secret)), 0o600))
	env := []string{"AWS_SHARED_CREDENTIALS_FILE=" + creds, "AWS_PROFILE=sim"}
	name := "ec2-profile"
	out := w.must(ctx, env, "create", "-d", "amazonec2", "--amazonec2-endpoint", w.sim.EC2Endpoint(),
		"--engine-install-url", w.installURL, name)
	t.Cleanup(func() { _, _ = w.dm(context.Background(), env, "rm", "-f", "-y", name) })
	assert.NotContains(t, out, secret)
	err := filepath.Walk(w.store, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		assert.NotContains(t, string(data), secret, "secret in %s", p)
		assert.NotContains(t, string(data), id, "access key in %s", p)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, "Running", w.must(ctx, env, "status", name))
	w.must(ctx, env, "rm", "-y", name)
	assert.Equal(t, before, w.userResources(), "after rm the cloud is exactly as before create")
}

// TestClusterOfThree brings up a swarm of one manager and two workers from
// a cluster file on amazonec2 (hosts with Docker preinstalled), and down
// leaves the cloud as it was.
func TestClusterOfThree(t *testing.T) {
	ctx := t.Context()
	hostworld.RequireDocker(t)
	bin := testbin.Build(t, "./cmd/docker-machine", "./cmd/docker-machine-driver-amazonec2")
	image, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: true})
	require.NoError(t, err, "preparing the host image with Docker")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: image, Logger: logger})
	sim := cloudsimtest.Start(t, cloudsim.Config{Backend: backend, PublicPorts: []int{22, 2376}, Logger: logger})
	home := t.TempDir()
	id, secret := sim.AWSCredentials()
	w := &world{t: t, sim: sim.Server, store: filepath.Join(t.TempDir(), "store"), bin: bin, env: []string{
		"HOME=" + home, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=" + id, "AWS_SECRET_ACCESS_KEY=" + secret, "SIM_EC2=" + sim.EC2Endpoint(),
	}}
	before := w.userResources()
	path := filepath.Join(t.TempDir(), "cluster.yml")
	require.NoError(t, os.WriteFile(path, []byte(`name: e3
driver: amazonec2
driver_options:
  amazonec2-endpoint: ${SIM_EC2}
  amazonec2-region: us-east-1
engine:
  install_url: none
groups:
  - name: manager
    role: manager
  - name: worker
    count: 2
`), 0o600))
	t.Cleanup(func() { _, _ = w.dm(context.Background(), nil, "cluster", "down", "-f", path) })

	out := w.must(ctx, nil, "cluster", "up", "-f", path)
	assert.Contains(t, out, "cluster e3: 3 created, 0 already there, 3 joined or changed in the swarm, 0 failed")
	env := dockerEnv(t, w.must(ctx, nil, "env", "e3-manager-1"))
	nodes, err := docker(ctx, env, "node", "ls", "--format", "{{.Hostname}} {{.Status}}")
	require.NoError(t, err, nodes)
	assert.Equal(t, 3, strings.Count(nodes, "Ready"), nodes)

	out = w.must(ctx, nil, "cluster", "down", "-f", path)
	assert.Contains(t, out, "cluster e3: 3 removed, 0 failed")
	assert.Equal(t, before, w.userResources(), "cluster down leaves the cloud exactly as it was before up")
}
