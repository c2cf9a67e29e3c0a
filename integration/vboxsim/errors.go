package vboxsim

import (
	"fmt"
	"strings"
)

// failure is how a command ends other than with success: the exit code and
// the lines VBoxManage prints on stderr, each already prefixed the way
// VBoxManage does ("VBoxManage: error: ").
type failure struct {
	code   int
	stdout string
	stderr string
}

func (f *failure) Error() string { return f.stderr }

const errPrefix = "VBoxManage: error: "

// errLines prefixes every line with "VBoxManage: error: ".
func errLines(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(errPrefix + l + "\n")
	}
	return b.String()
}

// comError is an API error the way VBoxManage reports it: the message, the
// Details line naming the COM status and the Context line with the call.
func comError(msg, code, component, iface, context, file string, line int) *failure {
	return &failure{code: 1, stderr: errLines(msg,
		fmt.Sprintf("Details: code %s, component %s, interface %s, callee nsISupports", code, component, iface),
		fmt.Sprintf("Context: %q at line %d of file %s", context, line, file))}
}

// syntaxError is a command-line error: rc 2, as RTGetOpt failures end.
func syntaxError(format string, args ...any) *failure {
	return &failure{code: 2, stderr: errLines(fmt.Sprintf(format, args...))}
}

// plainError is a failure with one or more error lines and rc 1.
func plainError(lines ...string) *failure { return &failure{code: 1, stderr: errLines(lines...)} }

const (
	codeObjectNotFound = "VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)"
	codeInvalidVMState = "VBOX_E_INVALID_VM_STATE (0x80bb0002)"
	codeFileError      = "VBOX_E_FILE_ERROR (0x80bb0004)"
	codeInvalidObjSt   = "VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)"
	codeObjectInUse    = "VBOX_E_OBJECT_IN_USE (0x80bb000c)"
	codeInvalidArg     = "NS_ERROR_INVALID_ARG (0x80070057)"
	codeFailure        = "NS_ERROR_FAILURE (0x80004005)"
	codeAccessDenied   = "E_ACCESSDENIED (0x80070005)"
	codeEFail          = "E_FAIL (0x80004005)"
)

func machineNotFound(name, context string, line int, file string) *failure {
	return comError(fmt.Sprintf("Could not find a registered machine named '%s'", name),
		codeObjectNotFound, "VirtualBoxWrap", "IVirtualBox", context, file, line)
}

func sessionLocked(name, context string, line int, file string) *failure {
	return comError(fmt.Sprintf("The machine '%s' is already locked for a session (or being unlocked)", name),
		codeInvalidObjSt, "MachineWrap", "IMachine", context, file, line)
}

func notRunning(name string) *failure {
	return plainError(fmt.Sprintf("Machine '%s' is not currently running.", name))
}

// Texts of failures that depend on the host rather than on the command: the
// texts VirtualBox prints at startvm when hardware virtualisation or a
// network cannot be used. Tests may also inject them with a Fault.
const (
	TextVTxNotAvailable = "VBoxManage: error: VT-x is not available (VERR_VMX_NO_VMX)\n" +
		"VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n"
	TextVTxDisabled = "VBoxManage: error: VT-x is disabled in the BIOS for all CPU modes (VERR_VMX_MSR_ALL_VMX_DISABLED)\n" +
		"VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n"
	TextAMDVNotAvailable = "VBoxManage: error: AMD-V is not available (VERR_SVM_NO_SVM)\n" +
		"VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole\n"
	TextHyperV = "VBoxManage: error: Not in a hypervisor partition (HVP=0) (VERR_NEM_NOT_AVAILABLE).\n" +
		"VBoxManage: error: AMD-V is disabled in the BIOS (or by the host OS) (VERR_SVM_DISABLED)\n" +
		"VBoxManage: error: Details: code E_FAIL (0x80004005), component ConsoleWrap, interface IConsole\n"
	TextHostOnlyRangeDenied = "VBoxManage: error: Code E_ACCESSDENIED (0x80070005) - Access denied (extended info not available)\n" +
		"VBoxManage: error: Context: \"EnableStaticIPConfig(Bstr(pszIp).raw(), Bstr(pszNetmask).raw())\" at line 242 of file VBoxManageHostonly.cpp\n"
	TextNoVBoxNetCtl = "VBoxManage: error: Failed to create the host-only adapter\n" +
		"VBoxManage: error: VBoxNetAdpCtl: Error while adding new interface: failed to open /dev/vboxnetctl: No such file or directory\n" +
		"VBoxManage: error: Details: code NS_ERROR_FAILURE (0x80004005), component HostNetworkInterfaceWrap, interface IHostNetworkInterface\n" +
		"VBoxManage: error: Context: \"RTEXITCODE handleCreate(HandlerArg*)\" at line 105 of file VBoxManageHostonly.cpp\n"
	TextObjectNotReady = "VBoxManage: error: The object is not ready\n"
)

// TextInterfaceNotFound is startvm's failure when a NIC is attached to a
// host-only interface the host does not have.
func TextInterfaceNotFound(ifname string) string {
	return errLines(
		fmt.Sprintf("Failed to open/create the internal network 'HostInterfaceNetworking-%s' (VERR_INTNET_FLT_IF_NOT_FOUND).", ifname),
		"Failed to attach the network LUN (VERR_INTNET_FLT_IF_NOT_FOUND)",
		"Details: code E_FAIL (0x80004005), component ConsoleWrap, interface IConsole")
}

// TextHostOnlyAdaptersUnsupported is startvm's failure on VirtualBox 7 for
// macOS when a NIC still uses the host-only adapter ifname.
func TextHostOnlyAdaptersUnsupported(ifname string) string {
	return errLines("Host-only adapters are no longer supported!",
		fmt.Sprintf("For your convenience a host-only network named 'Legacy %s Network' has been created with network mask '255.255.255.0' and IP address range '192.168.59.100' - '192.168.59.254'.", ifname),
		"To fix this problem, switch to 'Host-only Network' attachment type in the VM settings.",
		" (VERR_NOT_FOUND)",
		"Details: code NS_ERROR_FAILURE (0x80004005), component ConsoleWrap, interface IConsole")
}
