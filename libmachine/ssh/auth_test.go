//go:build unix

package ssh

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestPasswordAuth(t *testing.T) {
	const secret = "s3cret-Passw0rd"
	s := startServer(t, serverOpts{password: secret})

	cfg := s.clientConfig("root")
	cfg.Password = secret
	c := dial(t, cfg)
	out, err := c.Output(context.Background(), "echo in")
	require.NoError(t, err)
	assert.Equal(t, "in\n", out)

	cfg.Password = "wrong-" + secret
	_, err = Dial(context.Background(), cfg)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	assert.Equal(t, "root", authErr.User)
	assert.Contains(t, err.Error(), `user "root"`)
	assert.Contains(t, err.Error(), "password")
	assert.NotContains(t, err.Error(), secret, "the password never appears in errors")
}

func TestKeyboardInteractiveAnswersThePassword(t *testing.T) {
	const secret = "kbd-secret"
	s := startServer(t, serverOpts{password: secret, kbdOnly: true})

	cfg := s.clientConfig("admin")
	cfg.Password = secret
	c := dial(t, cfg)
	_, err := c.Output(context.Background(), "true")
	require.NoError(t, err)

	cfg.Password = "nope"
	_, err = Dial(context.Background(), cfg)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	assert.Contains(t, err.Error(), "keyboard-interactive")
}

func TestUnauthorizedKeyErrorNamesUserAndKeyFile(t *testing.T) {
	s, _ := keyedServer(t)
	otherKey, _, _ := writeKey(t, t.TempDir(), "not_authorized", "")
	keyPEM, err := os.ReadFile(otherKey)
	require.NoError(t, err)

	cfg := s.clientConfig("ubuntu")
	cfg.KeyPaths = []string{otherKey}
	_, err = Dial(context.Background(), cfg)
	var authErr *AuthError
	require.ErrorAs(t, err, &authErr)
	msg := err.Error()
	assert.Contains(t, msg, `user "ubuntu"`)
	assert.Contains(t, msg, "publickey ("+otherKey+")")
	assert.Contains(t, msg, s.addr)
	assert.NotContains(t, msg, "PRIVATE KEY", "key material never appears in errors")
	assert.NotContains(t, msg, string(keyPEM[40:80]))
}

func TestUnusableKeyFiles(t *testing.T) {
	s, _ := keyedServer(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	require.NoError(t, os.WriteFile(garbage, []byte("this is not a key\n"), 0o600))
	encrypted, _, _ := writeKey(t, dir, "encrypted", "passphrase")

	cases := []struct {
		name, path string
		want       []string
	}{
		{"not a key", garbage, []string{garbage, "not a usable private key"}},
		{"missing file", filepath.Join(dir, "absent"), []string{filepath.Join(dir, "absent"), "no such file"}},
		{"passphrase", encrypted, []string{encrypted, "passphrase", "ssh-add " + encrypted}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.clientConfig("root")
			cfg.KeyPaths = []string{tc.path}
			_, err := Dial(context.Background(), cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, int32(0), s.accepted.Load(), "a bad key is found before connecting")
		})
	}
}

func TestNoAuthMethodIsAClearError(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	cfg := Config{Host: "127.0.0.1", Port: freePort(t), User: "docker", UseAgent: true}
	_, err := Dial(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no way to log in")
	assert.Contains(t, err.Error(), "SSH_AUTH_SOCK is not set")
}

// serveAgent runs an in-memory agent on a unix socket and points
// SSH_AUTH_SOCK at it.
func serveAgent(t *testing.T, keys ...any) {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: k}))
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func TestAgentHoldsPassphraseKey(t *testing.T) {
	dir := t.TempDir()
	encrypted, pub, priv := writeKey(t, dir, "id_ed25519", "passphrase")
	s := startServer(t, serverOpts{authorized: []ssh.PublicKey{pub}})
	serveAgent(t, priv)

	cfg := s.clientConfig("root")
	cfg.KeyPaths = []string{encrypted}
	cfg.UseAgent = true
	c := dial(t, cfg)
	_, err := c.Output(context.Background(), "true")
	require.NoError(t, err)
}

func TestAgentKeysAfterKeyFiles(t *testing.T) {
	// The agent holds an unrelated key; the authorized key is only in the
	// agent too, and both are offered.
	dir := t.TempDir()
	_, pub, priv := writeKey(t, dir, "agent_key", "")
	s := startServer(t, serverOpts{authorized: []ssh.PublicKey{pub}})
	_, _, other := writeKey(t, dir, "other", "")
	serveAgent(t, other, priv)

	cfg := s.clientConfig("root")
	cfg.UseAgent = true
	c := dial(t, cfg)
	_, err := c.Output(context.Background(), "true")
	require.NoError(t, err)
}
