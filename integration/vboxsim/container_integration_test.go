//go:build integration

package vboxsim

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContainerBackendLifecycle(t *testing.T) {
	sim := Install(t, Config{Backend: BackendContainer})
	dir := t.TempDir()
	base := filepath.Join(dir, "machines")
	iso, signer := seedFor(t, dir, "docker", "vbox-ct1")
	require.NoError(t, os.MkdirAll(base, 0o755))
	disk := filepath.Join(base, "disk.vdi")
	mustSim(t, sim, "createmedium", "disk", "--filename", disk, "--size", "64", "--format", "VDI")
	port := freePort(t)
	createMachine(t, sim, "ct1", base, disk, iso, port)
	mustSim(t, sim, "hostonlyif", "create")
	mustSim(t, sim, "modifyvm", "ct1", "--nic2", "hostonly", "--hostonlyadapter2", "vboxnet0")
	// One folder the seed mounts (as the driver's cloud-config does), one
	// automounted where the stock driver's guest properties put it.
	share1, share2 := filepath.Join(dir, "share1"), filepath.Join(dir, "share2")
	require.NoError(t, os.MkdirAll(share1, 0o755))
	require.NoError(t, os.MkdirAll(share2, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(share1, "hello"), []byte("from the host\n"), 0o644))
	mustSim(t, sim, "sharedfolder", "add", "ct1", "--name", "share1", "--hostpath", share1, "--automount")
	mustSim(t, sim, "sharedfolder", "add", "ct1", "--name", "hosthome", "--hostpath", share2, "--automount")
	mustSim(t, sim, "guestproperty", "set", "ct1", "/VirtualBox/GuestAdd/SharedFolders/MountPrefix", "/")
	mustSim(t, sim, "guestproperty", "set", "ct1", "/VirtualBox/GuestAdd/SharedFolders/MountDir", "/")

	start := time.Now()
	out := mustSim(t, sim, "startvm", "ct1", "--type", "headless")
	assert.Contains(t, out, `VM "ct1" has been successfully started.`)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	got := sshUntil(t.Context(), t, addr, "docker", signer, "hostname; sudo -n id -u; id -nG", 2*time.Minute)
	t.Logf("container boot to SSH through the NAT forward: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, []string{"vbox-ct1", "0"}, strings.Fields(got)[:2])
	assert.Contains(t, got, "adm")
	assert.Equal(t, "from the host\n", sshUntil(t.Context(), t, addr, "docker", signer, "cat /share1/hello", 10*time.Second))
	sshUntil(t.Context(), t, addr, "docker", signer, "sudo touch /hosthome/from-guest", 10*time.Second)
	assert.FileExists(t, filepath.Join(share2, "from-guest"))

	// The host-only address is the container's, reachable from here.
	ipOut := mustSim(t, sim, "guestproperty", "get", "ct1", "/VirtualBox/GuestInfo/Net/1/V4/IP")
	ip := strings.TrimSpace(strings.TrimPrefix(ipOut, "Value: "))
	require.NotNil(t, net.ParseIP(ip), ipOut)
	sshUntil(t.Context(), t, net.JoinHostPort(ip, "22"), "docker", signer, "true", 30*time.Second)
	// The guest's interface carries NIC 2's MAC, as drivers look it up.
	info := mustSim(t, sim, "showvminfo", "ct1", "--machinereadable")
	mac := regexp.MustCompile(`macaddress2="([0-9A-F]{12})"`).FindStringSubmatch(info)
	require.Len(t, mac, 2)
	ipAddr := sshUntil(t.Context(), t, addr, "docker", signer, "ip addr show", 10*time.Second)
	assert.Regexp(t, "(?s)link/ether "+macColons(mac[1])+" .*inet "+regexp.QuoteMeta(ip)+"/", ipAddr)
	assert.Equal(t, "Value: 10.0.2.15\n", mustSim(t, sim, "guestproperty", "get", "ct1", "/VirtualBox/GuestInfo/Net/0/V4/IP"))

	// A NAT rule added while running is served too.
	port2 := freePort(t)
	mustSim(t, sim, "controlvm", "ct1", "natpf1", "ssh2,tcp,127.0.0.1,"+strconv.Itoa(port2)+",,22")
	sshUntil(t.Context(), t, "127.0.0.1:"+strconv.Itoa(port2), "docker", signer, "true", 30*time.Second)
	mustSim(t, sim, "controlvm", "ct1", "natpf1", "delete", "ssh2")

	// savestate freezes the guest and startvm resumes it, /run (a tmpfs
	// a reboot would empty) included.
	sshUntil(t.Context(), t, addr, "docker", signer, "sudo touch /run/before-save", 10*time.Second)
	mustSim(t, sim, "controlvm", "ct1", "savestate")
	waitState(t, sim, "ct1", "saved", 5*time.Second)
	mustSim(t, sim, "startvm", "ct1", "--type", "headless")
	sshUntil(t.Context(), t, addr, "docker", signer, "test -e /run/before-save", 30*time.Second)

	// The power button shuts systemd down; the stand-in notices.
	mustSim(t, sim, "controlvm", "ct1", "acpipowerbutton")
	waitState(t, sim, "ct1", "poweroff", time.Minute)
	assert.Equal(t, "No value set!\n", mustSim(t, sim, "guestproperty", "get", "ct1", "/VirtualBox/GuestInfo/Net/1/V4/IP"))
	_, err := net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the NAT forward ends with the machine")

	// Started again, it is the same machine: the seed's user is still there.
	mustSim(t, sim, "startvm", "ct1", "--type", "headless")
	got = sshUntil(t.Context(), t, addr, "docker", signer, "hostname", 2*time.Minute)
	assert.Equal(t, "vbox-ct1", strings.TrimSpace(got))
	mustSim(t, sim, "controlvm", "ct1", "poweroff")
	waitState(t, sim, "ct1", "poweroff", 10*time.Second)

	mustSim(t, sim, "unregistervm", "ct1", "--delete")
	assert.NoFileExists(t, disk)
	assert.NoDirExists(t, filepath.Join(base, "ct1"))
	st := sim.State(t)
	assert.Empty(t, st.VMs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps, err := exec.CommandContext(ctx, "docker", "ps", "-a", "-q", "--filter", "label="+labelHome+"="+HomeLabel(sim.Home)).Output()
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(ps)), "unregistervm --delete removes the container")
}

