//go:build integration

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/hostworld"
)

func TestUpPrintsHostAndDownRemovesIt(t *testing.T) {
	hostworld.RequireDocker(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "testhost-up-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = exec.CommandContext(ctx, "docker", "rm", "-f", "-v", name).Run()
	})
	keyFile := filepath.Join(t.TempDir(), "key.pub")
	require.NoError(t, os.WriteFile(keyFile, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOZ3 test\n"), 0o600))

	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"up", "--name", name, "--authorized-key", keyFile}, &out))
	var got upResult
	require.NoError(t, json.Unmarshal(out.Bytes(), &got), "output: %s", out.String())
	assert.Equal(t, name, got.Name)
	assert.Equal(t, "admin", got.SudoUser)
	assert.NotEmpty(t, got.IP)
	assert.NotEmpty(t, got.Container)
	assert.Equal(t, 1, bytes.Count(out.Bytes(), []byte("\n")), "one JSON line")

	h, err := hostworld.FindHost(t.Context(), name)
	require.NoError(t, err)
	keys, err := h.Exec(t.Context(), "cat /root/.ssh/authorized_keys")
	require.NoError(t, err)
	assert.Contains(t, keys, "AAAAC3NzaC1lZDI1NTE5AAAAIOZ3 test")

	require.NoError(t, run(t.Context(), []string{"down", "--name", name}, &out))
	assert.Error(t, exec.CommandContext(t.Context(), "docker", "container", "inspect", name).Run(), "container left behind")
	assert.NoError(t, run(t.Context(), []string{"down", "--name", name}, &out), "down twice must succeed")
}
