package sshkey

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func TestGenerateWritesAPairThatBelongsTogether(t *testing.T) {
	priv, authorized, err := Generate()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "machines", "m1", "id_rsa")
	require.NoError(t, WriteFiles(path, priv, authorized))

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(path + ".pub")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(data)
	require.NoError(t, err)
	assert.Equal(t, ssh.KeyAlgoRSA, signer.PublicKey().Type())
	pubData, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubData)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(signer.PublicKey().Marshal(), pub.Marshal()), "the .pub file holds the private key's public half")
}

func TestWriteFilesSaysWhenThePathCannotBeWritten(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	assert.Error(t, WriteFiles(filepath.Join(blocker, "id_rsa"), []byte("k"), []byte("p")))
}

func TestCopyTakesThePublicKeyWhenThereIsOne(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "user_key")
	require.NoError(t, os.WriteFile(src, []byte("private"), 0o644))
	require.NoError(t, os.WriteFile(src+".pub", []byte("public"), 0o600))
	dst := filepath.Join(dir, "machine", "id_rsa")
	require.NoError(t, Copy(src, dst))
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "private", string(got))
	st, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	got, err = os.ReadFile(dst + ".pub")
	require.NoError(t, err)
	assert.Equal(t, "public", string(got))

	require.NoError(t, os.Remove(src+".pub"))
	other := filepath.Join(dir, "machine2", "id_rsa")
	require.NoError(t, Copy(src, other))
	got, err = os.ReadFile(other + ".pub")
	require.NoError(t, err)
	assert.Empty(t, got)

	require.NoError(t, Copy(dst, dst), "copying a key onto itself")
	assert.Error(t, Copy(filepath.Join(dir, "missing"), filepath.Join(dir, "m3", "id_rsa")))
}