func TestContainerBackendFailedStartLeavesNothing(t *testing.T) {
	sim := Install(t, Config{Backend: BackendContainer, ContainerImage: "fleetdock/no-such-image:never"})
	dir := t.TempDir()
	iso, _ := seedFor(t, dir, "docker", "vbox-ct2")
	disk := filepath.Join(dir, "disk.vdi")
	mustSim(t, sim, "createmedium", "disk", "--filename", disk, "--size", "8")
	createMachine(t, sim, "ct2", dir, disk, iso, freePort(t))
	_, errOut, code := sim.VBoxManage(t, "startvm", "ct2", "--type", "headless")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "VBoxManage: error: The virtual machine 'ct2' has terminated unexpectedly during startup with exit code 1 (0x1)\n")
	assert.Contains(t, errOut, "fleetdock/no-such-image:never")
	waitState(t, sim, "ct2", "poweroff", 5*time.Second)
	ps, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label="+labelHome+"="+HomeLabel(sim.Home)).Output()
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(ps)))
}

func TestMediaCommands(t *testing.T) {
	sim := Install(t, Config{})
	dir := t.TempDir()
	vdi := filepath.Join(dir, "a.vdi")
	out := mustSim(t, sim, "createmedium", "disk", "--filename", vdi, "--size", "64", "--format", "VDI")
	assert.Regexp(t, `^Medium created. UUID: [0-9a-f-]{36}\n$`, out)
	_, errOut, code := sim.VBoxManage(t, "createmedium", "disk", "--filename", vdi, "--size", "64", "--format", "VDI")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "VERR_ALREADY_EXISTS")

	vmdk := filepath.Join(dir, "b.vmdk")
	out = mustSim(t, sim, "clonemedium", "disk", vdi, vmdk, "--format", "VMDK")
	assert.Regexp(t, `^Clone medium created in format 'VMDK'. UUID: [0-9a-f-]{36}\n$`, out)
	for _, f := range []string{vdi, vmdk} {
		mustSim(t, sim, "modifymedium", "disk", f, "--resize", "128")
		size, err := virtualSize(t.Context(), f)
		require.NoError(t, err)
		assert.Equal(t, int64(128<<20), size, f)
		format, err := detectFormat(f)
		require.NoError(t, err)
		assert.Equal(t, map[string]string{vdi: "VDI", vmdk: "VMDK"}[f], format)
	}
	_, errOut, code = sim.VBoxManage(t, "modifyhd", vdi, "--resize", "32")
	assert.Equal(t, 1, code)
	assert.Equal(t, "VBoxManage: error: Shrinking is not yet supported for medium '"+vdi+"'\n", errOut)

	// convertfromraw from stdin, as the stock driver makes its disk.
	raw := strings.Repeat("x", 1<<20)
	cmd := exec.Command(sim.Binary(), "convertfromraw", "stdin", filepath.Join(dir, "c.vmdk"), strconv.Itoa(len(raw)), "--format", "VMDK")
	cmd.Env = append(os.Environ(), sim.Env()...)
	cmd.Stdin = strings.NewReader(raw)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	format, err := detectFormat(filepath.Join(dir, "c.vmdk"))
	require.NoError(t, err)
	assert.Equal(t, "VMDK", format)

	mustSim(t, sim, "createvm", "--name", "m", "--register")
	mustSim(t, sim, "storagectl", "m", "--name", "SATA", "--add", "sata")
	mustSim(t, sim, "storageattach", "m", "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", vmdk)
	_, errOut, code = sim.VBoxManage(t, "closemedium", "disk", vmdk)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "because it is still attached to 1 virtual machines")
	_, errOut, code = sim.VBoxManage(t, "storageattach", "m", "--storagectl", "SATA", "--port", "1", "--device", "0", "--type", "hdd", "--medium", filepath.Join(dir, "nope.vdi"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "(VERR_FILE_NOT_FOUND)")
	mustSim(t, sim, "closemedium", "disk", vdi, "--delete")
	assert.NoFileExists(t, vdi)
	assert.Contains(t, mustSim(t, sim, "list", "hdds"), "Location:       "+vmdk+"\n")
}

