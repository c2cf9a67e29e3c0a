package vboxsim

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type result struct {
	out, err string
	code     int
}

// vbm runs one command in-process against home.
func vbm(t *testing.T, home string, stdin []byte, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, Env{Home: home, Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return result{out.String(), errb.String(), code}
}

func mustVBM(t *testing.T, home string, args ...string) string {
	t.Helper()
	r := vbm(t, home, nil, args...)
	require.Equal(t, 0, r.code, "VBoxManage %s: %s", strings.Join(args, " "), r.err)
	return r.out
}

func newHome(t *testing.T, cfg Config) string {
	t.Helper()
	home := t.TempDir()
	require.NoError(t, SaveConfig(home, &cfg))
	return home
}

// stockCreate replays docker-machine 0.16.2's VBoxManage sequence for
// machine m1 (docker-machine.md §6), with the NAT NIC type and disk of
// the captured 7.2.22 output.
func stockCreate(t *testing.T, home string) (machines string) {
	t.Helper()
	store := filepath.Join(home, "store")
	machines = filepath.Join(store, "machines")
	require.NoError(t, os.MkdirAll(filepath.Join(machines, "m1"), 0o755))
	disk := filepath.Join(machines, "m1", "disk.vdi")
	seed := filepath.Join(store, "seed.iso")
	// Attaching needs only existing files; their content is not read here.
	require.NoError(t, os.WriteFile(disk, make([]byte, 4096), 0o644))
	require.NoError(t, os.WriteFile(seed, make([]byte, 4096), 0o644))

	mustVBM(t, home, "--version")
	mustVBM(t, home, "list", "hostonlyifs")
	mustVBM(t, home, "createvm", "--basefolder", machines, "--name", "m1", "--register")
	mustVBM(t, home, "modifyvm", "m1", "--firmware", "bios", "--bioslogofadein", "off", "--bioslogofadeout", "off",
		"--bioslogodisplaytime", "0", "--biosbootmenu", "disabled", "--ostype", "Linux26_64", "--cpus", "2", "--memory", "1024",
		"--acpi", "on", "--ioapic", "on", "--rtcuseutc", "on", "--natdnshostresolver1", "off", "--natdnsproxy1", "on",
		"--cpuhotplug", "off", "--pae", "on", "--hpet", "on", "--hwvirtex", "on", "--nestedpaging", "on", "--largepages", "on",
		"--vtxvpid", "on", "--accelerate3d", "off", "--boot1", "dvd")
	mustVBM(t, home, "modifyvm", "m1", "--nic1", "nat", "--nictype1", "virtio", "--cableconnected1", "on")
	mustVBM(t, home, "storagectl", "m1", "--name", "SATA", "--add", "sata", "--hostiocache", "on")
	mustVBM(t, home, "storageattach", "m1", "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", disk)
	mustVBM(t, home, "storageattach", "m1", "--storagectl", "SATA", "--port", "1", "--device", "0", "--type", "dvddrive", "--medium", seed)
	mustVBM(t, home, "guestproperty", "set", "m1", "/VirtualBox/GuestAdd/SharedFolders/MountPrefix", "/")
	mustVBM(t, home, "guestproperty", "set", "m1", "/VirtualBox/GuestAdd/SharedFolders/MountDir", "/")
	mustVBM(t, home, "sharedfolder", "add", "m1", "--name", "hosthome", "--hostpath", "/root", "--automount")
	mustVBM(t, home, "setextradata", "m1", "VBoxInternal2/SharedFoldersEnableSymlinksCreate/hosthome", "1")
	mustVBM(t, home, "showvminfo", "m1", "--machinereadable")
	mustVBM(t, home, "hostonlyif", "create")
	mustVBM(t, home, "hostonlyif", "ipconfig", "vboxnet0", "--ip", "192.168.59.1", "--netmask", "255.255.255.0")
	mustVBM(t, home, "list", "dhcpservers")
	mustVBM(t, home, "dhcpserver", "modify", "--netname", "HostInterfaceNetworking-vboxnet0", "--ip", "192.168.59.2",
		"--netmask", "255.255.255.0", "--lowerip", "192.168.59.100", "--upperip", "192.168.59.254", "--enable")
	mustVBM(t, home, "modifyvm", "m1", "--nic2", "hostonly", "--nictype2", "82540EM", "--nicpromisc2", "deny",
		"--hostonlyadapter2", "vboxnet0", "--cableconnected2", "on")
	r := vbm(t, home, nil, "modifyvm", "m1", "--natpf1", "delete", "ssh")
	require.Equal(t, 1, r.code, "deleting a NAT rule that does not exist fails, as stock expects and ignores")
	mustVBM(t, home, "modifyvm", "m1", "--natpf1", "ssh,tcp,127.0.0.1,40022,,22")
	mustVBM(t, home, "modifyvm", "m1", "--natpf1", "docker,tcp,127.0.0.1,42376,,2376")
	return machines
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}`)
	macRE  = regexp.MustCompile(`(macaddress\d)="[0-9A-F]{12}"`)
)

// TestMachineReadableMatchesVirtualBox722 compares showvminfo
// --machinereadable after the stock create sequence with the output
// VirtualBox 7.2.22 printed for the same machine: every captured line must
// appear, in the captured order.
func TestMachineReadableMatchesVirtualBox722(t *testing.T) {
	home := newHome(t, Config{})
	stockCreate(t, home)
	out := mustVBM(t, home, "showvminfo", "m1", "--machinereadable")
	out = strings.ReplaceAll(out, filepath.Join(home, "store"), "/home/user/.docker/machine")
	out = uuidRE.ReplaceAllString(out, "<UUID>")
	out = timeRE.ReplaceAllString(out, "<TIME>")
	out = macRE.ReplaceAllString(out, `$1="<MAC>"`)

	want, err := os.ReadFile("testdata/showvminfo-7.2.22.txt")
	require.NoError(t, err)
	got := strings.Split(out, "\n")
	i := 0
	for _, line := range strings.Split(strings.TrimRight(string(want), "\n"), "\n") {
		for i < len(got) && got[i] != line {
			i++
		}
		if !assert.Less(t, i, len(got), "line %q of VirtualBox's output is missing or out of order", line) {
			return
		}
	}
	// Every other line has VBoxManage's shape: key=number or key="string".
	shape := regexp.MustCompile(`^("[^"]+"|[A-Za-z][\w\-() ]*)=("([^"]|\\")*"|\d+)$`)
	for _, line := range got {
		if line == "" || line == " rec_screen0" {
			continue
		}
		assert.Regexp(t, shape, line)
	}
}

func TestVersionAndListings(t *testing.T) {
	home := newHome(t, Config{Version: "6.1.50r161033"})
	assert.Equal(t, "6.1.50r161033\n", mustVBM(t, home, "--version"))
	assert.Empty(t, mustVBM(t, home, "list", "vms"))
	mustVBM(t, home, "createvm", "--name", "a", "--register")
	out := mustVBM(t, home, "list", "vms")
	assert.Regexp(t, `^"a" \{[0-9a-f-]{36}\}\n$`, out)
	assert.Empty(t, mustVBM(t, home, "list", "runningvms"))
	mustVBM(t, home, "createvm", "--name", "b c", "--register")
	long := mustVBM(t, home, "list", "--long", "vms")
	assert.Equal(t, mustVBM(t, home, "showvminfo", "a")+"\n"+mustVBM(t, home, "showvminfo", "b c")+"\n", long, "each VM's showvminfo, a blank line after each")
	assert.Regexp(t, `(?m)^State: +powered off \(since `, long)
	assert.Equal(t, long, mustVBM(t, home, "list", "-l", "vms"))
	assert.Contains(t, mustVBM(t, home, "list", "systemproperties"), "Default machine folder:          "+filepath.Join(home, "VirtualBox VMs"))
	assert.Contains(t, mustVBM(t, home, "list", "hostinfo"), "Processor supports HW virtualization: yes")
	dhcp := mustVBM(t, home, "list", "dhcpservers")
	assert.Contains(t, dhcp, "NetworkName:    HostInterfaceNetworking-vboxnet0\nDhcpd IP:       192.168.56.100\n")
}

func TestErrorTexts(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		args   []string
		code   int
		stderr string
	}{
		{"unknown machine", Config{}, []string{"showvminfo", "nosuch", "--machinereadable"}, 1,
			"VBoxManage: error: Could not find a registered machine named 'nosuch'\n" +
				"VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports\n" +
				"VBoxManage: error: Context: \"FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())\" at line 3248 of file VBoxManageInfo.cpp\n"},
		{"unregister unknown", Config{}, []string{"unregistervm", "m9", "--delete"}, 1,
			"VBoxManage: error: Could not find a registered machine named 'm9'\n" +
				"VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports\n" +
				"VBoxManage: error: Context: \"FindMachine(Bstr(VMName).raw(), machine.asOutParam())\" at line 228 of file VBoxManageMisc.cpp\n"},
		{"host-only range", Config{}, []string{"hostonlyif", "ipconfig", "vboxnet0", "--ip", "192.168.99.1", "--netmask", "255.255.255.0"}, 1,
			TextHostOnlyRangeDenied},
		{"host-only range allowed by networks.conf", Config{HostOnlyRanges: []string{"192.168.99.0/24"}},
			[]string{"hostonlyif", "ipconfig", "vboxnet0", "--ip", "192.168.99.1", "--netmask", "255.255.255.0"}, 0, ""},
		{"no vboxnetadp", Config{NoHostOnlyDriver: true}, []string{"hostonlyif", "create"}, 1, "0%...NS_ERROR_FAILURE\n" + TextNoVBoxNetCtl},
		{"no host-only adapters on macOS 7", Config{Platform: "darwin"}, []string{"hostonlyif", "create"}, 1, "0%...NS_ERROR_FAILURE\n" + TextNoVBoxNetCtl},
		{"hostonlynet on Linux", Config{}, []string{"hostonlynet", "add", "--name", "n"}, 2, "VBoxManage: error: Invalid command 'hostonlynet'\n"},
		{"list hostonlynets on Linux", Config{}, []string{"list", "hostonlynets"}, 2, "VBoxManage: error: Unknown subcommand \"hostonlynets\".\n"},
		{"nic hostonlynet on Linux", Config{}, []string{"modifyvm", "m1", "--nic3", "hostonlynet"}, 1,
			"VBoxManage: error: Invalid type 'hostonlynet' specfied for NIC 3\n"},
		{"dhcp server exists", Config{}, []string{"dhcpserver", "add", "--netname", "HostInterfaceNetworking-vboxnet0", "--ip", "192.168.56.100",
			"--netmask", "255.255.255.0", "--lowerip", "192.168.56.101", "--upperip", "192.168.56.254", "--enable"}, 2,
			"VBoxManage: error: DHCP server already exists\n"},
		{"not running", Config{}, []string{"controlvm", "m1", "acpipowerbutton"}, 1, "VBoxManage: error: Machine 'm1' is not currently running.\n"},
		{"unknown option", Config{}, []string{"modifyvm", "m1", "--bogus", "1"}, 2, "VBoxManage: error: Unknown option: --bogus\n"},
		{"unknown command", Config{}, []string{"frobnicate"}, 2, "VBoxManage: error: Invalid command 'frobnicate'\n"},
		{"vt-x missing", Config{Virtualization: "none-vtx"}, []string{"startvm", "m1", "--type", "headless"}, 1, TextVTxNotAvailable},
		{"vt-x disabled", Config{Virtualization: "disabled-vtx"}, []string{"startvm", "m1"}, 1, TextVTxDisabled},
		{"amd-v missing", Config{Virtualization: "none-amdv"}, []string{"startvm", "m1"}, 1, TextAMDVNotAvailable},
		{"hyper-v", Config{Virtualization: "hyperv"}, []string{"startvm", "m1"}, 1, TextHyperV},
		{"missing host-only interface", Config{}, []string{"startvm", "m1"}, 1, TextInterfaceNotFound("vboxnet5")},
		{"host-only adapter on macOS 7", Config{Platform: "darwin"}, []string{"startvm", "m1"}, 1, TextHostOnlyAdaptersUnsupported("vboxnet5")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := newHome(t, tc.cfg)
			mustVBM(t, home, "createvm", "--name", "m1", "--register")
			if !tc.cfg.NoHostOnlyDriver && tc.cfg.Platform != "darwin" {
				mustVBM(t, home, "hostonlyif", "create")
			}
			if tc.name == "missing host-only interface" || tc.name == "host-only adapter on macOS 7" {
				mustVBM(t, home, "modifyvm", "m1", "--nic2", "hostonly", "--hostonlyadapter2", "vboxnet5")
			}
			r := vbm(t, home, nil, tc.args...)
			assert.Equal(t, tc.code, r.code)
			assert.Equal(t, tc.stderr, r.err)
		})
	}
}

