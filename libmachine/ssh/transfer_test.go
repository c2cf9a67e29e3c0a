//go:build unix

package ssh

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test server runs commands on this machine, so "remote" paths are
// local temp paths the test can inspect directly.

func TestUploadWritesDataWithMode(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)
	dir := t.TempDir()
	dst := filepath.Join(dir, "it's a dir", "server-key.pem")
	require.NoError(t, os.Mkdir(filepath.Dir(dst), 0o755))
	secret := []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n")

	require.NoError(t, c.Upload(context.Background(), dst, secret, 0o600))
	got, err := os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, secret, got)
	info, err := os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	for _, cmd := range s.execs() {
		assert.NotContains(t, cmd, "c2VjcmV0", "file contents never go on the command line")
	}

	// Overwrite with a new mode; no temp files are left behind.
	require.NoError(t, c.Upload(context.Background(), dst, []byte("v2"), 0o644))
	got, err = os.ReadFile(dst)
	require.NoError(t, err)
	assert.Equal(t, "v2", string(got))
	info, err = os.Stat(dst)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(dst))
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	// Empty files and executable modes work too.
	script := filepath.Join(dir, "run.sh")
	require.NoError(t, c.Upload(context.Background(), script, nil, 0o755))
	info, err = os.Stat(script)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
	assert.Zero(t, info.Size())
}

func TestUploadFailuresAreExplained(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)
	dir := t.TempDir()

	err := c.Upload(context.Background(), dir, []byte("x"), 0o644)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")

	err = c.Upload(context.Background(), filepath.Join(dir, "missing", "f"), []byte("x"), 0o644)
	require.Error(t, err)
	assert.Regexp(t, "No such file or directory|Directory nonexistent", err.Error(), "the remote shell's reason")
	assert.Contains(t, err.Error(), c.Addr())
}

func TestCopyToFileFollowsScpSemantics(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)
	local := filepath.Join(t.TempDir(), "daemon.json")
	require.NoError(t, os.WriteFile(local, []byte(`{"debug":true}`), 0o640))
	remote := t.TempDir()

	// Onto an existing directory: the file goes inside it.
	require.NoError(t, c.CopyTo(context.Background(), local, remote, false))
	assertFile(t, filepath.Join(remote, "daemon.json"), `{"debug":true}`, 0o640)

	// Onto a new name: the file takes that name.
	require.NoError(t, c.CopyTo(context.Background(), local, filepath.Join(remote, "renamed.json"), false))
	assertFile(t, filepath.Join(remote, "renamed.json"), `{"debug":true}`, 0o640)

	err := c.CopyTo(context.Background(), filepath.Dir(local), remote, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")
	assert.Contains(t, err.Error(), "recursive")
}

// makeTree builds a small tree with a nested dir, an executable, a file
// with awkward characters and a relative symlink.
func makeTree(t *testing.T, root string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "top.txt"), []byte("top"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "sub", "deeper", "it's $odd.txt"), []byte("odd"), 0o600))
	require.NoError(t, os.Symlink("../top.txt", filepath.Join(root, "sub", "link")))
	long := strings.Repeat("n", 120)
	require.NoError(t, os.WriteFile(filepath.Join(root, "sub", "deeper", long), []byte("long"), 0o644))
}

func assertTree(t *testing.T, root string) {
	t.Helper()
	assertFile(t, filepath.Join(root, "top.txt"), "top", 0o644)
	assertFile(t, filepath.Join(root, "sub", "run.sh"), "#!/bin/sh\n", 0o755)
	assertFile(t, filepath.Join(root, "sub", "deeper", "it's $odd.txt"), "odd", 0o600)
	assertFile(t, filepath.Join(root, "sub", "deeper", strings.Repeat("n", 120)), "long", 0o644)
	target, err := os.Readlink(filepath.Join(root, "sub", "link"))
	require.NoError(t, err, "symbolic links stay links")
	assert.Equal(t, "../top.txt", target)
}

func assertFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, content, string(got), path)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, mode, info.Mode().Perm(), path)
}

func TestCopyToTree(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)
	src := filepath.Join(t.TempDir(), "config")
	makeTree(t, src)
	remote := t.TempDir()

	// To a new path: the tree takes that name.
	require.NoError(t, c.CopyTo(context.Background(), src, filepath.Join(remote, "copy"), true))
	assertTree(t, filepath.Join(remote, "copy"))

	// Onto an existing directory: the tree goes inside it.
	require.NoError(t, c.CopyTo(context.Background(), src, remote, true))
	assertTree(t, filepath.Join(remote, "config"))

	// Over a file: refused.
	file := filepath.Join(remote, "plain")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	err := c.CopyTo(context.Background(), src, file, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a directory")
}