func TestReadSeedISO(t *testing.T) {
	dir := t.TempDir()
	iso, signer := seedFor(t, dir, "docker", "seedhost")
	s, err := ReadSeedISO(iso)
	require.NoError(t, err)
	require.NotNil(t, s)
	assert.Equal(t, "seedhost", s.Hostname)
	assert.Equal(t, "iid-seedhost", s.InstanceID)
	require.Len(t, s.Users, 1)
	assert.Equal(t, "docker", s.Users[0].Name)
	require.Len(t, s.Users[0].AuthorizedKeys, 1)
	assert.True(t, strings.HasPrefix(s.Users[0].AuthorizedKeys[0], signer.PublicKey().Type()))

	// Any other ISO is not a seed.
	other := filepath.Join(dir, "other.iso")
	out, err := exec.Command("genisoimage", "-quiet", "-output", other, "-volid", "DATA", "-rock", filepath.Join(dir, "seed-src")).CombinedOutput()
	require.NoError(t, err, string(out))
	s, err = ReadSeedISO(other)
	require.NoError(t, err)
	assert.Nil(t, s)
}

// BenchmarkContainerStartToSSH measures startvm until SSH answers as the
// seed's user through the NAT forward, for a machine that ran before (the
// first start, which creates the container, is outside the loop).
func BenchmarkContainerStartToSSH(b *testing.B) {
	sim := Install(b, Config{Backend: BackendContainer})
	dir := b.TempDir()
	iso, signer := seedFor(b, dir, "docker", "bench")
	port := freePort(b)
	run := func(args ...string) {
		if _, errOut, code := sim.VBoxManage(b, args...); code != 0 {
			b.Fatalf("VBoxManage %s: %s", strings.Join(args, " "), errOut)
		}
	}
	run("createvm", "--basefolder", dir, "--name", "bench", "--register")
	run("modifyvm", "bench", "--nic1", "nat", "--natpf1", "ssh,tcp,127.0.0.1,"+strconv.Itoa(port)+",,22")
	run("storagectl", "bench", "--name", "SATA", "--add", "sata")
	run("storageattach", "bench", "--storagectl", "SATA", "--port", "1", "--device", "0", "--type", "dvddrive", "--medium", iso)
	run("startvm", "bench")
	run("controlvm", "bench", "poweroff")
	for b.Loop() {
		run("startvm", "bench")
		sshUntil(b.Context(), b, "127.0.0.1:"+strconv.Itoa(port), "docker", signer, "true", time.Minute)
		b.StopTimer()
		run("controlvm", "bench", "poweroff")
		b.StartTimer()
	}
}