func TestCreateVMTwiceAndLockedSession(t *testing.T) {
	home := newHome(t, Config{})
	base := filepath.Join(home, "machines")
	out := mustVBM(t, home, "createvm", "--basefolder", base, "--name", "m1", "--ostype", "Ubuntu_64", "--register")
	cfgFile := filepath.Join(base, "m1", "m1.vbox")
	assert.Regexp(t, "^Virtual machine 'm1' is created and registered.\nUUID: [0-9a-f-]{36}\nSettings file: '"+regexp.QuoteMeta(cfgFile)+"'\n$", out)
	r := vbm(t, home, nil, "createvm", "--basefolder", base, "--name", "m1", "--ostype", "Ubuntu_64", "--register")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "VBoxManage: error: Machine settings file '"+cfgFile+"' already exists\n"+
		"VBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004), component MachineWrap, interface IMachine, callee nsISupports\n"+
		"VBoxManage: error: Context: \"CreateMachine(...)\" at line 429 of file VBoxManageMisc.cpp\n", r.err)

	out = mustVBM(t, home, "startvm", "m1", "--type", "headless")
	assert.Equal(t, "Waiting for VM \"m1\" to power on...\nVM \"m1\" has been successfully started.\n", out)
	assert.Contains(t, mustVBM(t, home, "list", "runningvms"), `"m1" {`)
	r = vbm(t, home, nil, "modifyvm", "m1", "--memory", "2048")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "VBoxManage: error: The machine 'm1' is already locked for a session (or being unlocked)\n")
	r = vbm(t, home, nil, "unregistervm", "m1", "--delete")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "Cannot unregister the machine 'm1' while it is locked")

	// The power button stops the guest; the next call sees it off.
	mustVBM(t, home, "controlvm", "m1", "acpipowerbutton")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), "VMState=\"poweroff\"\n")
	mustVBM(t, home, "unregistervm", "m1", "--delete")
	assert.NoFileExists(t, cfgFile)
	assert.NoDirExists(t, filepath.Join(base, "m1"))
	assert.Empty(t, mustVBM(t, home, "list", "vms"))
}

