// Package ssh is the native SSH client used to provision and operate
// machines: one connection per host for a whole operation, host keys pinned
// on first use, commands with separate output streams and exit statuses, and
// file transfer over plain commands (cat, tar) so the remote side needs no
// SFTP server.
package ssh

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// DefaultConnectTimeout bounds one dial attempt (TCP connect plus SSH
// handshake) when Config.ConnectTimeout is zero.
const DefaultConnectTimeout = 10 * time.Second

// Config says where a machine's SSH server is and how to log in.
type Config struct {
	Host string
	Port int // 22 when zero
	User string

	// KeyPaths are private key files, offered in this order before any
	// agent key. A passphrase-protected key is an error unless the agent
	// holds it, since nothing here can prompt for the passphrase.
	KeyPaths []string
	// Password enables password authentication and answers a
	// keyboard-interactive password prompt.
	Password string
	// UseAgent offers the keys of the agent at $SSH_AUTH_SOCK, when set.
	UseAgent bool

	// KnownHostsPath is the file (known_hosts format) that pins the host
	// key: the first connection records it, later ones must match. ""
	// accepts any host key, as stock docker-machine does.
	KnownHostsPath string

	// ConnectTimeout bounds each dial attempt; DefaultConnectTimeout when
	// zero.
	ConnectTimeout time.Duration
}

// Addr is host:port of the SSH server.
func (c Config) Addr() string {
	port := c.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func (c Config) connectTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return DefaultConnectTimeout
}

func (c Config) validate() error {
	switch {
	case c.Host == "":
		return errors.New("no SSH host address is known for the machine; check that it is running and has an IP address (docker-machine ip)")
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("SSH port %d of %s is not a valid TCP port", c.Port, c.Host)
	case c.User == "":
		return fmt.Errorf("no SSH user is set for %s; set the driver's SSH user", c.Host)
	}
	return nil
}

// configError marks a problem with the Config itself (bad key file,
// missing user): retrying cannot fix it, so WaitForSSH stops at once.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }
