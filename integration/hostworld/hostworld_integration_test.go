//go:build integration

package hostworld_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/integration/hostworld"
)

// credentials is a fresh key pair and root password for one test.
type credentials struct {
	signer   ssh.Signer
	pubLine  string
	password string
}

func newCredentials(t testing.TB) credentials {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return credentials{
		signer:   signer,
		pubLine:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " hostworld-test",
		password: "pw:" + randomHex(t), // a colon, as ECS passwords may hold
	}
}

func randomHex(t testing.TB) string {
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func (c credentials) hostOptions() hostworld.HostOptions {
	return hostworld.HostOptions{RootPassword: c.password, AuthorizedKeys: []string{c.pubLine}}
}

// sshRun runs cmd over a new SSH connection and returns its combined output
// and the server's host key.
func sshRun(ip, user string, auth ssh.AuthMethod, cmd string) (string, ssh.PublicKey, error) {
	var hostKey ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			hostKey = key
			return nil
		},
		Timeout: 5 * time.Second,
	}
	client, err := ssh.Dial("tcp", net.JoinHostPort(ip, "22"), cfg)
	if err != nil {
		return "", nil, err
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return "", hostKey, err
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	return string(out), hostKey, err
}

func imageID(t *testing.T, tag string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", "image", "inspect", "--format", "{{.Id}}", tag).Output()
	require.NoError(t, err, "inspecting image %s", tag)
	return strings.TrimSpace(string(out))
}

func TestEnsureImageIsReused(t *testing.T) {
	hostworld.RequireDocker(t)
	start := time.Now()
	tag, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{})
	require.NoError(t, err)
	t.Logf("first EnsureImage: %s in %s (a build if the image was missing)", tag, time.Since(start).Round(time.Millisecond))
	id := imageID(t, tag)

	// Several concurrent callers, as parallel test binaries would be: the
	// same tag, and the image is not rebuilt (a rebuild gets a new ID).
	var wg sync.WaitGroup
	tags := make([]string, 3)
	errs := make([]error, 3)
	start = time.Now()
	for i := range tags {
		wg.Go(func() { tags[i], errs[i] = hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{}) })
	}
	wg.Wait()
	t.Logf("3 concurrent warm EnsureImage calls: %s", time.Since(start).Round(time.Millisecond))
	for i := range tags {
		require.NoError(t, errs[i])
		assert.Equal(t, tag, tags[i])
	}
	assert.Equal(t, id, imageID(t, tag), "the image was rebuilt instead of reused")
}

func TestHostBootsAndAcceptsSSH(t *testing.T) {
	c := newCredentials(t)
	hosts := hostworld.StartHosts(t, 2, c.hostOptions())

	var hostKeys, machineIDs []string
	for _, h := range hosts {
		require.NotEmpty(t, h.IP)
		state, err := h.Exec(t.Context(), "systemctl is-system-running || true")
		require.NoError(t, err)
		assert.Contains(t, []string{"running", "degraded"}, strings.TrimSpace(state), "systemd on %s", h.Name)

		out, key, err := sshRun(h.IP, "root", ssh.PublicKeys(c.signer), "id -u; hostname")
		require.NoError(t, err, "root key login to %s", h.Name)
		assert.Equal(t, "0\n"+h.Name+"\n", out)
		hostKeys = append(hostKeys, string(key.Marshal()))
		id, err := h.Exec(t.Context(), "cat /etc/machine-id")
		require.NoError(t, err)
		machineIDs = append(machineIDs, strings.TrimSpace(id))

		out, _, err = sshRun(h.IP, "root", ssh.Password(c.password), "id -un")
		require.NoError(t, err, "root password login to %s", h.Name)
		assert.Equal(t, "root\n", out)

		assert.Equal(t, "admin", h.SudoUser)
		out, _, err = sshRun(h.IP, h.SudoUser, ssh.PublicKeys(c.signer), "id -un && sudo -n true && sudo -n id -u")
		require.NoError(t, err, "sudo user on %s: %s", h.Name, out)
		assert.Equal(t, "admin\n0\n", out)

		// A key that was not authorized, and a wrong password, are refused.
		_, _, err = sshRun(h.IP, "root", ssh.PublicKeys(newCredentials(t).signer), "true")
		assert.Error(t, err, "an unknown key was accepted by %s", h.Name)
		_, _, err = sshRun(h.IP, "root", ssh.Password("wrong-"+c.password), "true")
		assert.Error(t, err, "a wrong password was accepted by %s", h.Name)
	}
	assert.NotEqual(t, hostKeys[0], hostKeys[1], "hosts must not share SSH host keys")
	assert.NotEmpty(t, machineIDs[0])
	assert.NotEqual(t, machineIDs[0], machineIDs[1], "hosts must not share a machine id")

	// The root password travels on stdin only: it must not show in the
	// container's recorded configuration.
	out, err := exec.CommandContext(t.Context(), "docker", "inspect", hosts[0].ContainerID).Output()
	require.NoError(t, err)
	assert.NotContains(t, string(out), c.password)
}