func TestModifyVMSpellings(t *testing.T) {
	home := newHome(t, Config{})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	// 0.16.2's run-together flags and the 7.x kebab case, and --opt=value.
	mustVBM(t, home, "modifyvm", "m1", "--nic-type1", "virtio", "--cable-connected1", "off", "--memory=2048",
		"--nat-pf1", "ssh,tcp,,2222,,22", "--mac-address1", "08:00:27:AA:BB:CC", "--boot1", "disk", "--boot2", "none",
		"--uart1", "0x3f8", "4", "--uartmode1", "file", "/tmp/x.log", "--firmware", "efi")
	out := mustVBM(t, home, "showvminfo", "m1", "--machinereadable")
	for _, want := range []string{`nictype1="virtio"`, `cableconnected1="off"`, "memory=2048", `Forwarding(0)="ssh,tcp,,2222,,22"`,
		`macaddress1="080027AABBCC"`, `boot1="disk"`, `boot2="none"`, `uart1="0x3f8,4"`, `uartmode1="file,/tmp/x.log"`, `firmware="EFI"`} {
		assert.Contains(t, out, want+"\n")
	}
	r := vbm(t, home, nil, "modifyvm", "m1", "--natpf1", "other,tcp,,2222,,22")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "A NAT rule for this host port and this host IP already exists")
	r = vbm(t, home, nil, "modifyvm", "m1", "--nictype1", "rtl8139")
	assert.Equal(t, "VBoxManage: error: Invalid NIC type 'rtl8139' specified for NIC 1\n", r.err)
	r = vbm(t, home, nil, "modifyvm", "m1", "--acpi", "maybe")
	assert.Equal(t, "VBoxManage: error: Invalid --acpi argument 'maybe'\n", r.err)
	// A missing host-only interface is only a warning at modifyvm.
	r = vbm(t, home, nil, "modifyvm", "m1", "--nic2", "hostonly", "--hostonlyadapter2", "vboxnet0")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "VBoxManage: warning: Interface \"vboxnet0\" doesn't seem to exist\n", r.err)
}

