package virtualbox

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/state"
)

// vmInfo is `showvminfo --machinereadable`: key=value lines, strings
// quoted (keys too, when they contain dashes), numbers bare. Lines without
// "=" (VirtualBox 7 prints " rec_screen0") are skipped.
type vmInfo map[string]string

func parseVMInfo(out string) vmInfo {
	info := vmInfo{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		k, v, ok := cutKeyValue(line)
		if !ok {
			continue
		}
		info[k] = v
	}
	return info
}

// cutKeyValue splits at the first "=" outside quotes.
func cutKeyValue(line string) (string, string, bool) {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			inQuote = !inQuote
		case '=':
			if !inQuote {
				return unquote(line[:i]), unquote(line[i+1:]), true
			}
		}
	}
	return "", "", false
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// machineState maps VMState. "stopping" is Stopping, the transitional
// states that end in running are Starting, and a VM that saves its state
// is still Running until it is Saved.
func (info vmInfo) state() state.State {
	switch info["VMState"] {
	case "running", "onlinesnapshotting", "livesnapshotting", "teleporting", "saving":
		return state.Running
	case "paused", "teleportingpausedvm":
		return state.Paused
	case "saved":
		return state.Saved
	case "poweroff", "aborted":
		return state.Stopped
	case "stopping":
		return state.Stopping
	case "starting", "restoring", "teleportingin":
		return state.Starting
	case "gurumeditation", "stuck":
		return state.Error
	}
	return state.None
}

// forward is one NAT port-forwarding rule.
type forward struct {
	Name      string
	Proto     string
	HostIP    string
	HostPort  int
	GuestIP   string
	GuestPort int
}

// forwards lists the NAT rules of NIC n from Forwarding(i)="name,tcp,hostip,hostport,guestip,guestport".
// For NIC 1 VirtualBox writes "Forwarding(i)", for NIC n>1 "Forwarding(i)" too but
// only after a "natnetN" key; the driver forwards on NIC 1 only.
func (info vmInfo) forwards() []forward {
	var out []forward
	for i := 0; ; i++ {
		v, ok := info["Forwarding("+strconv.Itoa(i)+")"]
		if !ok {
			return out
		}
		f := strings.Split(v, ",")
		if len(f) != 6 {
			continue
		}
		hp, _ := strconv.Atoi(f[3])
		gp, _ := strconv.Atoi(f[5])
		out = append(out, forward{f[0], f[1], f[2], hp, f[4], gp})
	}
}

// usesHostOnly reports whether any NIC of the VM is attached to the
// host-only interface or host-only network name.
func (info vmInfo) usesHostOnly(iface, network string) bool {
	for n := 1; n <= 8; n++ {
		s := strconv.Itoa(n)
		if iface != "" && info["nic"+s] == "hostonly" && info["hostonlyadapter"+s] == iface {
			return true
		}
		if network != "" && info["nic"+s] == "hostonlynetwork" && info["hostonly-network"+s] == network {
			return true
		}
	}
	return false
}

// listedVM is one line of `list vms`: "name" {uuid}.
type listedVM struct{ Name, UUID string }

var vmLine = regexp.MustCompile(`^"(.*)" \{([0-9a-fA-F-]+)\}$`)

func parseVMList(out string) []listedVM {
	var vms []listedVM
	for _, line := range strings.Split(out, "\n") {
		if m := vmLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			vms = append(vms, listedVM{m[1], m[2]})
		}
	}
	return vms
}

// block is one blank-line separated record of a `list` command
// ("Name:   vboxnet0" ...), keyed by the text before the first colon.
type block map[string]string

func parseBlocks(out string) []block {
	var blocks []block
	cur := block{}
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, cur)
			cur = block{}
		}
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		// Indented lines belong to a sub-section (the DHCP server's
		// "Global Configuration:"); the record's own keys start a line.
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		// A new record can follow without a blank line; "Name" and
		// "NetworkName" start one.
		if _, dup := cur[k]; dup {
			flush()
		}
		cur[k] = strings.TrimSpace(v)
	}
	flush()
	return blocks
}

// hostOnlyIf is one entry of `list hostonlyifs`.
type hostOnlyIf struct {
	Name, IP, Mask, Status string
}

func parseHostOnlyIfs(out string) []hostOnlyIf {
	var ifs []hostOnlyIf
	for _, b := range parseBlocks(out) {
		if b["Name"] == "" {
			continue
		}
		ifs = append(ifs, hostOnlyIf{Name: b["Name"], IP: b["IPAddress"], Mask: b["NetworkMask"], Status: b["Status"]})
	}
	return ifs
}

// dhcpServer is one entry of `list dhcpservers`.
type dhcpServer struct {
	NetworkName, IP, Lower, Upper, Mask string
	Enabled                             bool
}

func parseDHCPServers(out string) []dhcpServer {
	var list []dhcpServer
	for _, b := range parseBlocks(out) {
		if b["NetworkName"] == "" {
			continue
		}
		ip := b["Dhcpd IP"]
		if ip == "" {
			ip = b["IP"]
		}
		list = append(list, dhcpServer{
			NetworkName: b["NetworkName"], IP: ip,
			Lower: b["LowerIPAddress"], Upper: b["UpperIPAddress"], Mask: b["NetworkMask"],
			Enabled: strings.EqualFold(b["Enabled"], "yes"),
		})
	}
	return list
}

// hostOnlyNet is one entry of `list hostonlynets` (VirtualBox 7 on macOS).
type hostOnlyNet struct {
	Name, Mask, Lower, Upper, State string
}

func parseHostOnlyNets(out string) []hostOnlyNet {
	var nets []hostOnlyNet
	for _, b := range parseBlocks(out) {
		if b["Name"] == "" {
			continue
		}
		nets = append(nets, hostOnlyNet{Name: b["Name"], Mask: b["NetworkMask"], Lower: b["LowerIP"], Upper: b["UpperIP"], State: b["State"]})
	}
	return nets
}

// createdInterface reads the interface name from `hostonlyif create`:
// "Interface 'vboxnet1' was successfully created".
var createdIf = regexp.MustCompile(`Interface '([^']+)' was successfully created`)

func parseCreatedInterface(out string) string {
	if m := createdIf.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}
