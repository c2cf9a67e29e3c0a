package virtualbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// fakeVBox answers VBoxManage commands the way VirtualBox 7.2 on Linux
// does (texts from its real output), keeping just enough state for the
// driver's flows, and starts a real SSH server for a started VM.
type fakeVBox struct {
	t  *testing.T
	mu sync.Mutex

	vms     map[string]*fakeVM
	ifs     []*hostOnlyIf
	dhcp    map[string]*dhcpServer
	media   map[string]bool
	dvds    map[string]bool // stay registered after unregistervm --delete
	extra   map[string]string
	calls   [][]string
	failAt  int    // 1-based call number to fail; 0 never
	failErr string // stderr of the failure
	// hooks change the answer of one command: return handled=true.
	hook func(args []string) (out string, err error, handled bool)
}

type fakeVM struct {
	uuid   string
	state  string
	info   map[string]string
	sshSrv net.Listener
}

func newFakeVBox(t *testing.T) *fakeVBox {
	f := &fakeVBox{t: t, vms: map[string]*fakeVM{}, dhcp: map[string]*dhcpServer{}, media: map[string]bool{}, dvds: map[string]bool{}, extra: map[string]string{}}
	// VirtualBox ships a DHCP server for vboxnet0 even without the adapter.
	f.dhcp[dhcpNetName("vboxnet0")] = &dhcpServer{NetworkName: dhcpNetName("vboxnet0"), IP: "192.168.56.100", Lower: "192.168.56.101", Upper: "192.168.56.254", Mask: "255.255.255.0", Enabled: true}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, vm := range f.vms {
			if vm.sshSrv != nil {
				vm.sshSrv.Close()
			}
		}
	})
	return f
}

func vboxErr(args []string, code int, stderr string) error {
	return &vboxError{Args: args, Stderr: stderr, ExitCode: code}
}

func notFoundVM(args []string, name string) error {
	return vboxErr(args, 1, fmt.Sprintf("VBoxManage: error: Could not find a registered machine named '%s'\n"+
		"VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports\n"+
		"VBoxManage: error: Context: \"FindMachine(Bstr(VMNameOrUuid).raw(), machine.asOutParam())\" at line 3248 of file VBoxManageInfo.cpp\n", name))
}

func (f *fakeVBox) run(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, args)
	if f.failAt == len(f.calls) {
		if stdin != nil {
			io.Copy(io.Discard, stdin)
		}
		return "", vboxErr(args, 1, f.failErr)
	}
	if f.hook != nil {
		if out, err, ok := f.hook(args); ok {
			return out, err
		}
	}
	return f.answer(stdin, args)
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (f *fakeVBox) vm(ref string) *fakeVM {
	if vm, ok := f.vms[ref]; ok {
		return vm
	}
	for _, vm := range f.vms {
		if vm.uuid == ref {
			return vm
		}
	}
	return nil
}

