package vboxsim

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

func listHostOnlyIfs(c *call) {
	for _, h := range c.st.HostOnlyIfs {
		c.printf("Name:            %s\nGUID:            %s\nDHCP:            Disabled\nIPAddress:       %s\nNetworkMask:     %s\n",
			h.Name, h.GUID, h.IP, h.Netmask)
		c.printf("IPV6Address:     fe80::800:27ff:fe00:%s\nIPV6NetworkMaskPrefixLength: 64\nHardwareAddress: %s\n",
			strings.TrimPrefix(h.Name, "vboxnet"), h.MAC)
		c.printf("MediumType:      Ethernet\nWireless:        No\nStatus:          Up\nVBoxNetworkName: HostInterfaceNetworking-%s\n\n", h.Name)
	}
}

func listHostOnlyNets(c *call) {
	for _, h := range c.st.HostOnlyNets {
		state := "Disabled"
		if h.Enabled {
			state = "Enabled"
		}
		c.printf("Name:            %s\nGUID:            %s\n\nState:           %s\nNetworkMask:     %s\nLowerIP:         %s\nUpperIP:         %s\nVBoxNetworkName: hostonly-%s\n\n",
			h.Name, h.GUID, state, h.Netmask, h.LowerIP, h.UpperIP, h.Name)
	}
}

func listDHCPServers(c *call) {
	for _, d := range c.st.DHCPServers {
		enabled := "No"
		if d.Enabled {
			enabled = "Yes"
		}
		c.printf("NetworkName:    %s\nDhcpd IP:       %s\nLowerIPAddress: %s\nUpperIPAddress: %s\nNetworkMask:    %s\nEnabled:        %s\n",
			d.NetName, d.IP, d.LowerIP, d.UpperIP, d.Netmask, enabled)
		c.printf("Global Configuration:\n    minLeaseTime:     default\n    defaultLeaseTime: default\n    maxLeaseTime:     default\n")
		c.printf("    Forced options:   None\n    Suppressed opts.: None\n        1/legacy: %s\nGroups:               None\nIndividual Configs:   None\n\n", d.Netmask)
	}
}

// inAllowedRange tells whether ip may be used for a host-only network
// (VirtualBox ≥ 6.1.28 on Linux and macOS; /etc/vbox/networks.conf).
func inAllowedRange(c *call, ip string) bool {
	addr := net.ParseIP(ip)
	for _, r := range c.cfg.hostOnlyRanges() {
		_, n, err := net.ParseCIDR(r)
		if err == nil && addr != nil && n.Contains(addr) {
			return true
		}
	}
	return false
}

func interfaceNotFound(name string) error {
	return comError(fmt.Sprintf("The host network interface named '%s' could not be found", name), codeInvalidArg, "HostWrap", "IHost",
		"FindHostNetworkInterfaceByName(Bstr(pszName).raw(), hif.asOutParam())", "VBoxManageHostonly.cpp", 165)
}

