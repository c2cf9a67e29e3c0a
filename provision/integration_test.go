//go:build integration

package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/libmachine/hostopts"
	"github.com/fleetdock/machine/libmachine/ssh"
)

// tlsFiles is the local TLS material of one test run.
type tlsFiles struct {
	dir                              string
	ca, caKey, clientCert, clientKey string
}

func makeTLS(t *testing.T) tlsFiles {
	dir := t.TempDir()
	f := tlsFiles{dir: dir,
		ca: filepath.Join(dir, "ca.pem"), caKey: filepath.Join(dir, "ca-key.pem"),
		clientCert: filepath.Join(dir, "cert.pem"), clientKey: filepath.Join(dir, "key.pem")}
	require.NoError(t, certs.GenerateCA(f.ca, f.caKey, "fixture"))
	require.NoError(t, certs.GenerateClientCert(f.ca, f.caKey, f.clientCert, f.clientKey, "fixture.client"))
	return f
}

// serverCert makes the daemon certificate for one host and returns the PEMs.
func (f tlsFiles) serverCert(t *testing.T, name, ip string) (cert, key []byte) {
	cp, kp := filepath.Join(f.dir, name+"-server.pem"), filepath.Join(f.dir, name+"-server-key.pem")
	require.NoError(t, certs.GenerateServerCert(f.ca, f.caKey, cp, kp, certs.ServerCertOptions{Org: "fixture." + name, Hosts: []string{ip, "localhost"}}))
	cert, err := os.ReadFile(cp)
	require.NoError(t, err)
	key, err = os.ReadFile(kp)
	require.NoError(t, err)
	return cert, key
}

func sshKey(t *testing.T) (path, authorized string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := xssh.MarshalPrivateKey(priv, "provision integration test")
	require.NoError(t, err)
	path = filepath.Join(t.TempDir(), "id_ed25519")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	signer, err := xssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return path, strings.TrimSpace(string(xssh.MarshalAuthorizedKey(signer.PublicKey())))
}

// dockerInfo asks the daemon over TLS with the client certificate, through
// the real docker CLI.
func dockerInfo(t *testing.T, f tlsFiles, addr string) map[string]any {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "--tlsverify", "--tlscacert", f.ca, "--tlscert", f.clientCert, "--tlskey", f.clientKey,
		"-H", "tcp://"+addr, "info", "--format", "{{json .}}").Output()
	require.NoError(t, err, "docker info over TLS at %s", addr)
	var info map[string]any
	require.NoError(t, json.Unmarshal(out, &info))
	return info
}

func logReport(t *testing.T, what string, r *Report) {
	var parts []string
	for _, s := range r.Steps {
		parts = append(parts, fmt.Sprintf("%s %s", s.Name, s.Duration.Round(10*time.Millisecond)))
	}
	t.Logf("%s: %d commands, changed=%v restarted=%v engine=%q; steps: %s", what, r.Commands, r.Changed, r.Restarted, r.EngineVersion, strings.Join(parts, ", "))
}

func mainPID(t *testing.T, h *hostworld.Host) string {
	out, err := h.Exec(t.Context(), "systemctl show -p MainPID --value docker.service")
	require.NoError(t, err)
	return strings.TrimSpace(out)
}

