//go:build integration

// Package virtualbox_test drives the virtualbox driver against the
// VBoxManage stand-in (integration/vboxsim), whose VMs here are VM-like
// host containers: the seed's user, key and hostname applied, the NAT
// forwards served on 127.0.0.1.
package virtualbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/virtualbox"
	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/integration/testbin"
	"github.com/fleetdock/machine/integration/vboxsim"
	"github.com/fleetdock/machine/integration/vmimage"
)

// world is a stand-in VirtualBox, a machine store and an image server on
// loopback that counts its requests.
type world struct {
	t     *testing.T
	sim   *vboxsim.Sim
	store string
	img   *imageServer
}

func newWorld(t *testing.T, cfg vboxsim.Config) *world {
	t.Helper()
	if cfg.Backend == vboxsim.BackendContainer {
		hostworld.RequireDocker(t)
	}
	sim := vboxsim.Install(t, cfg)
	sim.Setenv(t)
	t.Setenv("VBOX_INSTALL_PATH", "")
	t.Setenv("VBOX_MSI_INSTALL_PATH", "")
	// A first call sets up what a fresh install has (vboxnet0's DHCP server).
	_, _, code := sim.VBoxManage(t, "list", "vms")
	require.Equal(t, 0, code)
	return &world{t: t, sim: sim, store: filepath.Join(t.TempDir(), "store"), img: smallImage(t)}
}

// imageServer publishes one image and its SHA256SUMS, as cloud images are.
type imageServer struct {
	*httptest.Server
	name, path, sum string
	mu              sync.Mutex
	requests        int
}

func (s *imageServer) URL() string { return s.Server.URL + "/" + s.name }

func (s *imageServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func serveImage(t *testing.T, path string) *imageServer {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	require.NoError(t, err)
	s := &imageServer{name: filepath.Base(path), path: path, sum: hex.EncodeToString(h.Sum(nil))}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		switch r.URL.Path {
		case "/" + s.name:
			http.ServeFile(w, r, path)
		case "/SHA256SUMS":
			fmt.Fprintf(w, "%s *%s\n", s.sum, s.name)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

var (
	smallOnce sync.Once
	smallPath string
	smallErr  error
)

// smallImage is a 256 MB qcow2 made by qemu-img: the container backend
// does not boot the disk, so its content does not matter, its format does.
func smallImage(t *testing.T) *imageServer {
	t.Helper()
	smallOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vbox-image-")
		if err != nil {
			smallErr = err
			return
		}
		smallPath = filepath.Join(dir, "small-cloudimg.qcow2")
		out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", smallPath, "256M").CombinedOutput()
		if err != nil {
			smallErr = fmt.Errorf("qemu-img create: %w: %s (apt-get install qemu-utils)", err, out)
		}
	})
	require.NoError(t, smallErr)
	return serveImage(t, smallPath)
}

// flags are the create options as the CLI sends them: every flag's
// default, then the test's.
func flags(d *virtualbox.Driver, extra map[string]any) *rpcdriver.RPCFlags {
	v := map[string]any{"swarm-master": false, "swarm-host": "", "swarm-discovery": ""}
	for _, f := range d.GetCreateFlags() {
		v[f.String()] = f.Default()
		if v[f.String()] == nil {
			v[f.String()] = false
		}
	}
	// This machine's CPU shows no VT-x (its KVM is PVM); the stand-in has it.
	v["virtualbox-no-vtx-check"] = true
	for k, x := range extra {
		v[k] = x
	}
	return &rpcdriver.RPCFlags{Values: v}
}

func (w *world) driver(name string, extra map[string]any) *virtualbox.Driver {
	w.t.Helper()
	d := virtualbox.NewDriver(name, w.store)
	opts := map[string]any{"virtualbox-image-url": w.img.URL()}
	for k, v := range extra {
		opts[k] = v
	}
	require.NoError(w.t, d.SetConfigFromFlags(flags(d, opts)))
	require.NoError(w.t, os.MkdirAll(d.ResolveStorePath("."), 0o700))
	return d
}

// vbox is what VirtualBox keeps: VMs, media, host-only adapters and
// networks, DHCP servers and global extra data.
func (w *world) vbox() string {
	w.t.Helper()
	st := w.sim.State(w.t)
	var vms []string
	for _, vm := range st.VMs {
		vms = append(vms, vm.Name)
	}
	parts := map[string]any{"vms": vms, "media": st.Media, "hostOnlyIfs": st.HostOnlyIfs,
		"hostOnlyNets": st.HostOnlyNets, "dhcpServers": st.DHCPServers, "extraData": st.ExtraData}
	for k, v := range parts {
		// An empty list and none are the same state.
		if b, _ := json.Marshal(v); string(b) == "[]" || string(b) == "{}" {
			parts[k] = nil
		}
	}
	b, err := json.MarshalIndent(parts, "", " ")
	require.NoError(w.t, err)
	return string(b)
}

// calls counts the VBoxManage calls logged since mark.
func (w *world) calls(mark int) int { return len(w.sim.Calls(w.t)) - mark }

// sshHostname runs `hostname` and a sudo check in the machine.
func sshHostname(t *testing.T, d *virtualbox.Driver) string {
	t.Helper()
	return sshRun(t, d, "hostname && sudo -n true && echo sudo-ok")
}

// sshRun runs cmd in the machine with the real ssh client and the
// driver's key.
func sshRun(t *testing.T, d *virtualbox.Driver, cmd string) string {
	t.Helper()
	host, err := d.GetSSHHostname()
	require.NoError(t, err)
	port, err := d.GetSSHPort()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ssh", "-i", d.GetSSHKeyPath(), "-p", strconv.Itoa(port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
		d.GetSSHUsername()+"@"+host, cmd).CombinedOutput()
	require.NoError(t, err, "ssh: %s", out)
	return strings.TrimSpace(string(out))
}

