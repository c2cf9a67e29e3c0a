package vboxsim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// osTypes maps the guest OS type ids the drivers use to the description
// showvminfo prints.
var osTypes = map[string]string{
	"Linux26_64":      "Linux 2.6 / 3.x / 4.x / 5.x (64-bit)",
	"Linux26":         "Linux 2.6 / 3.x / 4.x / 5.x (32-bit)",
	"Linux_64":        "Other Linux (64-bit)",
	"Linux":           "Other Linux (32-bit)",
	"Ubuntu_64":       "Ubuntu (64-bit)",
	"Ubuntu":          "Ubuntu (32-bit)",
	"Ubuntu24_LTS_64": "Ubuntu 24.04 LTS (Noble Numbat) (64-bit)",
	"Ubuntu_arm64":    "Ubuntu (ARM 64-bit)",
	"Ubuntu22_LTS_64": "Ubuntu 22.04 LTS (Jammy Jellyfish) (64-bit)",
	"Debian_64":       "Debian (64-bit)",
	"Debian12_64":     "Debian 12 (Bookworm) (64-bit)",
	"Fedora_64":       "Fedora (64-bit)",
	"Other":           "Other/Unknown",
	"Other_64":        "Other/Unknown (64-bit)",
}

func lookupOSType(id string) (string, bool) {
	for k := range osTypes {
		if strings.EqualFold(k, id) {
			return k, true
		}
	}
	return "", false
}

func cmdCreateVM(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"name": 1, "basefolder": 1, "ostype": 1, "register": 0,
		"uuid": 1, "groups": 1, "default": 0, "platformarchitecture": 1, "cipher": 1, "passwordid": 1, "password": 1}))
	if err != nil {
		return err
	}
	name, _ := p.get("name")
	if name == "" || len(p.pos) > 0 {
		return syntaxError("Parameter --name is required")
	}
	osType := "Other"
	if v, ok := p.get("ostype"); ok {
		id, ok := lookupOSType(v)
		if !ok {
			return comError(fmt.Sprintf("Guest OS type '%s' is invalid", v), codeInvalidArg, "VirtualBoxWrap", "IVirtualBox",
				"CreateMachine(bstrSettingsFile.raw(), bstrName.raw(), enmPlatformArch, ComSafeArrayAsInParam(groups), bstrOsTypeId.raw(), createFlags.raw(), bstrCipher.raw(), bstrPasswordId.raw(), Bstr(strPassword).raw(), machine.asOutParam())",
				"VBoxManageMisc.cpp", 429)
		}
		osType = id
	}
	base, ok := p.get("basefolder")
	if !ok || base == "" {
		base = c.defaultMachineFolder()
	}
	base, err = filepath.Abs(base)
	if err != nil {
		return err
	}
	cfgFile := filepath.Join(base, name, name+".vbox")
	if _, err := os.Stat(cfgFile); err == nil {
		return comError(fmt.Sprintf("Machine settings file '%s' already exists", cfgFile), codeFileError, "MachineWrap", "IMachine",
			"CreateMachine(...)", "VBoxManageMisc.cpp", 429)
	}
	uuid := newUUID()
	if v, ok := p.get("uuid"); ok {
		uuid = strings.Trim(v, "{}")
	}
	register := p.has("register")
	if register && c.st.findVM(uuid) != nil {
		return comError(fmt.Sprintf("Cannot register the machine '%s' because a machine with UUID {%s} already exists", name, uuid),
			codeObjectInUse, "VirtualBoxWrap", "IVirtualBox", "RegisterMachine(machine)", "VBoxManageMisc.cpp", 436)
	}
	vm := newVM(name, uuid, cfgFile, osType)
	if err := os.MkdirAll(filepath.Dir(cfgFile), 0o755); err != nil {
		return fmt.Errorf("cannot create the machine folder: %w", err)
	}
	if err := writeSettings(vm); err != nil {
		return err
	}
	if register {
		c.st.VMs = append(c.st.VMs, vm)
		c.printf("Virtual machine '%s' is created and registered.\n", name)
	} else {
		c.printf("Virtual machine '%s' is created.\n", name)
	}
	c.printf("UUID: %s\nSettings file: '%s'\n", uuid, cfgFile)
	return nil
}

