package virtualbox

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/vboxsim"
	"github.com/fleetdock/machine/libmachine/capability"
)

func TestStatusesListsEveryVMOnce(t *testing.T) {
	sim := vboxsim.Install(t, vboxsim.Config{})
	sim.Setenv(t)
	vbm := func(args ...string) {
		out, err := exec.Command("VBoxManage", args...).CombinedOutput()
		require.NoError(t, err, "VBoxManage %v: %s", args, out)
	}
	for _, name := range []string{"m-run", "m-nat", "m-ip", "m-paused", "m-off"} {
		vbm("createvm", "--name", name, "--register")
	}
	for _, name := range []string{"m-run", "m-nat", "m-ip", "m-paused"} {
		vbm("startvm", name, "--type", "headless")
	}
	vbm("controlvm", "m-paused", "pause")

	config := func(name string, set func(*Driver)) []byte {
		d := NewDriver(name, t.TempDir())
		if set != nil {
			set(d)
		}
		raw, err := json.Marshal(d)
		require.NoError(t, err)
		return raw
	}
	configs := [][]byte{
		config("m-run", nil),
		config("m-nat", func(d *Driver) { d.Network, d.DockerPort = networkNAT, 52376 }),
		config("m-ip", func(d *Driver) { d.IPAddress = "192.168.56.101" }),
		config("m-paused", nil),
		config("m-off", nil),
		config("m-gone", nil),
	}
	before, err := vboxsim.ReadCalls(sim.Home)
	require.NoError(t, err)
	got, err := NewDriver("", "").Statuses(context.Background(), configs)
	require.NoError(t, err)
	calls, err := vboxsim.ReadCalls(sim.Home)
	require.NoError(t, err)
	var commands [][]string
	for _, c := range calls[len(before):] {
		commands = append(commands, c.Args)
	}
	assert.Equal(t, [][]string{{"--version"}, {"list", "--long", "vms"}}, commands, "one listing for every machine")

	assert.Equal(t, []capability.MachineStatus{
		{State: state.Running},
		{State: state.Running, URL: "tcp://127.0.0.1:52376"},
		{State: state.Running, URL: "tcp://192.168.56.101:2376"},
		{State: state.Paused},
		{State: state.Stopped},
		{State: state.Error, Err: `VirtualBox has no VM named "m-gone": machine does not exist; run 'docker-machine rm -f m-gone' to forget the machine`},
	}, got)

	// The states and errors are those of each machine's own GetState, and
	// the URLs those of its GetURL.
	for i, raw := range configs {
		m := NewDriver("", "")
		require.NoError(t, json.Unmarshal(raw, m))
		st, err := m.GetState()
		assert.Equal(t, got[i].State, st, "machine %d", i)
		if err != nil {
			assert.Equal(t, got[i].Err, err.Error(), "machine %d", i)
		}
		if got[i].URL != "" {
			url, err := m.GetURL()
			require.NoError(t, err)
			assert.Equal(t, got[i].URL, url, "machine %d", i)
		}
	}
}

func TestParseLongListSkipsSharedFolderNames(t *testing.T) {
	out := "Name:                        m1\nGroups:                      /\nState:                       saved (since 2026-12-01T10:00:00.000000000)\n\n" +
		"Shared folders:\n\nName: 'hosthome', Host path: '/home' (machine mapping), writable\n\n" +
		"Name:                        m 2\nState:                       guru meditation (since 2026-12-01T10:00:00.000000000)\n\n"
	got := parseLongList(out)
	assert.Equal(t, map[string]vmInfo{"m1": {"VMState": "saved"}, "m 2": {"VMState": "gurumeditation"}}, got)
	assert.Equal(t, state.Saved, got["m1"].state())
	assert.Equal(t, state.Error, got["m 2"].state())
}
