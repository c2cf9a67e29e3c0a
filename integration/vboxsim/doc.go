// Package vboxsim is a stand-in for VirtualBox's VBoxManage, for testing
// the virtualbox driver on machines where VirtualBox cannot run. The main
// package under cmd/VBoxManage builds a binary named VBoxManage that
// accepts the real command syntax (both the run-together 0.16.2 option
// spellings and the 7.x kebab case), prints the real output (showvminfo
// --machinereadable as VirtualBox 7.2.22 prints it) and fails with the real
// exit codes and error texts.
//
// Commands: --version; list [--long] vms; list runningvms|hostonlyifs|hostonlynets|
// dhcpservers|systemproperties|hostinfo|hdds|dvds|ostypes; showvminfo
// [--machinereadable] [--log N]; createvm; modifyvm; startvm; controlvm
// poweroff|acpipowerbutton|savestate|pause|resume|reset|natpfN|
// setlinkstateN; discardstate; unregistervm [--delete|--delete-all];
// storagectl; storageattach; createmedium (createhd); clonemedium
// (clonehd); modifymedium (modifyhd) --resize; closemedium [--delete];
// convertfromraw [stdin]; internalcommands sethduuid; hostonlyif
// create|ipconfig|remove; hostonlynet add|modify|remove (macOS platform
// only, as on VirtualBox 7); dhcpserver add|modify|remove; sharedfolder
// add|remove; guestproperty get|set|delete|enumerate; setextradata;
// getextradata. Disk images are created and converted with qemu-img.
//
// # State, call log and faults
//
// Every call reads and writes its state in the folder named by
// $VBOXSIM_HOME (state.json, under a lock, so concurrent calls are
// serialised as VBoxSVC serialises them). A failed command changes nothing.
// Each call is appended to calls.jsonl (arguments, exit code, output);
// ReadCalls reads it. config.json (Config) holds the simulated host: the
// VirtualBox version, the platform (linux, or darwin for VirtualBox 7 on
// macOS: host-only networks, no host-only adapters), hardware virtualisation (missing VT-x, VT-x off in
// the BIOS, missing AMD-V, Hyper-V in the way), a host without the
// host-only driver, the ranges /etc/vbox/networks.conf allows (default
// 192.168.56.0/21: other host-only addresses fail with E_ACCESSDENIED), and
// Faults: make the Nth call, or the Nth call of a command with given
// arguments, fail with a given exit code and output. The Text* constants
// are VirtualBox's texts for such faults.
//
// # Backends
//
// Config.Backend decides what a started machine is:
//   - none (default): a record that is running until stopped; the power
//     button stops it at once.
//   - container: a VM-like hostworld container (systemd, sshd). The first
//     cidata ISO attached as a DVD is read as a cloud-init NoCloud seed and
//     its users (with sudo rules, groups, shell and SSH keys) and hostname
//     are applied. A forwarder process (the VBoxManage binary itself,
//     standing in for VirtualBox's NAT engine) listens on loopback for
//     every TCP NAT rule (natpf: "ssh,tcp,127.0.0.1,PORT,,22") and relays
//     to the container; it follows rule changes and ends with the machine.
//     The guest properties /VirtualBox/GuestInfo/Net/N/V4/IP report
//     10.0.2.15 for NAT adapters and the container's address for the
//     others, which is reachable from this host; the container's interface
//     carries the MAC of the host-only (else the NAT) adapter, so a driver
//     that looks the address up by MAC in "ip addr show" finds it. Shared folders are bind
//     mounts where a guest with the Guest Additions would have them: at
//     the mount point of the seed's vboxsf mounts entry of that name, else
//     (automount) at MountDir/MountPrefix+NAME from the guest properties
//     (/media/sf_NAME by default, /NAME with boot2docker's "/" and "/");
//     they are fixed when the machine first starts. acpipowerbutton asks
//     systemd to shut down, poweroff kills the container, unregistervm
//     removes it.
//   - qemu: a real QEMU VM booting the attached disks (raw, qcow2, VMDK,
//     VDI) and DVDs, with each NAT adapter a user-mode network whose host
//     forwards are the NAT rules (changed at run time through the
//     monitor). The accelerator is chosen explicitly: Config.Accel, or KVM
//     only where /proc/cpuinfo shows vmx or svm, TCG otherwise. The power
//     button is QMP system_powerdown, poweroff QMP quit; the serial console
//     goes to Logs/console.log. Host-only adapters and shared folders have
//     no counterpart: reach Docker through a NAT rule (NoHostOnlyDriver
//     makes hostonlyif create fail, so a driver falls back to one).
//
// controlvm savestate keeps what runs in the guest, and the next startvm
// resumes it: the container is frozen (docker pause), the QEMU VM stopped
// with its process kept (QEMU cannot migrate VDI or VMDK disks to a file).
// discardstate ends it.
//
// Rules with an empty host IP listen on 127.0.0.1 only, where VirtualBox
// would listen on every address: tests talk to loopback alone.
//
// # Use from tests
//
//	sim := vboxsim.Install(t, vboxsim.Config{Backend: vboxsim.BackendContainer})
//	sim.Setenv(t)        // PATH starts with sim.BinDir; VBOXSIM_HOME=sim.Home
//	// or cmd.Env = append(os.Environ(), sim.Env()...) for a child process
//	... create a machine with the driver ...
//	calls := sim.Calls(t) // every VBoxManage call, in order
//	st := sim.State(t)    // machines, media, host-only interfaces, DHCP servers
//	sim.Configure(t, func(c *vboxsim.Config) {
//		c.Faults = []vboxsim.Fault{{Command: "startvm", Stderr: vboxsim.TextVTxNotAvailable}}
//	})
//
// Install builds the binary once per test binary, and removes the
// containers, VMs and forwarders its machines left when the test ends;
// Teardown does the same for a state folder made without Install.
package vboxsim
