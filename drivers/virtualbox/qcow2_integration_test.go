//go:build integration

package virtualbox

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The qcow2 reader gives byte for byte what qemu-img gives, for the
// images qemu-img writes: plain, zlib- and zstd-compressed clusters.
func TestQcow2ReaderMatchesQemuImg(t *testing.T) {
	qemuImg, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img is not installed (apt-get install qemu-utils)")
	}
	dir := t.TempDir()
	raw := make([]byte, 8<<20)
	_, _ = rand.Read(raw[:1<<20])                              // incompressible
	copy(raw[3<<20:], bytes.Repeat([]byte("docker "), 200000)) // compressible
	// the rest stays zero: unallocated clusters
	rawPath := filepath.Join(dir, "disk.raw")
	require.NoError(t, os.WriteFile(rawPath, raw, 0o644))
	for name, args := range map[string][]string{
		"plain": {"-O", "qcow2"},
		"zlib":  {"-c", "-O", "qcow2"},
		"zstd":  {"-c", "-O", "qcow2", "-o", "compression_type=zstd"},
		"v2":    {"-c", "-O", "qcow2", "-o", "compat=0.10"},
	} {
		p := filepath.Join(dir, name+".qcow2")
		out, err := exec.Command(qemuImg, append(append([]string{"convert"}, args...), rawPath, p)...).CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
		q, err := openQcow2(p)
		require.NoError(t, err, name)
		var got bytes.Buffer
		_, err = q.WriteTo(&got)
		q.Close()
		require.NoError(t, err, name)
		assert.True(t, bytes.Equal(raw, got.Bytes()), "%s: the reader's raw disk differs from the original", name)
	}
}