func TestFailedCommandChangesNothing(t *testing.T) {
	home := newHome(t, Config{})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	r := vbm(t, home, nil, "modifyvm", "m1", "--memory", "4096", "--cpus", "999")
	require.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "Invalid virtual CPU count: 999")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), "memory=128\n")
}

func TestFaults(t *testing.T) {
	home := newHome(t, Config{Faults: []Fault{
		{Command: "modifyvm", Contains: []string{"--nic2"}, Stderr: TextObjectNotReady},
		{Command: "startvm", Nth: 2, Stderr: TextVTxNotAvailable},
		{Call: 4, ExitCode: 2, Stderr: "VBoxManage: error: injected\n"},
	}})
	mustVBM(t, home, "createvm", "--name", "m1", "--register") // call 1
	r := vbm(t, home, nil, "modifyvm", "m1", "--nic2", "hostonly")
	assert.Equal(t, result{"", TextObjectNotReady, 1}, r)                                          // call 2
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), "nic2=\"none\"") // call 3
	r = vbm(t, home, nil, "list", "vms")
	assert.Equal(t, result{"", "VBoxManage: error: injected\n", 2}, r) // call 4
	mustVBM(t, home, "startvm", "m1")                                  // call 5, first startvm
	mustVBM(t, home, "controlvm", "m1", "poweroff")                    // call 6
	r = vbm(t, home, nil, "startvm", "m1")                             // call 7, second startvm
	assert.Equal(t, 1, r.code)
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), "VMState=\"poweroff\"")

	calls, err := ReadCalls(home)
	require.NoError(t, err)
	require.Len(t, calls, 8)
	assert.Equal(t, []string{"modifyvm", "m1", "--nic2", "hostonly"}, calls[1].Args)
	assert.True(t, calls[1].Fault)
	assert.Equal(t, 1, calls[1].ExitCode)
	assert.Equal(t, TextObjectNotReady, calls[1].Stderr)
	assert.Equal(t, 7, calls[6].N)
	assert.True(t, calls[6].Fault)
}

