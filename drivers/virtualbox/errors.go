package virtualbox

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Conditions callers act on. A *vboxError matches them with errors.Is.
var (
	ErrMachineNotExist = errors.New("machine does not exist")
	errVMExists        = errors.New("a VirtualBox VM of that name already exists")
	errNotRunning      = errors.New("the VM is not running")
	errSessionLocked   = errors.New("the VM is locked by another session")
	errNoHostOnly      = errors.New("this VirtualBox cannot make host-only adapters")
	errMediumNotFound  = errors.New("medium not registered")
	errDHCPExists      = errors.New("the DHCP server already exists")
)

// vboxError is a failed VBoxManage command, worded for the user: what
// failed, why, and what to do.
type vboxError struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
}

// diagnosis is what a known VBoxManage error text means.
type diagnosis struct {
	match func(text string) bool
	is    error
	// hint says what to do; %s is the VM or interface named in the command.
	hint string
}

func has(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
}

func hasAll(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// diagnoses are tried in order; the first match explains the error.
var diagnoses = []diagnosis{
	// Hyper-V (or WSL 2, Device Guard) owning VT-x shows as NEM or as
	// "in VMX root mode"/"SVM in use" together with "disabled" texts, so
	// it is checked before the plain "disabled in the BIOS" case.
	{match: has("VERR_NEM_NOT_AVAILABLE", "HVP=0", "VERR_NEM_", "Hyper-V"),
		hint: "another hypervisor holds the CPU's virtualization extensions: on Windows that is Hyper-V (also used by WSL 2, Windows Sandbox and memory integrity); " +
			"turn it off with 'bcdedit /set hypervisorlaunchtype off' (as administrator) and restart, or use VirtualBox 7 or later, which can run on top of Hyper-V"},
	{match: has("VERR_VMX_IN_VMX_ROOT_MODE", "VERR_SVM_IN_USE"),
		hint: "another hypervisor is using VT-x/AMD-V: on Linux the KVM module (unload it with 'sudo modprobe -r kvm_intel kvm_amd kvm'), on Windows Hyper-V ('bcdedit /set hypervisorlaunchtype off', then restart)"},
	{match: has("VERR_VMX_MSR_ALL_VMX_DISABLED", "VERR_VMX_MSR_VMX_DISABLED", "VERR_VMX_MSR_LOCKED_OR_DISABLED", "VERR_VMX_MSR_SMX_VMX_DISABLED", "VERR_SVM_DISABLED"),
		hint: "hardware virtualization (VT-x/AMD-V) is disabled in the computer's firmware: enable \"Intel Virtualization Technology\" or \"SVM Mode\" in the BIOS/UEFI settings and restart the computer"},
	{match: has("VERR_VMX_NO_VMX", "VERR_SVM_NO_SVM", "VERR_VMX_UNABLE_TO_START_VM", "VT-x is not available", "AMD-V is not available"),
		hint: "this computer's CPU offers VirtualBox no hardware virtualization (VT-x/AMD-V): enable it in the BIOS/UEFI settings, or, inside a VM, turn on nested virtualization for it; VirtualBox cannot run 64-bit guests without it"},
	{match: has("VERR_VM_DRIVER_NOT_INSTALLED", "VERR_VM_DRIVER_OPEN_ERROR", "Kernel driver not installed", "/dev/vboxdrv"),
		hint: "VirtualBox's kernel driver (vboxdrv) is not loaded: run 'sudo /sbin/vboxconfig' (on Secure Boot systems the modules must be signed), or reinstall VirtualBox"},
	{match: has("Host-only adapters are no longer supported"),
		is:   errNoHostOnly,
		hint: "this VirtualBox (7 or later on macOS) has host-only networks instead of host-only adapters: remove the machine and create it again with --virtualbox-network hostonlynet (the default on macOS), or with --virtualbox-network nat"},
	{match: has("VERR_INTNET_FLT_IF_NOT_FOUND"),
		hint: "VirtualBox cannot attach the VM to its host-only adapter, which is missing or broken on the host: on Windows disable and re-enable the \"VirtualBox Host-Only Ethernet Adapter\" in Network Connections (or reinstall VirtualBox); on Linux load the modules with 'sudo modprobe vboxnetadp vboxnetflt'; " +
			"then run 'docker-machine start' again. 'VBoxManage list hostonlyifs' shows the adapters VirtualBox knows"},
	{match: has("/dev/vboxnetctl", "Failed to create the host-only adapter", "VBoxNetAdpCtl"),
		is: errNoHostOnly,
		hint: "VirtualBox cannot create a host-only adapter: its vboxnetadp kernel module is not loaded (run 'sudo modprobe vboxnetadp' or 'sudo /sbin/vboxconfig', or on macOS allow Oracle's system extension in Privacy & Security and restart); " +
			"or pass --virtualbox-network nat to reach Docker through a forwarded port on 127.0.0.1 instead"},
	{match: hasAll("E_ACCESSDENIED", "StaticIPConfig"),
		hint: "VirtualBox refuses that host-only address: since 6.1.28 it allows only 192.168.56.0/21 on Linux and macOS unless /etc/vbox/networks.conf lists more; " +
			"pass a --virtualbox-hostonly-cidr inside 192.168.56.0/21 (for example 192.168.59.1/24), or add a line such as '* 192.168.0.0/16' to /etc/vbox/networks.conf"},
	{match: has("Invalid command 'hostonlynet'", `Unknown subcommand "hostonlynets"`, "Invalid type 'hostonlynet'"),
		is:   errNoHostOnly,
		hint: "this VirtualBox has no host-only networks (they exist only in VirtualBox 7 and later on macOS): pass --virtualbox-network hostonly or --virtualbox-network nat"},
	{match: both(has("already exists"), has("settings file", "Machine settings file")),
		is:   errVMExists,
		hint: "VirtualBox already has a VM (or a leftover settings file) of that name: remove it with 'VBoxManage unregistervm NAME --delete' (or delete the folder named in the message), or choose another machine name"},
	{match: has("is already locked for a session", "is already locked by a session", "VBOX_E_INVALID_OBJECT_STATE"),
		is:   errSessionLocked,
		hint: "another VirtualBox session holds the VM (the VirtualBox window, or another VBoxManage command still running): close it there or wait for it to finish, then try again"},
	{match: both(has("Could not find a registered machine", "VBOX_E_OBJECT_NOT_FOUND"), has("FindMachine", "registered machine")),
		is:   ErrMachineNotExist,
		hint: "VirtualBox has no such VM any more; run 'docker-machine rm -f NAME' to forget the machine"},
	{match: has("is not currently running"),
		is: errNotRunning},
	{match: has("DHCP server already exists"),
		is: errDHCPExists},
	{match: has("Could not find file for the medium", "VERR_FILE_NOT_FOUND", "Could not find an open hard disk"),
		is: errMediumNotFound},
	{match: both(has("Shrinking is not yet supported", "VBOX_E_NOT_SUPPORTED"), has("resize", "Resize", "Shrink")),
		hint: "VirtualBox cannot shrink a disk: pass a --virtualbox-disk-size at least as large as the image"},
	{match: has("VERR_DISK_FULL", "There is not enough space", "No space left on device"),
		hint: "the disk holding the machine store is full: free some space and try again"},
	{match: has("NAT rule of this name already exists"),
		hint: "the VM already has that port forward; 'VBoxManage showvminfo NAME --machinereadable' lists its Forwarding(...) rules"},
}

func both(f, g func(string) bool) func(string) bool {
	return func(s string) bool { return f(s) && g(s) }
}

func (e *vboxError) diagnose() (diagnosis, bool) {
	text := e.Stderr + "\n" + e.Stdout
	for _, d := range diagnoses {
		if d.match(text) {
			return d, true
		}
	}
	return diagnosis{}, false
}

// message is the first VBoxManage error line without its prefix, the part
// a user recognizes.
var errPrefix = regexp.MustCompile(`^VBoxManage[.a-zA-Z]*: error:\s*`)

func (e *vboxError) message() string {
	var lines []string
	for _, line := range strings.Split(e.Stderr, "\n") {
		line = strings.TrimSpace(line)
		if !errPrefix.MatchString(line) {
			continue
		}
		line = errPrefix.ReplaceAllString(line, "")
		if line == "" || strings.HasPrefix(line, "Context:") || strings.HasPrefix(line, "Details:") {
			continue
		}
		lines = append(lines, line)
		if len(lines) == 2 {
			break
		}
	}
	if len(lines) == 0 {
		if s := strings.TrimSpace(e.Stderr); s != "" {
			return lastLine(s)
		}
		return fmt.Sprintf("exit status %d", e.ExitCode)
	}
	return strings.Join(lines, " ")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (e *vboxError) Error() string {
	msg := fmt.Sprintf("VBoxManage %s failed: %s", e.Args[0], e.message())
	if d, ok := e.diagnose(); ok && d.hint != "" {
		msg += "; " + strings.ReplaceAll(d.hint, "NAME", e.subject())
	}
	return msg
}

// subject is the VM or object the command named, for the hints.
func (e *vboxError) subject() string {
	if len(e.Args) < 2 {
		return "NAME"
	}
	switch e.Args[0] {
	case "createvm":
		for i, a := range e.Args {
			if a == "--name" && i+1 < len(e.Args) {
				return e.Args[i+1]
			}
		}
	case "showvminfo", "modifyvm", "startvm", "controlvm", "unregistervm", "storagectl", "storageattach", "sharedfolder", "guestproperty", "setextradata":
		if e.Args[0] == "sharedfolder" || e.Args[0] == "guestproperty" {
			if len(e.Args) > 2 {
				return e.Args[2]
			}
		}
		return e.Args[1]
	}
	return "NAME"
}

func (e *vboxError) Is(target error) bool {
	d, ok := e.diagnose()
	return ok && d.is != nil && d.is == target
}