// TestProvisionRealHosts provisions two fresh Debian hosts (containers with
// systemd and sshd) through a real SSH client, installing Docker with the
// test world's install script: one over a sudo login, one over root with an
// administrator's daemon.json already in place.
func TestProvisionRealHosts(t *testing.T) {
	hostworld.RequireDocker(t)
	keyPath, authorized := sshKey(t)
	hosts := hostworld.StartHosts(t, 2, hostworld.HostOptions{AuthorizedKeys: []string{authorized}})
	url, stop, err := hostworld.ServeInstallScript(t.Context())
	require.NoError(t, err)
	t.Cleanup(stop)
	tlsf := makeTLS(t)

	engine := func() *hostopts.Engine {
		return &hostopts.Engine{
			Labels:           []string{"tier=web"},
			RegistryMirror:   []string{"https://mirror.invalid"},
			InsecureRegistry: []string{"registry.invalid:5000"},
			Env:              []string{"FDM_TEST=provisioned"},
			InstallURL:       url,
		}
	}
	options := func(t *testing.T, h *hostworld.Host) Options {
		cert, key := tlsf.serverCert(t, h.Name, h.IP)
		ca, err := os.ReadFile(tlsf.ca)
		require.NoError(t, err)
		addr := net.JoinHostPort(h.IP, "2376")
		return Options{
			MachineName: h.Name, DriverName: "generic", Engine: engine(), DockerPort: 2376,
			CACert: ca, ServerCert: cert, ServerKey: key,
			CheckDocker: func(ctx context.Context) error {
				return certs.CheckConnection(ctx, addr, tlsf.ca, tlsf.clientCert, tlsf.clientKey)
			},
			Progress: func(s string) { t.Logf("%s: %s", h.Name, s) },
		}
	}
	connect := func(t *testing.T, h *hostworld.Host, user string) *ssh.Client {
		c, err := ssh.WaitForSSH(t.Context(), ssh.Config{Host: h.IP, User: user, KeyPaths: []string{keyPath}}, 2*time.Minute)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("sudo user, fresh host", func(t *testing.T) {
		t.Parallel()
		h := hosts[0]
		require.NotEmpty(t, h.SudoUser)
		client := connect(t, h, h.SudoUser)
		opts := options(t, h)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()

		rep, err := Provision(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "first provision", rep)
		assert.True(t, rep.Installed)
		assert.True(t, rep.Changed)

		info := dockerInfo(t, tlsf, net.JoinHostPort(h.IP, "2376"))
		labels := fmt.Sprint(info["Labels"])
		assert.Contains(t, labels, "tier=web")
		assert.Contains(t, labels, "provider=generic")
		reg, _ := info["RegistryConfig"].(map[string]any)
		assert.Contains(t, fmt.Sprint(reg["Mirrors"]), "https://mirror.invalid/")
		assert.Contains(t, fmt.Sprint(reg["IndexConfigs"]), "registry.invalid:5000")
		assert.Equal(t, "overlay2", info["Driver"])
		assert.Equal(t, h.Name, info["Name"], "the hostname was set")

		env, err := h.Exec(t.Context(), "systemctl show -p Environment --value docker.service")
		require.NoError(t, err)
		assert.Contains(t, env, "FDM_TEST=provisioned")
		mode, err := h.Exec(t.Context(), "stat -c %a "+RemoteServerKey)
		require.NoError(t, err)
		assert.Equal(t, "600", strings.TrimSpace(mode))
		hostsFile, err := h.Exec(t.Context(), "cat /etc/hosts")
		require.NoError(t, err)

		pid := mainPID(t, h)
		rep2, err := Provision(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "second provision", rep2)
		assert.False(t, rep2.Changed)
		assert.False(t, rep2.Restarted)
		assert.Equal(t, pid, mainPID(t, h), "the second provision did not restart Docker")
		hostsFile2, err := h.Exec(t.Context(), "cat /etc/hosts")
		require.NoError(t, err)
		assert.Equal(t, hostsFile, hostsFile2)
		assert.Equal(t, 1, strings.Count(hostsFile2, "127.0.1.1"), hostsFile2)

		// systemctl restart works with docker.socket left in place, and
		// once Docker is stopped nothing re-activates it with the old unit.
		_, err = h.Exec(t.Context(), "systemctl restart docker.service")
		require.NoError(t, err)
		require.NoError(t, certs.CheckConnection(ctx, net.JoinHostPort(h.IP, "2376"), tlsf.ca, tlsf.clientCert, tlsf.clientKey))
		_, err = h.Exec(t.Context(), "systemctl stop docker.service")
		require.NoError(t, err)
		_, err = h.Exec(t.Context(), "timeout 10 docker version")
		assert.Error(t, err, "the unix socket is gone with the daemon")
		state, _ := h.Exec(t.Context(), "systemctl is-active docker.service")
		assert.Equal(t, "inactive", strings.TrimSpace(state), "docker.socket did not start Docker again")

		// Provision starts it again without rewriting anything.
		rep3, err := Provision(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "provision of a stopped daemon", rep3)
		assert.False(t, rep3.Changed)
		assert.True(t, rep3.Restarted)

		// Upgrade goes through apt (docker.io came from packages), restarts
		// the engine and waits for TLS again.
		pid = mainPID(t, h)
		up, err := Upgrade(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "upgrade", up)
		assert.True(t, up.Restarted)
		assert.NotEqual(t, pid, mainPID(t, h), "the engine was restarted")
		require.NoError(t, certs.CheckConnection(ctx, net.JoinHostPort(h.IP, "2376"), tlsf.ca, tlsf.clientCert, tlsf.clientKey))
	})

	t.Run("root, existing daemon.json", func(t *testing.T) {
		t.Parallel()
		h := hosts[1]
		client := connect(t, h, "root")
		opts := options(t, h)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		_, err := h.Exec(t.Context(), `mkdir -p /etc/docker && printf '%s\n' '{"log-driver": "json-file", "log-opts": {"max-size": "5m"}, "labels": ["team=qa"], "registry-mirrors": ["https://corp-mirror.invalid"]}' > /etc/docker/daemon.json`)
		require.NoError(t, err)

		rep, err := Provision(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "first provision", rep)

		info := dockerInfo(t, tlsf, net.JoinHostPort(h.IP, "2376"))
		labels := fmt.Sprint(info["Labels"])
		for _, l := range []string{"team=qa", "tier=web", "provider=generic"} {
			assert.Contains(t, labels, l)
		}
		reg, _ := info["RegistryConfig"].(map[string]any)
		assert.Contains(t, fmt.Sprint(reg["Mirrors"]), "https://corp-mirror.invalid/")
		assert.Contains(t, fmt.Sprint(reg["Mirrors"]), "https://mirror.invalid/")
		assert.Contains(t, fmt.Sprint(reg["IndexConfigs"]), "registry.invalid:5000")
		assert.Equal(t, "json-file", info["LoggingDriver"])

		cfg, err := h.Exec(t.Context(), "cat /etc/docker/daemon.json")
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg), &m))
		assert.Equal(t, map[string]any{"max-size": "5m"}, m["log-opts"], "the administrator's settings are kept")

		pid := mainPID(t, h)
		rep2, err := Provision(ctx, client, opts)
		require.NoError(t, err)
		logReport(t, "second provision", rep2)
		assert.False(t, rep2.Changed)
		assert.Equal(t, pid, mainPID(t, h))
		cfg2, err := h.Exec(t.Context(), "cat /etc/docker/daemon.json")
		require.NoError(t, err)
		assert.Equal(t, cfg, cfg2)
	})
}