// The acceptance flow on container-backed VMs: create from the image URL
// on loopback, every lifecycle call, SSH with the driver's key, and rm
// leaving VirtualBox exactly as it was.
func TestContainerLifecycle(t *testing.T) {
	w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
	before := w.vbox()
	share := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(share, "hello"), []byte("from the host"), 0o644))
	d := w.driver("vbox-life", map[string]any{"virtualbox-no-share": false, "virtualbox-share-folder": share + ":work"})
	t.Cleanup(func() { _ = d.Remove() })

	mark := len(w.sim.Calls(t))
	start := time.Now()
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	t.Logf("create took %s (image cache miss), %d VBoxManage calls; phases: %v", time.Since(start).Round(time.Millisecond), w.calls(mark), d.Phases())
	assert.Equal(t, 1, w.img.count()-1, "one image download besides SHA256SUMS")

	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.NotEmpty(t, ip)
	url, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://"+ip+":2376", url)
	addrs, err := d.Addresses(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{ip}, addrs.All(), "the certificate covers the address of the URL")
	assert.Equal(t, "vbox-life\nsudo-ok", sshHostname(t, d), "the seed's hostname, user, key and sudo")
	assert.Equal(t, "from the host", sshRun(t, d, "cat /work/hello"), "--virtualbox-share-folder is mounted at /NAME")

	require.NoError(t, d.Stop())
	st, _ = d.GetState()
	assert.Equal(t, state.Stopped, st)
	require.NoError(t, d.Start())
	assert.Equal(t, "vbox-life\nsudo-ok", sshHostname(t, d))
	require.NoError(t, d.Restart())
	st, _ = d.GetState()
	assert.Equal(t, state.Running, st)
	require.NoError(t, d.Kill())
	st, _ = d.GetState()
	assert.Equal(t, state.Stopped, st)
	require.NoError(t, d.Start())
	ip2, err := d.GetIP()
	require.NoError(t, err)
	assert.NotEmpty(t, ip2)

	// A second machine hits the image cache.
	d2 := w.driver("vbox-life-2", nil)
	t.Cleanup(func() { _ = d2.Remove() })
	n := w.img.count()
	start = time.Now()
	require.NoError(t, d2.PreCreateCheck())
	require.NoError(t, d2.Create())
	t.Logf("create took %s (image cache hit); phases: %v", time.Since(start).Round(time.Millisecond), d2.Phases())
	assert.Equal(t, n, w.img.count(), "a cache hit makes no request")

	mark = len(w.sim.Calls(t))
	require.NoError(t, d.Remove())
	t.Logf("rm (network still used by the other VM): %d VBoxManage calls", w.calls(mark))
	mark = len(w.sim.Calls(t))
	require.NoError(t, d2.Remove())
	var rm []string
	for _, c := range w.sim.Calls(t)[mark:] {
		rm = append(rm, strings.Join(c.Args, " "))
	}
	t.Logf("rm (last VM on the network): %d VBoxManage calls:\n%s", len(rm), strings.Join(rm, "\n"))
	assert.Equal(t, before, w.vbox(), "rm leaves no VM, disk, network or DHCP server")
	require.NoError(t, d.Remove(), "rm again finds nothing and succeeds")
}

