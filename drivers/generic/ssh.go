package generic

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// runSSH runs one command on the host. It is deliberately minimal: the
// driver only needs it for Restart, and full SSH handling lives elsewhere.
func (d *Driver) runSSH(command string) error {
	addr, err := d.sshAddress()
	if err != nil {
		return err
	}
	auth, closeAuth, err := d.sshAuth()
	if err != nil {
		return err
	}
	defer closeAuth()

	user := d.SSHUser
	if user == "" {
		user = "root"
	}
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// Stock docker-machine does not verify host keys either; the machine's
		// key is never recorded anywhere we could check it against.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         sshCommandTimeout,
	}
	client, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("machine %q: SSH connection to %s as %q failed: %w; check the key and user given on create", d.MachineName, addr, user, err)
	}
	defer client.Close()

	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("machine %q: opening an SSH session on %s: %w", d.MachineName, addr, err)
	}
	defer session.Close()

	// One buffer for both streams; the session copies them concurrently.
	var output lockedBuffer
	session.Stdout = &output
	session.Stderr = &output
	err = session.Run(command)
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		// A reboot may drop the connection before the exit status arrives.
		return nil
	}
	if err != nil {
		return fmt.Errorf("machine %q: %q over SSH failed: %w (output: %s)", d.MachineName, command, err, strings.TrimSpace(output.String()))
	}
	return nil
}

// sshAuth uses the imported key when there is one; otherwise the user's
// agent and default keys, matching stock's "existing key at the default
// location".
func (d *Driver) sshAuth() ([]ssh.AuthMethod, func(), error) {
	noop := func() {}
	if d.SSHKeyPath != "" {
		signer, err := loadSigner(d.SSHKeyPath)
		if err != nil {
			return nil, noop, fmt.Errorf("machine %q: using SSH key %q: %w", d.MachineName, d.SSHKeyPath, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, noop, nil
	}

	var methods []ssh.AuthMethod
	closeAuth := noop
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			closeAuth = func() { conn.Close() }
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		var signers []ssh.Signer
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if s, err := loadSigner(filepath.Join(home, ".ssh", name)); err == nil {
				signers = append(signers, s)
			}
		}
		if len(signers) > 0 {
			methods = append(methods, ssh.PublicKeys(signers...))
		}
	}
	if len(methods) == 0 {
		closeAuth()
		return nil, noop, fmt.Errorf("machine %q has no SSH key and no default key or agent was found; recreate it with --generic-ssh-key", d.MachineName)
	}
	return methods, closeAuth, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func loadSigner(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var passphrase *ssh.PassphraseMissingError
	if errors.As(err, &passphrase) {
		return nil, errors.New("the key is protected by a passphrase, which is not supported; use a key without one")
	}
	if err != nil {
		// The parser's message never includes key material.
		return nil, fmt.Errorf("not a usable private key: %w", err)
	}
	return signer, nil
}
