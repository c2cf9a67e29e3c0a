package sshkey

import (
	"bytes"
	"errors"
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

func TestSetupCopiesAGivenKeyOrMakesOne(t *testing.T) {
	dir := t.TempDir()
	made := func() ([]byte, []byte, error) { return []byte("PRIVATE"), []byte("ssh-rsa NEW\n"), nil }
	readPub := func(p string) ([]byte, error) { return os.ReadFile(p + ".pub") }

	dst := filepath.Join(dir, "m1", "id_rsa")
	pub, err := Setup("x-ssh-keypath", "", dst, false, readPub, made)
	require.NoError(t, err)
	assert.Equal(t, "ssh-rsa NEW\n", string(pub))
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "PRIVATE", string(got), "a new key is stored for the machine")

	user := filepath.Join(dir, "user_key")
	require.NoError(t, WriteFiles(user, []byte("USER"), []byte("ssh-rsa USER\n")))
	dst2 := filepath.Join(dir, "m2", "id_rsa")
	pub, err = Setup("x-ssh-keypath", user, dst2, false, readPub, made)
	require.NoError(t, err)
	assert.Equal(t, "ssh-rsa USER\n", string(pub), "the given key's public half is imported")
	got, err = os.ReadFile(dst2)
	require.NoError(t, err)
	assert.Equal(t, "USER", string(got))

	dst3 := filepath.Join(dir, "m3", "id_rsa")
	pub, err = Setup("x-ssh-keypath", user, dst3, true, readPub, made)
	require.NoError(t, err)
	assert.Nil(t, pub, "an existing key pair imports nothing")
	assert.FileExists(t, dst3)

	_, err = Setup("x-ssh-keypath", filepath.Join(dir, "missing"), filepath.Join(dir, "m4", "id_rsa"), false, readPub, made)
	assert.ErrorContains(t, err, "copying --x-ssh-keypath "+filepath.Join(dir, "missing")+" into the machine directory: ")
}

func TestReadPublicChecksTheFileAndTheKeyType(t *testing.T) {
	dir := t.TempDir()
	_, authorized, err := Generate()
	require.NoError(t, err)
	key := filepath.Join(dir, "id_rsa")
	require.NoError(t, WriteFiles(key, []byte("unused"), authorized))

	pub, data, err := ReadPublic(key, func(ssh.PublicKey) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, ssh.KeyAlgoRSA, pub.Type())
	assert.Equal(t, authorized, data)

	_, _, err = ReadPublic(key, func(p ssh.PublicKey) error { return errors.New("no " + p.Type()) })
	assert.EqualError(t, err, "no ssh-rsa")

	require.NoError(t, os.WriteFile(key+".pub", []byte("not a key\n"), 0o644))
	_, _, err = ReadPublic(key, func(ssh.PublicKey) error { return nil })
	assert.ErrorContains(t, err, key+".pub is not an OpenSSH public key: ")

	_, _, err = ReadPublic(filepath.Join(dir, "missing"), func(ssh.PublicKey) error { return nil })
	assert.ErrorIs(t, err, os.ErrNotExist)
}
