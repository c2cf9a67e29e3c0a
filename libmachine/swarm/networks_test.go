package swarm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetworksReadScopesPoolsAndAllocation(t *testing.T) {
	_, e := replay(t, map[string]string{"GET /networks": "networks_manager"})
	nets, err := e.Networks(t.Context())
	require.NoError(t, err)
	byName := map[string]Network{}
	for _, n := range nets {
		byName[n.Name] = n
	}
	require.Len(t, byName, 9)

	db := byName["db"]
	assert.Equal(t, Network{ID: "bg9n60iysyixkpkkf91y5e8xd", Name: "db", Driver: "overlay", Scope: "swarm", Attachable: true, Internal: true,
		IPAM:    []IPAMConfig{{Subnet: "10.233.0.0/24", Gateway: "10.233.0.254", IPRange: "10.233.0.128/25"}},
		Options: map[string]string{"com.docker.network.driver.mtu": "1400", "com.docker.network.driver.overlay.vxlanid_list": "4098"},
		Labels:  map[string]string{"fleetdock.cluster": "c", "tier": "db"}}, db)
	assert.True(t, db.Allocated())

	overlapping := byName["overlapping"]
	assert.Equal(t, "swarm", overlapping.Scope)
	assert.False(t, overlapping.Allocated(), "the allocator refused its overlapping subnet after the create succeeded")
	assert.Empty(t, overlapping.IPAM)

	assert.True(t, byName["ingress"].Ingress)
	assert.Equal(t, "local", byName["loc"].Scope)
	assert.Equal(t, []IPAMConfig{{Subnet: "10.232.0.0/24"}}, byName["loc"].IPAM)
}

func TestNetworkInspects(t *testing.T) {
	_, e := replay(t, map[string]string{"GET /networks/db": "network_db", "GET /networks/nope": "network_missing"})
	n, err := e.Network(t.Context(), "db")
	require.NoError(t, err)
	assert.Equal(t, "overlay", n.Driver)
	assert.True(t, n.Allocated())

	_, err = e.Network(t.Context(), "nope")
	require.Error(t, err)
	assert.True(t, IsNotFound(err))
	assert.Contains(t, err.Error(), "network nope not found")
}

func TestCreateNetworkSendsTheSpecAsDockerNetworkCreateDoes(t *testing.T) {
	r, e := replay(t, map[string]string{"POST /networks/create": "network_create_overlay,network_create_conflict"})
	spec := NetworkSpec{Name: "db", Driver: "overlay", Attachable: true, Internal: true,
		Subnet: "10.233.0.0/24", Gateway: "10.233.0.254", IPRange: "10.233.0.128/25",
		Options: map[string]string{"com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"fleetdock.cluster": "c", "tier": "db"}}
	id, err := e.CreateNetwork(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, "bg9n60iysyixkpkkf91y5e8xd", id)
	reqs := r.Requests()
	require.Len(t, reqs, 1)
	// The body the recording was made with.
	assert.JSONEq(t, `{"Name":"db","CheckDuplicate":true,"Driver":"overlay","Attachable":true,"Internal":true,
		"IPAM":{"Driver":"default","Config":[{"Subnet":"10.233.0.0/24","Gateway":"10.233.0.254","IPRange":"10.233.0.128/25"}]},
		"Labels":{"fleetdock.cluster":"c","tier":"db"},"Options":{"com.docker.network.driver.mtu":"1400"}}`, string(reqs[0].Body))

	_, err = e.CreateNetwork(t.Context(), spec)
	require.Error(t, err)
	assert.True(t, IsConflict(err))
	assert.Contains(t, err.Error(), "network with name db already exists")

	// Without a subnet the daemon picks the pool: no IPAM is sent.
	r, e = replay(t, map[string]string{"POST /networks/create": "network_create_overlay"})
	_, err = e.CreateNetwork(t.Context(), NetworkSpec{Name: "app", Driver: "overlay", Attachable: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"Name":"app","CheckDuplicate":true,"Driver":"overlay","Attachable":true,"Internal":false}`, string(r.Requests()[0].Body))
}

func TestCreateNetworkRefusals(t *testing.T) {
	_, e := replay(t, map[string]string{"POST /networks/create": "network_create_worker"})
	_, err := e.CreateNetwork(t.Context(), NetworkSpec{Name: "w", Driver: "overlay", Attachable: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Please create the network from a manager node")
	assert.False(t, IsConflict(err))

	_, e = replay(t, map[string]string{"POST /networks/create": "network_create_nosuch_driver"})
	_, err = e.CreateNetwork(t.Context(), NetworkSpec{Name: "nd", Driver: "nosuch", Attachable: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `plugin "nosuch" not found`)
}

func TestRemoveNetwork(t *testing.T) {
	r, e := replay(t, map[string]string{"DELETE /networks/qif3utcyc88ganebqo0kg3cgh": "network_rm"})
	require.NoError(t, e.RemoveNetwork(t.Context(), "qif3utcyc88ganebqo0kg3cgh"))
	assert.Len(t, r.Requests(), 1)
}