func TestStopAndStartAgain(t *testing.T) {
	c := newCredentials(t)
	h := hostworld.StartHosts(t, 1, c.hostOptions())[0]
	_, keyBefore, err := sshRun(h.IP, "root", ssh.PublicKeys(c.signer), "true")
	require.NoError(t, err)
	oldIP := h.IP

	require.NoError(t, h.Stop(t.Context()))
	running, err := exec.CommandContext(t.Context(), "docker", "inspect", "--format", "{{.State.Running}}", h.ContainerID).Output()
	require.NoError(t, err)
	assert.Equal(t, "false", strings.TrimSpace(string(running)))
	_, _, err = sshRun(oldIP, "root", ssh.PublicKeys(c.signer), "true")
	assert.Error(t, err, "SSH still answered on a stopped host")

	require.NoError(t, h.StartAgain(t.Context()))
	require.NotEmpty(t, h.IP)
	out, keyAfter, err := sshRun(h.IP, "root", ssh.PublicKeys(c.signer), "hostname")
	require.NoError(t, err, "SSH after StartAgain")
	assert.Equal(t, h.Name+"\n", out)
	// Like a VM's disk, the host keeps its state across a stop.
	assert.Equal(t, keyBefore.Marshal(), keyAfter.Marshal(), "host key changed across stop/start")
}

func TestRemoveLeavesNothing(t *testing.T) {
	h := hostworld.StartHosts(t, 1, newCredentials(t).hostOptions())[0]
	vols, err := h.Volumes(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, vols, "the host should have its /var/lib/docker volume")

	require.NoError(t, h.Remove(t.Context()))
	err = exec.CommandContext(t.Context(), "docker", "container", "inspect", h.ContainerID).Run()
	assert.Error(t, err, "container %s still exists", h.ContainerID)
	for _, v := range vols {
		err := exec.CommandContext(t.Context(), "docker", "volume", "inspect", v).Run()
		assert.Error(t, err, "volume %s still exists", v)
	}
	assert.NoError(t, h.Remove(t.Context()), "Remove must be idempotent")
}