// VBoxManage failing at each command of create in turn: create fails and
// VirtualBox is left as it was, with no files in the machine directory.
func TestFaultAtEachCreateCommandLeavesNothing(t *testing.T) {
	probe := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
	d := probe.driver("vbox-fault", nil)
	require.NoError(t, d.PreCreateCheck())
	mark := len(probe.sim.Calls(t))
	require.NoError(t, d.Create())
	var cmds []string
	for _, c := range probe.sim.Calls(t)[mark:] {
		cmds = append(cmds, strings.Join(c.Args, " "))
	}
	require.NoError(t, d.Remove())
	t.Logf("create runs %d VBoxManage commands (after PreCreateCheck's --version and list vms):\n%s", len(cmds), strings.Join(cmds, "\n"))

	for i, cmd := range cmds {
		if strings.HasPrefix(cmd, "guestproperty get") {
			continue // a hint only: the driver then asks the guest over SSH
		}
		t.Run(strconv.Itoa(i+1)+"-"+strings.Fields(cmd)[0], func(t *testing.T) {
			w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
			w.img = probe.img
			before := w.vbox()
			d := w.driver("vbox-fault", nil)
			require.NoError(t, d.PreCreateCheck())
			first := len(w.sim.Calls(t))
			w.sim.Configure(t, func(c *vboxsim.Config) {
				c.Faults = []vboxsim.Fault{{Call: first + i + 1, Stderr: "VBoxManage: error: injected failure\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005)\n"}}
			})
			err := d.Create()
			require.Error(t, err, "failing %q", cmd)
			assert.Contains(t, err.Error(), "injected failure")
			assert.Contains(t, err.Error(), "everything it had made was removed again")
			assert.Equal(t, before, w.vbox(), "after failing %q", cmd)
			entries, _ := os.ReadDir(d.ResolveStorePath("."))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Subset(t, []string{"id_rsa", "id_rsa.pub"}, names, "only the key is left in the machine directory (the store removes it)")
		})
	}
}

// Offline: with the image in the cache, or given as file://, create makes
// no network request (the image server is closed).
func TestOfflineCreate(t *testing.T) {
	w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
	before := w.vbox()
	url := w.img.URL()
	cache := filepath.Join(w.store, "cache")
	require.NoError(t, os.MkdirAll(cache, 0o755))
	data, err := os.ReadFile(w.img.path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(cache, w.img.name), data, 0o644))
	w.img.Close()

	d := w.driver("vbox-offline", map[string]any{"virtualbox-image-url": url, "virtualbox-image-checksum": "sha256:" + w.img.sum})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, 0, w.img.requests)
	require.NoError(t, d.Remove())

	f := w.driver("vbox-file", map[string]any{"virtualbox-image-url": "file://" + w.img.path})
	require.NoError(t, f.PreCreateCheck())
	require.NoError(t, f.Create())
	assert.Equal(t, "vbox-file\nsudo-ok", sshHostname(t, f))
	require.NoError(t, f.Remove())
	assert.Equal(t, 0, w.img.requests)
	assert.Equal(t, before, w.vbox())
}