func TestCopyFromFileAndTree(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)
	remote := t.TempDir()
	makeTree(t, filepath.Join(remote, "etc-docker"))
	require.NoError(t, os.WriteFile(filepath.Join(remote, "ca.pem"), []byte("CA"), 0o600))
	local := t.TempDir()

	require.NoError(t, c.CopyFrom(context.Background(), filepath.Join(remote, "ca.pem"), local, false))
	assertFile(t, filepath.Join(local, "ca.pem"), "CA", 0o600)
	require.NoError(t, c.CopyFrom(context.Background(), filepath.Join(remote, "ca.pem"), filepath.Join(local, "other.pem"), false))
	assertFile(t, filepath.Join(local, "other.pem"), "CA", 0o600)

	require.NoError(t, c.CopyFrom(context.Background(), filepath.Join(remote, "etc-docker"), local, true))
	assertTree(t, filepath.Join(local, "etc-docker"))
	require.NoError(t, c.CopyFrom(context.Background(), filepath.Join(remote, "etc-docker"), filepath.Join(local, "named"), true))
	assertTree(t, filepath.Join(local, "named"))

	err := c.CopyFrom(context.Background(), filepath.Join(remote, "etc-docker"), local, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")
	err = c.CopyFrom(context.Background(), filepath.Join(remote, "absent"), local, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such file")

	// Only whole files appear: nothing temporary is left over.
	entries, err := os.ReadDir(local)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"ca.pem", "other.pem", "etc-docker", "named"}, names)
}

func TestCopyFromReadOnlyTree(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)
	remote := filepath.Join(t.TempDir(), "ro")
	require.NoError(t, os.MkdirAll(filepath.Join(remote, "inner"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(remote, "inner", "f"), []byte("f"), 0o444))
	require.NoError(t, os.Chmod(filepath.Join(remote, "inner"), 0o555))
	t.Cleanup(func() { os.Chmod(filepath.Join(remote, "inner"), 0o755) })
	local := filepath.Join(t.TempDir(), "copy")

	require.NoError(t, c.CopyFrom(context.Background(), remote, local, true))
	t.Cleanup(func() { os.Chmod(filepath.Join(local, "inner"), 0o755) })
	assertFile(t, filepath.Join(local, "inner", "f"), "f", 0o444)
	info, err := os.Stat(filepath.Join(local, "inner"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o555), info.Mode().Perm(), "directory modes are applied after filling")
}

func TestExtractTreeStaysInsideDestination(t *testing.T) {
	for _, name := range []string{"../escape", "/etc/escape", "sub/../../escape"} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}))
			_, err := tw.Write([]byte("x"))
			require.NoError(t, err)
			require.NoError(t, tw.Close())

			parent := t.TempDir()
			dest := filepath.Join(parent, "dest")
			require.NoError(t, os.Mkdir(dest, 0o755))
			root, err := os.OpenRoot(dest)
			require.NoError(t, err)
			defer root.Close()

			err = extractTree(root, &buf)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "outside the destination")
			_, statErr := os.Stat(filepath.Join(parent, "escape"))
			assert.ErrorIs(t, statErr, fs.ErrNotExist)
		})
	}
}

func TestExtractTreeDoesNotWriteThroughSymlinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	outside := t.TempDir()
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./link", Typeflag: tar.TypeSymlink, Linkname: outside}))
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "./link/planted", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}))
	_, err := tw.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())

	root, err := os.OpenRoot(t.TempDir())
	require.NoError(t, err)
	defer root.Close()
	require.Error(t, extractTree(root, &buf))
	_, statErr := os.Stat(filepath.Join(outside, "planted"))
	assert.ErrorIs(t, statErr, fs.ErrNotExist)
}

func TestQuoting(t *testing.T) {
	assert.Equal(t, `'a b'`, shellQuote("a b"))
	assert.Equal(t, `'it'\''s'`, shellQuote("it's"))
	assert.Equal(t, `"$HOME"/'.docker/x y'`, quoteRemotePath("~/.docker/x y"))
	assert.Equal(t, `"$HOME"`, quoteRemotePath("~"))
	assert.Equal(t, `'~user/x'`, quoteRemotePath("~user/x"))
	assert.Equal(t, "0644", unixMode(0o644))
	assert.Equal(t, "04755", unixMode(0o755|os.ModeSetuid))
	assert.Equal(t, "/a/b_c-1.pem", shellQuoteIfNeeded("/a/b_c-1.pem"))
	assert.Equal(t, `'/a b/known_hosts'`, shellQuoteIfNeeded("/a b/known_hosts"))
}
