package iostreams

import (
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuffersAndFilesAreNotTerminals(t *testing.T) {
	s, out, _ := Test("input")
	assert.False(t, s.IsStdoutTTY())
	assert.Equal(t, defaultWidth, s.TerminalWidth())
	in, err := io.ReadAll(s.In)
	require.NoError(t, err)
	assert.Equal(t, "input", string(in))
	_, _ = s.Out.Write([]byte("x"))
	assert.Equal(t, "x", out.String())

	f, err := os.Create(t.TempDir() + "/out")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, New(nil, f, f).IsStdoutTTY(), "a regular file is not a terminal")

	s.SetStdoutTTY(true)
	s.SetTerminalWidth(40)
	assert.True(t, s.IsStdoutTTY())
	assert.Equal(t, 40, s.TerminalWidth())
}
