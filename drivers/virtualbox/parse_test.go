package virtualbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Trimmed from VBoxManage 7.2.22's real showvminfo --machinereadable.
const realVMInfo = `name="m1"
encryption="disabled"
groups="/"
ostype="Linux 2.6 / 3.x / 4.x / 5.x (64-bit)"
UUID="ba1aa2e2-052f-4525-8aa1-6988d01a6640"
CfgFile="/home/user/.docker/machine/machines/m1/m1.vbox"
memory=1024
cpus=2
VMState="poweroff"
VMStateChangeTime="2026-12-01T08:51:57.542000000"
storagecontrollername0="SATA"
"SATA-0-0"="/home/user/.docker/machine/machines/m1/disk.vdi"
"SATA-ImageUUID-0-0"="bb9238be-1"
"SATA-1-0"="/home/user/.docker/machine/seed.iso"
natnet1="nat"
macaddress1="08002769B53F"
nic1="nat"
nictype1="virtio"
Forwarding(0)="docker,tcp,127.0.0.1,42376,,2376"
Forwarding(1)="ssh,tcp,127.0.0.1,40022,,22"
hostonlyadapter2="vboxnet0"
macaddress2="080027A0B15E"
nic2="hostonly"
nic3="none"
SharedFolderNameMachineMapping1="hosthome"
SharedFolderPathMachineMapping1="/root"
 rec_screen0
rec_screen_enabled="on"
GuestMemoryBalloon=0
`

func TestParseVMInfo(t *testing.T) {
	info := parseVMInfo(realVMInfo)
	assert.Equal(t, "m1", info["name"])
	assert.Equal(t, "1024", info["memory"], "numbers are bare")
	assert.Equal(t, "/home/user/.docker/machine/machines/m1/disk.vdi", info["SATA-0-0"], "quoted keys")
	assert.Equal(t, state.Stopped, info.state())
	assert.Equal(t, []forward{{"docker", "tcp", "127.0.0.1", 42376, "", 2376}, {"ssh", "tcp", "127.0.0.1", 40022, "", 22}}, info.forwards())
	assert.True(t, info.usesHostOnly("vboxnet0", ""))
	assert.False(t, info.usesHostOnly("vboxnet1", ""))
	assert.True(t, parseVMInfo("nic2=\"hostonlynetwork\"\n\"hostonly-network2\"=\"N\"\n").usesHostOnly("", "N"))

	for vmstate, want := range map[string]state.State{
		"running": state.Running, "paused": state.Paused, "saved": state.Saved, "aborted": state.Stopped,
		"poweroff": state.Stopped, "starting": state.Starting, "restoring": state.Starting, "stopping": state.Stopping,
		"saving": state.Running, "onlinesnapshotting": state.Running, "gurumeditation": state.Error, "": state.None,
	} {
		assert.Equal(t, want, vmInfo{"VMState": vmstate}.state(), vmstate)
	}
}

func TestParseLists(t *testing.T) {
	vms := parseVMList("\"m1\" {ba1aa2e2-052f-4525-8aa1-6988d01a6640}\n\"with space\" {0a1aa2e2-052f-4525-8aa1-6988d01a6640}\n")
	assert.Equal(t, []listedVM{{"m1", "ba1aa2e2-052f-4525-8aa1-6988d01a6640"}, {"with space", "0a1aa2e2-052f-4525-8aa1-6988d01a6640"}}, vms)
	assert.Empty(t, parseVMList(""))

	dhcp := parseDHCPServers("NetworkName:    HostInterfaceNetworking-vboxnet0\nDhcpd IP:       192.168.56.100\nLowerIPAddress: 192.168.56.101\nUpperIPAddress: 192.168.56.254\nNetworkMask:    255.255.255.0\nEnabled:        Yes\nGlobal Configuration:\n    minLeaseTime:     default\n    defaultLeaseTime: default\nGroups:               None\nIndividual Configs:   None\n")
	assert.Equal(t, []dhcpServer{{NetworkName: "HostInterfaceNetworking-vboxnet0", IP: "192.168.56.100", Lower: "192.168.56.101", Upper: "192.168.56.254", Mask: "255.255.255.0", Enabled: true}}, dhcp)

	nets := parseHostOnlyNets("Name:            N\nGUID:            x\nState:           Enabled\nNetworkMask:     255.255.255.0\nLowerIP:         192.168.59.129\nUpperIP:         192.168.59.254\nVBoxNetworkName: hostonly-N\n")
	require.Len(t, nets, 1)
	assert.Equal(t, "192.168.59.129", nets[0].Lower)

	assert.Equal(t, "vboxnet3", parseCreatedInterface("0%...10%...100%\nInterface 'vboxnet3' was successfully created\n"))
}

