package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthError says the server refused every login method offered. It names
// the user and the methods (key file paths, never key material or the
// password).
type AuthError struct {
	User    string
	Addr    string
	Methods []string // what was offered, e.g. "publickey (/path/id_rsa)", "password"
	Err     error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("SSH authentication to %s as user %q failed; tried %s (%v). Check the SSH user and that the machine's authorized_keys or password match the configured key or password",
		e.Addr, e.User, strings.Join(e.Methods, ", "), e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// authSetup is what one dial offers to the server.
type authSetup struct {
	methods   []ssh.AuthMethod
	described []string
	agentConn net.Conn // closed with the Client (or on a failed dial)
}

func (a *authSetup) close() {
	if a.agentConn != nil {
		a.agentConn.Close()
	}
}

// agentDialTimeout bounds connecting to a local agent socket; a stuck agent
// must not stall provisioning.
const agentDialTimeout = 2 * time.Second

func buildAuth(cfg Config) (*authSetup, error) {
	setup := &authSetup{}
	var agentKeys []*agent.Key
	var agentSigners []ssh.Signer
	agentNote := ""
	if cfg.UseAgent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		switch {
		case sock == "":
			agentNote = "SSH_AUTH_SOCK is not set"
		default:
			conn, err := net.DialTimeout("unix", sock, agentDialTimeout)
			if err != nil {
				agentNote = "agent unreachable"
				slog.Warn("cannot reach the SSH agent; continuing without it", "socket", sock, "err", err)
				break
			}
			ag := agent.NewClient(conn)
			keys, err := ag.List()
			if err == nil {
				agentSigners, err = ag.Signers()
			}
			if err != nil {
				conn.Close()
				agentNote = "agent unusable"
				slog.Warn("cannot list the SSH agent's keys; continuing without it", "socket", sock, "err", err)
				break
			}
			agentKeys = keys
			setup.agentConn = conn
		}
	}
	inAgent := func(pub ssh.PublicKey) bool {
		if pub == nil {
			return false
		}
		for _, k := range agentKeys {
			if bytes.Equal(k.Marshal(), pub.Marshal()) {
				return true
			}
		}
		return false
	}

	var signers []ssh.Signer
	var keyNames []string
	for _, path := range cfg.KeyPaths {
		data, err := os.ReadFile(path)
		if err != nil {
			setup.close()
			return nil, &configError{fmt.Errorf("reading SSH private key %s for %s: %w", path, cfg.Addr(), err)}
		}
		signer, err := ssh.ParsePrivateKey(data)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			pub := missing.PublicKey
			if pub == nil {
				pub = readPublicKey(path + ".pub")
			}
			if inAgent(pub) {
				keyNames = append(keyNames, path+" via agent")
				continue
			}
			hint := "load it into ssh-agent (ssh-add " + path + ") and enable agent use"
			if cfg.UseAgent && agentNote != "" {
				hint = "load it into a running ssh-agent (ssh-add " + path + "; " + agentNote + ")"
			}
			setup.close()
			return nil, &configError{fmt.Errorf("SSH private key %s is protected by a passphrase, which cannot be asked for here; %s, or use a key without a passphrase", path, hint)}
		}
		if err != nil {
			setup.close()
			return nil, &configError{fmt.Errorf("SSH key file %s is not a usable private key (%w); point the machine at an OpenSSH or PEM private key", path, err)}
		}
		signers = append(signers, signer)
		keyNames = append(keyNames, path)
	}
	// Agent keys come after the explicit files and skip duplicates, so the
	// server's MaxAuthTries is spent on the configured keys first.
	for _, s := range agentSigners {
		dup := false
		for _, f := range signers {
			if bytes.Equal(f.PublicKey().Marshal(), s.PublicKey().Marshal()) {
				dup = true
				break
			}
		}
		if !dup {
			signers = append(signers, s)
		}
	}
	if len(signers) > 0 {
		// One publickey method: the client tries each method name once.
		setup.methods = append(setup.methods, ssh.PublicKeys(signers...))
		desc := "publickey ("
		if len(keyNames) > 0 {
			desc += strings.Join(keyNames, ", ")
		}
		if len(agentSigners) > 0 {
			if len(keyNames) > 0 {
				desc += "; "
			}
			desc += fmt.Sprintf("%d agent key(s)", len(agentSigners))
		}
		setup.described = append(setup.described, desc+")")
	}
	if cfg.Password != "" {
		setup.methods = append(setup.methods,
			ssh.Password(cfg.Password),
			ssh.KeyboardInteractive(passwordAnswerer(cfg.Password)))
		setup.described = append(setup.described, "password", "keyboard-interactive (password)")
	}
	if len(setup.methods) == 0 {
		setup.close()
		why := "no key file and no password are configured"
		if cfg.UseAgent {
			why += ", and the agent offers no keys"
			if agentNote != "" {
				why += " (" + agentNote + ")"
			}
		}
		return nil, &configError{fmt.Errorf("no way to log in to %s as %q over SSH: %s", cfg.Addr(), cfg.User, why)}
	}
	return setup, nil
}

func readPublicKey(path string) ssh.PublicKey {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

// passwordAnswerer answers keyboard-interactive password prompts (PAM's
// "Password: "). Echoed questions are not password prompts, so they fail
// rather than leak the password into a visible answer.
func passwordAnswerer(password string) ssh.KeyboardInteractiveChallenge {
	rounds := 0
	return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
		if len(questions) == 0 {
			return nil, nil
		}
		rounds++
		if rounds > 1 {
			return nil, errors.New("the password was rejected")
		}
		answers := make([]string, len(questions))
		for i, q := range questions {
			if i < len(echos) && echos[i] {
				return nil, fmt.Errorf("the server asked %q, which only a person can answer", q)
			}
			answers[i] = password
		}
		return answers, nil
	}
}

// isAuthFailure recognises x/crypto's "no method left" handshake error.
func isAuthFailure(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unable to authenticate")
}
