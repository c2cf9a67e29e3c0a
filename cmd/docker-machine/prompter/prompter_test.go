package prompter

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfirmIsYesOnlyForY(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "Yes\n": true, " y \n": true, "n\n": false, "\n": false, "": false, "maybe\n": false, "y": true} {
		var out bytes.Buffer
		ok, err := New(strings.NewReader(in), &out).Confirm("Are you sure?")
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, ok, "%q", in)
		assert.Equal(t, "Are you sure? (y/n): ", out.String())
	}
}