func (f *fakeVBox) answer(stdin io.Reader, args []string) (string, error) {
	switch args[0] {
	case "--version":
		return "7.2.22_Debianr175245\n", nil
	case "list":
		switch args[1] {
		case "vms":
			var names []string
			for n := range f.vms {
				names = append(names, n)
			}
			sort.Strings(names)
			var b strings.Builder
			for _, n := range names {
				fmt.Fprintf(&b, "%q {%s}\n", n, f.vms[n].uuid)
			}
			return b.String(), nil
		case "hostonlyifs":
			var b strings.Builder
			for _, i := range f.ifs {
				fmt.Fprintf(&b, "Name:            %s\nGUID:            786f6276-656e-4074-8000-0a0027000000\nDHCP:            Disabled\nIPAddress:       %s\nNetworkMask:     %s\nIPV6Address:     \nIPV6NetworkMaskPrefixLength: 0\nHardwareAddress: 0a:00:27:00:00:00\nMediumType:      Ethernet\nWireless:        No\nStatus:          Up\nVBoxNetworkName: HostInterfaceNetworking-%s\n\n", i.Name, i.IP, i.Mask, i.Name)
			}
			return b.String(), nil
		case "dhcpservers":
			var keys []string
			for k := range f.dhcp {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var b strings.Builder
			for _, k := range keys {
				s := f.dhcp[k]
				en := "No"
				if s.Enabled {
					en = "Yes"
				}
				fmt.Fprintf(&b, "NetworkName:    %s\nDhcpd IP:       %s\nLowerIPAddress: %s\nUpperIPAddress: %s\nNetworkMask:    %s\nEnabled:        %s\nGlobal Configuration:\n    minLeaseTime:     default\nGroups:               None\nIndividual Configs:   None\n\n", s.NetworkName, s.IP, s.Lower, s.Upper, s.Mask, en)
			}
			return b.String(), nil
		case "hostonlynets":
			return "", vboxErr(args, 2, "VBoxManage: error: Unknown subcommand \"hostonlynets\".\n")
		}
	case "hostonlynet":
		return "", vboxErr(args, 2, "VBoxManage: error: Invalid command 'hostonlynet'\n")
	case "hostonlyif":
		switch args[1] {
		case "create":
			name := "vboxnet" + strconv.Itoa(len(f.ifs))
			for slices.ContainsFunc(f.ifs, func(i *hostOnlyIf) bool { return i.Name == name }) {
				name += "0"
			}
			f.ifs = append(f.ifs, &hostOnlyIf{Name: name, Status: "Up"})
			return fmt.Sprintf("Interface '%s' was successfully created\n", name), nil
		case "ipconfig":
			for _, i := range f.ifs {
				if i.Name == args[2] {
					i.IP, i.Mask = flagValue(args, "--ip"), flagValue(args, "--netmask")
					return "", nil
				}
			}
			return "", vboxErr(args, 1, "VBoxManage: error: Could not find interface '"+args[2]+"'\n")
		case "remove":
			for n, i := range f.ifs {
				if i.Name == args[2] {
					f.ifs = slices.Delete(f.ifs, n, n+1)
					return "", nil
				}
			}
			return "", vboxErr(args, 1, "VBoxManage: error: Could not find interface '"+args[2]+"'\n")
		}
	case "dhcpserver":
		net := flagValue(args, "--netname")
		s := &dhcpServer{NetworkName: net, IP: flagValue(args, "--ip"), Mask: flagValue(args, "--netmask"), Lower: flagValue(args, "--lowerip"), Upper: flagValue(args, "--upperip"), Enabled: slices.Contains(args, "--enable")}
		switch args[1] {
		case "add":
			if _, ok := f.dhcp[net]; ok {
				return "", vboxErr(args, 2, "VBoxManage: error: DHCP server already exists\n")
			}
			f.dhcp[net] = s
		case "modify":
			if _, ok := f.dhcp[net]; !ok {
				return "", vboxErr(args, 1, "VBoxManage: error: DHCP server does not exist\n")
			}
			f.dhcp[net] = s
		case "remove":
			if _, ok := f.dhcp[net]; !ok {
				return "", vboxErr(args, 1, "VBoxManage: error: DHCP server does not exist\n")
			}
			delete(f.dhcp, net)
		}
		return "", nil
	case "createvm":
		name := flagValue(args, "--name")
		cfg := filepath.Join(flagValue(args, "--basefolder"), name, name+".vbox")
		if f.vms[name] != nil {
			return "", vboxErr(args, 1, "VBoxManage: error: Machine settings file '"+cfg+"' already exists\nVBoxManage: error: Details: code VBOX_E_FILE_ERROR (0x80bb0004), component MachineWrap, interface IMachine, callee nsISupports\n")
		}
		uuid := fmt.Sprintf("ba1aa2e2-052f-4525-8aa1-%012d", len(f.calls))
		f.vms[name] = &fakeVM{uuid: uuid, state: "poweroff", info: map[string]string{"name": name, "UUID": uuid, "CfgFile": cfg, "nic1": "nat"}}
		for n := 2; n <= 8; n++ {
			f.vms[name].info["nic"+strconv.Itoa(n)] = "none"
		}
		return fmt.Sprintf("Virtual machine '%s' is created and registered.\nUUID: %s\nSettings file: '%s'\n", name, uuid, cfg), nil
	case "showvminfo":
		vm := f.vm(args[1])
		if vm == nil {
			return "", notFoundVM(args, args[1])
		}
		var b strings.Builder
		var keys []string
		for k := range vm.info {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			key := k
			if strings.Contains(k, "-") {
				key = strconv.Quote(k)
			}
			fmt.Fprintf(&b, "%s=%q\n", key, vm.info[k])
		}
		fmt.Fprintf(&b, "VMState=%q\n rec_screen0\nmemory=1024\n", vm.state)
		return b.String(), nil
	case "getextradata":
		if v, ok := f.extra[args[2]]; ok && args[1] == "global" {
			return "Value: " + v + "\n", nil
		}
		return "No value set!\n", nil
	case "setextradata":
		if args[1] == "global" {
			if len(args) < 4 || args[3] == "" {
				delete(f.extra, args[2])
			} else {
				f.extra[args[2]] = args[3]
			}
			return "", nil
		}
		vm := f.vm(args[1])
		if vm == nil {
			return "", notFoundVM(args, args[1])
		}
		return "", nil
	case "modifyvm", "storagectl", "storageattach", "sharedfolder", "guestproperty", "startvm", "controlvm", "unregistervm", "discardstate":
		ref := args[1]
		if args[0] == "sharedfolder" || args[0] == "guestproperty" {
			ref = args[2]
		}
		vm := f.vm(ref)
		if vm == nil {
			return "", notFoundVM(args, ref)
		}
		return f.vmCommand(vm, ref, args)
	case "convertfromraw":
		dst := args[2]
		if args[1] == "stdin" {
			size, _ := strconv.ParseInt(args[3], 10, 64)
			n, _ := io.Copy(io.Discard, stdin)
			if n != size {
				return "", vboxErr(args, 1, fmt.Sprintf("VBoxManage: error: Cannot read %d bytes from stdin, got %d\n", size, n))
			}
		} else if _, err := os.Stat(args[1]); err != nil {
			return "", vboxErr(args, 1, "VBoxManage: error: Cannot open the raw disk '"+args[1]+"': VERR_FILE_NOT_FOUND\n")
		}
		return f.makeMedium(args, dst)
	case "clonemedium":
		f.media[args[2]] = true
		return f.makeMedium(args, args[3])
	case "modifymedium":
		if !f.media[args[2]] {
			return "", vboxErr(args, 1, "VBoxManage: error: Could not find file for the medium '"+args[2]+"' (VERR_FILE_NOT_FOUND)\n")
		}
		return "0%...100%\n", nil
	case "closemedium":
		p := args[2]
		if args[1] == "dvd" {
			if !f.dvds[p] {
				return "", vboxErr(args, 1, "VBoxManage: error: Could not find file for the medium '"+p+"' (VERR_FILE_NOT_FOUND)\n")
			}
			delete(f.dvds, p)
			return "", nil
		}
		if !f.media[p] {
			return "", vboxErr(args, 1, "VBoxManage: error: Could not find file for the medium '"+p+"' (VERR_FILE_NOT_FOUND)\n")
		}
		delete(f.media, p)
		if slices.Contains(args, "--delete") {
			os.Remove(p)
		}
		return "", nil
	}
	return "", vboxErr(args, 2, "VBoxManage: error: fake: unknown command "+strings.Join(args, " ")+"\n")
}

func (f *fakeVBox) makeMedium(args []string, dst string) (string, error) {
	if _, err := os.Stat(dst); err == nil {
		return "", vboxErr(args, 1, "VBoxManage: error: Cannot create the disk image \""+dst+"\": VERR_ALREADY_EXISTS\n")
	}
	if err := os.WriteFile(dst, []byte("<<< fake VDI >>>"), 0o600); err != nil {
		return "", vboxErr(args, 1, "VBoxManage: error: "+err.Error()+"\n")
	}
	f.media[dst] = true
	return "Converting from raw image file=\"stdin\" to file=\"" + dst + "\"...\nCreating dynamic image with size 3758096384 bytes (3584MB)...\n", nil
}

func (f *fakeVBox) vmCommand(vm *fakeVM, ref string, args []string) (string, error) {
	running := vm.state == "running" || vm.state == "paused"
	switch args[0] {
	case "modifyvm":
		for i := 2; i+1 < len(args); i++ {
			a, v := args[i], args[i+1]
			switch {
			case a == "--natpf1" && v == "delete":
				name := args[i+2]
				for k, r := range vm.info {
					if strings.HasPrefix(k, "Forwarding(") && strings.HasPrefix(r, name+",") {
						delete(vm.info, k)
					}
				}
				i += 2
			case a == "--natpf1":
				for k, r := range vm.info {
					if strings.HasPrefix(k, "Forwarding(") && strings.SplitN(r, ",", 2)[0] == strings.SplitN(v, ",", 2)[0] {
						return "", vboxErr(args, 1, "VBoxManage: error: A NAT rule of this name already exists\nVBoxManage: error: Details: code NS_ERROR_INVALID_ARG (0x80070057), component NATEngineWrap\n")
					}
					_ = k
				}
				n := 0
				for vm.info["Forwarding("+strconv.Itoa(n)+")"] != "" {
					n++
				}
				vm.info["Forwarding("+strconv.Itoa(n)+")"] = v
				i++
			case strings.HasPrefix(a, "--nic") && !strings.HasPrefix(a, "--nictype") && !strings.HasPrefix(a, "--nicpromisc"):
				kind := v
				if kind == "hostonlynet" {
					return "", vboxErr(args, 1, "VBoxManage: error: Invalid type 'hostonlynet' specfied for NIC "+strings.TrimPrefix(a, "--nic")+"\n")
				}
				vm.info["nic"+strings.TrimPrefix(a, "--nic")] = kind
				i++
			case strings.HasPrefix(a, "--hostonlyadapter"):
				vm.info["hostonlyadapter"+strings.TrimPrefix(a, "--hostonlyadapter")] = v
				i++
			case strings.HasPrefix(a, "--macaddress"):
				vm.info["macaddress"+strings.TrimPrefix(a, "--macaddress")] = v
				i++
			case strings.HasPrefix(a, "--"):
				i++
			}
		}
		return "", nil
	case "storagectl":
		return "", nil
	case "storageattach":
		medium := flagValue(args, "--medium")
		if _, err := os.Stat(medium); err != nil {
			return "", vboxErr(args, 1, "VBoxManage: error: Could not find file for the medium '"+medium+"' (VERR_FILE_NOT_FOUND)\n")
		}
		vm.info["SATA-"+flagValue(args, "--port")+"-0"] = medium
		if flagValue(args, "--type") == "hdd" {
			f.media[medium] = true
		} else {
			f.dvds[medium] = true
		}
		return "", nil
	case "sharedfolder":
		vm.info["SharedFolderNameMachineMapping1"] = flagValue(args, "--name")
		vm.info["SharedFolderPathMachineMapping1"] = flagValue(args, "--hostpath")
		return "", nil
	case "guestproperty":
		if args[1] == "get" {
			return "No value set!\n", nil
		}
		return "", nil
	case "setextradata":
		return "", nil
	case "startvm":
		if running {
			return "", vboxErr(args, 1, "VBoxManage: error: The machine '"+ref+"' is already locked for a session (or being unlocked)\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)\n")
		}
		vm.state = "running"
		f.startSSH(vm)
		return fmt.Sprintf("Waiting for VM %q to power on...\nVM %q has been successfully started.\n", ref, ref), nil
	case "controlvm":
		if !running {
			return "", vboxErr(args, 1, "VBoxManage: error: Machine '"+ref+"' is not currently running.\n")
		}
		switch args[2] {
		case "acpipowerbutton", "poweroff":
			vm.state = "poweroff"
			if vm.sshSrv != nil {
				vm.sshSrv.Close()
				vm.sshSrv = nil
			}
		case "resume":
			vm.state = "running"
		}
		return "", nil
	case "discardstate":
		vm.state = "poweroff"
		return "", nil
	case "unregistervm":
		if running {
			return "", vboxErr(args, 1, "VBoxManage: error: Cannot unregister the machine '"+ref+"' while it is locked\nVBoxManage: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)\n")
		}
		if slices.Contains(args, "--delete") {
			for k, v := range vm.info {
				if strings.HasPrefix(k, "SATA-") && f.media[v] && !f.dvds[v] {
					delete(f.media, v)
					os.Remove(v)
				}
			}
		}
		delete(f.vms, vm.info["name"])
		return "0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n", nil
	}
	return "", nil
}

// startSSH serves SSH on the VM's ssh forward: the machine's key (read
// from its .pub file on the seed's behalf) logs in, and `ip addr show`
// reports the host-only NIC with a DHCP address.
func (f *fakeVBox) startSSH(vm *fakeVM) {
	var port string
	for k, v := range vm.info {
		if strings.HasPrefix(k, "Forwarding(") && strings.HasPrefix(v, "ssh,") {
			port = strings.Split(v, ",")[3]
		}
	}
	if port == "" {
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	require.NoError(f.t, err)
	vm.sshSrv = l
	_, hostKey, _ := ed25519.GenerateKey(rand.Reader)
	signer, _ := ssh.NewSignerFromKey(hostKey)
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() != "docker" {
			return nil, fmt.Errorf("no user %s", c.User())
		}
		return nil, nil
	}}
	cfg.AddHostKey(signer)
	mac := colonMAC(vm.info["macaddress2"])
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go serveSSH(conn, cfg, mac)
		}
	}()
}