func newVM(name, uuid, cfgFile, osType string) *VM {
	vm := &VM{Name: name, UUID: uuid, CfgFile: cfgFile, OSType: osType, Memory: 128, CPUs: 1, VRAM: 8,
		Firmware: "BIOS", Chipset: "piix3", Graphics: "vboxvga", BootMenu: "messageandmenu",
		Boot: [4]string{"floppy", "dvd", "disk", "none"},
		Flags: map[string]string{"pagefusion": "off", "hpet": "off", "pae": "on", "longmode": "on", "triplefaultreset": "off",
			"apic": "on", "x2apic": "on", "nested-hw-virt": "off", "hwvirtex": "on", "nestedpaging": "on", "largepages": "on",
			"vtxvpid": "on", "vtxux": "on", "acpi": "on", "ioapic": "on", "rtcuseutc": "off", "cpuhotplug": "off",
			"accelerate3d": "off", "bioslogofadein": "on", "bioslogofadeout": "on", "usb": "off", "ehci": "off", "xhci": "off"},
		State: "poweroff", StateChange: time.Now().UTC()}
	if strings.HasSuffix(osType, "_64") {
		vm.Flags["ioapic"] = "on"
	}
	for i := range vm.NICs {
		vm.NICs[i] = NIC{Attachment: "none", Type: "Am79C973", MAC: newMAC(), Cable: true, Promisc: "deny"}
	}
	vm.NICs[0].Attachment = "nat"
	return vm
}

// onOffSettings are the modifyvm switches taking on|off, by normalised
// option name, with the machinereadable key they show as.
var onOffSettings = map[string]string{
	"acpi": "acpi", "ioapic": "ioapic", "pae": "pae", "longmode": "longmode", "hpet": "hpet",
	"hwvirtex": "hwvirtex", "nestedpaging": "nestedpaging", "largepages": "largepages", "vtxvpid": "vtxvpid",
	"vtxux": "vtxux", "rtcuseutc": "rtcuseutc", "cpuhotplug": "cpuhotplug", "accelerate3d": "accelerate3d",
	"bioslogofadein": "bioslogofadein", "bioslogofadeout": "bioslogofadeout", "x2apic": "x2apic", "apic": "apic",
	"nestedhwvirt": "nested-hw-virt", "pagefusion": "pagefusion", "triplefaultreset": "triplefaultreset",
	"usb": "usb", "usbohci": "usb", "usbehci": "ehci", "usbxhci": "xhci", "hwvirtexexcl": "hwvirtexexcl",
}

// stringSettings take one free value that only needs to be stored.
var stringSettings = map[string]bool{
	"audio": true, "audiocontroller": true, "audiodriver": true, "audioout": true, "audioin": true, "clipboard": true,
	"clipboardmode": true, "draganddrop": true, "vrde": true, "mouse": true, "keyboard": true, "paravirtprovider": true,
	"cpuprofile": true, "groups": true, "iconfile": true, "defaultfrontend": true, "vmprocpriority": true,
	"biosbootmenu": true, "bootmenu": true, "bioslogodisplaytime": true, "bioslogoimagepath": true, "biossystemtimeoffset": true,
	"biosapic": true, "cpuexecutioncap": true, "monitorcount": true, "snapshotfolder": true, "autostartenabled": true,
	"autostartdelay": true, "platformarchitecture": true, "tpmtype": true, "iommu": true,
}

var nicOption = regexp.MustCompile(`^(nic|nictype|cableconnected|macaddress|nicpromisc|hostonlyadapter|hostonlynet|bridgeadapter|intnet|natpf|natdnshostresolver|natdnsproxy|natdnspassdomain|natnet|nicspeed|nicbootprio|nicproperty|natsettings|nattftpprefix|nattftpfile|nattftpserver|natbindip|natlocalhostreachable|nicgenericdrv|nictrace|nictracefile|natnetwork)([1-8])$`)

func modifyVMArity(name string, next []string) (int, bool) {
	if _, ok := onOffSettings[name]; ok {
		return 1, true
	}
	if stringSettings[name] {
		return 1, true
	}
	switch name {
	case "name", "ostype", "memory", "cpus", "vram", "firmware", "chipset", "graphicscontroller", "boot1", "boot2",
		"boot3", "boot4", "description", "uartmode2", "uartmode3", "uartmode4":
		return 1, true
	case "uart1", "uart2", "uart3", "uart4":
		if len(next) > 0 && strings.EqualFold(next[0], "off") {
			return 1, true
		}
		return 2, true
	case "uartmode1":
		if len(next) > 0 && strings.EqualFold(next[0], "disconnected") {
			return 1, true
		}
		return 2, true
	}
	if m := nicOption.FindStringSubmatch(name); m != nil {
		if m[1] == "natpf" && len(next) > 0 && strings.EqualFold(next[0], "delete") {
			return 2, true
		}
		return 1, true
	}
	return 0, false
}

