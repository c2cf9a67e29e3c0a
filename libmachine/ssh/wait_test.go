//go:build unix

package ssh

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fleetdock/machine/libmachine/poll"
)

func TestWaitForSSHGivesLastErrorWhenNothingListens(t *testing.T) {
	keyPath, _, _ := writeKey(t, t.TempDir(), "id", "")
	cfg := Config{Host: "127.0.0.1", Port: freePort(t), User: "root", KeyPaths: []string{keyPath}}

	_, err := WaitForSSH(context.Background(), cfg, 1500*time.Millisecond)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "waiting for SSH on "+cfg.Addr()+": timed out after 1.5s", "a refused connection is retried until the deadline")
	assert.Contains(t, msg, "(last error: ", "the last real error, not the deadline")
	assert.Contains(t, msg, "connection refused")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.ErrorIs(t, err, poll.ErrTimedOut)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestWaitForSSHStopsWhenCallerCancels(t *testing.T) {
	keyPath, _, _ := writeKey(t, t.TempDir(), "id", "")
	cfg := Config{Host: "127.0.0.1", Port: freePort(t), User: "root", KeyPaths: []string{keyPath}}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()

	_, err := WaitForSSH(ctx, cfg, time.Hour)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), "waiting for SSH on "+cfg.Addr()+": stopped after")
	assert.NotContains(t, err.Error(), "timed out", "the caller's context ended the wait, not its timeout")
}

func TestWaitForSSHRetriesUntilTheServerIsReady(t *testing.T) {
	s, cfg := keyedServer(t)
	s.dropFirst.Store(2) // sshd up but closing connections, as while booting

	c, err := WaitForSSH(context.Background(), cfg, time.Minute)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, int32(3), s.accepted.Load())
	dials, commands := c.Stats()
	assert.Equal(t, 1, dials)
	assert.Equal(t, 1, commands, "the `exit 0` probe")
	assert.Equal(t, []string{"exit 0"}, s.execs())
}

func TestWaitForSSHGivesUpOnRefusedLogin(t *testing.T) {
	s, _ := keyedServer(t)
	wrongKey, _, _ := writeKey(t, t.TempDir(), "wrong", "")
	cfg := s.clientConfig("root")
	cfg.KeyPaths = []string{wrongKey}

	_, err := WaitForSSH(context.Background(), cfg, 10*time.Minute)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	assert.Contains(t, err.Error(), "refused the login")
	assert.Contains(t, err.Error(), "authentication")
	assert.Equal(t, int32(waitPolicy.authAttempts), s.accepted.Load(), "a few tries for cloud-init, then stop")
}

func TestWaitForSSHDoesNotRetryChangedHostKey(t *testing.T) {
	s, cfg := keyedServer(t)
	cfg.KnownHostsPath = filepath.Join(t.TempDir(), "known_hosts")
	pinned := newSigner(t).PublicKey()
	require.NoError(t, os.WriteFile(cfg.KnownHostsPath, []byte(knownhosts.Line([]string{s.addr}, pinned)+"\n"), 0o600))

	_, err := WaitForSSH(context.Background(), cfg, 10*time.Minute)
	var mismatch *HostKeyMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, ssh.FingerprintSHA256(pinned), mismatch.WantFingerprint)
	assert.Equal(t, int32(1), s.accepted.Load())
}

func TestWaitForSSHRejectsBadConfigAtOnce(t *testing.T) {
	_, err := WaitForSSH(context.Background(), Config{Host: "127.0.0.1", Port: freePort(t)}, 10*time.Minute)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no SSH user")

	_, err = WaitForSSH(context.Background(), Config{User: "root"}, 10*time.Minute)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no SSH host address")
}
