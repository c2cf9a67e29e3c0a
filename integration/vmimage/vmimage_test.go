package vmimage

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServePublishesImageAndChecksums(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	content := []byte("not really a qcow2 image, but served the same way")
	require.NoError(t, os.WriteFile(path, content, 0o644))
	sum, err := fileSHA256(path)
	require.NoError(t, err)
	want := sha256.Sum256(content)
	require.Equal(t, hex.EncodeToString(want[:]), sum)

	srv, err := Serve(&Image{Path: path, SHA256: sum})
	require.NoError(t, err)
	defer srv.Close()
	assert.True(t, strings.HasPrefix(srv.ImageURL(), "http://127.0.0.1:"))
	assert.True(t, strings.HasSuffix(srv.ImageURL(), "/"+FileName))

	get := func(url string) []byte {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return b
	}
	assert.Equal(t, content, get(srv.ImageURL()))
	// The format of Debian's and Ubuntu's SHA256SUMS: digest, " *", name.
	assert.Equal(t, sum+" *"+FileName+"\n", string(get(srv.ChecksumURL())))

	resp, err := http.Get(strings.TrimSuffix(srv.ImageURL(), FileName) + "other.img")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestServeRefusesMissingImage(t *testing.T) {
	_, err := Serve(nil)
	assert.ErrorContains(t, err, "call Ensure first")
	_, err = Serve(&Image{Path: filepath.Join(t.TempDir(), "gone.qcow2"), SHA256: "00"})
	assert.Error(t, err)
}

func TestRecipeHashFollowsInputs(t *testing.T) {
	a := recipe{mirror: "http://mirror.example/debian"}.hash()
	b := recipe{mirror: "http://other.example/debian"}.hash()
	assert.Len(t, a, 16)
	assert.NotEqual(t, a, b, "another mirror is another image")
	assert.Equal(t, a, recipe{mirror: "http://mirror.example/debian"}.hash())
}

func TestCachedNeedsTheDigestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	img, err := cached(path)
	require.NoError(t, err)
	assert.Nil(t, img, "no digest: not built")
	require.NoError(t, os.WriteFile(path+".sha256", []byte("abc\n"), 0o644))
	_, err = cached(path)
	assert.ErrorContains(t, err, "incomplete")
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o644))
	img, err = cached(path)
	require.NoError(t, err)
	assert.Equal(t, &Image{Path: path, SHA256: "abc"}, img)
}
