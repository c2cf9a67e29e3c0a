package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkLoad100 loads every machine of a 100-machine store (each a copy
// of the stock generic-host config), as `docker-machine ls` does.
func BenchmarkLoad100(b *testing.B) {
	s := New(b.TempDir())
	stock, err := os.ReadFile(filepath.Join(fixtureRoot, "machines", "generic-host", "config.json"))
	require.NoError(b, err)
	for i := range 100 {
		name := fmt.Sprintf("node-%03d", i)
		text := strings.ReplaceAll(string(stock), "generic-host", name)
		writeConfig(b, s, name, strings.ReplaceAll(text, fixtureOrigin, s.Path))
	}
	names, err := s.List()
	require.NoError(b, err)
	require.Len(b, names, 100)

	for b.Loop() {
		for _, name := range names {
			if _, err := s.Load(name); err != nil {
				b.Fatal(err)
			}
		}
	}
}
