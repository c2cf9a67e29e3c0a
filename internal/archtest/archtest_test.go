package archtest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestModuleKeepsTheImportRules(t *testing.T) {
	g, err := Load(".")
	require.NoError(t, err)
	// The graph is the real one, not an empty or mis-rooted listing.
	require.Contains(t, g, "libmachine/capability")
	require.Contains(t, g["libmachine"], "libmachine/store")
	require.Contains(t, g["cmd/docker-machine"], "drivers/aliyunecs", "the composition root names the drivers")

	for _, v := range Check(g, Rules) {
		assert.Fail(t, "forbidden import", v.String())
	}
}

func TestLoadReadsEveryPlatformAndTheIntegrationTag(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":             "module example.com/m\n\ngo 1.26\n",
		"a/a.go":             "package a\n\nimport _ \"example.com/m/b\"\n",
		"a/a_windows.go":     "package a\n\nimport _ \"example.com/m/c\"\n",
		"a/a_integration.go": "//go:build integration\n\npackage a\n\nimport _ \"example.com/m/d\"\n",
		"a/a_test.go":        "package a\n\nimport _ \"example.com/m/e\"\n",
		"b/b.go":             "package b\n\nimport _ \"fmt\"\n",
		"c/c.go":             "package c\n",
		"d/d.go":             "package d\n",
		"e/e.go":             "package e\n",
	}
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}

	g, err := Load(filepath.Join(dir, "a"))
	require.NoError(t, err)
	assert.Equal(t, Graph{"a": {"b", "c", "d"}, "b": nil, "c": nil, "d": nil, "e": nil}, g,
		"imports of every platform and of the integration tag, none of tests or outside the module")
}

func TestLoadOutsideAModuleSaysSo(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir+" is not inside a Go module")
}

// designGraph is a small module shaped as DESIGN.md says; every case below
// adds one import to it.
func designGraph() Graph {
	return Graph{
		"cmd/docker-machine":          {"cmd/docker-machine/commands", "drivers/aliyunecs", "drivers/none"},
		"cmd/docker-machine/commands": {"libmachine", "libmachine/host"},
		"cmd/cloudsim":                {"integration/cloudsim"},
		"libmachine":                  {"certs", "libmachine/host", "libmachine/plugin", "libmachine/store", "provision"},
		"libmachine/host":             {"libmachine/hostopts"},
		"libmachine/store":            {"libmachine/host"},
		"libmachine/plugin":           {"libmachine/capability"},
		"libmachine/capability":       nil,
		"libmachine/hostopts":         nil,
		"libmachine/ssh":              nil,
		"provision":                   {"certs", "libmachine/hostopts", "libmachine/ssh"},
		"drivers/aliyunecs":           {"libmachine/capability", "libmachine/ssh"},
		"drivers/generic":             {"libmachine/ssh"},
		"drivers/none":                nil,
		"certs":                       nil,
		"integration/cloudsim":        nil,
		"integration/e2e":             {"certs", "integration/cloudsim"},
		"integration/cmd/testplugin":  {"drivers/generic", "integration/cloudsim"},
	}
}

func TestCheckPassesTheDesignsGraph(t *testing.T) {
	assert.Empty(t, Check(designGraph(), Rules))
}

func TestCheckFailsOnEachForbiddenImport(t *testing.T) {
	var (
		noDriver      = Rules[0].Name
		noTestWorld   = Rules[1].Name
		provisionLeaf = Rules[2].Name
		driverAlone   = Rules[3].Name
		capabilityAll = Rules[4].Name
	)
	cases := []struct {
		from, to string
		want     []Violation
	}{
		{"cmd/docker-machine/commands", "drivers/aliyunecs", []Violation{
			{Importer: "cmd/docker-machine/commands", Imported: "drivers/aliyunecs", Rule: noDriver},
		}},
		{"cmd/docker-machine/commands/slb", "drivers/aliyunecs", []Violation{
			{Importer: "cmd/docker-machine/commands/slb", Imported: "drivers/aliyunecs", Rule: noDriver},
		}},
		{"libmachine/cluster", "drivers/none", []Violation{
			{Importer: "libmachine/cluster", Imported: "drivers/none", Rule: noDriver},
		}},
		{"libmachine/swarm", "integration/swarmtest", []Violation{
			{Importer: "libmachine/swarm", Imported: "integration/swarmtest", Rule: noTestWorld},
		}},
		{"cmd/slbctl", "integration/cloudsim", []Violation{
			{Importer: "cmd/slbctl", Imported: "integration/cloudsim", Rule: noTestWorld},
		}},
		{"drivers/aliyunecs", "integration/cloudsim", []Violation{
			{Importer: "drivers/aliyunecs", Imported: "integration/cloudsim", Rule: noTestWorld},
		}},
		{"provision", "libmachine/host", []Violation{
			{Importer: "provision", Imported: "libmachine/host", Rule: provisionLeaf},
		}},
		{"provision/debian", "drivers/generic", []Violation{
			{Importer: "provision/debian", Imported: "drivers/generic", Rule: provisionLeaf},
		}},
		{"drivers/none", "libmachine/store", []Violation{
			{Importer: "drivers/none", Imported: "libmachine/store", Rule: driverAlone},
		}},
		// A shared package that takes on the host model drags every
		// package that depends on it into the rules of that package.
		{"libmachine/ssh", "libmachine/host", []Violation{
			{Importer: "drivers/aliyunecs", Imported: "libmachine/host", Via: []string{"drivers/aliyunecs", "libmachine/ssh", "libmachine/host"}, Rule: driverAlone},
			{Importer: "drivers/generic", Imported: "libmachine/host", Via: []string{"drivers/generic", "libmachine/ssh", "libmachine/host"}, Rule: driverAlone},
			{Importer: "provision", Imported: "libmachine/host", Via: []string{"provision", "libmachine/ssh", "libmachine/host"}, Rule: provisionLeaf},
		}},
		{"libmachine/capability", "libmachine/hostopts", []Violation{
			{Importer: "libmachine/capability", Imported: "libmachine/hostopts", Rule: capabilityAll},
		}},
	}
	for _, c := range cases {
		t.Run(c.from+"->"+c.to, func(t *testing.T) {
			g := maps.Clone(designGraph())
			g[c.from] = append(slices.Clone(g[c.from]), c.to)
			assert.Equal(t, c.want, Check(g, Rules))
		})
	}
}

func TestViolationNamesBothPackagesAndTheRule(t *testing.T) {
	direct := Violation{Importer: "libmachine", Imported: "drivers/none", Rule: "no drivers"}
	assert.Equal(t, "libmachine imports drivers/none: no drivers", direct.String())
	via := Violation{Importer: "drivers/x", Imported: "libmachine/store", Via: []string{"drivers/x", "certs", "libmachine/store"}, Rule: "alone"}
	assert.Equal(t, "drivers/x depends on libmachine/store through drivers/x -> certs -> libmachine/store: alone", via.String())
}
