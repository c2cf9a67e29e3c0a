//go:build integration && unix

package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// These tests run a real OpenSSH sshd on 127.0.0.1 with a throwaway host
// key and authorized_keys, and drive it with this package's client.

const sshdPath = "/usr/sbin/sshd"

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type realSSHD struct {
	t         *testing.T
	dir       string
	port      int
	user      string
	clientKey string
	hostKey   ssh.PublicKey
	cmd       *exec.Cmd
	log       *syncBuffer
}

// startRealSSHD starts sshd on a free loopback port.
func startRealSSHD(t *testing.T) *realSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("%s is missing: install openssh-server (apt-get install -y openssh-server) to run the SSH integration tests", sshdPath)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory.
		require.NoError(t, os.MkdirAll("/run/sshd", 0o755))
	}
	u, err := user.Current()
	require.NoError(t, err)
	dir := t.TempDir()
	keyPath, pub, _ := writeKey(t, dir, "id_ed25519", "")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(pub), 0o600))
	d := &realSSHD{t: t, dir: dir, port: freePort(t), user: u.Username, clientKey: keyPath, log: &syncBuffer{}}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("sshd log:\n%s", d.log.String())
		}
	})
	return d
}

// start (re)launches sshd on the same port with a new host key.
func (d *realSSHD) start() {
	t := d.t
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	hostKeyPath := filepath.Join(d.dir, fmt.Sprintf("host_key_%d", time.Now().UnixNano()))
	require.NoError(t, os.WriteFile(hostKeyPath, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	d.hostKey = signer.PublicKey()

	conf := strings.Join([]string{
		"Port " + strconv.Itoa(d.port),
		"ListenAddress 127.0.0.1",
		"HostKey " + hostKeyPath,
		"PidFile " + filepath.Join(d.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(d.dir, "authorized_keys"),
		"PermitRootLogin yes",
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PrintMotd no",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
	confPath := filepath.Join(d.dir, "sshd_config")
	require.NoError(t, os.WriteFile(confPath, []byte(conf), 0o600))

	d.cmd = exec.Command(sshdPath, "-D", "-e", "-f", confPath)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	// Its own process group, so stop also ends per-connection children,
	// which hold the log pipe open.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d.cmd.WaitDelay = 5 * time.Second
	require.NoError(t, d.cmd.Start())
}

func (d *realSSHD) stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	d.cmd.Wait()
	d.cmd = nil
}

func (d *realSSHD) config(knownHosts string) Config {
	return Config{Host: "127.0.0.1", Port: d.port, User: d.user, KeyPaths: []string{d.clientKey}, KnownHostsPath: knownHosts}
}

// logins counts accepted logins in sshd's log: one per SSH connection.
func (d *realSSHD) logins() int {
	return strings.Count(d.log.String(), "Accepted publickey")
}

func connectReal(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := WaitForSSH(context.Background(), cfg, 30*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestIntegrationRunOutputInput(t *testing.T) {
	d := startRealSSHD(t)
	c := connectReal(t, d.config(""))
	ctx := context.Background()

	res, err := c.Run(ctx, "echo out; echo err >&2; exit 42")
	require.NoError(t, err)
	assert.Equal(t, "out\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
	assert.Equal(t, 42, res.ExitStatus)

	out, err := c.Output(ctx, "id -un")
	require.NoError(t, err)
	assert.Equal(t, d.user+"\n", out)

	_, err = c.Output(ctx, "ls /definitely/not/here")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "No such file or directory")

	res, err = c.RunWithInput(ctx, "wc -c", bytes.NewReader(bytes.Repeat([]byte("x"), 5<<20)))
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(5<<20), strings.TrimSpace(string(res.Stdout)))
}

func TestIntegrationKeyAuthFailureIsExplained(t *testing.T) {
	d := startRealSSHD(t)
	connectReal(t, d.config("")) // sshd is up

	wrong, _, _ := writeKey(t, t.TempDir(), "wrong_key", "")
	cfg := d.config("")
	cfg.KeyPaths = []string{wrong}
	_, err := Dial(context.Background(), cfg)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	assert.Contains(t, err.Error(), fmt.Sprintf("user %q", d.user))
	assert.Contains(t, err.Error(), wrong)
}

func TestIntegrationUploadAndCopy(t *testing.T) {
	d := startRealSSHD(t)
	c := connectReal(t, d.config(""))
	ctx := context.Background()
	remote := t.TempDir()

	dst := filepath.Join(remote, "server-key.pem")
	require.NoError(t, c.Upload(ctx, dst, []byte("secret-bytes"), 0o600))
	assertFile(t, dst, "secret-bytes", 0o600)
	assert.NotContains(t, d.log.String(), "secret-bytes")

	// File there and back.
	localFile := filepath.Join(t.TempDir(), "app.conf")
	require.NoError(t, os.WriteFile(localFile, []byte("key=value\n"), 0o640))
	require.NoError(t, c.CopyTo(ctx, localFile, remote, false))
	assertFile(t, filepath.Join(remote, "app.conf"), "key=value\n", 0o640)
	back := t.TempDir()
	require.NoError(t, c.CopyFrom(ctx, filepath.Join(remote, "app.conf"), back, false))
	assertFile(t, filepath.Join(back, "app.conf"), "key=value\n", 0o640)

	// Tree there (into an existing dir and to a new name) and back.
	src := filepath.Join(t.TempDir(), "tree")
	makeTree(t, src)
	require.NoError(t, c.CopyTo(ctx, src, remote, true))
	assertTree(t, filepath.Join(remote, "tree"))
	require.NoError(t, c.CopyTo(ctx, src, filepath.Join(remote, "renamed"), true))
	assertTree(t, filepath.Join(remote, "renamed"))
	require.NoError(t, c.CopyFrom(ctx, filepath.Join(remote, "tree"), back, true))
	assertTree(t, filepath.Join(back, "tree"))
	require.NoError(t, c.CopyFrom(ctx, filepath.Join(remote, "renamed"), filepath.Join(back, "fresh"), true))
	assertTree(t, filepath.Join(back, "fresh"))

	_, commands := c.Stats()
	assert.Equal(t, 1, d.logins(), "WaitForSSH's connection served all %d commands", commands)
}

func TestIntegrationOneConnectionForManyCommands(t *testing.T) {
	d := startRealSSHD(t)
	connectReal(t, d.config("")).Close()
	before := d.logins()

	c, err := Dial(context.Background(), d.config(""))
	require.NoError(t, err)
	defer c.Close()
	for i := 0; i < 20; i++ {
		out, err := c.Output(context.Background(), "echo "+strconv.Itoa(i))
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(i)+"\n", out)
	}
	dials, commands := c.Stats()
	assert.Equal(t, 1, dials)
	assert.Equal(t, 20, commands)
	assert.Equal(t, before+1, d.logins(), "sshd saw one login for 20 commands")
}

func TestIntegrationCancelStopsRemoteCommand(t *testing.T) {
	d := startRealSSHD(t)
	c := connectReal(t, d.config(""))
	pidFile := filepath.Join(t.TempDir(), "pid")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "echo $$ > "+shellQuote(pidFile)+"; exec sleep 600")
		done <- err
	}()
	pid := pollUntil(t, "the remote command writing its pid", func() (int, bool) {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return 0, false
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		return pid, err == nil
	})
	cancel()
	err := <-done
	assert.ErrorIs(t, err, context.Canceled)
	pollUntil(t, "the remote sleep ending", func() (struct{}, bool) {
		return struct{}{}, processGone(pid)
	})
	_, err = c.Output(context.Background(), "true")
	assert.NoError(t, err, "the connection survives a cancelled command")
}

func TestIntegrationHostKeyPinning(t *testing.T) {
	d := startRealSSHD(t)
	known := filepath.Join(t.TempDir(), "machine", "known_hosts")
	cfg := d.config(known)
	first := d.hostKey

	c := connectReal(t, cfg)
	c.Close()
	info, err := os.Stat(known)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// OpenSSH's own client accepts the file we wrote as strict pins.
	sshCmd := exec.Command("ssh", "-F", "/dev/null", "-p", strconv.Itoa(d.port), "-i", d.clientKey,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+known, "-o", "GlobalKnownHostsFile=/dev/null",
		d.user+"@127.0.0.1", "echo pinned-ok")
	out, err := sshCmd.CombinedOutput()
	require.NoError(t, err, "ssh(1) with our known_hosts: %s", out)
	assert.Contains(t, string(out), "pinned-ok")

	// Rebuild: same address, new host key.
	d.stop()
	d.start()
	require.NotEqual(t, first.Marshal(), d.hostKey.Marshal())

	_, err = WaitForSSH(context.Background(), cfg, 30*time.Second)
	var mismatch *HostKeyMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, ssh.FingerprintSHA256(first), mismatch.WantFingerprint)
	assert.Equal(t, ssh.FingerprintSHA256(d.hostKey), mismatch.GotFingerprint)
	assert.Contains(t, err.Error(), "run: rm "+known)

	_, err = Dial(context.Background(), cfg)
	require.ErrorAs(t, err, &mismatch, "a direct dial is refused too")

	require.NoError(t, os.Remove(known))
	c = connectReal(t, cfg)
	c.Close()
}
