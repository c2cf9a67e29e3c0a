package virtualbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/libmachine/capability"
)

var (
	testKeyOnce sync.Once
	testPriv    []byte
	testPub     []byte
)

// TestMain shrinks the waits and shares one RSA key between tests.
func TestMain(m *testing.M) {
	pollInitial, pollMax = 5*time.Millisecond, 50*time.Millisecond
	bootTimeout, addressTimeout, stopTimeout = 20*time.Second, 10*time.Second, time.Second
	generateKey = func() ([]byte, []byte, error) {
		testKeyOnce.Do(func() {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			pub, _ := ssh.NewPublicKey(&key.PublicKey)
			testPriv = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
			testPub = ssh.MarshalAuthorizedKey(pub)
		})
		return testPriv, testPub, nil
	}
	stderrIsTerminal = func() bool { return false }
	// The host-only network lock of the tests, not the user's.
	lockDir, err := os.MkdirTemp("", "virtualbox-lock-")
	if err != nil {
		panic(err)
	}
	hostNetworkLockPath = filepath.Join(lockDir, "hostonly.lock")
	code := m.Run()
	os.RemoveAll(lockDir)
	os.Exit(code)
}

// defaultValues are what the CLI sends for flags nobody set.
func defaultValues(d *Driver) map[string]any {
	v := map[string]any{}
	for _, f := range d.GetCreateFlags() {
		v[f.String()] = f.Default()
		if v[f.String()] == nil {
			v[f.String()] = false
		}
	}
	v["swarm-master"], v["swarm-host"], v["swarm-discovery"] = false, "", ""
	return v
}

// rawImage writes a small raw disk image and returns its file:// URL.
func rawImage(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	require.NoError(t, os.WriteFile(p, make([]byte, 4<<20), 0o644))
	return "file://" + p
}

func newTestDriver(t *testing.T, f *fakeVBox, name string, values map[string]any) *Driver {
	t.Helper()
	store := t.TempDir()
	d := NewDriver(name, store)
	opts := defaultValues(d)
	opts["virtualbox-image-url"] = rawImage(t)
	opts["virtualbox-no-vtx-check"] = true
	opts["virtualbox-no-share"] = true
	opts["swarm-master"], opts["swarm-host"], opts["swarm-discovery"] = false, "", ""
	for k, v := range values {
		opts[k] = v
	}
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: opts}))
	require.NoError(t, os.MkdirAll(d.ResolveStorePath("."), 0o700))
	d.vbox, d.vboxVer = f, version{7, 2, 22}
	return d
}

func TestStockFlagsKeepNamesEnvVarsAndDefaults(t *testing.T) {
	flags := map[string][2]any{}
	for _, f := range NewDriver("", "").GetCreateFlags() {
		flags[f.String()] = [2]any{f.Default(), envOf(f)}
	}
	stock := map[string][2]any{
		"virtualbox-memory":                {1024, "VIRTUALBOX_MEMORY_SIZE"},
		"virtualbox-cpu-count":             {1, "VIRTUALBOX_CPU_COUNT"},
		"virtualbox-disk-size":             {20000, "VIRTUALBOX_DISK_SIZE"},
		"virtualbox-boot2docker-url":       {"", "VIRTUALBOX_BOOT2DOCKER_URL"},
		"virtualbox-import-boot2docker-vm": {"", "VIRTUALBOX_BOOT2DOCKER_IMPORT_VM"},
		"virtualbox-host-dns-resolver":     {nil, "VIRTUALBOX_HOST_DNS_RESOLVER"},
		"virtualbox-nat-nictype":           {"82540EM", "VIRTUALBOX_NAT_NICTYPE"},
		"virtualbox-hostonly-cidr":         {"192.168.59.1/24", "VIRTUALBOX_HOSTONLY_CIDR"},
		"virtualbox-hostonly-nictype":      {"82540EM", "VIRTUALBOX_HOSTONLY_NIC_TYPE"},
		"virtualbox-hostonly-nicpromisc":   {"deny", "VIRTUALBOX_HOSTONLY_NIC_PROMISC"},
		"virtualbox-ui-type":               {"headless", "VIRTUALBOX_UI_TYPE"},
		"virtualbox-hostonly-no-dhcp":      {nil, "VIRTUALBOX_HOSTONLY_NO_DHCP"},
		"virtualbox-no-share":              {nil, "VIRTUALBOX_NO_SHARE"},
		"virtualbox-no-dns-proxy":          {nil, "VIRTUALBOX_NO_DNS_PROXY"},
		"virtualbox-no-vtx-check":          {nil, "VIRTUALBOX_NO_VTX_CHECK"},
		"virtualbox-share-folder":          {"", "VIRTUALBOX_SHARE_FOLDER"},
	}
	for name, want := range stock {
		got, ok := flags[name]
		if assert.True(t, ok, "stock flag %s is missing", name) {
			assert.Equal(t, want, got, name)
		}
	}
	assert.Contains(t, flags, "virtualbox-image-url")
	assert.Contains(t, flags, "virtualbox-image-checksum")
	assert.Contains(t, flags, "virtualbox-network")
}

