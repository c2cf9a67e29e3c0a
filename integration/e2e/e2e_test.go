//go:build integration

// Package e2e drives the built docker-machine binary against real hosts:
// VM-like containers with systemd and sshd, the real docker CLI over TLS,
// and real ssh.
package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	gossh "golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/integration/testbin"
)

// machineCLI is the docker-machine binary built from this repository.
func machineCLI(t *testing.T) string {
	return filepath.Join(testbin.Build(t, "./cmd/docker-machine"), "docker-machine")
}

// machine runs the CLI against one store.
type machine struct {
	t     *testing.T
	cli   string
	store string
	env   []string
}

func newMachine(t *testing.T) *machine {
	return &machine{t: t, cli: machineCLI(t), store: filepath.Join(t.TempDir(), "store")}
}

// run executes docker-machine with args and returns stdout, stderr and the exit code.
func (m *machine) run(ctx context.Context, args ...string) (string, string, int) {
	m.t.Helper()
	cmd := exec.CommandContext(ctx, m.cli, append([]string{"-s", m.store}, args...)...)
	cmd.Env = append(os.Environ(), m.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("running docker-machine %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// must runs docker-machine and fails the test unless it exits 0.
func (m *machine) must(ctx context.Context, args ...string) string {
	m.t.Helper()
	out, errOut, code := m.run(ctx, args...)
	require.Equal(m.t, 0, code, "docker-machine %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
	return out
}

// inTerminal runs docker-machine on a 30x100 pseudo-terminal, types line
// into it, and returns what the terminal showed and the exit code.
func (m *machine) inTerminal(ctx context.Context, args []string, line string) (string, int) {
	m.t.Helper()
	// A shell that never exits would hold the terminal open forever.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.cli, append([]string{"-s", m.store}, args...)...)
	cmd.Env = append(os.Environ(), m.env...)
	term, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	require.NoError(m.t, err)
	defer term.Close()
	_, err = term.Write([]byte(line + "\r"))
	require.NoError(m.t, err)
	var screen bytes.Buffer
	_, _ = io.Copy(&screen, term) // ends with EIO once the process is gone
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("running docker-machine %v on a terminal: %v", args, err)
	}
	return screen.String(), code
}

// sshKey writes a fresh ed25519 key pair and returns the private key path
// and the authorized_keys line.
func sshKey(t *testing.T) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := gossh.MarshalPrivateKey(priv, "")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "id_ed25519")
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	sshPub, err := gossh.NewPublicKey(pub)
	require.NoError(t, err)
	return path, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))
}

// dockerEnv turns `docker-machine env` output into environment entries.
func dockerEnv(t *testing.T, envOut string) []string {
	t.Helper()
	var vars []string
	for _, line := range strings.Split(envOut, "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, _ := strings.Cut(rest, "=")
		vars = append(vars, k+"="+strings.Trim(v, `"`))
	}
	require.Len(t, vars, 4, "env output:\n%s", envOut)
	return vars
}

// docker runs the real docker CLI with the given environment.
func docker(ctx context.Context, t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
