package vboxsim

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func cmdGuestProperty(c *call, args []string) error {
	if len(args) < 2 {
		return syntaxError("Missing subcommand or machine for \"guestproperty\" command.")
	}
	sub := strings.ToLower(args[0])
	vm, err := c.vm(args[1], "FindMachine(Bstr(a->argv[1]).raw(), machine.asOutParam())", "VBoxManageGuestProp.cpp", 98)
	if err != nil {
		return err
	}
	rest := args[2:]
	switch sub {
	case "get":
		p, err := parseArgs(rest, table(map[string]int{"verbose": 0}))
		if err != nil {
			return err
		}
		if len(p.pos) != 1 {
			return syntaxError("Incorrect parameters")
		}
		prop, ok := vm.GuestProps[p.pos[0]]
		if !ok {
			c.printf("No value set!\n")
			return nil
		}
		c.printf("Value: %s\n", prop.Value)
		if p.has("verbose") {
			c.printf("Timestamp: %d\nFlags: \n", prop.Time.UnixNano())
		}
	case "set":
		p, err := parseArgs(rest, table(map[string]int{"flags": 1}))
		if err != nil {
			return err
		}
		if len(p.pos) < 1 || len(p.pos) > 2 {
			return syntaxError("Incorrect parameters")
		}
		if len(p.pos) == 1 {
			delete(vm.GuestProps, p.pos[0])
			return nil
		}
		if vm.GuestProps == nil {
			vm.GuestProps = map[string]GuestProp{}
		}
		vm.GuestProps[p.pos[0]] = GuestProp{Value: p.pos[1], Time: time.Now().UTC()}
	case "delete", "unset":
		if len(rest) != 1 {
			return syntaxError("Incorrect parameters")
		}
		delete(vm.GuestProps, rest[0])
	case "enumerate":
		p, err := parseArgs(rest, table(map[string]int{"patterns": 1, "oldformat": 0, "relative": 0, "noflags": 0,
			"notimestamp": 0, "novalue": 0}))
		if err != nil {
			return err
		}
		patterns := p.pos
		if v, ok := p.get("patterns"); ok {
			patterns = append(patterns, strings.Split(v, "|")...)
		}
		names := make([]string, 0, len(vm.GuestProps))
		for n := range vm.GuestProps {
			if matchAny(patterns, n) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			g := vm.GuestProps[n]
			if p.has("oldformat") {
				c.printf("Name: %s, value: %s, timestamp: %d, flags: \n", n, g.Value, g.Time.UnixNano())
				continue
			}
			c.printf("%s = '%s' @ %s\n", n, g.Value, g.Time.Format("2006-01-02T15:04:05.000Z"))
		}
	default:
		return syntaxError("Unknown subcommand \"%s\".", args[0])
	}
	return nil
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

func (c *call) extraData(target string) (map[string]string, error) {
	if strings.EqualFold(target, "global") {
		if c.st.ExtraData == nil {
			c.st.ExtraData = map[string]string{}
		}
		return c.st.ExtraData, nil
	}
	vm, err := c.vm(target, "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageMisc.cpp", 1080)
	if err != nil {
		return nil, err
	}
	if vm.ExtraData == nil {
		vm.ExtraData = map[string]string{}
	}
	return vm.ExtraData, nil
}

func cmdSetExtraData(c *call, args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return syntaxError("Incorrect number of parameters")
	}
	m, err := c.extraData(args[0])
	if err != nil {
		return err
	}
	if len(args) == 2 || args[2] == "" {
		delete(m, args[1])
		return nil
	}
	m[args[1]] = args[2]
	return nil
}

func cmdGetExtraData(c *call, args []string) error {
	if len(args) != 2 {
		return syntaxError("Incorrect number of parameters")
	}
	m, err := c.extraData(args[0])
	if err != nil {
		return err
	}
	if strings.EqualFold(args[1], "enumerate") {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c.printf("Key: %s, Value: %s\n", k, m[k])
		}
		return nil
	}
	v, ok := m[args[1]]
	if !ok {
		c.printf("No value set!\n")
		return nil
	}
	c.printf("Value: %s\n", v)
	return nil
}

