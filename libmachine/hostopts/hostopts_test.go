package hostopts

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "node-1", "web.example", "9lives", strings.Repeat("a", MaxNameLength)} {
		assert.NoError(t, ValidateName(ok), ok)
	}
	for name, want := range map[string]string{
		"":                                   "must start with a letter or digit",
		"-x":                                 "must start with a letter or digit",
		"a_b":                                "only letters, digits",
		"a b":                                "only letters, digits",
		strings.Repeat("a", MaxNameLength+1): "it has 64 characters, at most 63 fit",
	} {
		assert.ErrorContains(t, ValidateName(name), want, name)
	}
}