// The plugin binary, driven by docker/machine 0.16.2's own client code
// (localbinary + rpcdriver), creates and removes a host. For the core name
// virtualbox that client starts "docker-machine" from PATH with
// MACHINE_PLUGIN_DRIVER_NAME set, as the stock CLI does; the plugin
// binary answers under that name too.
func TestPluginBinaryThroughStockClient(t *testing.T) {
	w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
	before := w.vbox()
	bin := testbin.Build(t, "./cmd/docker-machine-driver-virtualbox")
	dir := t.TempDir()
	plugin, err := os.ReadFile(filepath.Join(bin, "docker-machine-driver-virtualbox"))
	require.NoError(t, err)
	for _, name := range []string{"docker-machine", "docker-machine-driver-virtualbox"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), plugin, 0o755))
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The stock client sets these in its own process for the plugin it
	// starts; they must not outlive the test.
	for _, k := range []string{"MACHINE_PLUGIN_TOKEN", "MACHINE_PLUGIN_DRIVER_NAME"} {
		t.Setenv(k, os.Getenv(k))
	}

	factory := rpcdriver.NewRPCClientDriverFactory()
	t.Cleanup(func() { _ = factory.Close() })
	boot, err := json.Marshal(&drivers.BaseDriver{MachineName: "vbox-plugin", StorePath: w.store})
	require.NoError(t, err)
	d, err := factory.NewRPCClientDriver(virtualbox.Name, boot)
	require.NoError(t, err)
	assert.Equal(t, virtualbox.Name, d.DriverName())
	require.NotEmpty(t, d.GetCreateFlags(), "the flags travel over gob")

	local := virtualbox.NewDriver("", "")
	require.NoError(t, d.SetConfigFromFlags(flags(local, map[string]any{"virtualbox-image-url": w.img.URL(), "virtualbox-no-share": true})))
	require.NoError(t, os.MkdirAll(filepath.Join(w.store, "machines", "vbox-plugin"), 0o700))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	url, err := d.GetURL()
	require.NoError(t, err)
	assert.Regexp(t, `^tcp://[0-9.]+:2376$`, url)
	_, err = os.Stat(d.GetSSHKeyPath())
	assert.NoError(t, err, "the plugin wrote the machine's key into the store")

	// What the CLI stores, loaded into a new plugin process for rm.
	raw, err := d.GetConfigRaw()
	require.NoError(t, err)
	again, err := factory.NewRPCClientDriver(virtualbox.Name, raw)
	require.NoError(t, err)
	assert.Equal(t, "vbox-plugin", again.GetMachineName())
	require.NoError(t, again.Remove())
	assert.Equal(t, before, w.vbox(), "rm through the plugin leaves VirtualBox as it was")
}

// The host problems the stand-in plays reach the user as VirtualBox's
// reason plus what to do, and the failed create leaves nothing behind.
func TestHostProblemsAreExplained(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   vboxsim.Config
		flags map[string]any
		want  []string
	}{
		{"no VT-x", vboxsim.Config{Virtualization: "none-vtx"}, nil, []string{"VERR_VMX_NO_VMX", "enable it in the BIOS/UEFI settings"}},
		{"VT-x off", vboxsim.Config{Virtualization: "disabled-vtx"}, nil, []string{"Intel Virtualization Technology"}},
		{"no AMD-V", vboxsim.Config{Virtualization: "none-amdv"}, nil, []string{"no hardware virtualization"}},
		{"Hyper-V", vboxsim.Config{Virtualization: "hyperv"}, nil, []string{"hypervisorlaunchtype off"}},
		{"stock range refused", vboxsim.Config{}, map[string]any{"virtualbox-hostonly-cidr": "192.168.99.1/24"}, []string{"E_ACCESSDENIED", "/etc/vbox/networks.conf"}},
		{"no vboxnetadp", vboxsim.Config{NoHostOnlyDriver: true}, map[string]any{"virtualbox-network": "hostonly"}, []string{"modprobe vboxnetadp", "--virtualbox-network nat"}},
		{"no hostonlynet on Linux", vboxsim.Config{}, map[string]any{"virtualbox-network": "hostonlynet"}, []string{"only in VirtualBox 7 and later on macOS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.cfg)
			before := w.vbox()
			d := w.driver("vbox-err", tc.flags)
			require.NoError(t, d.PreCreateCheck())
			err := d.Create()
			require.Error(t, err)
			for _, s := range tc.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Contains(t, err.Error(), "everything it had made was removed again")
			assert.Equal(t, before, w.vbox())
		})
	}
}

// Where VirtualBox can make no host-only adapter, auto reaches Docker
// through a NAT forward on 127.0.0.1; on VirtualBox 7 for macOS a
// host-only network is used instead. Both are removed again by rm.
func TestNetworkModes(t *testing.T) {
	t.Run("nat fallback", func(t *testing.T) {
		w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer, NoHostOnlyDriver: true})
		before := w.vbox()
		d := w.driver("vbox-nat", nil)
		t.Cleanup(func() { _ = d.Remove() })
		require.NoError(t, d.PreCreateCheck())
		require.NoError(t, d.Create())
		url, err := d.GetURL()
		require.NoError(t, err)
		assert.Regexp(t, `^tcp://127\.0\.0\.1:[0-9]+$`, url)
		assert.NotEqual(t, "tcp://127.0.0.1:2376", url, "a free port is forwarded to 2376")
		addrs, err := d.Addresses(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []string{"127.0.0.1"}, addrs.All())
		assert.Equal(t, "vbox-nat\nsudo-ok", sshHostname(t, d))
		require.NoError(t, d.Remove())
		assert.Equal(t, before, w.vbox())
	})
	t.Run("hostonlynet on macOS", func(t *testing.T) {
		w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer, Platform: "darwin"})
		before := w.vbox()
		d := w.driver("vbox-hon", map[string]any{"virtualbox-network": "hostonlynet"})
		t.Cleanup(func() { _ = d.Remove() })
		require.NoError(t, d.PreCreateCheck())
		require.NoError(t, d.Create())
		st := w.sim.State(t)
		require.Len(t, st.HostOnlyNets, 1)
		url, err := d.GetURL()
		require.NoError(t, err)
		assert.Regexp(t, `^tcp://[0-9.]+:2376$`, url)
		require.NoError(t, d.Remove())
		assert.Equal(t, before, w.vbox())
	})
}

