package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(p, []byte("# mine\nssh-ed25519 AAAA one\n\n  ssh-rsa BBBB two  \n"), 0o600))
	keys, err := readKeys(p)
	require.NoError(t, err)
	assert.Equal(t, []string{"ssh-ed25519 AAAA one", "ssh-rsa BBBB two"}, keys)

	empty := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing\n"), 0o600))
	_, err = readKeys(empty)
	assert.ErrorContains(t, err, "no key found")

	_, err = readKeys(filepath.Join(t.TempDir(), "absent"))
	assert.ErrorContains(t, err, "reading authorized keys")
}

// Usage errors are caught before any Docker call, so these need no engine.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"bogus"},
		{"up"},
		{"down"},
		{"down", "--name", "x", "--all"},
	} {
		err := run(t.Context(), args, &bytes.Buffer{})
		assert.ErrorIs(t, err, flag.ErrHelp, "args %q", args)
	}
}

func TestHelpPrintsUsage(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"help"}, &out))
	assert.Contains(t, out.String(), "testhost up --name N")
}
