package vboxsim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// backend runs started machines.
type backend interface {
	// start boots vm and returns what is needed to find it again.
	start(c *call, vm *VM) (*Runtime, error)
	// alive tells whether the machine still runs (a guest that shut itself
	// down, or was stopped by ACPI, is not).
	alive(c *call, vm *VM) bool
	acpiShutdown(c *call, vm *VM) error
	// powerOff stops the machine at once.
	powerOff(c *call, vm *VM) error
	// saveState stops the machine keeping what runs in it; the next start
	// resumes it (controlvm savestate).
	saveState(c *call, vm *VM) error
	// discardState forgets a saved state (discardstate).
	discardState(c *call, vm *VM) error
	pause(c *call, vm *VM, paused bool) error
	reset(c *call, vm *VM) error
	// forwardsChanged applies changed NAT rules to a running machine.
	forwardsChanged(c *call, vm *VM) error
	// remove deletes whatever the backend keeps for vm (unregistervm).
	remove(c *call, vm *VM) error
}

func backendFor(name string) backend {
	switch name {
	case BackendContainer:
		return containerBackend{}
	case BackendQEMU:
		return qemuBackend{}
	}
	return noneBackend{}
}

// noneBackend runs nothing: a started machine is a record until stopped.
type noneBackend struct{}

func (noneBackend) start(*call, *VM) (*Runtime, error) { return &Runtime{Backend: BackendNone}, nil }
func (noneBackend) alive(_ *call, vm *VM) bool         { return !vm.Run.PowerButton }
func (noneBackend) powerOff(*call, *VM) error          { return nil }
func (noneBackend) saveState(*call, *VM) error         { return nil }
func (noneBackend) discardState(*call, *VM) error      { return nil }
func (noneBackend) pause(*call, *VM, bool) error       { return nil }
func (noneBackend) reset(*call, *VM) error             { return nil }
func (noneBackend) forwardsChanged(*call, *VM) error   { return nil }
func (noneBackend) remove(*call, *VM) error            { return nil }
func (noneBackend) acpiShutdown(_ *call, vm *VM) error {
	// A guest that honours the power button is off by the next call.
	vm.Run.PowerButton = true
	return nil
}

func cmdStartVM(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"type": 1, "putenv": 1, "e": 1, "password": 1, "passwordid": 1}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	vm, err := c.vm(p.pos[0], "FindMachine(Bstr(VMName).raw(), machine.asOutParam())", "VBoxManageMisc.cpp", 830)
	if err != nil {
		return err
	}
	if t, ok := p.get("type"); ok {
		switch strings.ToLower(t) {
		case "gui", "headless", "sdl", "separate":
		default:
			return syntaxError("Invalid session type '%s'", t)
		}
	}
	if running(vm) {
		return comError(fmt.Sprintf("The machine '%s' is already locked by a session (or being locked or unlocked)", vm.Name),
			codeInvalidObjSt, "MachineWrap", "IMachine",
			"LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())", "VBoxManageMisc.cpp", 881)
	}
	c.printf("Waiting for VM \"%s\" to power on...\n", vm.Name)
	if text, vrc := c.powerUpCheck(vm); text != "" {
		_ = writeVBoxLog(vm, c.cfg, fmt.Sprintf("Power up failed (vrc=%s, rc=NS_ERROR_FAILURE (0X80004005))", vrc))
		return &failure{code: 1, stderr: text}
	}
	b := backendFor(c.cfg.backend())
	if vm.Run != nil && vm.Run.Backend != c.cfg.backend() {
		// The backend changed since the last start: forget the old one.
		if err := backendFor(vm.Run.Backend).remove(c, vm); err != nil {
			return err
		}
		vm.Run = nil
	}
	run, err := b.start(c, vm)
	if err != nil {
		_ = writeVBoxLog(vm, c.cfg, "Power up failed: "+err.Error())
		return &failure{code: 1, stderr: errLines(
			fmt.Sprintf("The virtual machine '%s' has terminated unexpectedly during startup with exit code 1 (0x1)", vm.Name),
			"Details: code NS_ERROR_FAILURE (0x80004005), component MachineWrap, interface IMachine",
			fmt.Sprintf("The stand-in's %s backend could not run the machine: %v", c.cfg.backend(), err))}
	}
	vm.Run = run
	setState(vm, "running")
	if err := writeVBoxLog(vm, c.cfg, "VMM: Power up succeeded"); err != nil {
		return err
	}
	c.printf("VM \"%s\" has been successfully started.\n", vm.Name)
	return nil
}