// End to end on a real VM, as a user runs it: the built CLI creates a host
// from the locally built image, the stand-in boots the converted disk and
// the seed in QEMU (TCG here), cloud-init applies the seed written in Go
// (the user with the key and sudo, the hostname), the provisioner installs
// Docker over SSH from the install script (apt inside the guest, through
// QEMU's user-mode NAT) and sets up TLS, and the docker CLI answers through
// env over the NAT forward on 127.0.0.1. stop powers the guest off over
// ACPI; rm leaves VirtualBox as it was and no VM files. It takes minutes
// here.
func TestQEMUBackedCLICreateUseAndRemove(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86 is not installed")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("the docker CLI is not installed")
	}
	// Every wait below is bounded by this: apt runs under TCG emulation.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	srv := vmimage.ServeForTest(t)
	w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendQEMU})
	before := w.vbox()
	bin := testbin.Build(t, "./cmd/docker-machine")
	// The guest reaches the docker bridge gateway through QEMU's user-mode
	// NAT: its connections are made by the QEMU process on this machine.
	installURL, stop, err := hostworld.ServeInstallScript(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MACHINE_PLUGIN_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dm := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "docker-machine"), append([]string{"-s", w.store}, args...)...)
		cmd.Env = env
		out := &timedLines{start: time.Now()}
		cmd.Stdout, cmd.Stderr = out, out
		err := cmd.Run()
		if ctx.Err() != nil {
			err = fmt.Errorf("docker-machine %s did not finish within the test's 15 minutes: %w", strings.Join(args, " "), ctx.Err())
		}
		return out.String(), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := dm(args...)
		require.NoError(t, err, "docker-machine %s:\n%s", strings.Join(args, " "), out)
		return stripTimes(out)
	}
	const name = "vbox-qemu"
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		cmd := exec.CommandContext(cctx, filepath.Join(bin, "docker-machine"), "-s", w.store, "rm", "-f", "-y", name)
		cmd.Env = env
		_ = cmd.Run()
	})

	start := time.Now()
	out, err := dm("create", "-d", "virtualbox", "--virtualbox-image-url", srv.ImageURL(),
		"--virtualbox-network", "nat", "--virtualbox-cpu-count", "2", "--virtualbox-no-share",
		"--virtualbox-no-vtx-check", "--engine-install-url", installURL, name)
	t.Logf("docker-machine create (QEMU VM, cloud-init, Docker install, TLS) took %s; output by elapsed time:\n%s",
		time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err, "docker-machine create")
	assert.Contains(t, out, "Docker is up and running!")

	url := must("url", name)
	assert.Regexp(t, `^tcp://127\.0\.0\.1:[0-9]+$`, url, "Docker's port is a NAT forward on loopback")
	assert.Equal(t, "127.0.0.1", must("ip", name))
	assert.Equal(t, "Running", must("status", name))
	assert.Equal(t, name, must("ssh", name, "hostname"), "cloud-init applied the seed's hostname")

	var denv []string
	for _, line := range strings.Split(must("env", name), "\n") {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			denv = append(denv, k+"="+strings.Trim(v, `"`))
		}
	}
	assert.Contains(t, denv, "DOCKER_HOST="+url)
	assert.Contains(t, denv, "DOCKER_TLS_VERIFY=1")
	docker := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = append(os.Environ(), denv...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "docker %s over TLS: %s", strings.Join(args, " "), out)
		return strings.TrimSpace(string(out))
	}
	assert.NotEmpty(t, docker("version", "--format", "{{.Server.Version}}"))
	assert.Equal(t, name, docker("info", "--format", "{{.Name}}"))

	start = time.Now()
	must("stop", name)
	t.Logf("docker-machine stop (ACPI power-off) took %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, "Stopped", must("status", name))

	mark := len(w.sim.Calls(t))
	must("rm", "-y", name)
	t.Logf("docker-machine rm: %d VBoxManage calls", w.calls(mark))
	assert.Equal(t, before, w.vbox(), "rm leaves no VM, disk, network or DHCP server")
	assert.NoDirExists(t, filepath.Join(w.store, "machines", name), "rm removes the VM's files")
}