func envOf(f mcnflag.Flag) string {
	switch f := f.(type) {
	case mcnflag.IntFlag:
		return f.EnvVar
	case mcnflag.StringFlag:
		return f.EnvVar
	case mcnflag.BoolFlag:
		return f.EnvVar
	case mcnflag.StringSliceFlag:
		return f.EnvVar
	}
	return ""
}

func TestSetConfigFromFlagsRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		flag string
		val  any
		want string
	}{
		{"virtualbox-hostonly-cidr", "192.168.59.0/24", "network's own address"},
		{"virtualbox-hostonly-cidr", "nonsense", "not an IPv4 CIDR"},
		{"virtualbox-memory", 128, "at least 512"},
		{"virtualbox-cpu-count", 0, "-1 for all"},
		{"virtualbox-disk-size", 100, "at least 2000"},
		{"virtualbox-ui-type", "vnc", "gui, sdl, headless or separate"},
		{"virtualbox-hostonly-nicpromisc", "some", "deny, allow-vms or allow-all"},
		{"virtualbox-nat-nictype", "e1000", "virtio"},
		{"virtualbox-share-folder", "relative:name", "absolute path"},
		{"virtualbox-share-folder", "/srv", "dir:name"},
		{"virtualbox-image-url", "ftp://x/y.img", "only http://, https:// and file://"},
		{"virtualbox-image-checksum", "md5:abc", "only sha256"},
		{"virtualbox-image-checksum", "abc", "64 hex digits"},
		{"virtualbox-network", "bridged", "auto, hostonly, hostonlynet or nat"},
	} {
		d := NewDriver("m1", t.TempDir())
		opts := defaultValues(d)
		opts[tc.flag] = tc.val
		err := d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: opts})
		if assert.Error(t, err, "%s=%v", tc.flag, tc.val) {
			assert.Contains(t, err.Error(), tc.want, "%s=%v", tc.flag, tc.val)
		}
	}
	d := NewDriver("m1", t.TempDir())
	opts := defaultValues(d)
	opts["virtualbox-dns-proxy"], opts["virtualbox-no-dns-proxy"] = true, true
	assert.ErrorContains(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: opts}), "contradict")

	opts = defaultValues(d)
	opts["virtualbox-cpu-count"] = -1
	opts["virtualbox-no-dns-proxy"] = true
	opts["virtualbox-boot2docker-url"] = "file:///srv/boot2docker.iso"
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: opts}))
	assert.GreaterOrEqual(t, d.CPU, 1)
	assert.False(t, d.DNSProxy)
	assert.Equal(t, guestBoot2Docker, d.Guest)
}