func cmdHostOnlyIf(c *call, args []string) error {
	if len(args) == 0 {
		return syntaxError("Missing subcommand for \"hostonlyif\" command.")
	}
	switch strings.ToLower(args[0]) {
	case "create":
		// VirtualBox 7 on macOS has no host-only adapters either: the same
		// text as a Linux host without the vboxnetadp module.
		if c.cfg.NoHostOnlyDriver || c.cfg.darwin() {
			return &failure{code: 1, stderr: "0%...NS_ERROR_FAILURE\n" + TextNoVBoxNetCtl}
		}
		n := 0
		for c.st.hostOnlyIf(fmt.Sprintf("vboxnet%d", n)) != nil {
			n++
		}
		h := &HostOnlyIf{Name: fmt.Sprintf("vboxnet%d", n), GUID: fmt.Sprintf("786f6276-656e-4%03x-8000-0a00270000%02x", n, n),
			IP: fmt.Sprintf("192.168.%d.1", 56+n), Netmask: "255.255.255.0", MAC: fmt.Sprintf("0a:00:27:00:00:%02x", n)}
		c.st.HostOnlyIfs = append(c.st.HostOnlyIfs, h)
		c.progress()
		c.printf("Interface '%s' was successfully created\n", h.Name)
	case "ipconfig":
		if len(args) < 2 {
			return syntaxError("Missing interface name for \"hostonlyif ipconfig\".")
		}
		h := c.st.hostOnlyIf(args[1])
		p, err := parseArgs(args[2:], table(map[string]int{"dhcp": 0, "ip": 1, "netmask": 1, "ipv6": 1, "netmasklengthv6": 1}))
		if err != nil {
			return err
		}
		if h == nil {
			return interfaceNotFound(args[1])
		}
		if p.has("dhcp") {
			return nil
		}
		ip, ok := p.get("ip")
		if !ok {
			if p.has("ipv6") {
				return nil
			}
			return syntaxError("Missing --ip, --ipv6 or --dhcp")
		}
		mask, ok := p.get("netmask")
		if !ok {
			mask = "255.255.255.0"
		}
		if net.ParseIP(ip) == nil || net.ParseIP(mask) == nil {
			return syntaxError("Invalid IP address or network mask: %s/%s", ip, mask)
		}
		if !inAllowedRange(c, ip) {
			return &failure{code: 1, stderr: TextHostOnlyRangeDenied}
		}
		h.IP, h.Netmask = ip, mask
	case "remove":
		if len(args) != 2 {
			return syntaxError("Missing interface name for \"hostonlyif remove\".")
		}
		i := slices.IndexFunc(c.st.HostOnlyIfs, func(h *HostOnlyIf) bool { return h.Name == args[1] })
		if i < 0 {
			return interfaceNotFound(args[1])
		}
		c.st.HostOnlyIfs = slices.Delete(c.st.HostOnlyIfs, i, i+1)
		c.progress()
	default:
		return syntaxError("Unknown subcommand \"%s\".", args[0])
	}
	return nil
}

func cmdHostOnlyNet(c *call, args []string) error {
	if !c.cfg.darwin() {
		return syntaxError("Invalid command 'hostonlynet'")
	}
	if len(args) == 0 {
		return syntaxError("Missing subcommand for \"hostonlynet\" command.")
	}
	p, err := parseArgs(args[1:], table(map[string]int{"name": 1, "id": 1, "netmask": 1, "lowerip": 1, "upperip": 1,
		"enable": 0, "disable": 0}))
	if err != nil {
		return err
	}
	name, _ := p.get("name")
	if name == "" {
		return syntaxError("A name must be specified with --name")
	}
	existing := c.st.hostOnlyNet(name)
	switch strings.ToLower(args[0]) {
	case "add", "modify":
		add := strings.EqualFold(args[0], "add")
		if add && existing != nil {
			return comError(fmt.Sprintf("A host-only network named '%s' already exists", name), codeObjectInUse, "VirtualBoxWrap",
				"IVirtualBox", "CreateHostOnlyNetwork(bstrNetworkName.raw(), hostOnlyNetwork.asOutParam())", "VBoxManageHostonly.cpp", 480)
		}
		if !add && existing == nil {
			return comError(fmt.Sprintf("Could not find a host-only network named '%s'", name), codeObjectNotFound, "VirtualBoxWrap",
				"IVirtualBox", "FindHostOnlyNetworkByName(bstrNetworkName.raw(), hostOnlyNetwork.asOutParam())", "VBoxManageHostonly.cpp", 490)
		}
		h := existing
		if add {
			h = &HostOnlyNet{Name: name, GUID: newUUID(), Enabled: true}
			if id, ok := p.get("id"); ok {
				h.GUID = id
			}
		}
		for key, dst := range map[string]*string{"netmask": &h.Netmask, "lowerip": &h.LowerIP, "upperip": &h.UpperIP} {
			if v, ok := p.get(key); ok {
				if net.ParseIP(v) == nil {
					return syntaxError("Invalid --%s argument '%s'", key, v)
				}
				*dst = v
			}
		}
		if add && (h.Netmask == "" || h.LowerIP == "" || h.UpperIP == "") {
			return syntaxError("The --netmask, --lower-ip and --upper-ip options are required")
		}
		if p.has("enable") {
			h.Enabled = true
		}
		if p.has("disable") {
			h.Enabled = false
		}
		if add {
			c.st.HostOnlyNets = append(c.st.HostOnlyNets, h)
		}
	case "remove":
		if existing == nil {
			return comError(fmt.Sprintf("Could not find a host-only network named '%s'", name), codeObjectNotFound, "VirtualBoxWrap",
				"IVirtualBox", "FindHostOnlyNetworkByName(bstrNetworkName.raw(), hostOnlyNetwork.asOutParam())", "VBoxManageHostonly.cpp", 490)
		}
		c.st.HostOnlyNets = slices.DeleteFunc(c.st.HostOnlyNets, func(h *HostOnlyNet) bool { return h == existing })
	default:
		return syntaxError("Unknown subcommand \"%s\".", args[0])
	}
	return nil
}