// timedLines collects a command's output, each line prefixed with the time
// since start, so a long create shows how long each phase took.
type timedLines struct {
	start   time.Time
	mu      sync.Mutex
	b       strings.Builder
	partial bool
}

func (l *timedLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if !l.partial {
			fmt.Fprintf(&l.b, "[%7.1fs] ", time.Since(l.start).Seconds())
		}
		l.b.WriteString(line)
		l.partial = !strings.HasSuffix(line, "\n")
	}
	return len(p), nil
}

func (l *timedLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// stripTimes drops timedLines' prefixes again.
func stripTimes(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if _, rest, ok := strings.Cut(line, "s] "); ok && strings.HasPrefix(line, "[") {
			lines[i] = rest
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// The CLI with the plugin binary, as a user runs it: create provisions
// Docker with TLS on the container-backed VM, the docker CLI answers
// through env, the lifecycle commands work, and rm leaves VirtualBox as
// it was.
func TestCLICreateUseAndRemove(t *testing.T) {
	ctx := t.Context()
	// The image without Docker: cloud images have no docker group, which
	// cloud-init's useradd for the user "docker" would trip over.
	w := newWorld(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
	before := w.vbox()
	bin := testbin.Build(t, "./cmd/docker-machine", "./cmd/docker-machine-driver-virtualbox")
	installURL, stop, err := hostworld.ServeInstallScript(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MACHINE_PLUGIN_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dm := func(args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(cctx, filepath.Join(bin, "docker-machine"), append([]string{"-s", w.store}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := dm(args...)
		require.NoError(t, err, "docker-machine %s:\n%s", strings.Join(args, " "), out)
		return out
	}
	const name = "vbox-cli"
	t.Cleanup(func() { _, _ = dm("rm", "-f", "-y", name) })

	start := time.Now()
	out := must("create", "-d", "virtualbox", "--virtualbox-image-url", w.img.URL(), "--virtualbox-no-vtx-check",
		"--engine-install-url", installURL, name)
	t.Logf("docker-machine create (VM, provisioning, TLS) took %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, out, "Docker is up and running!")

	ip := must("ip", name)
	assert.Equal(t, "tcp://"+ip+":2376", must("url", name))
	assert.Equal(t, "Running", must("status", name))
	assert.Equal(t, name, must("ssh", name, "hostname"))

	var denv []string
	for _, line := range strings.Split(must("env", name), "\n") {
		if kv, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			k, v, _ := strings.Cut(kv, "=")
			denv = append(denv, k+"="+strings.Trim(v, `"`))
		}
	}
	require.NotEmpty(t, denv)
	docker := exec.CommandContext(ctx, "docker", "info", "--format", "{{.Name}}")
	docker.Env = append(os.Environ(), denv...)
	info, err := docker.CombinedOutput()
	require.NoError(t, err, "docker info over TLS: %s", info)
	assert.Equal(t, name, strings.TrimSpace(string(info)))

	must("stop", name)
	assert.Equal(t, "Stopped", must("status", name))
	must("start", name)
	assert.Equal(t, "Running", must("status", name))
	must("restart", name)
	must("kill", name)
	assert.Equal(t, "Stopped", must("status", name))

	mark := len(w.sim.Calls(t))
	must("rm", "-y", name)
	t.Logf("docker-machine rm: %d VBoxManage calls", w.calls(mark))
	assert.Equal(t, before, w.vbox(), "rm leaves no VM, disk, network or DHCP server")
}

// An old VirtualBox is refused before anything is made.
func TestOldVirtualBoxRefused(t *testing.T) {
	w := newWorld(t, vboxsim.Config{Version: "5.0.40r115130"})
	d := w.driver("vbox-old", nil)
	err := d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "VirtualBox 5.0.40 is too old")
	assert.Len(t, w.sim.Calls(t), 2, "only the first list vms and --version ran")
}