func TestHostOnlyNetworksOnMacOS(t *testing.T) {
	home := newHome(t, Config{Platform: "darwin"})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	mustVBM(t, home, "hostonlynet", "add", "--name", "fleetdock", "--netmask", "255.255.255.0", "--lower-ip", "192.168.59.100",
		"--upper-ip", "192.168.59.254", "--enable")
	out := mustVBM(t, home, "list", "hostonlynets")
	assert.Contains(t, out, "Name:            fleetdock\n")
	assert.Contains(t, out, "State:           Enabled\nNetworkMask:     255.255.255.0\nLowerIP:         192.168.59.100\nUpperIP:         192.168.59.254\nVBoxNetworkName: hostonly-fleetdock\n")
	mustVBM(t, home, "modifyvm", "m1", "--nic2", "hostonlynet", "--host-only-net2", "fleetdock")
	info := mustVBM(t, home, "showvminfo", "m1", "--machinereadable")
	assert.Contains(t, info, "hostonly-network2=\"fleetdock\"\n")
	assert.Contains(t, info, "nic2=\"hostonlynetwork\"\n")
	mustVBM(t, home, "startvm", "m1", "--type", "headless")
	mustVBM(t, home, "controlvm", "m1", "poweroff")
	mustVBM(t, home, "hostonlynet", "remove", "--name", "fleetdock")
	assert.Empty(t, mustVBM(t, home, "list", "hostonlynets"))
}

