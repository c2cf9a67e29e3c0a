package generic

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// sshServer is a minimal SSH server on loopback that accepts one public key,
// records exec commands and answers with a fixed exit status and output.
type sshServer struct {
	port     int
	mu       sync.Mutex
	users    []string
	commands []string
}

func startSSHServer(t *testing.T, allowed ssh.PublicKey, exitStatus uint32, output string) *sshServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	require.NoError(t, err)

	srv := &sshServer{}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) != string(allowed.Marshal()) {
				return nil, assert.AnError
			}
			srv.mu.Lock()
			srv.users = append(srv.users, meta.User())
			srv.mu.Unlock()
			return nil, nil
		},
	}
	cfg.AddHostKey(hostSigner)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	srv.port = l.Addr().(*net.TCPAddr).Port

	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go srv.serve(conn, cfg, exitStatus, output)
		}
	}()
	return srv
}

func (s *sshServer) serve(conn net.Conn, cfg *ssh.ServerConfig, exitStatus uint32, output string) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			return
		}
		for req := range requests {
			if req.Type != "exec" {
				req.Reply(false, nil)
				continue
			}
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				req.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			s.commands = append(s.commands, payload.Command)
			s.mu.Unlock()
			req.Reply(true, nil)
			ch.Stderr().Write([]byte(output))
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, exitStatus)
			ch.SendRequest("exit-status", false, status)
			ch.Close()
		}
	}
}

func (s *sshServer) seen() (users, commands []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...), append([]string(nil), s.commands...)
}

// writeKey writes a fresh ed25519 private key in OpenSSH PEM form.
func writeKey(t *testing.T, dir string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	path := filepath.Join(dir, "id_ed25519")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return path, sshPub
}

func TestRestartRebootsOverSSH(t *testing.T) {
	key, pub := writeKey(t, t.TempDir())
	srv := startSSHServer(t, pub, 0, "")

	d := NewDriver("m1", t.TempDir())
	d.IPAddress = "127.0.0.1"
	d.SSHPort = srv.port
	d.SSHUser = "docker"
	d.SSHKey = key
	require.NoError(t, d.Create())
	require.NoError(t, d.Restart())

	users, commands := srv.seen()
	assert.Equal(t, []string{"docker"}, users)
	assert.Equal(t, []string{"sudo shutdown -r now"}, commands)
}

func TestRestartReportsCommandFailure(t *testing.T) {
	key, pub := writeKey(t, t.TempDir())
	srv := startSSHServer(t, pub, 1, "sudo: a password is required")

	d := NewDriver("m1", t.TempDir())
	d.IPAddress = "127.0.0.1"
	d.SSHPort = srv.port
	d.SSHUser = "docker"
	d.SSHKeyPath = key
	err := d.Restart()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `machine "m1"`)
	assert.Contains(t, err.Error(), "sudo shutdown -r now")
	assert.Contains(t, err.Error(), "sudo: a password is required")
}

func TestRestartWithWrongKeyFailsClearly(t *testing.T) {
	_, pub := writeKey(t, t.TempDir())
	otherKey, _ := writeKey(t, t.TempDir())
	srv := startSSHServer(t, pub, 0, "")

	d := NewDriver("m1", t.TempDir())
	d.IPAddress = "127.0.0.1"
	d.SSHPort = srv.port
	d.SSHKeyPath = otherKey
	err := d.Restart()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SSH connection to 127.0.0.1:")
	assert.Contains(t, err.Error(), `as "root"`)
	_, commands := srv.seen()
	assert.Empty(t, commands)

	keyBytes, rerr := os.ReadFile(otherKey)
	require.NoError(t, rerr)
	assert.NotContains(t, err.Error(), string(keyBytes[40:80]), "no key material in errors")
}
