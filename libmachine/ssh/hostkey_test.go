//go:build unix

package ssh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestHostKeyPinnedOnFirstUseAndMismatchDetected(t *testing.T) {
	first := newSigner(t)
	dir := t.TempDir()
	keyPath, pub, _ := writeKey(t, dir, "id", "")
	s := startServer(t, serverOpts{hostKeys: []ssh.Signer{first}, authorized: []ssh.PublicKey{pub}})
	known := filepath.Join(dir, "machines", "node-1", "known_hosts")
	cfg := s.clientConfig("root")
	cfg.KeyPaths = []string{keyPath}
	cfg.KnownHostsPath = known

	c, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	c.Close()

	info, err := os.Stat(known)
	require.NoError(t, err, "the first connection records the key")
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	data, err := os.ReadFile(known)
	require.NoError(t, err)
	assert.Equal(t, knownhosts.Line([]string{s.addr}, first.PublicKey())+"\n", string(data))
	assert.True(t, strings.HasPrefix(string(data), "[127.0.0.1]:"), "non-22 ports use the [host]:port form")

	// Same key again: accepted, file unchanged.
	c, err = Dial(context.Background(), cfg)
	require.NoError(t, err)
	c.Close()
	again, err := os.ReadFile(known)
	require.NoError(t, err)
	assert.Equal(t, data, again)

	// The machine is "rebuilt" with a new host key.
	second := newSigner(t)
	s.setHostKeys(second)
	_, err = Dial(context.Background(), cfg)
	var mismatch *HostKeyMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, s.addr, mismatch.Addr)
	assert.Equal(t, known, mismatch.KnownHostsPath)
	assert.Equal(t, ssh.FingerprintSHA256(first.PublicKey()), mismatch.WantFingerprint)
	assert.Equal(t, ssh.FingerprintSHA256(second.PublicKey()), mismatch.GotFingerprint)
	msg := err.Error()
	assert.Contains(t, msg, "changed")
	assert.Contains(t, msg, mismatch.WantFingerprint)
	assert.Contains(t, msg, mismatch.GotFingerprint)
	assert.Contains(t, msg, "if the machine was rebuilt and you trust it, run: rm "+known)
	after, err := os.ReadFile(known)
	require.NoError(t, err)
	assert.Equal(t, data, after, "a mismatch never rewrites the pin")

	// Following the advice re-pins the new key.
	require.NoError(t, os.Remove(known))
	c, err = Dial(context.Background(), cfg)
	require.NoError(t, err)
	c.Close()
	data, err = os.ReadFile(known)
	require.NoError(t, err)
	assert.Contains(t, string(data), knownhosts.Line([]string{s.addr}, second.PublicKey()))
}

func TestPinnedKeyTypeIsPreferred(t *testing.T) {
	// The server offers RSA and ed25519; the pin is the ed25519 key. The
	// client's default preference negotiates RSA, which would look like a
	// changed key unless the pinned type goes first.
	ed, rsaKey := newSigner(t), newRSASigner(t)
	s, cfg := keyedServer(t)
	s.setHostKeys(rsaKey, ed)
	cfg.KnownHostsPath = filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(cfg.KnownHostsPath, []byte(knownhosts.Line([]string{s.addr}, ed.PublicKey())+"\n"), 0o600))

	c, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	c.Close()

	// A host that lost its pinned key type still shows the key it has.
	s.setHostKeys(rsaKey)
	_, err = Dial(context.Background(), cfg)
	var mismatch *HostKeyMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, ssh.FingerprintSHA256(rsaKey.PublicKey()), mismatch.GotFingerprint)
}

func TestPinningKeepsOtherHostsAndIsSafeConcurrently(t *testing.T) {
	s, cfg := keyedServer(t)
	cfg.KnownHostsPath = filepath.Join(t.TempDir(), "known_hosts")
	other := newSigner(t).PublicKey()
	otherLine := knownhosts.Line([]string{"10.9.8.7"}, other)
	require.NoError(t, os.WriteFile(cfg.KnownHostsPath, []byte(otherLine), 0o644)) // no trailing newline

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(context.Background(), cfg)
			if err == nil {
				c.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	data, err := os.ReadFile(cfg.KnownHostsPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 2, "concurrent first connections pin the key once")
	assert.Equal(t, otherLine, lines[0])
	assert.Equal(t, knownhosts.Line([]string{s.addr}, (*s.hostKeys.Load())[0].PublicKey()), lines[1])
	info, err := os.Stat(cfg.KnownHostsPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestCorruptKnownHostsIsAConfigError(t *testing.T) {
	_, cfg := keyedServer(t)
	cfg.KnownHostsPath = filepath.Join(t.TempDir(), "known_hosts")
	require.NoError(t, os.WriteFile(cfg.KnownHostsPath, []byte("[127.0.0.1]:22 ssh-ed25519 !!notbase64\n"), 0o600))
	_, err := Dial(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), cfg.KnownHostsPath)
	assert.Contains(t, err.Error(), "fix or delete")
}

func TestNoKnownHostsPathAcceptsAnyKey(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)
	c.Close()
	s.setHostKeys(newSigner(t))
	c2, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	c2.Close()
}
