package virtualbox

import (
	"strings"
	"sync"
	"testing"

	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/vboxsim"
	"github.com/fleetdock/machine/libmachine/capability"
)

// newPreparer configures a driver the way libmachine's DriverFor does: from
// a create's options, bound to no machine. r nil: VBoxManage from PATH.
func newPreparer(t *testing.T, r runner) *Driver {
	t.Helper()
	d := NewDriver("", "")
	opts := defaultValues(d)
	opts["virtualbox-image-url"] = rawImage(t)
	opts["virtualbox-no-vtx-check"] = true
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: opts}))
	if r != nil {
		d.vbox, d.vboxVer = r, version{7, 2, 22}
	}
	return d
}

func prefixed(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func TestPrepareSharedThenCreateMakesNoNetwork(t *testing.T) {
	f := newFakeVBox(t)
	p, ok := capability.Get[capability.SharedPreparer](newPreparer(t, f))
	require.True(t, ok, "virtualbox offers SharedPreparer")
	rs, err := p.PrepareShared(t.Context())
	require.NoError(t, err)
	require.Len(t, f.ifs, 1)
	assert.Equal(t, []capability.Resource{{Kind: "host-only adapter", ID: f.ifs[0].Name}}, rs)
	assert.Equal(t, "192.168.59.1", f.ifs[0].IP)
	require.NotNil(t, f.dhcp[dhcpNetName(f.ifs[0].Name)], "with its DHCP server")

	again, err := newPreparer(t, f).PrepareShared(t.Context())
	require.NoError(t, err)
	assert.Equal(t, rs, again, "preparing again finds the same adapter")
	assert.Equal(t, 1, prefixed(f.commands(), "hostonlyif create"))

	d := newTestDriver(t, f, "m1", nil)
	before := len(f.commands())
	require.NoError(t, d.Create())
	made := f.commands()[before:]
	for _, c := range []string{"hostonlyif create", "hostonlyif ipconfig", "dhcpserver add", "dhcpserver modify"} {
		assert.Zero(t, prefixed(made, c), "the create ran no %s", c)
	}
	assert.Equal(t, rs[0].ID, d.HostOnlyInterface)
	assert.False(t, d.HostOnlyCreated)

	require.NoError(t, d.Remove())
	assert.Empty(t, f.leftovers(), "the last machine's rm removes the prepared adapter and puts the DHCP server back")
}

// Creates started at once for a range nobody has an adapter for yet end
// on one adapter, and removing them all leaves nothing.
func TestConcurrentCreatesShareOneAdapter(t *testing.T) {
	const n = 5
	f := newFakeVBox(t)
	ds := make([]*Driver, n)
	for i := range ds {
		ds[i] = newTestDriver(t, f, "race-"+string(rune('a'+i)), nil)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Create()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}
	require.Len(t, f.ifs, 1, "one adapter for the range")
	owners := 0
	for _, d := range ds {
		assert.Equal(t, f.ifs[0].Name, d.HostOnlyInterface)
		if d.HostOnlyCreated {
			owners++
		}
	}
	assert.Equal(t, 1, owners)

	for i, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = d.Remove()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "rm %d", i)
	}
	assert.Empty(t, f.leftovers())
}

// The same against the VBoxManage stand-in: separate VBoxManage processes,
// each holding the stand-in's state lock for one command only, as
// VirtualBox's own service serialises single calls but not a sequence.
func TestConcurrentPreparesMakeOneAdapter(t *testing.T) {
	const n = 5
	sim := vboxsim.Install(t, vboxsim.Config{Backend: vboxsim.BackendNone})
	sim.Setenv(t)
	t.Setenv("VBOX_INSTALL_PATH", "")
	t.Setenv("VBOX_MSI_INSTALL_PATH", "")
	_, _, code := sim.VBoxManage(t, "list", "vms")
	require.Equal(t, 0, code)

	rs := make([][]capability.Resource, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := newPreparer(t, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i], errs[i] = p.PrepareShared(t.Context())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "prepare %d", i)
	}
	st := sim.State(t)
	var withRange []string
	for _, h := range st.HostOnlyIfs {
		if h.IP == "192.168.59.1" {
			withRange = append(withRange, h.Name)
		}
	}
	require.Len(t, withRange, 1, "one adapter has the range's host address: %v", st.HostOnlyIfs)
	for i := range n {
		assert.Equal(t, []capability.Resource{{Kind: "host-only adapter", ID: withRange[0]}}, rs[i])
	}
	creates := 0
	for _, c := range sim.Calls(t) {
		if len(c.Args) >= 2 && c.Args[0] == "hostonlyif" && c.Args[1] == "create" {
			creates++
		}
	}
	assert.Equal(t, 1, creates)
	servers := 0
	for _, s := range st.DHCPServers {
		if s.NetName == dhcpNetName(withRange[0]) && s.Enabled {
			servers++
		}
	}
	assert.Equal(t, 1, servers, "with one DHCP server")
}

func TestNATNeedsNothingShared(t *testing.T) {
	f := newFakeVBox(t)
	d := newPreparer(t, f)
	d.NetworkMode = networkNAT
	rs, err := d.PrepareShared(t.Context())
	require.NoError(t, err)
	assert.Empty(t, rs)
	assert.Empty(t, f.ifs)
}

// A preparation that fails after making the adapter removes it: no machine
// would ever own it.
func TestFailedPrepareSharedLeavesNothing(t *testing.T) {
	f := newFakeVBox(t)
	f.hook = func(args []string) (string, error, bool) {
		if args[0] == "dhcpserver" && len(args) > 1 && args[1] != "remove" {
			return "", vboxErr(args, 1, "VBoxManage: error: DHCP server for the network could not be configured\n"), true
		}
		return "", nil, false
	}
	_, err := newPreparer(t, f).PrepareShared(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "preparing the host-only network 192.168.59.1/24")
	assert.Empty(t, f.leftovers(), "the adapter it made was removed")
}
