package cluster

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/clitest"
)

func TestClusterUpDryRunListsTheNetworks(t *testing.T) {
	store := clitest.NewStore(t)
	r := cli(t, store, "up", "--dry-run", "-f", writeFile(t, noneCluster+"networks:\n  - {name: app, subnet: 10.0.9.0/24}\n  - {name: db, internal: true}\n"))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "network app (overlay, attachable, 10.0.9.0/24): create it through the swarm's manager unless the swarm has it\n")
	assert.Contains(t, r.Stdout, "network db (overlay, attachable, internal): create it")
	assert.Empty(t, clitest.Names(t, store), "a dry run changes nothing")
}

func TestClusterFileNetworkErrorsNameTheLine(t *testing.T) {
	store := clitest.NewStore(t)
	path := writeFile(t, noneCluster+"networks:\n  - name: ingress\n  - {name: app, subnet: 10.0.9.1/24}\n")
	r := cli(t, store, "up", "-f", path)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, path+`:11: networks[0]: name "ingress" is reserved by Docker`)
	assert.Contains(t, r.Stderr, path+":12: networks[1].subnet 10.0.9.1/24 is not a network address: did you mean 10.0.9.0/24?")
	assert.Empty(t, clitest.Names(t, store), "a bad file creates nothing")
}

func TestClusterStatusNamesTheNetworks(t *testing.T) {
	store := clitest.NewStore(t)
	clitest.CreateNone(t, store, "c-manager-1", "tcp://127.0.0.1:1")
	path := writeFile(t, noneCluster+"networks:\n  - {name: app, subnet: 10.0.9.0/24}\n")
	r := cli(t, store, "status", "-f", path)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "network app (overlay, attachable, 10.0.9.0/24): unknown: no manager answered\n")

	r = cli(t, store, "status", "--format", "json", "-f", path)
	require.Equal(t, 0, r.Code, r.Stderr)
	var st struct {
		Networks []struct{ Name, Want, State string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), r.Stdout)
	require.Len(t, st.Networks, 1)
	assert.Equal(t, "app", st.Networks[0].Name)
}