// powerUpCheck returns the error VirtualBox prints when the host cannot run
// vm: no hardware virtualisation, Hyper-V in the way, a host-only adapter
// that does not exist or is not supported.
func (c *call) powerUpCheck(vm *VM) (text, vrc string) {
	switch c.cfg.Virtualization {
	case "none-vtx":
		return TextVTxNotAvailable, "VERR_VMX_NO_VMX"
	case "disabled-vtx":
		return TextVTxDisabled, "VERR_VMX_MSR_ALL_VMX_DISABLED"
	case "none-amdv":
		return TextAMDVNotAvailable, "VERR_SVM_NO_SVM"
	case "hyperv":
		return TextHyperV, "VERR_NEM_NOT_AVAILABLE"
	}
	for _, nic := range vm.NICs {
		if nic.Attachment != "hostonly" {
			continue
		}
		if c.cfg.darwin() {
			return TextHostOnlyAdaptersUnsupported(nic.HostOnlyIf), "VERR_NOT_FOUND"
		}
		if c.st.hostOnlyIf(nic.HostOnlyIf) == nil {
			return TextInterfaceNotFound(nic.HostOnlyIf), "VERR_INTNET_FLT_IF_NOT_FOUND"
		}
	}
	return "", ""
}

// writeVBoxLog starts a new Logs/VBox.log, keeping the previous one as
// VBox.log.1 as VirtualBox does; the stock driver reads it for VT-x errors.
func writeVBoxLog(vm *VM, cfg *Config, line string) error {
	dir := filepath.Join(filepath.Dir(vm.CfgFile), "Logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log := filepath.Join(dir, "VBox.log")
	if _, err := os.Stat(log); err == nil {
		_ = os.Rename(log, log+".1")
	}
	hm := "HM: HMR3Init: VT-x w/ nested paging and unrestricted guest execution hw support"
	if strings.Contains(line, "VERR_") {
		hm = "HM: HMR3Init: Falling back to raw-mode: " + line
	}
	text := fmt.Sprintf("00:00:00.000000 VirtualBox VM %s linux.amd64 release log\n00:00:00.000100 Log opened %s\n00:00:00.100000 %s\n00:00:00.200000 %s\n",
		cfg.version(), time.Now().UTC().Format(time.RFC3339Nano), hm, line)
	return os.WriteFile(log, []byte(text), 0o644)
}

func cmdControlVM(c *call, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	vm, err := c.vm(args[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageControlVM.cpp", 210)
	if err != nil {
		return err
	}
	if !running(vm) {
		return notRunning(vm.Name)
	}
	b := backendFor(vm.Run.Backend)
	sub := strings.ToLower(args[1])
	rest := args[2:]
	switch {
	case sub == "poweroff":
		if err := b.powerOff(c, vm); err != nil {
			return plainError(fmt.Sprintf("Powering off machine '%s' failed: %v", vm.Name, err))
		}
		stopped(vm, "poweroff")
		c.progress()
	case sub == "acpipowerbutton":
		if vm.State == "paused" {
			return comError("Controlled power off failed (VERR_INVALID_STATE)", codeInvalidVMState, "ConsoleWrap", "IConsole",
				"PowerButton()", "VBoxManageControlVM.cpp", 520)
		}
		if err := b.acpiShutdown(c, vm); err != nil {
			return plainError(fmt.Sprintf("Sending the ACPI power button event to '%s' failed: %v", vm.Name, err))
		}
	case sub == "acpisleepbutton":
	case sub == "savestate":
		if err := b.saveState(c, vm); err != nil {
			return plainError(fmt.Sprintf("Saving the state of machine '%s' failed: %v", vm.Name, err))
		}
		stopped(vm, "saved")
		c.progress()
	case sub == "pause" || sub == "resume":
		if err := b.pause(c, vm, sub == "pause"); err != nil {
			return plainError(fmt.Sprintf("Could not %s machine '%s': %v", sub, vm.Name, err))
		}
		if sub == "pause" {
			setState(vm, "paused")
		} else {
			setState(vm, "running")
		}
	case sub == "reset":
		if err := b.reset(c, vm); err != nil {
			return plainError(fmt.Sprintf("Could not reset machine '%s': %v", vm.Name, err))
		}
	case strings.HasPrefix(sub, "natpf"):
		n, err := strconv.Atoi(strings.TrimPrefix(sub, "natpf"))
		if err != nil || n < 1 || n > 8 || len(rest) == 0 || (strings.EqualFold(rest[0], "delete") && len(rest) != 2) {
			return syntaxError("Invalid parameter '%s'", args[1])
		}
		if err := c.applyNICOption(vm, n, "natpf", opt{name: sub, raw: args[1], vals: rest}); err != nil {
			return err
		}
		if err := b.forwardsChanged(c, vm); err != nil {
			return plainError(fmt.Sprintf("Could not apply the NAT rule to the running machine '%s': %v", vm.Name, err))
		}
	case strings.HasPrefix(sub, "setlinkstate"):
		n, err := strconv.Atoi(strings.TrimPrefix(sub, "setlinkstate"))
		if err != nil || n < 1 || n > 8 || len(rest) != 1 {
			return syntaxError("Invalid parameter '%s'", args[1])
		}
		on, err := parseOnOff(args[1], rest[0])
		if err != nil {
			return err
		}
		vm.NICs[n-1].Cable = on
	default:
		return syntaxError("Invalid parameter '%s'", args[1])
	}
	return nil
}

func cmdDiscardState(c *call, args []string) error {
	if len(args) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	vm, err := c.vm(args[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageMisc.cpp", 1000)
	if err != nil {
		return err
	}
	if running(vm) {
		return sessionLocked(vm.Name, "LockMachine(a->session, LockType_Write)", 1010, "VBoxManageMisc.cpp")
	}
	if vm.State == "saved" {
		if vm.Run != nil {
			if err := backendFor(vm.Run.Backend).discardState(c, vm); err != nil {
				return plainError(fmt.Sprintf("Could not discard the saved state of machine '%s': %v", vm.Name, err))
			}
		}
		setState(vm, "poweroff")
	}
	return nil
}

// stopped records that vm no longer runs: its forwarder ends and the
// guest's transient properties go, as VirtualBox resets them at power off.
func stopped(vm *VM, state string) {
	setState(vm, state)
	if vm.Run != nil {
		stopForwarder(vm.Run.ForwarderPID)
		vm.Run.ForwarderPID = 0
		vm.Run.ContainerIP = ""
		if state != "saved" {
			// A saved QEMU VM is a frozen process the next start resumes.
			vm.Run.QEMUPID = 0
		}
	}
	for k := range vm.GuestProps {
		if strings.HasPrefix(k, "/VirtualBox/GuestInfo/") {
			delete(vm.GuestProps, k)
		}
	}
}

// reconcile notices machines whose guest stopped since the last call.
func reconcile(c *call) {
	for _, vm := range c.st.VMs {
		if !running(vm) || vm.Run == nil || vm.State == "paused" {
			continue
		}
		if !backendFor(vm.Run.Backend).alive(c, vm) {
			stopped(vm, "poweroff")
		}
	}
}

// releaseBackend removes what the backend keeps for a machine being
// unregistered.
func releaseBackend(c *call, vm *VM) error {
	if vm.Run == nil {
		return nil
	}
	if err := backendFor(vm.Run.Backend).remove(c, vm); err != nil {
		return plainError(fmt.Sprintf("Could not remove what runs machine '%s': %v", vm.Name, err))
	}
	stopForwarder(vm.Run.ForwarderPID)
	vm.Run = nil
	return nil
}

// processAlive tells whether pid runs and its command line contains want.
func processAlive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// A zombie is not running.
		if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
			return false
		}
	}
	return strings.Contains(string(data), want)
}

func stopForwarder(pid int) {
	if processAlive(pid, forwarderArg) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
}
