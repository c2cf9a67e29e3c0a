package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/libmachine/cluster"
)

// TestClusterNodeIsMadeLikeCreate compares a node the cluster commands make
// (through the clients of the factory) with a machine `create` makes from
// the same settings.
func TestClusterNodeIsMadeLikeCreate(t *testing.T) {
	store := newStore(t)
	cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "--engine-label", "tier=test", "--engine-install-url", "none", "by-hand")
	const file = `name: c
driver: none
driver_options:
  url: tcp://127.0.0.1:1
groups:
  - {name: manager, role: manager, count: 1}
  - {name: extra, count: 1, engine: {install_url: none, labels: [tier=test]}}
`
	cf, err := cluster.Parse("c.yml", []byte(file), os.LookupEnv)
	require.NoError(t, err)
	nodes := cf.Nodes()
	node := nodes[len(nodes)-1]
	ios, _, _ := iostreams.Test("")
	f := cmdutil.New(ios, &cmdutil.Settings{StoragePath: store})
	m := &cluster.StoreMachines{Client: f.Client(io.Discard), NewClient: f.Client}
	defer m.Client.Close()
	var out bytes.Buffer
	require.NoError(t, m.Create(context.Background(), node, &out))
	assert.Contains(t, out.String(), "Running pre-create checks...", "the node's progress goes to its own writer")

	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join(store, "machines", name, "config.json"))
		require.NoError(t, err)
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(data, &cfg))
		return cfg
	}
	byHand, fromFile := read("by-hand"), read("c-extra-1")
	ho := func(cfg map[string]any) map[string]any { return cfg["HostOptions"].(map[string]any) }
	assert.Equal(t, ho(byHand)["EngineOptions"], ho(fromFile)["EngineOptions"], "engine options as create makes them")
	assert.Equal(t, ho(byHand)["SwarmOptions"], ho(fromFile)["SwarmOptions"])
	assert.Equal(t, byHand["Driver"].(map[string]any)["URL"], fromFile["Driver"].(map[string]any)["URL"])

	state, err := m.State(context.Background(), "c-extra-1")
	require.NoError(t, err)
	assert.Equal(t, "Running", state)
}

// TestClusterSharedResourcesOfADriverThatSharesNothing: the none driver
// has no SharedPreparer, so preparing its nodes' shared resources makes
// nothing and is no error; an option it does not know is.
func TestClusterSharedResourcesOfADriverThatSharesNothing(t *testing.T) {
	store := newStore(t)
	cf, err := cluster.Parse("c.yml", []byte("name: c\ndriver: none\ndriver_options: {url: tcp://127.0.0.1:1}\ngroups:\n  - {name: manager, role: manager}\n"), os.LookupEnv)
	require.NoError(t, err)
	ios, _, _ := iostreams.Test("")
	f := cmdutil.New(ios, &cmdutil.Settings{StoragePath: store})
	m := &cluster.StoreMachines{Client: f.Client(io.Discard), NewClient: f.Client}
	defer m.Client.Close()
	node := cf.Nodes()[0]
	res, err := m.PrepareShared(context.Background(), node, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, res)

	node.DriverOptions = append(node.DriverOptions, cluster.Option{Name: "no-such-flag", Values: []string{"x"}})
	_, err = m.PrepareShared(context.Background(), node, io.Discard)
	assert.ErrorContains(t, err, "no-such-flag")
}
