package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
)

// dhcpNetName is the internal network name VirtualBox gives a host-only
// adapter, which its DHCP server is keyed by.
func dhcpNetName(iface string) string { return "HostInterfaceNetworking-" + iface }

// chooseNetwork settles how Docker is reached. auto picks a host-only
// network on VirtualBox 7+ for macOS (which has no host-only adapters any
// more), and a host-only adapter everywhere else.
func (d *Driver) chooseNetwork(ctx context.Context) (string, error) {
	mode := d.NetworkMode
	if mode == "" {
		mode = networkAuto
	}
	if mode != networkAuto {
		return mode, nil
	}
	v, err := d.version(ctx)
	if err != nil {
		return "", err
	}
	if runtime.GOOS == "darwin" && v.atLeast(7, 0, 0) {
		return networkHostOnlyNet, nil
	}
	return networkHostOnly, nil
}

// setupNetwork prepares the host side of the Docker network and returns
// the modifyvm arguments of NIC 2 ("" for NAT, which needs no NIC 2).
// With auto, a VirtualBox that cannot make host-only adapters falls back
// to a NAT forward of the Docker port.
func (d *Driver) setupNetwork(ctx context.Context) ([]string, error) {
	mode, err := d.chooseNetwork(ctx)
	if err != nil {
		return nil, err
	}
	var nic []string
	if mode == networkHostOnly || mode == networkHostOnlyNet {
		unlock, lerr := lockHostNetworks(ctx)
		if lerr != nil {
			return nil, lerr
		}
		if mode == networkHostOnly {
			nic, err = d.setupHostOnlyIf(ctx)
		} else {
			nic, err = d.setupHostOnlyNet(ctx)
		}
		unlock()
	}
	if err != nil {
		if d.NetworkMode == networkAuto && errors.Is(err, errNoHostOnly) && !d.HostOnlyCreated {
			d.log().Warn("VirtualBox cannot make a host-only network here, so Docker is reached through a port forwarded on 127.0.0.1 instead", "reason", err)
			mode, nic, err = networkNAT, nil, nil
		} else {
			return nil, err
		}
	}
	d.Network = mode
	if mode == networkNAT {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		d.DockerPort = port
		d.HostOnlyMAC = ""
	}
	return nic, nil
}

func (d *Driver) hostOnlyNICArgs(kind, name string) []string {
	args := []string{"--nic2", kind, "--nictype2", d.HostOnlyNicType, "--nicpromisc2", d.HostOnlyPromiscMode,
		"--cableconnected2", "on", "--macaddress2", d.HostOnlyMAC}
	if kind == "hostonly" {
		return append(args, "--hostonlyadapter2", name)
	}
	return append(args, "--host-only-net2", name)
}

// setupHostOnlyIf finds the host-only adapter with the host address of
// --virtualbox-hostonly-cidr, or creates it, and gives it a DHCP server.
func (d *Driver) setupHostOnlyIf(ctx context.Context) ([]string, error) {
	r, err := parseHostOnlyCIDR(d.HostOnlyCIDR)
	if err != nil {
		return nil, err
	}
	out, err := d.vbm(ctx, "list", "hostonlyifs")
	if err != nil {
		return nil, err
	}
	mask := r.netmask()
	var iface string
	for _, hi := range parseHostOnlyIfs(out) {
		ip, err := netip.ParseAddr(hi.IP)
		if err != nil {
			continue
		}
		if ip == r.Host && hi.Mask == mask {
			iface = hi.Name
			break
		}
		if r.Prefix.Contains(ip) {
			return nil, fmt.Errorf("host-only adapter %s already has %s/%s, inside --virtualbox-hostonly-cidr %s: pass --virtualbox-hostonly-cidr %s/%d to share it, or a range of its own",
				hi.Name, hi.IP, hi.Mask, d.HostOnlyCIDR, hi.IP, r.Prefix.Bits())
		}
	}
	if iface == "" {
		if err := checkHostCollision(r); err != nil {
			return nil, err
		}
		out, err := d.vbm(ctx, "hostonlyif", "create")
		if err != nil {
			return nil, err
		}
		iface = parseCreatedInterface(out)
		if iface == "" {
			return nil, fmt.Errorf("VBoxManage hostonlyif create did not name the adapter it made (output %q)", strings.TrimSpace(out))
		}
		d.HostOnlyInterface, d.HostOnlyCreated = iface, true
		d.log().Info("created a host-only adapter", "adapter", iface, "address", d.HostOnlyCIDR)
		if _, err := d.vbm(ctx, "hostonlyif", "ipconfig", iface, "--ip", r.Host.String(), "--netmask", mask); err != nil {
			return nil, err
		}
	}
	d.HostOnlyInterface = iface
	if d.HostOnlyNoDHCP {
		d.IPAddress = d.staticAddress(r).String()
	} else if err := d.setupDHCP(ctx, r, iface); err != nil {
		return nil, err
	}
	if err := d.markNetwork(ctx); err != nil {
		return nil, err
	}
	return d.hostOnlyNICArgs("hostonly", iface), nil
}