// The full flow against the fake: create on a host-only adapter, every
// lifecycle call, rm leaving VirtualBox as it was.
func TestCreateLifecycleAndRemove(t *testing.T) {
	f := newFakeVBox(t)
	d := newTestDriver(t, f, "m1", nil)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	createCalls := len(f.commands())

	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, "192.168.59.129", ip)
	url, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://192.168.59.129:2376", url)
	host, _ := d.GetSSHHostname()
	assert.Equal(t, "127.0.0.1", host)
	assert.Equal(t, "docker", d.GetSSHUsername())
	addrs, ok := capability.Get[capability.AddressReporter](d)
	require.True(t, ok)
	a, aerr := addrs.Addresses(t.Context())
	require.NoError(t, aerr)
	assert.Equal(t, []string{"192.168.59.129"}, a.All())

	// The host-only adapter got the flag's address and a DHCP server in
	// the upper half of the range.
	require.Len(t, f.ifs, 1)
	assert.Equal(t, "192.168.59.1", f.ifs[0].IP)
	assert.Equal(t, "192.168.56.100 255.255.255.0 192.168.56.101 192.168.56.254 on", d.DHCPServerOriginal,
		"the default vboxnet0 server was reconfigured, and rm puts it back")
	srv := f.dhcp[dhcpNetName(f.ifs[0].Name)]
	require.NotNil(t, srv)
	assert.Equal(t, []string{"192.168.59.128", "192.168.59.129", "192.168.59.254"}, []string{srv.IP, srv.Lower, srv.Upper})
	assert.FileExists(t, d.seedPath())
	assert.FileExists(t, d.diskPath())
	assert.Contains(t, strings.Join(f.commands(), "\n"), "--natpf1 ssh,tcp,127.0.0.1,")

	require.NoError(t, d.Stop())
	st, _ = d.GetState()
	assert.Equal(t, state.Stopped, st)
	_, err = d.GetIP()
	assert.ErrorIs(t, err, drivers.ErrHostIsNotRunning)
	require.NoError(t, d.Start())
	require.NoError(t, d.Restart())
	st, _ = d.GetState()
	assert.Equal(t, state.Running, st)
	require.NoError(t, d.Kill())
	st, _ = d.GetState()
	assert.Equal(t, state.Stopped, st)
	require.NoError(t, d.Kill(), "killing a stopped VM is no error")
	require.NoError(t, d.Start())

	before := len(f.commands())
	require.NoError(t, d.Remove())
	t.Logf("VBoxManage calls: create %d (with PreCreateCheck), rm %d", createCalls, len(f.commands())-before)
	assert.Empty(t, f.leftovers(), "rm leaves no VM, medium, adapter or DHCP server")
	assert.NoFileExists(t, d.seedPath())
	require.NoError(t, d.Remove(), "a second rm finds nothing and succeeds")
}

// VBoxManage failing at each command of create in turn: the create fails
// with VirtualBox's reason and leaves nothing behind.
func TestFailedCreateAtEveryCommandLeavesNothing(t *testing.T) {
	probe := newFakeVBox(t)
	d := newTestDriver(t, probe, "m1", nil)
	require.NoError(t, d.Create())
	n := len(probe.commands())
	require.Greater(t, n, 8)
	for i := 1; i <= n; i++ {
		f := newFakeVBox(t)
		f.failAt, f.failErr = i, "VBoxManage: error: injected failure\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005)\n"
		d := newTestDriver(t, f, "m1", nil)
		err := d.Create()
		cmd := f.commands()[i-1]
		if strings.HasPrefix(cmd, "guestproperty get") {
			// Only a hint: without Guest Additions the guest is asked over SSH.
			require.NoError(t, err, cmd)
			require.NoError(t, d.Remove())
			assert.Empty(t, f.leftovers())
			continue
		}
		if assert.Error(t, err, "failing %q", cmd) {
			assert.Contains(t, err.Error(), "injected failure", cmd)
			assert.Contains(t, err.Error(), "everything it had made was removed again", cmd)
		}
		assert.Empty(t, f.leftovers(), "after failing %q", cmd)
		for _, p := range []string{d.diskPath(), d.seedPath()} {
			assert.NoFileExists(t, p, "after failing %q", cmd)
		}
	}
}

// A VM of the machine's name that VirtualBox already has is refused
// before anything is made, and a rollback never deletes it.
func TestExistingVMIsNeverTouched(t *testing.T) {
	f := newFakeVBox(t)
	other := newTestDriver(t, f, "m1", nil)
	require.NoError(t, other.Create())
	d := newTestDriver(t, f, "m1", nil)
	err := d.PreCreateCheck()
	require.ErrorIs(t, err, errVMExists)
	assert.Contains(t, err.Error(), "VBoxManage unregistervm m1 --delete")
	err = d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "already exists")
	st, err := other.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st, "the earlier VM survives the failed create")
}

// A host-only adapter shared by two machines stays until the last goes.
func TestRemoveKeepsNetworkOtherVMsUse(t *testing.T) {
	f := newFakeVBox(t)
	a := newTestDriver(t, f, "a", nil)
	require.NoError(t, a.Create())
	b := newTestDriver(t, f, "b", nil)
	require.NoError(t, b.Create())
	assert.False(t, b.HostOnlyCreated, "b reuses a's adapter")
	require.Len(t, f.ifs, 1)
	require.NoError(t, a.Remove())
	require.Len(t, f.ifs, 1, "b still uses the adapter")
	require.NoError(t, b.Remove())
	assert.Empty(t, f.leftovers(), "the last machine on the adapter removes it, though a made it")
}

