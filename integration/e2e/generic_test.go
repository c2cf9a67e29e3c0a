//go:build integration

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/integration/hostworld"
)

// TestGenericCreateInstallsAndSecuresDocker is the whole generic flow on a
// fresh host: Docker installed through the install URL, a TLS daemon with
// the engine options, then every command that talks to the host.
func TestGenericCreateInstallsAndSecuresDocker(t *testing.T) {
	ctx := t.Context()
	key, pub := sshKey(t)
	h := hostworld.StartHosts(t, 1, hostworld.HostOptions{AuthorizedKeys: []string{pub}})[0]
	installURL, stop, err := hostworld.ServeInstallScript(ctx)
	require.NoError(t, err)
	defer stop()

	m := newMachine(t)
	name := "gen-1"
	out := m.must(ctx, "create", "-d", "generic",
		"--generic-ip-address", h.IP, "--generic-ssh-key", key, "--generic-ssh-user", "root",
		"--engine-install-url", installURL,
		"--engine-registry-mirror", "https://mirror.e2e.test",
		"--engine-insecure-registry", "10.0.0.5:5000",
		"--engine-label", "tier=e2e",
		name)
	assert.Contains(t, out, "Docker is up and running!")
	assert.Contains(t, out, "docker-machine env "+name)

	env := dockerEnv(t, m.must(ctx, "env", name))
	infoJSON, err := docker(ctx, t, env, "info", "--format", "{{json .}}")
	require.NoError(t, err, infoJSON)
	var info struct {
		Name           string
		Labels         []string
		RegistryConfig struct {
			Mirrors               []string
			InsecureRegistryCIDRs []string
			IndexConfigs          map[string]any
		}
	}
	require.NoError(t, json.Unmarshal([]byte(infoJSON), &info), infoJSON)
	assert.Equal(t, name, info.Name)
	assert.Contains(t, info.Labels, "tier=e2e")
	assert.Contains(t, info.Labels, "provider=generic")
	assert.Contains(t, info.RegistryConfig.Mirrors, "https://mirror.e2e.test/")
	assert.Contains(t, info.RegistryConfig.IndexConfigs, "10.0.0.5:5000")

	// A client without the client certificate is refused.
	dir := filepath.Join(m.store, "machines", name)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	pool := x509Pool(t, caPEM)
	anon := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	_, err = anon.Get("https://" + h.IP + ":2376/version")
	assert.Error(t, err, "the daemon must refuse a client without a certificate")
	require.NoError(t, certs.CheckConnection(ctx, h.IP+":2376", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))

	// Every command that talks to the host.
	assert.Equal(t, h.IP+"\n", m.must(ctx, "ip", name))
	assert.Equal(t, "tcp://"+h.IP+":2376\n", m.must(ctx, "url", name))
	assert.Equal(t, "Running\n", m.must(ctx, "status", name))
	assert.Equal(t, name+"\n", m.must(ctx, "ssh", name, "hostname"))
	ls := m.must(ctx, "ls")
	assert.Regexp(t, `(?m)^`+name+`\s+-\s+generic\s+Running\s+tcp://\S+:2376\s+v\d+\.\d+`, ls)
	version := m.must(ctx, "version", name)
	assert.Regexp(t, `^\d+\.\d+\.\d+`, version)
	cfg := m.must(ctx, "config", name)
	assert.Contains(t, cfg, "-H=tcp://"+h.IP+":2376")

	// scp in and out, a file and a directory.
	local := filepath.Join(t.TempDir(), "payload.txt")
	require.NoError(t, os.WriteFile(local, []byte("hello from the test\n"), 0o644))
	m.must(ctx, "scp", local, name+":/tmp/payload.txt")
	assert.Equal(t, "hello from the test\n", m.must(ctx, "ssh", name, "cat", "/tmp/payload.txt"))
	back := filepath.Join(t.TempDir(), "back.txt")
	m.must(ctx, "scp", name+":/tmp/payload.txt", back)
	got, err := os.ReadFile(back)
	require.NoError(t, err)
	assert.Equal(t, "hello from the test\n", string(got))
	m.must(ctx, "ssh", name, "mkdir -p /tmp/tree/sub && echo deep > /tmp/tree/sub/f")
	treeDir := t.TempDir()
	m.must(ctx, "scp", "-r", name+":/tmp/tree", treeDir)
	deep, err := os.ReadFile(filepath.Join(treeDir, "tree", "sub", "f"))
	require.NoError(t, err)
	assert.Equal(t, "deep\n", string(deep))

	// The remote exit status comes back as ours.
	_, _, code := m.run(ctx, "ssh", name, "exit 7")
	assert.Equal(t, 7, code)

	// From a terminal, `ssh NAME` is an interactive login shell on a
	// remote PTY of the local size.
	screen, code := m.inTerminal(ctx, []string{"ssh", name},
		`echo "SIZE=$(stty size | tr ' ' x) HOST=$(hostname) TTY=$(tty | cut -c1-9)"; exit 3`)
	assert.Equal(t, 3, code, screen)
	assert.Contains(t, screen, "SIZE=30x100 HOST="+name+" TTY=/dev/pts/")

	// Provisioning again converges: same daemon, not restarted.
	started := func() string {
		return strings.TrimSpace(m.must(ctx, "ssh", name, "systemctl show docker -p ExecMainStartTimestamp --value"))
	}
	before := started()
	m.must(ctx, "provision", name)
	assert.Equal(t, before, started(), "a converged provision must not restart Docker")
	dropIn := m.must(ctx, "ssh", name, "cat /etc/systemd/system/docker.service.d/10-machine.conf")
	m.must(ctx, "provision", name)
	assert.Equal(t, dropIn, m.must(ctx, "ssh", name, "cat /etc/systemd/system/docker.service.d/10-machine.conf"))

	// regenerate-certs issues a new server certificate and keeps the host reachable.
	oldCert, err := os.ReadFile(filepath.Join(dir, "server.pem"))
	require.NoError(t, err)
	m.must(ctx, "regenerate-certs", "-f", name)
	newCert, err := os.ReadFile(filepath.Join(dir, "server.pem"))
	require.NoError(t, err)
	assert.NotEqual(t, oldCert, newCert)
	out2, err := docker(ctx, t, env, "version", "--format", "{{.Server.Version}}")
	require.NoError(t, err, out2)

	// upgrade goes through the same install path and leaves TLS working.
	up := m.must(ctx, "upgrade", name)
	assert.Contains(t, up, "Docker is up and running!")
	out3, err := docker(ctx, t, env, "version", "--format", "{{.Server.Version}}")
	require.NoError(t, err, out3)

	m.must(ctx, "rm", "-y", name)
	assert.NoDirExists(t, dir)
}