// setupDHCP gives the adapter a DHCP server. One that serves an adapter
// this machine did not make is left as it is. VirtualBox keeps a default
// server for vboxnet0 even without the adapter: one found for an adapter
// just made is reconfigured for its range, and its settings are kept so
// that rm puts them back.
func (d *Driver) setupDHCP(ctx context.Context, r hostOnlyRange, iface string) error {
	out, err := d.vbm(ctx, "list", "dhcpservers")
	if err != nil {
		return err
	}
	server, lower, upper := r.dhcp()
	args := []string{"--netname", dhcpNetName(iface), "--ip", server.String(), "--netmask", r.netmask(),
		"--lowerip", lower.String(), "--upperip", upper.String(), "--enable"}
	for _, s := range parseDHCPServers(out) {
		if s.NetworkName != dhcpNetName(iface) {
			continue
		}
		if !d.HostOnlyCreated {
			if !s.Enabled {
				return fmt.Errorf("the DHCP server of host-only adapter %s is disabled, so the VM would get no address: enable it with 'VBoxManage dhcpserver modify --netname %s --enable', or pass --virtualbox-hostonly-no-dhcp", iface, dhcpNetName(iface))
			}
			return nil
		}
		if _, err := d.vbm(ctx, append([]string{"dhcpserver", "modify"}, args...)...); err != nil {
			return err
		}
		d.DHCPServerOriginal = strings.Join([]string{s.IP, s.Mask, s.Lower, s.Upper, onOff(s.Enabled)}, " ")
		return nil
	}
	if _, err := d.vbm(ctx, append([]string{"dhcpserver", "add"}, args...)...); err != nil {
		return err
	}
	d.DHCPServerCreated = true
	return nil
}

// staticAddress is the guest's fixed address without DHCP: one of the
// lower half of the range (DHCP servers hand out the upper half), chosen
// from the machine's ID so that machines rarely collide.
func (d *Driver) staticAddress(r hostOnlyRange) netip.Addr {
	h := fnv.New32a()
	h.Write([]byte(d.MachineID + d.MachineName))
	slots := r.size()/2 - 2
	for i := uint32(0); ; i++ {
		a := r.offset(2 + (h.Sum32()+i)%slots)
		if a != r.Host {
			return a
		}
	}
}

// checkHostCollision refuses a range that one of the host's own (non
// VirtualBox) interfaces already uses: the VM would be unreachable.
func checkHostCollision(r hostOnlyRange) error {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, ifc := range ifs {
		if strings.HasPrefix(ifc.Name, "vboxnet") {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP.To4())
			if ok && ipn.IP.To4() != nil && r.Prefix.Contains(ip) {
				return fmt.Errorf("--virtualbox-hostonly-cidr %s overlaps the host's interface %s (%s): pass another range, such as 192.168.58.1/24", r.Prefix, ifc.Name, ipn)
			}
		}
	}
	return nil
}