func cmdSharedFolder(c *call, args []string) error {
	if len(args) < 2 {
		return syntaxError("Not enough parameters")
	}
	sub := strings.ToLower(args[0])
	vm, err := c.vm(args[1], "FindMachine(Bstr(a->argv[1]).raw(), machine.asOutParam())", "VBoxManageMisc.cpp", 1218)
	if err != nil {
		return err
	}
	p, err := parseArgs(args[2:], table(map[string]int{"name": 1, "hostpath": 1, "transient": 0, "readonly": 0,
		"automount": 0, "automountpoint": 1}))
	if err != nil {
		return err
	}
	name, _ := p.get("name")
	if name == "" {
		return syntaxError("Parameter --name is required")
	}
	i := slices.IndexFunc(vm.Shares, func(s SharedFolder) bool { return s.Name == name })
	switch sub {
	case "add":
		host, _ := p.get("hostpath")
		if host == "" {
			return syntaxError("Parameter --hostpath is required")
		}
		if !filepath.IsAbs(host) {
			return comError(fmt.Sprintf("Shared folder path '%s' is not absolute", host), codeInvalidArg, "SessionMachine", "IMachine",
				"CreateSharedFolder(Bstr(name).raw(), Bstr(hostpath).raw(), fWritable, fAutoMount, Bstr(pszAutoMountPoint).raw())", "VBoxManageMisc.cpp", 1265)
		}
		if fi, err := os.Stat(host); err != nil || !fi.IsDir() {
			return comError(fmt.Sprintf("Shared folder path '%s' does not exist on the host", host), codeFileError, "SessionMachine", "IMachine",
				"CreateSharedFolder(Bstr(name).raw(), Bstr(hostpath).raw(), fWritable, fAutoMount, Bstr(pszAutoMountPoint).raw())", "VBoxManageMisc.cpp", 1265)
		}
		if i >= 0 {
			return comError(fmt.Sprintf("Shared folder named '%s' already exists", name), codeObjectInUse, "SessionMachine", "IMachine",
				"CreateSharedFolder(Bstr(name).raw(), Bstr(hostpath).raw(), fWritable, fAutoMount, Bstr(pszAutoMountPoint).raw())", "VBoxManageMisc.cpp", 1265)
		}
		vm.Shares = append(vm.Shares, SharedFolder{Name: name, HostPath: host, Automount: p.has("automount"), ReadOnly: p.has("readonly")})
	case "remove":
		if i < 0 {
			return comError(fmt.Sprintf("Could not find a shared folder named '%s'.", name), codeFileError, "SessionMachine", "IMachine",
				"RemoveSharedFolder(Bstr(name).raw())", "VBoxManageMisc.cpp", 1330)
		}
		vm.Shares = slices.Delete(vm.Shares, i, i+1)
	default:
		return syntaxError("Invalid parameter '%s'", args[0])
	}
	return nil
}

func cmdInternal(c *call, args []string) error {
	if len(args) >= 2 && strings.EqualFold(args[0], "sethduuid") {
		m, err := c.openMedium(args[1], "disk")
		if err != nil {
			return err
		}
		m.UUID = newUUID()
		if len(args) > 2 {
			m.UUID = strings.Trim(args[2], "{}")
		}
		c.printf("UUID changed to: %s\n", m.UUID)
		return nil
	}
	return syntaxError("Invalid internal command")
}

func listSystemProperties(c *call) {
	c.printf("API version:                     7_2\n")
	c.printf("Minimum guest RAM size:          4 Megabytes\nMaximum guest RAM size:          2097152 Megabytes\n")
	c.printf("Minimum video RAM size:          0 Megabytes\nMaximum video RAM size:          256 Megabytes\n")
	c.printf("Maximum guest monitor count:     64\nMinimum guest CPU count:         1\nMaximum guest CPU count:         64\n")
	c.printf("Virtual disk limit (info):       2199022206976 Bytes\nMaximum Serial Port count:       4\nMaximum Parallel Port count:     2\n")
	c.printf("Maximum Boot Position:           4\nMaximum PIIX3 Network Adapter count:   8\nMaximum ICH9 Network Adapter count:   36\n")
	c.printf("Default machine folder:          %s\n", c.defaultMachineFolder())
	c.printf("Raw-mode Supported:              no\nExclusive HW virtualization use: on\nDefault hard disk format:        VDI\n")
	c.printf("VRDE auth library:               VBoxAuth\nWebservice auth library:         VBoxAuth\nLog history count:               3\n")
	c.printf("Default frontend:                \nDefault audio driver:            ALSA\nAutostart database path:         \n")
	c.printf("Default Guest Additions ISO:     \nLogging Level:                   all\nProxy Mode:                      System\n")
}

func listHostInfo(c *call) {
	hw := "yes"
	switch c.cfg.Virtualization {
	case "none-vtx", "none-amdv", "disabled-vtx":
		hw = "no"
	}
	os := "Linux"
	if c.cfg.darwin() {
		os = "Darwin"
	}
	n := runtime.NumCPU()
	c.printf("Host Information:\n\nHost time: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z"))
	c.printf("Processor online count: %d\nProcessor count: %d\nProcessor online core count: %d\nProcessor core count: %d\n", n, n, n, n)
	c.printf("Processor supports HW virtualization: %s\nProcessor supports PAE: yes\nProcessor supports long mode: yes\n", hw)
	c.printf("Processor supports nested paging: %s\nProcessor supports unrestricted guest: %s\nProcessor supports nested HW virtualization: %s\n", hw, hw, hw)
	c.printf("Memory size: %d MByte\nOperating system: %s\nOperating system version: %s\n", memoryMB(), os, c.cfg.version())
}

func memoryMB() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%d", &kb)
		}
	}
	return kb / 1024
}

func listMedia(c *call, kind string) {
	for _, m := range c.st.Media {
		if m.Kind != kind {
			continue
		}
		c.printf("UUID:           %s\n", m.UUID)
		typ := "readonly"
		if kind == "disk" {
			c.printf("Parent UUID:    base\n")
			typ = "normal (base)"
		}
		c.printf("State:          created\nType:           %s\nLocation:       %s\nStorage format: %s\n", typ, m.Path, m.Format)
		c.printf("Capacity:       %d MBytes\nEncryption:     disabled\n", m.SizeMB)
		var users []string
		for _, vm := range c.st.VMs {
			if attachedTo(vm, m.Path) {
				users = append(users, fmt.Sprintf("%s (UUID: %s)", vm.Name, vm.UUID))
			}
		}
		if len(users) > 0 {
			c.printf("In use by VMs:  %s\n", strings.Join(users, ", "))
		}
		c.printf("\n")
	}
}