func TestGuestPropertiesAndExtraData(t *testing.T) {
	home := newHome(t, Config{})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	assert.Equal(t, "No value set!\n", mustVBM(t, home, "guestproperty", "get", "m1", "/VirtualBox/GuestInfo/Net/0/V4/IP"))
	mustVBM(t, home, "guestproperty", "set", "m1", "/VirtualBox/GuestAdd/SharedFolders/MountPrefix", "/")
	assert.Equal(t, "Value: /\n", mustVBM(t, home, "guestproperty", "get", "m1", "/VirtualBox/GuestAdd/SharedFolders/MountPrefix"))
	assert.Regexp(t, `^/VirtualBox/GuestAdd/SharedFolders/MountPrefix = '/' @ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n$`,
		mustVBM(t, home, "guestproperty", "enumerate", "m1"))
	mustVBM(t, home, "setextradata", "m1", "VBoxInternal2/SharedFoldersEnableSymlinksCreate/hosthome", "1")
	assert.Equal(t, "Value: 1\n", mustVBM(t, home, "getextradata", "m1", "VBoxInternal2/SharedFoldersEnableSymlinksCreate/hosthome"))
	assert.Equal(t, "No value set!\n", mustVBM(t, home, "getextradata", "global", "nothing"))
	r := vbm(t, home, nil, "sharedfolder", "remove", "m1", "--name", "nope")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "VBOX_E_FILE_ERROR")
}

func TestVTxFailureIsLogged(t *testing.T) {
	home := newHome(t, Config{Virtualization: "none-vtx"})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	r := vbm(t, home, nil, "startvm", "m1", "--type", "headless")
	require.Equal(t, 1, r.code)
	assert.Equal(t, "Waiting for VM \"m1\" to power on...\n", r.out)
	log, err := os.ReadFile(filepath.Join(home, "VirtualBox VMs", "m1", "Logs", "VBox.log"))
	require.NoError(t, err)
	// docker-machine 0.16.2 looks for these in VBox.log.
	assert.Contains(t, string(log), "Power up failed")
	assert.Contains(t, string(log), "VERR_VMX_NO_VMX")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), "VMState=\"poweroff\"")
}

func TestParseSeed(t *testing.T) {
	user := []byte(`#cloud-config
hostname: box1
users:
  - default
  - name: docker
    sudo: ALL=(ALL) NOPASSWD:ALL
    groups: [adm, docker]
    shell: /bin/bash
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3Nza key1
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3Nzb key2
mounts:
  - [hosthome, /hosthome, vboxsf, "defaults,nofail", "0", "0"]
`)
	s, err := ParseSeed(user, []byte("instance-id: iid-1\nlocal-hostname: other\n"))
	require.NoError(t, err)
	assert.Equal(t, "iid-1", s.InstanceID)
	assert.Equal(t, "box1", s.Hostname, "user-data's hostname wins over meta-data's")
	require.Len(t, s.Users, 2)
	assert.Equal(t, SeedUser{Name: "debian", Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"}, Shell: "/bin/bash",
		AuthorizedKeys: []string{"ssh-ed25519 AAAAC3Nzb key2"}}, s.Users[0])
	assert.Equal(t, SeedUser{Name: "docker", Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"}, Groups: []string{"adm", "docker"},
		Shell: "/bin/bash", AuthorizedKeys: []string{"ssh-ed25519 AAAAC3Nza key1"}}, s.Users[1])

	assert.Equal(t, []SeedMount{{Spec: "hosthome", Point: "/hosthome", Type: "vboxsf", Options: "defaults,nofail"}}, s.Mounts)

	_, err = ParseSeed([]byte("#cloud-config\nusers:\n  - name: \"bad name\"\n"), []byte("instance-id: x\n"))
	assert.ErrorContains(t, err, "not a valid Linux user name")
	_, err = ParseSeed([]byte("#cloud-config\nusers: [\n"), []byte("instance-id: x\n"))
	assert.ErrorContains(t, err, "not valid cloud-config YAML")
}