func cmdModifyVM(c *call, args []string) error {
	if len(args) == 0 {
		return syntaxError("Not enough parameters")
	}
	vm, err := c.vm(args[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageModifyVM.cpp", 631)
	if err != nil {
		return err
	}
	p, err := parseArgs(args[1:], modifyVMArity)
	if err != nil {
		return err
	}
	if len(p.pos) > 0 {
		return syntaxError("Invalid parameter '%s'", p.pos[0])
	}
	if running(vm) {
		return sessionLocked(vm.Name, "LockMachine(a->session, LockType_Write)", 640, "VBoxManageModifyVM.cpp")
	}
	for _, o := range p.opts {
		if err := c.applyVMOption(vm, o); err != nil {
			return err
		}
	}
	return nil
}

var bootDevices = []string{"none", "floppy", "dvd", "disk", "net"}

// applyVMOption applies one modifyvm option (also used by controlvm for
// the NAT rules of a running machine).
func (c *call) applyVMOption(vm *VM, o opt) error {
	v := ""
	if len(o.vals) > 0 {
		v = o.vals[0]
	}
	if key, ok := onOffSettings[o.name]; ok {
		b, err := parseOnOff(o.raw, v)
		if err != nil {
			return err
		}
		vm.Flags[key] = onOff(b)
		return nil
	}
	if stringSettings[o.name] {
		vm.Flags[o.name] = v
		return nil
	}
	switch o.name {
	case "name":
		vm.Name = v
	case "description":
		vm.Desc = v
	case "ostype":
		id, ok := lookupOSType(v)
		if !ok {
			return comError(fmt.Sprintf("Guest OS type '%s' is invalid", v), codeInvalidArg, "MachineWrap", "IMachine",
				"COMSETTER(OSTypeId)(bstrOSType.raw())", "VBoxManageModifyVM.cpp", 724)
		}
		vm.OSType = id
	case "memory":
		n, err := parseUint(o.raw, v)
		if err != nil {
			return err
		}
		if n < 4 || n > 2097152 {
			return comError(fmt.Sprintf("Invalid RAM size: %d MB (must be in range [4, 2097152] MB)", n), codeInvalidArg,
				"MachineWrap", "IMachine", "COMSETTER(MemorySize)(ValueUnion.u32)", "VBoxManageModifyVM.cpp", 820)
		}
		vm.Memory = n
	case "cpus":
		n, err := parseUint(o.raw, v)
		if err != nil {
			return err
		}
		if n < 1 || n > 64 {
			return comError(fmt.Sprintf("Invalid virtual CPU count: %d (must be in range [1, 64])", n), codeInvalidArg,
				"MachineWrap", "IMachine", "COMSETTER(CPUCount)(ValueUnion.u32)", "VBoxManageModifyVM.cpp", 769)
		}
		vm.CPUs = n
	case "vram":
		n, err := parseUint(o.raw, v)
		if err != nil {
			return err
		}
		vm.VRAM = n
	case "firmware":
		switch strings.ToLower(v) {
		case "bios":
			vm.Firmware = "BIOS"
		case "efi", "efi64":
			vm.Firmware = "EFI"
		case "efi32":
			vm.Firmware = "EFI32"
		case "efidual":
			vm.Firmware = "EFIDUAL"
		default:
			return plainError(fmt.Sprintf("Invalid --firmware argument '%s'", v))
		}
	case "chipset":
		switch strings.ToLower(v) {
		case "piix3", "ich9", "armv8virtual":
			vm.Chipset = strings.ToLower(v)
		default:
			return plainError(fmt.Sprintf("Invalid --chipset argument '%s'", v))
		}
	case "graphicscontroller":
		switch strings.ToLower(v) {
		case "none", "vboxvga", "vmsvga", "vboxsvga", "qemuramfb":
			vm.Graphics = strings.ToLower(v)
		default:
			return plainError(fmt.Sprintf("Invalid --graphicscontroller argument '%s'", v))
		}
	case "boot1", "boot2", "boot3", "boot4":
		if !slices.Contains(bootDevices, strings.ToLower(v)) {
			return plainError(fmt.Sprintf("Invalid boot device '%s'", v))
		}
		vm.Boot[o.name[4]-'1'] = strings.ToLower(v)
	case "uart1":
		vm.Uart1 = strings.Join(o.vals, " ")
	case "uartmode1":
		vm.UartMode1 = strings.Join(o.vals, " ")
	case "uart2", "uart3", "uart4", "uartmode2", "uartmode3", "uartmode4":
		vm.Flags[o.name] = strings.Join(o.vals, " ")
	default:
		m := nicOption.FindStringSubmatch(o.name)
		if m == nil {
			return syntaxError("Unknown option: %s", o.raw)
		}
		n, _ := strconv.Atoi(m[2])
		return c.applyNICOption(vm, n, m[1], o)
	}
	return nil
}

var nicAttachments = map[string]string{"none": "none", "null": "null", "nat": "nat", "bridged": "bridged",
	"intnet": "intnet", "hostonly": "hostonly", "hostonlynet": "hostonlynetwork", "generic": "generic",
	"natnetwork": "natnetwork", "cloud": "cloudnetwork"}

var nicTypes = []string{"Am79C970A", "Am79C973", "Am79C960", "82540EM", "82543GC", "82545EM", "virtio"}

func (c *call) applyNICOption(vm *VM, n int, what string, o opt) error {
	nic := &vm.NICs[n-1]
	v := o.vals[0]
	switch what {
	case "nic":
		att, ok := nicAttachments[strings.ToLower(v)]
		if !ok || (att == "hostonlynetwork" && !c.cfg.darwin()) {
			return plainError(fmt.Sprintf("Invalid type '%s' specfied for NIC %d", v, n))
		}
		nic.Attachment = att
	case "nictype":
		i := slices.IndexFunc(nicTypes, func(t string) bool { return strings.EqualFold(t, v) })
		if i < 0 {
			return plainError(fmt.Sprintf("Invalid NIC type '%s' specified for NIC %d", v, n))
		}
		nic.Type = nicTypes[i]
	case "cableconnected":
		b, err := parseOnOff(o.raw, v)
		if err != nil {
			return err
		}
		nic.Cable = b
	case "macaddress":
		if strings.EqualFold(v, "auto") {
			nic.MAC = newMAC()
			return nil
		}
		mac := strings.ToUpper(strings.NewReplacer(":", "", "-", "").Replace(v))
		if !regexp.MustCompile(`^[0-9A-F]{12}$`).MatchString(mac) {
			return comError(fmt.Sprintf("Invalid MAC address format '%s'", v), codeInvalidArg, "NetworkAdapterWrap",
				"INetworkAdapter", "COMSETTER(MACAddress)(Bstr(ValueUnion.psz).raw())", "VBoxManageModifyVM.cpp", 1391)
		}
		nic.MAC = mac
	case "nicpromisc":
		switch strings.ToLower(v) {
		case "deny", "allow-vms", "allow-all":
			nic.Promisc = strings.ToLower(v)
		default:
			return plainError(fmt.Sprintf("Unknown promiscuous mode policy '%s'", v))
		}
	case "hostonlyadapter":
		nic.HostOnlyIf = v
		if c.st.hostOnlyIf(v) == nil {
			c.eprintf("VBoxManage: warning: Interface \"%s\" doesn't seem to exist\n", v)
		}
	case "hostonlynet":
		if !c.cfg.darwin() {
			return syntaxError("Unknown option: %s", o.raw)
		}
		nic.HostOnlyNet = v
	case "bridgeadapter":
		nic.Bridge = v
	case "intnet":
		nic.IntNet = v
	case "natdnshostresolver":
		b, err := parseOnOff(o.raw, v)
		if err != nil {
			return err
		}
		nic.DNSHostRes = b
	case "natdnsproxy":
		b, err := parseOnOff(o.raw, v)
		if err != nil {
			return err
		}
		nic.DNSProxy = b
	case "nicspeed":
		s, err := parseUint(o.raw, v)
		if err != nil {
			return err
		}
		nic.Speed = s
	case "natpf":
		if strings.EqualFold(v, "delete") {
			i := slices.IndexFunc(nic.NATRules, func(r NATRule) bool { return r.Name == o.vals[1] })
			if i < 0 {
				return comError("A NAT rule of this name does not exist", codeInvalidArg, "NATEngineWrap", "INATEngine",
					"RemoveRedirect(Bstr(ValueUnion.psz).raw())", "VBoxManageModifyVM.cpp", 1794)
			}
			nic.NATRules = slices.Delete(nic.NATRules, i, i+1)
			return nil
		}
		r, err := parseNATRule(v)
		if err != nil {
			return err
		}
		for _, x := range nic.NATRules {
			if x.Name == r.Name {
				return comError("A NAT rule of this name already exists", codeInvalidArg, "NATEngineWrap", "INATEngine",
					"AddRedirect(Bstr(strName).raw(), proto, Bstr(strHostIp).raw(), RTStrToUInt16(strHostPort), Bstr(strGuestIp).raw(), RTStrToUInt16(strGuestPort))",
					"VBoxManageModifyVM.cpp", 1774)
			}
			if x.Proto == r.Proto && x.HostPort == r.HostPort && x.HostIP == r.HostIP {
				return comError("A NAT rule for this host port and this host IP already exists", codeInvalidArg, "NATEngineWrap", "INATEngine",
					"AddRedirect(Bstr(strName).raw(), proto, Bstr(strHostIp).raw(), RTStrToUInt16(strHostPort), Bstr(strGuestIp).raw(), RTStrToUInt16(strGuestPort))",
					"VBoxManageModifyVM.cpp", 1774)
			}
		}
		nic.NATRules = append(nic.NATRules, r)
		slices.SortFunc(nic.NATRules, func(a, b NATRule) int { return strings.Compare(a.Name, b.Name) })
	default:
		// Stored NAT engine and NIC details nothing reads back.
		if vm.Flags == nil {
			vm.Flags = map[string]string{}
		}
		vm.Flags[fmt.Sprintf("%s%d", what, n)] = v
	}
	return nil
}

func parseNATRule(s string) (NATRule, error) {
	f := strings.Split(s, ",")
	bad := func() error {
		return plainError(fmt.Sprintf("Invalid NAT rule '%s': use name,tcp|udp,[hostip],hostport,[guestip],guestport", s))
	}
	if len(f) != 6 {
		return NATRule{}, bad()
	}
	r := NATRule{Name: f[0], Proto: strings.ToLower(f[1]), HostIP: f[2], GuestIP: f[4]}
	if r.Proto != "tcp" && r.Proto != "udp" {
		return NATRule{}, bad()
	}
	hp, err1 := strconv.ParseUint(f[3], 10, 16)
	gp, err2 := strconv.ParseUint(f[5], 10, 16)
	if err1 != nil || err2 != nil {
		return NATRule{}, bad()
	}
	r.HostPort, r.GuestPort = int(hp), int(gp)
	if r.Name == "" {
		r.Name = fmt.Sprintf("%s_%d_%d", r.Proto, r.HostPort, r.GuestPort)
	}
	return r, nil
}

func cmdShowVMInfo(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"machinereadable": 0, "details": 0, "log": 1, "statistics": 0, "password": 1, "passwordid": 1}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	vm, err := c.vm(p.pos[0], "FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())", "VBoxManageInfo.cpp", 3248)
	if err != nil {
		return err
	}
	if idx, ok := p.get("log"); ok {
		n, err := parseUint("--log", idx)
		if err != nil {
			return err
		}
		name := "VBox.log"
		if n > 0 {
			name = fmt.Sprintf("VBox.log.%d", n)
		}
		data, err := os.ReadFile(filepath.Join(filepath.Dir(vm.CfgFile), "Logs", name))
		if err != nil {
			return comError(fmt.Sprintf("Could not open the log file '%s' (VERR_FILE_NOT_FOUND)", name), codeFileError, "MachineWrap", "IMachine",
				"ReadLog(uLogIdx, uOffset, _1M, ComSafeArrayAsOutParam(aLogData))", "VBoxManageInfo.cpp", 3290)
		}
		c.out.Write(data)
		return nil
	}
	if p.has("machinereadable") {
		c.out.WriteString(machineReadable(vm, c.st))
	} else {
		c.out.WriteString(humanReadable(vm))
	}
	return nil
}

func cmdUnregisterVM(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"delete": 0, "deleteall": 0}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	vm, err := c.vm(p.pos[0], "FindMachine(Bstr(VMName).raw(), machine.asOutParam())", "VBoxManageMisc.cpp", 228)
	if err != nil {
		return err
	}
	if running(vm) {
		return comError(fmt.Sprintf("Cannot unregister the machine '%s' while it is locked", vm.Name), codeInvalidObjSt,
			"MachineWrap", "IMachine", "Unregister(CleanupMode_DetachAllReturnHardDisksOnly, ComSafeArrayAsOutParam(aMedia))",
			"VBoxManageMisc.cpp", 234)
	}
	if err := releaseBackend(c, vm); err != nil {
		return err
	}
	del, delAll := p.has("delete"), p.has("deleteall")
	dir := filepath.Dir(vm.CfgFile)
	if del || delAll {
		for _, ctl := range vm.Ctls {
			for _, a := range ctl.Attached {
				if a.Medium == "" || a.Medium == "emptydrive" || (a.Type != "hdd" && !delAll) {
					continue
				}
				if usedElsewhere(c.st, vm, a.Medium) {
					continue
				}
				if err := os.Remove(a.Medium); err != nil && !errors.Is(err, os.ErrNotExist) {
					return comError(fmt.Sprintf("Could not delete the medium storage unit '%s' (%v)", a.Medium, err), codeFileError,
						"MediumWrap", "IMedium", "DeleteStorage(progress.asOutParam())", "VBoxManageMisc.cpp", 260)
				}
				c.st.dropMedium(a.Medium)
			}
		}
		for _, f := range []string{vm.CfgFile, vm.CfgFile + "-prev", filepath.Join(dir, "Logs"), filepath.Join(dir, "Snapshots"),
			filepath.Join(dir, "vboxsim")} {
			if err := os.RemoveAll(f); err != nil {
				return fmt.Errorf("deleting %s: %w", f, err)
			}
		}
		// The machine folder goes when nothing else is left in it.
		_ = os.Remove(dir)
		c.progress()
	}
	c.st.removeVM(vm)
	return nil
}