// hostOnlyNetName names the host-only network made for a range.
func hostOnlyNetName(r hostOnlyRange) string {
	return "docker-machine-" + strings.ReplaceAll(r.Prefix.String(), "/", "-")
}

// setupHostOnlyNet uses or makes a VirtualBox 7 host-only network for the
// range. The host side's address is decided by macOS, not by VirtualBox.
func (d *Driver) setupHostOnlyNet(ctx context.Context) ([]string, error) {
	r, err := parseHostOnlyCIDR(d.HostOnlyCIDR)
	if err != nil {
		return nil, err
	}
	out, err := d.vbm(ctx, "list", "hostonlynets")
	if err != nil {
		return nil, err
	}
	_, lower, upper := r.dhcp()
	name := hostOnlyNetName(r)
	found := ""
	for _, n := range parseHostOnlyNets(out) {
		lo, err := netip.ParseAddr(n.Lower)
		if n.Name == name || (err == nil && r.Prefix.Contains(lo) && n.Mask == r.netmask()) {
			found = n.Name
			break
		}
	}
	if found == "" {
		if _, err := d.vbm(ctx, "hostonlynet", "add", "--name", name, "--netmask", r.netmask(),
			"--lower-ip", lower.String(), "--upper-ip", upper.String(), "--enable"); err != nil {
			return nil, err
		}
		found = name
		d.HostOnlyNetwork, d.HostOnlyCreated = name, true
		d.log().Info("created a host-only network", "network", name)
	}
	d.HostOnlyNetwork = found
	if err := d.markNetwork(ctx); err != nil {
		return nil, err
	}
	return d.hostOnlyNICArgs("hostonlynet", found), nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("finding a free port on %s for the VM's port forwards: %w", loopback, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// randomMAC is a VirtualBox-style MAC (Oracle's 08:00:27 prefix), in the
// form modifyvm takes.
func randomMAC() string { return "080027" + strings.ToUpper(randomHex(3)) }

// colonMAC turns 080027A0B15E into 08:00:27:a0:b1:5e.
func colonMAC(m string) string {
	m = strings.ToLower(strings.ReplaceAll(m, ":", ""))
	if len(m) != 12 {
		return m
	}
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, m[i:i+2])
	}
	return strings.Join(parts, ":")
}

// natRule is a --natpf1 rule on 127.0.0.1.
func natRule(name string, hostPort, guestPort int) string {
	return fmt.Sprintf("%s,tcp,%s,%d,,%d", name, loopback, hostPort, guestPort)
}

// Networks docker-machine made carry a global VirtualBox extra-data key,
// so that whichever machine using one goes last removes it, not only the
// machine that made it.
const markerPrefix = "docker-machine/hostonly/"

const (
	markAdapter     = "adapter"
	markAdapterDHCP = "adapter+dhcp"
	markRestoreDHCP = "adapter+restore " // then the DHCP server's settings before
)

func (d *Driver) networkName() string { return d.HostOnlyInterface + d.HostOnlyNetwork }

// markNetwork records a network this machine made.
func (d *Driver) markNetwork(ctx context.Context) error {
	if !d.HostOnlyCreated {
		return nil
	}
	v := markAdapter
	switch {
	case d.DHCPServerCreated:
		v = markAdapterDHCP
	case d.DHCPServerOriginal != "":
		v = markRestoreDHCP + d.DHCPServerOriginal
	}
	_, err := d.vbm(ctx, "setextradata", "global", markerPrefix+d.networkName(), v)
	return err
}

// marked reads the marker of the machine's network.
func (d *Driver) marked(ctx context.Context) (string, error) {
	out, err := d.vbm(ctx, "getextradata", "global", markerPrefix+d.networkName())
	if err != nil {
		return "", err
	}
	if v, ok := strings.CutPrefix(strings.TrimSpace(out), "Value:"); ok {
		return strings.TrimSpace(v), nil
	}
	return "", nil // "No value set!"
}

