//go:build integration

package vmimage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnsureIsCached builds the image if this machine lacks it (minutes)
// and checks that the next call finds it without building.
func TestEnsureIsCached(t *testing.T) {
	img, err := Ensure(t.Context())
	require.NoError(t, err)
	sum, err := fileSHA256(img.Path)
	require.NoError(t, err)
	assert.Equal(t, sum, img.SHA256, "the recorded digest is the file's")

	start := time.Now()
	again, err := Ensure(t.Context())
	require.NoError(t, err)
	t.Logf("warm Ensure: %s", time.Since(start))
	assert.Equal(t, img, again)
}

func BenchmarkEnsureWarm(b *testing.B) {
	if _, err := Ensure(b.Context()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Ensure(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
