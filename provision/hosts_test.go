package provision

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDesiredHosts(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"appends", "127.0.0.1 localhost\n", "127.0.0.1 localhost\n127.0.1.1 node-1\n"},
		{"appends after a missing newline", "127.0.0.1 localhost", "127.0.0.1 localhost\n127.0.1.1 node-1\n"},
		{"empty file", "", "127.0.1.1 node-1\n"},
		{"replaces another name in place", "127.0.0.1 localhost\n127.0.1.1 debian\n::1 localhost\n", "127.0.0.1 localhost\n127.0.1.1 node-1\n::1 localhost\n"},
		{"keeps a line that already names it", "127.0.1.1 node-1.example.test node-1 # cloud\n", "127.0.1.1 node-1.example.test node-1 # cloud\n"},
		{"collapses duplicates", "127.0.1.1 a\n10.0.0.1 x\n127.0.1.1 node-1\n", "127.0.1.1 node-1\n10.0.0.1 x\n"},
		{"a name in a comment does not count", "127.0.1.1 other # node-1\n", "127.0.1.1 node-1\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := desiredHosts(c.in, "node-1")
			assert.Equal(t, c.want, got)
			assert.Equal(t, got, desiredHosts(got, "node-1"), "idempotent")
		})
	}
}