func usedElsewhere(st *State, self *VM, medium string) bool {
	for _, vm := range st.VMs {
		if vm == self {
			continue
		}
		for _, ctl := range vm.Ctls {
			for _, a := range ctl.Attached {
				if a.Medium == medium {
					return true
				}
			}
		}
	}
	return false
}

func (st *State) dropMedium(path string) {
	st.Media = slices.DeleteFunc(st.Media, func(m *Medium) bool { return m.Path == path })
}

func cmdList(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"long": 0, "l": 0, "sorted": 0, "s": 0}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Missing subcommand for \"list\" command.")
	}
	switch strings.ToLower(p.pos[0]) {
	case "vms":
		long := p.has("long") || p.has("l")
		for _, vm := range c.st.VMs {
			if long {
				// What showvminfo prints for each VM, a blank line after each.
				c.out.WriteString(humanReadable(vm) + "\n")
				continue
			}
			c.printf("\"%s\" {%s}\n", vm.Name, vm.UUID)
		}
	case "runningvms":
		for _, vm := range c.st.VMs {
			if running(vm) {
				c.printf("\"%s\" {%s}\n", vm.Name, vm.UUID)
			}
		}
	case "hostonlyifs":
		listHostOnlyIfs(c)
	case "hostonlynets":
		if !c.cfg.darwin() {
			return syntaxError("Unknown subcommand \"%s\".", p.pos[0])
		}
		listHostOnlyNets(c)
	case "dhcpservers":
		listDHCPServers(c)
	case "systemproperties":
		listSystemProperties(c)
	case "hostinfo":
		listHostInfo(c)
	case "hdds":
		listMedia(c, "disk")
	case "dvds":
		listMedia(c, "dvd")
	case "floppies":
		listMedia(c, "floppy")
	case "bridgedifs", "natnets", "intnets", "usbhost", "usbfilters", "cloudnets", "cloudproviders", "cloudprofiles":
	case "extpacks":
		c.printf("Extension Packs: 0\n")
	case "ostypes":
		ids := make([]string, 0, len(osTypes))
		for id := range osTypes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			c.printf("ID:          %s\nDescription: %s\n\n", id, osTypes[id])
		}
	default:
		return syntaxError("Unknown subcommand \"%s\".", p.pos[0])
	}
	return nil
}
