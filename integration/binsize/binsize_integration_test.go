//go:build integration

package binsize

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/testbin"
)

// TestReleaseSizes: the CLI, with every driver built in, is no bigger than
// the stock CLI, and each plugin is smaller than the CLI. A driver that
// holds a generated SDK client (or turns one into an interface) makes the
// linker keep all of that service's operations; the failure names the
// packages that weigh most.
func TestReleaseSizes(t *testing.T) {
	root := testbin.RepoRoot()
	bins, err := Build(root, t.TempDir(), "-s -w", append([]string{CLI}, Plugins...)...)
	require.NoError(t, err)
	cli := bins[0]
	for _, b := range bins {
		t.Logf("%-34s %12d bytes %9s", b.Name, b.Bytes, MB(b.Bytes))
	}

	// The binaries over their limit, whose biggest packages the failure lists.
	var over []string
	if !assert.LessOrEqual(t, cli.Bytes, int64(StockCLI),
		"%s is %s stripped, more than stock docker-machine 0.16.2's %s", CLI, MB(cli.Bytes), MB(StockCLI)) {
		over = append(over, CLI)
	}
	for _, p := range bins[1:] {
		if !assert.Less(t, p.Bytes, cli.Bytes, "plugin %s (%s) is not smaller than %s (%s)", p.Name, MB(p.Bytes), CLI, MB(cli.Bytes)) {
			over = append(over, p.Name)
		}
	}
	for _, name := range over {
		full, err := Build(root, filepath.Join(t.TempDir(), "full"), "", name)
		require.NoError(t, err)
		pkgs, err := Packages(full[0].Path)
		require.NoError(t, err)
		var list strings.Builder
		for _, p := range pkgs[:min(12, len(pkgs))] {
			fmt.Fprintf(&list, "\n%12d %9s  %s", p.Bytes, MB(p.Bytes), p.Path)
		}
		t.Errorf("biggest packages of %s (symbol bytes, unstripped):%s", name, list.String())
	}
}