func TestShareBinds(t *testing.T) {
	vm := newVM("m", newUUID(), "/x/m/m.vbox", "Ubuntu_64")
	vm.Shares = []SharedFolder{{Name: "hosthome", HostPath: "/home", Automount: true},
		{Name: "data", HostPath: "/srv/data", Automount: true, ReadOnly: true}, {Name: "manual", HostPath: "/opt"}}
	seed := &Seed{Mounts: []SeedMount{{Spec: "hosthome", Point: "/hosthome", Type: "vboxsf"}}}
	assert.Equal(t, []bind{{host: "/home", guest: "/hosthome"}, {host: "/srv/data", guest: "/media/sf_data", readOnly: true}},
		shareBinds(vm, seed), "the seed's vboxsf mount wins; automount uses the Guest Additions defaults")
	vm.GuestProps = map[string]GuestProp{"/VirtualBox/GuestAdd/SharedFolders/MountPrefix": {Value: "/"},
		"/VirtualBox/GuestAdd/SharedFolders/MountDir": {Value: "/"}}
	assert.Equal(t, []bind{{host: "/home", guest: "/hosthome"}, {host: "/srv/data", guest: "/data", readOnly: true}},
		shareBinds(vm, nil), "boot2docker's guest properties put shares at /NAME")
}

func TestConfigValidation(t *testing.T) {
	assert.ErrorContains(t, SaveConfig(t.TempDir(), &Config{Backend: "vmware"}), `backend "vmware" is unknown`)
	assert.ErrorContains(t, SaveConfig(t.TempDir(), &Config{Virtualization: "maybe"}), "virtualization")
	r := vbm(t, "", nil, "list", "vms")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "VBOXSIM_HOME is not set")
}

// TestRemoveLeavesNothing replays a remove as drivers do it, after the
// stock create: the machine, its disk, then the network and DHCP server.
func TestRemoveLeavesNothing(t *testing.T) {
	home := newHome(t, Config{})
	machines := stockCreate(t, home)
	mustVBM(t, home, "startvm", "m1", "--type", "headless")
	mustVBM(t, home, "controlvm", "m1", "poweroff")
	mustVBM(t, home, "unregistervm", "m1", "--delete")
	assert.NoFileExists(t, filepath.Join(machines, "m1", "disk.vdi"))
	assert.NoDirExists(t, filepath.Join(machines, "m1"))
	assert.Empty(t, mustVBM(t, home, "list", "hdds"))
	// --delete keeps DVD images registered, as VirtualBox does.
	assert.Contains(t, mustVBM(t, home, "list", "dvds"), "seed.iso")
	mustVBM(t, home, "closemedium", "dvd", filepath.Join(home, "store", "seed.iso"))
	mustVBM(t, home, "dhcpserver", "remove", "--netname", "HostInterfaceNetworking-vboxnet0")
	mustVBM(t, home, "hostonlyif", "remove", "vboxnet0")
	r := vbm(t, home, nil, "hostonlyif", "remove", "vboxnet0")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.err, "The host network interface named 'vboxnet0' could not be found")
	st, err := ReadState(home)
	require.NoError(t, err)
	assert.Empty(t, st.VMs)
	assert.Empty(t, st.Media)
	assert.Empty(t, st.HostOnlyIfs)
	assert.Empty(t, st.DHCPServers)
}

func TestControlVMOnRunningMachine(t *testing.T) {
	home := newHome(t, Config{})
	mustVBM(t, home, "createvm", "--name", "m1", "--register")
	mustVBM(t, home, "startvm", "m1")
	mustVBM(t, home, "controlvm", "m1", "natpf1", "ssh,tcp,127.0.0.1,2222,,22")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), `Forwarding(0)="ssh,tcp,127.0.0.1,2222,,22"`)
	mustVBM(t, home, "controlvm", "m1", "natpf1", "delete", "ssh")
	mustVBM(t, home, "controlvm", "m1", "pause")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), `VMState="paused"`)
	mustVBM(t, home, "controlvm", "m1", "resume")
	mustVBM(t, home, "controlvm", "m1", "savestate")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), `VMState="saved"`)
	r := vbm(t, home, nil, "controlvm", "m1", "poweroff")
	assert.Equal(t, "VBoxManage: error: Machine 'm1' is not currently running.\n", r.err)
	mustVBM(t, home, "discardstate", "m1")
	assert.Contains(t, mustVBM(t, home, "showvminfo", "m1", "--machinereadable"), `VMState="poweroff"`)
	r = vbm(t, home, nil, "controlvm", "m1", "frobnicate")
	assert.Equal(t, 1, r.code, "not running is checked first")
}