// removeNetwork removes the host-only adapter or network and the DHCP
// server docker-machine made for it, unless another VM still uses them.
// Networks the user made are never removed.
func (d *Driver) removeNetwork(ctx context.Context) error {
	if d.networkName() == "" {
		return nil
	}
	unlock, err := lockHostNetworks(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if !d.HostOnlyCreated {
		mark, err := d.marked(ctx)
		if err != nil {
			return err
		}
		if mark == "" {
			return nil
		}
		d.HostOnlyCreated, d.DHCPServerCreated = true, mark == markAdapterDHCP
		d.DHCPServerOriginal, _ = strings.CutPrefix(mark, markRestoreDHCP)
		if d.DHCPServerOriginal == mark {
			d.DHCPServerOriginal = ""
		}
	}
	inUse, err := d.networkInUse(ctx)
	if err != nil {
		return err
	}
	if inUse != "" {
		d.log().Info("keeping the host-only network: another VM uses it", "vm", inUse, "network", d.networkName())
		d.HostOnlyCreated, d.DHCPServerCreated, d.DHCPServerOriginal = false, false, ""
		return nil
	}
	if f := strings.Fields(d.DHCPServerOriginal); len(f) == 5 && d.HostOnlyInterface != "" {
		enable := "--enable"
		if f[4] != "on" {
			enable = "--disable"
		}
		if _, err := d.vbm(ctx, "dhcpserver", "modify", "--netname", dhcpNetName(d.HostOnlyInterface), "--ip", f[0], "--netmask", f[1],
			"--lowerip", f[2], "--upperip", f[3], enable); err != nil && !notFound(err) {
			return fmt.Errorf("restoring the DHCP server of %s: %w", d.HostOnlyInterface, err)
		}
		d.DHCPServerOriginal = ""
	}
	if d.DHCPServerCreated && d.HostOnlyInterface != "" {
		if _, err := d.vbm(ctx, "dhcpserver", "remove", "--netname", dhcpNetName(d.HostOnlyInterface)); err != nil && !notFound(err) {
			return fmt.Errorf("removing the DHCP server of %s: %w", d.HostOnlyInterface, err)
		}
		d.DHCPServerCreated = false
	}
	if d.HostOnlyCreated {
		var err error
		switch {
		case d.HostOnlyInterface != "":
			_, err = d.vbm(ctx, "hostonlyif", "remove", d.HostOnlyInterface)
		case d.HostOnlyNetwork != "":
			_, err = d.vbm(ctx, "hostonlynet", "remove", "--name", d.HostOnlyNetwork)
		}
		if err != nil && !notFound(err) {
			return fmt.Errorf("removing host-only network %s: %w", d.networkName(), err)
		}
		// No value deletes the key.
		if _, err := d.vbm(ctx, "setextradata", "global", markerPrefix+d.networkName()); err != nil {
			return err
		}
		d.HostOnlyCreated = false
	}
	return nil
}

// networkInUse names a VM other than this one attached to the network.
func (d *Driver) networkInUse(ctx context.Context) (string, error) {
	out, err := d.vbm(ctx, "list", "vms")
	if err != nil {
		return "", err
	}
	for _, vm := range parseVMList(out) {
		if vm.Name == d.MachineName {
			continue
		}
		info, err := d.vbm(ctx, "showvminfo", vm.UUID, "--machinereadable")
		if err != nil {
			if errors.Is(err, ErrMachineNotExist) {
				continue // removed meanwhile
			}
			return "", err
		}
		if parseVMInfo(info).usesHostOnly(d.HostOnlyInterface, d.HostOnlyNetwork) {
			return vm.Name, nil
		}
	}
	return "", nil
}

// notFound reports a VBoxManage error about a missing object, which a
// removal counts as done.
func notFound(err error) bool {
	var ve *vboxError
	if !errors.As(err, &ve) {
		return false
	}
	t := ve.Stderr
	return strings.Contains(t, "VBOX_E_OBJECT_NOT_FOUND") || strings.Contains(t, "could not be found") ||
		strings.Contains(t, "Could not find") || strings.Contains(t, "does not exist") || strings.Contains(t, "not found")
}