func TestParseVersion(t *testing.T) {
	for out, want := range map[string]version{
		"7.2.22_Debianr175245\n": {7, 2, 22},
		"WARNING: The vboxdrv kernel module is not loaded.\n         You will not be able to start VMs until this problem is fixed.\n6.1.50r161033\n": {6, 1, 50},
		"5.0.0r101573": {5, 0, 0},
	} {
		v, err := parseVersion(out)
		require.NoError(t, err)
		assert.Equal(t, want, v)
	}
	_, err := parseVersion("garbage")
	assert.Error(t, err)
	assert.ErrorContains(t, checkVersion(version{4, 3, 40}), "needs VirtualBox 5.1 or later")
	assert.ErrorContains(t, checkVersion(version{5, 0, 40}), "needs VirtualBox 5.1 or later")
	assert.NoError(t, checkVersion(version{5, 1, 0}))
	assert.NoError(t, checkVersion(version{7, 2, 22}))
}

// Each VBoxManage failure a user can meet becomes a message that says what
// to do; the texts are VirtualBox's own.
func TestErrorsAreActionable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
		want   string
		is     error
	}{
		{"VT-x missing", []string{"startvm", "m1"}, "VBoxManage: error: VT-x is not available (VERR_VMX_NO_VMX)\n", "enable it in the BIOS/UEFI settings", nil},
		{"VT-x off in BIOS", []string{"startvm", "m1"}, "VBoxManage: error: VT-x is disabled in the BIOS for all CPU modes (VERR_VMX_MSR_ALL_VMX_DISABLED)\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n", "Intel Virtualization Technology", nil},
		{"AMD-V missing", []string{"startvm", "m1"}, "VBoxManage: error: AMD-V is not available (VERR_SVM_NO_SVM)\n", "no hardware virtualization", nil},
		{"Hyper-V", []string{"startvm", "m1"}, "VBoxManage: error: Not in a hypervisor partition (HVP=0) (VERR_NEM_NOT_AVAILABLE).\nVBoxManage: error: AMD-V is disabled in the BIOS (or by the host OS) (VERR_SVM_DISABLED)\n", "hypervisorlaunchtype off", nil},
		{"KVM holds VT-x", []string{"startvm", "m1"}, "VBoxManage: error: VirtualBox can't operate in VMX root mode. Please disable the KVM kernel extension, recompile your kernel and reboot (VERR_VMX_IN_VMX_ROOT_MODE)\n", "modprobe -r kvm_intel", nil},
		{"host-only adapter gone", []string{"startvm", "m1"}, "VBoxManage: error: Failed to open/create the internal network 'HostInterfaceNetworking-vboxnet0' (VERR_INTNET_FLT_IF_NOT_FOUND).\nVBoxManage: error: Failed to attach the network LUN (VERR_INTNET_FLT_IF_NOT_FOUND)\nVBoxManage: error: Details: code E_FAIL (0x80004005), component ConsoleWrap, interface IConsole\n", "VirtualBox Host-Only Ethernet Adapter", nil},
		{"range not allowed", []string{"hostonlyif", "ipconfig", "vboxnet0"}, "VBoxManage: error: Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)\nVBoxManage: error: Context: \"EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())\" at line 242 of file VBoxManageHostonly.cpp\n", "/etc/vbox/networks.conf", nil},
		{"no vboxnetadp", []string{"hostonlyif", "create"}, "0%...NS_ERROR_FAILURE\nVBoxManage: error: Failed to create the host-only adapter\nVBoxManage: error: VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory\n", "modprobe vboxnetadp", errNoHostOnly},
		{"macOS host-only adapters gone", []string{"startvm", "m1"}, "VBoxManage: error: Host-only adapters are no longer supported!\nVBoxManage: error: For your convenience a host-only network named 'Legacy vboxnet0 Network' has been created\n", "--virtualbox-network hostonlynet", errNoHostOnly},
		{"VM exists", []string{"createvm", "--basefolder", "/s", "--name", "m1", "--register"}, "VBoxManage: error: Machine settings file '/s/m1/m1.vbox' already exists\nVBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004), component MachineWrap, interface IMachine, callee nsISupports\n", "VBoxManage unregistervm m1 --delete", errVMExists},
		{"session locked", []string{"startvm", "m1"}, "VBoxManage: error: The machine 'm1' is already locked for a session (or being unlocked)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine\n", "close it there or wait", errSessionLocked},
		{"not found", []string{"showvminfo", "m1"}, "VBoxManage: error: Could not find a registered machine named 'm1'\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports\nVBoxManage: error: Context: \"FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())\" at line 3248 of file VBoxManageInfo.cpp\n", "docker-machine rm -f m1", ErrMachineNotExist},
		{"no vboxdrv", []string{"startvm", "m1"}, "VBoxManage: error: The virtual machine 'm1' has terminated unexpectedly during startup with exit code 1 (0x1)\nVBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component MachineWrap, interface IMachine\nKernel driver not installed (rc=-1908)\n", "vboxconfig", nil},
		{"not running", []string{"controlvm", "m1", "poweroff"}, "VBoxManage: error: Machine 'm1' is not currently running.\n", "is not currently running", errNotRunning},
	} {
		err := error(&vboxError{Args: tc.args, Stderr: tc.stderr, ExitCode: 1})
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.Contains(t, err.Error(), "VBoxManage "+tc.args[0]+" failed: ", tc.name)
		assert.NotContains(t, err.Error(), "Context:", tc.name)
		if tc.is != nil {
			assert.True(t, errors.Is(err, tc.is), tc.name)
		}
	}
}