func cmdDHCPServer(c *call, args []string) error {
	if len(args) == 0 {
		return syntaxError("Missing subcommand for \"dhcpserver\" command.")
	}
	p, err := parseArgs(args[1:], func(name string, _ []string) (int, bool) {
		switch name {
		case "netname", "network", "interface", "ifname", "ip", "serverip", "netmask", "mask", "lowerip", "upperip",
			"setopt", "setopthex", "unsetopt", "minleasetime", "defaultleasetime", "maxleasetime", "group", "vm", "nic",
			"mac", "mac-address", "fixedaddress", "fixedaddr", "suppressopt", "forceopt", "incl-mac", "excl-mac", "config":
			return 1, true
		case "enable", "disable", "removeconfig", "unsetoptall":
			return 0, true
		}
		return 0, false
	})
	if err != nil {
		return err
	}
	net := ""
	for _, k := range []string{"netname", "network"} {
		if v, ok := p.get(k); ok {
			net = v
		}
	}
	for _, k := range []string{"interface", "ifname"} {
		if v, ok := p.get(k); ok {
			net = "HostInterfaceNetworking-" + v
		}
	}
	if net == "" {
		return syntaxError("You need to specify either --network or --interface to identify the DHCP server")
	}
	d := c.st.dhcpServer(net)
	sub := strings.ToLower(args[0])
	switch sub {
	case "add", "modify":
		if sub == "add" && d != nil {
			return syntaxError("DHCP server already exists")
		}
		if sub == "modify" && d == nil {
			return syntaxError("DHCP server does not exist")
		}
		if d == nil {
			d = &DHCPServer{NetName: net, Enabled: true}
		}
		fields := []struct {
			keys []string
			dst  *string
		}{{[]string{"ip", "serverip"}, &d.IP}, {[]string{"netmask", "mask"}, &d.Netmask},
			{[]string{"lowerip"}, &d.LowerIP}, {[]string{"upperip"}, &d.UpperIP}}
		for _, f := range fields {
			for _, k := range f.keys {
				if v, ok := p.get(k); ok {
					if parseIP(v) == nil {
						return syntaxError("Invalid IP address: %s", v)
					}
					*f.dst = v
				}
			}
		}
		if sub == "add" {
			for _, f := range []struct{ name, v string }{{"--server-ip", d.IP}, {"--netmask", d.Netmask}, {"--lower-ip", d.LowerIP}, {"--upper-ip", d.UpperIP}} {
				if f.v == "" {
					return syntaxError("Missing required option: %s", f.name)
				}
			}
		}
		if p.has("enable") {
			d.Enabled = true
		}
		if p.has("disable") {
			d.Enabled = false
		}
		if sub == "add" {
			c.st.DHCPServers = append(c.st.DHCPServers, d)
		}
	case "remove":
		if d == nil {
			return syntaxError("DHCP server does not exist")
		}
		c.st.DHCPServers = slices.DeleteFunc(c.st.DHCPServers, func(x *DHCPServer) bool { return x == d })
	case "start", "restart", "stop":
		if d == nil {
			return syntaxError("DHCP server does not exist")
		}
	default:
		return syntaxError("Unknown subcommand \"%s\".", args[0])
	}
	return nil
}

func parseIP(s string) net.IP { return net.ParseIP(s) }