func serveSSH(conn net.Conn, cfg *ssh.ServerConfig, mac string) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for r := range reqs {
				if r.Type != "exec" {
					r.Reply(false, nil)
					continue
				}
				r.Reply(true, nil)
				cmd := string(r.Payload[4:])
				status := 0
				switch cmd {
				case "true":
				case "ip addr show":
					fmt.Fprintf(ch, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n"+
						"3: enp0s8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n    link/ether %s brd ff:ff:ff:ff:ff:ff\n    inet 192.168.59.129/24 metric 100 brd 192.168.59.255 scope global dynamic enp0s8\n", mac)
				default:
					status = 127
				}
				ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
				return
			}
		}()
	}
}

// leftovers is everything the fake holds besides its defaults.
func (f *fakeVBox) leftovers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.vms {
		out = append(out, "vm "+n)
	}
	for _, i := range f.ifs {
		out = append(out, "hostonlyif "+i.Name)
	}
	for n, s := range f.dhcp {
		// VirtualBox's own default server for vboxnet0 is no leftover.
		if n != dhcpNetName("vboxnet0") || s.IP != "192.168.56.100" || s.Lower != "192.168.56.101" || !s.Enabled {
			out = append(out, "dhcpserver "+n)
		}
	}
	for m := range f.media {
		out = append(out, "medium "+m)
	}
	for m := range f.dvds {
		out = append(out, "dvd "+m)
	}
	for k := range f.extra {
		out = append(out, "extradata "+k)
	}
	sort.Strings(out)
	return out
}

func (f *fakeVBox) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, strings.Join(c, " "))
	}
	return out
}