// VBoxManage is found through the installers' variables before PATH.
func TestFindVBoxManage(t *testing.T) {
	install, onPath := t.TempDir(), t.TempDir()
	for _, dir := range []string{install, onPath} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "VBoxManage"), []byte("#!/bin/sh\n"), 0o755))
	}
	t.Setenv("PATH", onPath)
	t.Setenv("VBOX_INSTALL_PATH", "")
	t.Setenv("VBOX_MSI_INSTALL_PATH", "")
	p, err := findVBoxManage()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(onPath, "VBoxManage"), p)

	t.Setenv("VBOX_MSI_INSTALL_PATH", install+string(os.PathListSeparator))
	p, err = findVBoxManage()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(install, "VBoxManage"), p)

	t.Setenv("VBOX_MSI_INSTALL_PATH", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := os.Stat("/usr/bin/VBoxManage"); err == nil {
		t.Skip("this host has VirtualBox installed")
	}
	_, err = findVBoxManage()
	assert.ErrorContains(t, err, "set VBOX_INSTALL_PATH")
}

func TestHostOnlyRange(t *testing.T) {
	r, err := parseHostOnlyCIDR("192.168.59.1/24")
	require.NoError(t, err)
	assert.Equal(t, "255.255.255.0", r.netmask())
	s, lo, hi := r.dhcp()
	assert.Equal(t, []string{"192.168.59.128", "192.168.59.129", "192.168.59.254"}, []string{s.String(), lo.String(), hi.String()})
	r, err = parseHostOnlyCIDR("192.168.56.129/21")
	require.NoError(t, err)
	assert.Equal(t, "255.255.248.0", r.netmask())
	s, _, hi = r.dhcp()
	assert.Equal(t, "192.168.60.0", s.String())
	assert.Equal(t, "192.168.63.254", hi.String())
	d := &Driver{MachineID: "abc", BaseDriver: NewDriver("m", "").BaseDriver}
	a := d.staticAddress(r)
	assert.True(t, r.Prefix.Contains(a) && a.Compare(s) < 0 && a != r.Host, a.String())
}

// VT-x failures VirtualBox notes only in VBox.log get the same advice.
func TestLogDiagnosis(t *testing.T) {
	d := NewDriver("m1", t.TempDir())
	assert.Empty(t, d.logDiagnosis(), "no log, no hint")
	logs := filepath.Join(d.ResolveStorePath("."), "m1", "Logs")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(logs, "VBox.log"), []byte("00:00:01.2 Power up failed (vrc=VERR_VMX_NO_VMX, rc=E_FAIL (0X80004005))\n"), 0o644))
	assert.Contains(t, d.logDiagnosis(), "VT-x/AMD-V")
}