// Without host-only support (no vboxnetadp), auto falls back to a NAT
// forward of the Docker port, and the URL and addresses follow.
func TestNoHostOnlyFallsBackToNAT(t *testing.T) {
	f := newFakeVBox(t)
	f.hook = func(args []string) (string, error, bool) {
		if args[0] == "hostonlyif" && args[1] == "create" {
			return "", vboxErr(args, 1, "0%...NS_ERROR_FAILURE\nVBoxManage: error: Failed to create the host-only adapter\nVBoxManage: error: VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory\n"), true
		}
		return "", nil, false
	}
	d := newTestDriver(t, f, "m1", nil)
	require.NoError(t, d.Create())
	assert.Equal(t, networkNAT, d.Network)
	url, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:"+itoa(d.DockerPort), url)
	assert.Contains(t, strings.Join(f.commands(), "\n"), "--natpf1 docker,tcp,127.0.0.1,"+itoa(d.DockerPort)+",,2376")
	a, err := d.Addresses(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1"}, a.Public)
	require.NoError(t, d.Remove())
	assert.Empty(t, f.leftovers())

	// Asked for explicitly, the same failure is the user's to fix.
	f2 := newFakeVBox(t)
	f2.hook = f.hook
	d = newTestDriver(t, f2, "m2", map[string]any{"virtualbox-network": "hostonly"})
	err = d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "modprobe vboxnetadp")
	assert.Empty(t, f2.leftovers())
}

// hostonlynet on a VirtualBox without it (Linux) is explained.
func TestHostOnlyNetUnsupportedIsExplained(t *testing.T) {
	f := newFakeVBox(t)
	d := newTestDriver(t, f, "m1", map[string]any{"virtualbox-network": "hostonlynet"})
	err := d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only in VirtualBox 7 and later on macOS")
	assert.Empty(t, f.leftovers())
}

// A config.json the stock driver wrote loads, and the VM it names is
// driven and removed (its host-only adapter stays: stock made it).
func TestStockMachineConfigLoads(t *testing.T) {
	f := newFakeVBox(t)
	made := newTestDriver(t, f, "old", nil)
	require.NoError(t, made.Create())
	stock := `{"IPAddress":"192.168.99.100","MachineName":"old","SSHUser":"docker","SSHPort":` + itoa(made.SSHPort) +
		`,"SSHKeyPath":"` + made.GetSSHKeyPath() + `","StorePath":"` + made.StorePath + `","SwarmMaster":false,"SwarmHost":"","SwarmDiscovery":"",` +
		`"VBoxManager":{},"HostInterfaces":{},"CPU":1,"Memory":1024,"DiskSize":20000,"NatNicType":"82540EM","Boot2DockerURL":"",` +
		`"Boot2DockerImportVM":"","HostDNSResolver":false,"HostOnlyCIDR":"192.168.99.1/24","HostOnlyNicType":"82540EM",` +
		`"HostOnlyPromiscMode":"deny","UIType":"headless","HostOnlyNoDHCP":false,"NoShare":false,"DNSProxy":true,"NoVTXCheck":false,"ShareFolder":""}`
	d := NewDriver("", "")
	require.NoError(t, json.Unmarshal([]byte(stock), d))
	d.vbox, d.vboxVer = f, version{7, 2, 22}
	assert.Equal(t, "old", d.GetMachineName())
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, "192.168.99.100", ip, "the stored address is used")
	d.IPAddress = ""
	ip, err = d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, "192.168.59.129", ip, "found by the MAC of NIC 2 over SSH")
	require.NoError(t, d.Stop())
	// The adapter a user made (no docker-machine marker) stays.
	f.extra = map[string]string{}
	require.NoError(t, d.Remove())
	assert.Equal(t, []string{"dhcpserver " + dhcpNetName("vboxnet0"), "hostonlyif vboxnet0"}, f.leftovers())
}

func itoa(n int) string { return strconv.Itoa(n) }

// A cancelled create returns promptly with the context's error and still
// removes what it made (capability.Cancellable).
func TestCreateContextCancelled(t *testing.T) {
	f := newFakeVBox(t)
	f.hook = func(args []string) (string, error, bool) {
		if args[0] == "startvm" {
			// The VM "runs" but never answers SSH.
			f.vms[args[1]].state = "running"
			return "", nil, true
		}
		return "", nil, false
	}
	d := newTestDriver(t, f, "m1", nil)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	err := d.CreateContext(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 10*time.Second, "returns long before the boot deadline")
	assert.Empty(t, f.leftovers(), "the cancelled create was rolled back")
}