// TestCertificateFollowsAddressChange moves a machine to another address
// (the host joins a second network and the machine is pointed there, as
// when a cloud host gets a new IP); env re-issues the server certificate
// instead of failing with "certificate is valid for A, not B".
func TestCertificateFollowsAddressChange(t *testing.T) {
	ctx := t.Context()
	key, pub := sshKey(t)
	img, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: true})
	require.NoError(t, err)
	h := hostworld.StartHosts(t, 1, hostworld.HostOptions{AuthorizedKeys: []string{pub}, Image: img})[0]

	m := newMachine(t)
	name := "moving"
	m.must(ctx, "create", "-d", "generic", "--generic-ip-address", h.IP, "--generic-ssh-key", key,
		"--engine-install-url", "none", name)

	network := "fleetdock-e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	// The subnet is explicit: Docker's next free pool (172.18/16) is the one
	// the host's own nested engine already routes, and the host could not
	// join it.
	var out string
	for i := 0; i < 16; i++ {
		subnet := fmt.Sprintf("10.213.%d.0/24", 16*i+7)
		if out, err = docker(ctx, t, nil, "network", "create", "--subnet", subnet, network); err == nil {
			break
		}
	}
	require.NoError(t, err, out)
	t.Cleanup(func() {
		_, _ = docker(context.Background(), t, nil, "network", "disconnect", "-f", network, h.ContainerID)
		_, _ = docker(context.Background(), t, nil, "network", "rm", network)
	})
	out, err = docker(ctx, t, nil, "network", "connect", network, h.ContainerID)
	require.NoError(t, err, out)
	newIP, err := docker(ctx, t, nil, "inspect", "-f", "{{(index .NetworkSettings.Networks \""+network+"\").IPAddress}}", h.ContainerID)
	require.NoError(t, err, newIP)
	newIP = strings.TrimSpace(newIP)
	require.NotEqual(t, h.IP, newIP)

	cfgPath := filepath.Join(m.store, "machines", name, "config.json")
	raw, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfgPath, []byte(strings.ReplaceAll(string(raw), `"IPAddress": "`+h.IP+`"`, `"IPAddress": "`+newIP+`"`)), 0o600))
	require.Equal(t, newIP+"\n", m.must(ctx, "ip", name))

	out, errOut, code := m.run(ctx, "env", name)
	require.Equal(t, 0, code, "env must repair the certificate: %s %s", out, errOut)
	assert.Contains(t, errOut, "regenerating")
	env := dockerEnv(t, out)
	assert.Contains(t, env, "DOCKER_HOST=tcp://"+newIP+":2376")
	v, err := docker(ctx, t, env, "version", "--format", "{{.Server.Version}}")
	require.NoError(t, err, v)
}

func x509Pool(t *testing.T, caPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	return pool
}