// A Start that fails after docker run must not leave its container behind.
// Network "none" gives a host that boots but has no address to reach it on.
func TestFailedStartRemovesItsContainer(t *testing.T) {
	hostworld.RequireDocker(t)
	tag, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{})
	require.NoError(t, err)
	name := "hostworld-failstart-" + randomHex(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "rm", "-f", "-v", name).Run()
	})

	_, err = hostworld.Start(t.Context(), hostworld.HostOptions{Name: name, Image: tag, Network: "none"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no IP address")
	err = exec.CommandContext(t.Context(), "docker", "container", "inspect", name).Run()
	assert.Error(t, err, "the failed host's container was left behind")
}

func TestInstallScriptInstallsDocker(t *testing.T) {
	t.Parallel()
	url, stop, err := hostworld.ServeInstallScript(t.Context())
	require.NoError(t, err)
	t.Cleanup(stop)
	c := newCredentials(t)
	h := hostworld.StartHosts(t, 1, c.hostOptions())[0]

	// As the provisioner does it: as the SSH user, through sudo inside the script.
	start := time.Now()
	out, _, err := sshRun(h.IP, h.SudoUser, ssh.PublicKeys(c.signer), "curl -fsSL "+url+" | sh")
	t.Logf("install.sh took %s", time.Since(start).Round(time.Second))
	require.NoError(t, err, "install.sh failed:\n%s", out)
	assert.Contains(t, out, "is installed and running")

	version, err := h.Exec(t.Context(), "docker version --format '{{.Server.Version}}'")
	require.NoError(t, err)
	assert.NotEmpty(t, strings.TrimSpace(version))
	enabled, err := h.Exec(t.Context(), "systemctl is-enabled docker")
	require.NoError(t, err)
	assert.Equal(t, "enabled", strings.TrimSpace(enabled))
}

func TestWithDockerImageBootsWithDocker(t *testing.T) {
	t.Parallel()
	hostworld.RequireDocker(t)
	tag, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{WithDocker: true})
	require.NoError(t, err)
	opts := newCredentials(t).hostOptions()
	opts.Image = tag
	h := hostworld.StartHosts(t, 1, opts)[0]

	// systemd reports "running" only once docker.service (Type=notify) is up.
	out, err := h.Exec(t.Context(), "systemctl is-active docker && docker version --format '{{.Server.Version}}'")
	require.NoError(t, err)
	lines := strings.Fields(out)
	require.Len(t, lines, 2, "output: %q", out)
	assert.Equal(t, "active", lines[0])
}

// BenchmarkStartHost measures Start (warm image) to a host that accepts SSH,
// and reports the median next to the mean.
func BenchmarkStartHost(b *testing.B) {
	hostworld.RequireDocker(b)
	ctx := b.Context()
	tag, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{})
	require.NoError(b, err)
	run := "bench-" + randomHex(b)
	key := newCredentials(b).pubLine
	b.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = hostworld.RemoveAllLabelled(cctx, map[string]string{"fleetdock.hostworld.bench": run})
	})
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		h, err := hostworld.Start(ctx, hostworld.HostOptions{
			Name:           fmt.Sprintf("%s-%d", run, i),
			Image:          tag,
			AuthorizedKeys: []string{key},
			Labels:         map[string]string{"fleetdock.hostworld.bench": run},
		})
		require.NoError(b, err)
		took = append(took, time.Since(start))
		b.StopTimer()
		require.NoError(b, h.Remove(ctx))
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2].Seconds(), "s/start-median")
	var buf bytes.Buffer
	for _, d := range took {
		buf.WriteString(d.Round(time.Millisecond).String() + " ")
	}
	b.Logf("start times: %s", buf.String())
}

// FindHost finds hosts that Start made, and refuses other containers, even
// ones created from the hostworld image (containers inherit image labels).
func TestFindHost(t *testing.T) {
	h := hostworld.StartHosts(t, 1, newCredentials(t).hostOptions())[0]
	found, err := hostworld.FindHost(t.Context(), h.Name)
	require.NoError(t, err)
	assert.Equal(t, h.ContainerID, found.ContainerID)
	assert.Equal(t, h.IP, found.IP)
	assert.Equal(t, h.SudoUser, found.SudoUser)

	_, err = hostworld.FindHost(t.Context(), "hostworld-absent-"+randomHex(t))
	assert.ErrorIs(t, err, hostworld.ErrNoHost)

	tag, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{})
	require.NoError(t, err)
	foreign := "hostworld-foreign-" + randomHex(t)
	require.NoError(t, exec.CommandContext(t.Context(), "docker", "create", "--name", foreign, tag).Run())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "rm", "-f", "-v", foreign).Run()
	})
	_, err = hostworld.FindHost(t.Context(), foreign)
	require.Error(t, err)
	assert.NotErrorIs(t, err, hostworld.ErrNoHost)
	assert.Contains(t, err.Error(), "not started by the hostworld")
}