// --virtualbox-boot2docker-url keeps the stock path: the ISO on port 0,
// the "format-me" disk with the key on port 1, boot2docker's automount
// properties, the VMDK made from stdin.
func TestBoot2DockerISO(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "boot2docker.iso")
	require.NoError(t, os.WriteFile(iso, []byte("an iso"), 0o644))
	f := newFakeVBox(t)
	d := newTestDriver(t, f, "b2d", map[string]any{"virtualbox-boot2docker-url": "file://" + iso, "virtualbox-disk-size": 2000,
		"virtualbox-no-share": false, "virtualbox-share-folder": t.TempDir() + ":work"})
	require.NoError(t, d.Create())
	cmds := strings.Join(f.commands(), "\n")
	for _, want := range []string{
		"convertfromraw stdin " + d.ResolveStorePath("disk.vmdk") + " 2097152000 --format VMDK",
		"--port 0 --device 0 --type dvddrive --medium " + d.ResolveStorePath("boot2docker.iso"),
		"--port 1 --device 0 --type hdd --medium " + d.ResolveStorePath("disk.vmdk"),
		"guestproperty set b2d /VirtualBox/GuestAdd/SharedFolders/MountPrefix /",
		"sharedfolder add b2d --name work",
		"--boot1 dvd",
	} {
		assert.Contains(t, cmds, want)
	}
	assert.NotContains(t, cmds, "seed.iso")
	tarball, err := b2dDiskTar("ssh-rsa KEY")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(tarball), b2dMagic), "the magic is the first file, as boot2docker expects")
	require.NoError(t, d.Remove())
	assert.Empty(t, f.leftovers())
}

// A guest that ignores the ACPI power button is powered off once the
// stop deadline passes.
func TestStopPowersOffAfterDeadline(t *testing.T) {
	f := newFakeVBox(t)
	d := newTestDriver(t, f, "m1", nil)
	require.NoError(t, d.Create())
	f.hook = func(args []string) (string, error, bool) {
		if len(args) > 2 && args[0] == "controlvm" && args[2] == "acpipowerbutton" {
			return "", nil, true // pressed, and ignored
		}
		return "", nil, false
	}
	require.NoError(t, d.Stop())
	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Stopped, st)
	assert.Contains(t, f.commands(), "controlvm m1 poweroff")
	require.NoError(t, d.Remove())
}

// --virtualbox-import-boot2docker-vm clones the old boot2docker CLI's VM
// disk and uses its key, as stock does.
func TestImportBoot2DockerVM(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".ssh"), 0o700))
	priv, pub, _ := generateKey()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "id_boot2docker"), priv, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, ".ssh", "id_boot2docker.pub"), pub, 0o644))
	iso := filepath.Join(t.TempDir(), "boot2docker.iso")
	require.NoError(t, os.WriteFile(iso, []byte("an iso"), 0o644))
	oldDisk := filepath.Join(t.TempDir(), "boot2docker-vm.vmdk")
	require.NoError(t, os.WriteFile(oldDisk, []byte("KDMV"), 0o644))

	f := newFakeVBox(t)
	f.vms["boot2docker-vm"] = &fakeVM{uuid: "0a1aa2e2-052f-4525-8aa1-6988d01a6640", state: "running",
		info: map[string]string{"name": "boot2docker-vm", "SATA-1-0": oldDisk}}
	d := newTestDriver(t, f, "imported", map[string]any{"virtualbox-import-boot2docker-vm": "boot2docker-vm",
		"virtualbox-boot2docker-url": "file://" + iso})
	err := d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stop it first")

	f.vms["boot2docker-vm"].state = "poweroff"
	d = newTestDriver(t, f, "imported", map[string]any{"virtualbox-import-boot2docker-vm": "boot2docker-vm",
		"virtualbox-boot2docker-url": "file://" + iso})
	require.NoError(t, d.Create())
	assert.Contains(t, f.commands(), "clonemedium disk "+oldDisk+" "+d.ResolveStorePath("disk.vmdk")+" --format VMDK")
	key, err := os.ReadFile(d.GetSSHKeyPath())
	require.NoError(t, err)
	assert.Equal(t, priv, key, "the boot2docker CLI's key logs in")
	require.NoError(t, d.Remove())
	_, ok := f.vms["boot2docker-vm"]
	assert.True(t, ok, "the imported VM itself is untouched")
}
