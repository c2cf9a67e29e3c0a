package vboxsim

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// HomeEnv names the environment variable holding the stand-in's state
// folder. Every VBoxManage call reads and writes its state there.
const HomeEnv = "VBOXSIM_HOME"

const (
	stateFile  = "state.json"
	configFile = "config.json"
	lockFile   = "state.lock"
	callsFile  = "calls.jsonl"
)

// State is what VirtualBox keeps between calls: registered machines,
// media, host-only interfaces and networks, DHCP servers, global extra data.
type State struct {
	Calls        int               `json:"calls"`
	VMs          []*VM             `json:"vms"`
	Media        []*Medium         `json:"media"`
	HostOnlyIfs  []*HostOnlyIf     `json:"hostOnlyIfs"`
	HostOnlyNets []*HostOnlyNet    `json:"hostOnlyNets"`
	DHCPServers  []*DHCPServer     `json:"dhcpServers"`
	ExtraData    map[string]string `json:"extraData,omitempty"`
	// FaultHits counts the matching calls per fault (by index in Config).
	FaultHits map[int]int `json:"faultHits,omitempty"`
	// Initialised is set once the default objects of a fresh install exist.
	Initialised bool `json:"initialised"`
}

// VM is a registered machine.
type VM struct {
	Name       string               `json:"name"`
	UUID       string               `json:"uuid"`
	CfgFile    string               `json:"cfgFile"`
	OSType     string               `json:"osType"`
	Memory     int                  `json:"memory"`
	CPUs       int                  `json:"cpus"`
	VRAM       int                  `json:"vram"`
	Firmware   string               `json:"firmware"`
	Chipset    string               `json:"chipset"`
	Graphics   string               `json:"graphics"`
	BootMenu   string               `json:"bootMenu"`
	Boot       [4]string            `json:"boot"`
	Flags      map[string]string    `json:"flags"` // on/off settings by machinereadable key
	Uart1      string               `json:"uart1,omitempty"`
	UartMode1  string               `json:"uartMode1,omitempty"`
	Desc       string               `json:"description,omitempty"`
	NICs       [8]NIC               `json:"nics"`
	Ctls       []*Controller        `json:"controllers"`
	Shares     []SharedFolder       `json:"sharedFolders"`
	ExtraData  map[string]string    `json:"extraData,omitempty"`
	GuestProps map[string]GuestProp `json:"guestProperties,omitempty"`

	State       string    `json:"state"`
	StateChange time.Time `json:"stateChange"`
	Run         *Runtime  `json:"runtime,omitempty"`
}

// GuestProp is a guest property with the time it was set.
type GuestProp struct {
	Value string    `json:"value"`
	Time  time.Time `json:"time"`
}

// Runtime is what a running machine's backend needs to find it again.
type Runtime struct {
	Backend      string `json:"backend"`
	Container    string `json:"container,omitempty"`
	ContainerIP  string `json:"containerIP,omitempty"`
	ForwarderPID int    `json:"forwarderPID,omitempty"`
	QEMUPID      int    `json:"qemuPID,omitempty"`
	QMPSocket    string `json:"qmpSocket,omitempty"`
	// PowerButton is set when the power button was pressed on a machine
	// of the none backend, which then counts as shut down.
	PowerButton bool `json:"powerButton,omitempty"`
	// Forwards are the NAT rules applied at start, to tell which runtime
	// changes a running machine needs.
	Forwards []NATRule `json:"forwards,omitempty"`
}

// NIC is one network adapter.
type NIC struct {
	Attachment  string    `json:"attachment"` // none, nat, hostonly, hostonlynetwork, bridged, intnet, ...
	Type        string    `json:"type"`
	MAC         string    `json:"mac"`
	Cable       bool      `json:"cable"`
	Promisc     string    `json:"promisc"`
	HostOnlyIf  string    `json:"hostOnlyIf,omitempty"`
	HostOnlyNet string    `json:"hostOnlyNet,omitempty"`
	Bridge      string    `json:"bridge,omitempty"`
	IntNet      string    `json:"intNet,omitempty"`
	NATRules    []NATRule `json:"natRules,omitempty"`
	DNSHostRes  bool      `json:"dnsHostResolver,omitempty"`
	DNSProxy    bool      `json:"dnsProxy,omitempty"`
	Speed       int       `json:"speed,omitempty"`
}

// NATRule is a NAT port forward: "name,proto,hostip,hostport,guestip,guestport".
type NATRule struct {
	Name      string `json:"name"`
	Proto     string `json:"proto"`
	HostIP    string `json:"hostIP"`
	HostPort  int    `json:"hostPort"`
	GuestIP   string `json:"guestIP"`
	GuestPort int    `json:"guestPort"`
}

func (r NATRule) String() string {
	return fmt.Sprintf("%s,%s,%s,%d,%s,%d", r.Name, r.Proto, r.HostIP, r.HostPort, r.GuestIP, r.GuestPort)
}

// Controller is a storage controller with its attachments.
type Controller struct {
	Name        string        `json:"name"`
	Bus         string        `json:"bus"`  // sata, ide, scsi, sas, virtio, ...
	Type        string        `json:"type"` // IntelAhci, PIIX4, ...
	PortCount   int           `json:"portCount"`
	MaxPorts    int           `json:"maxPorts"`
	Devices     int           `json:"devices"` // devices per port
	HostIOCache bool          `json:"hostIOCache"`
	Bootable    bool          `json:"bootable"`
	Attached    []*Attachment `json:"attached"`
}

// Attachment is a medium (or an empty drive) at a controller port.
type Attachment struct {
	Port      int    `json:"port"`
	Device    int    `json:"device"`
	Type      string `json:"type"` // hdd, dvddrive, fdd
	Medium    string `json:"medium"`
	MediumID  string `json:"mediumID,omitempty"`
	NonRotate bool   `json:"nonRotational,omitempty"`
	HotPlug   bool   `json:"hotPluggable,omitempty"`
}

// SharedFolder is a host folder shared with a machine.
type SharedFolder struct {
	Name      string `json:"name"`
	HostPath  string `json:"hostPath"`
	Automount bool   `json:"automount"`
	ReadOnly  bool   `json:"readOnly"`
}

// Medium is a registered disk or DVD image.
type Medium struct {
	UUID   string `json:"uuid"`
	Path   string `json:"path"`
	Kind   string `json:"kind"`   // disk, dvd, floppy
	Format string `json:"format"` // VDI, VMDK, VHD, RAW, qcow
	SizeMB int64  `json:"sizeMB"`
}

// HostOnlyIf is a host-only adapter (vboxnetN).
type HostOnlyIf struct {
	Name    string `json:"name"`
	GUID    string `json:"guid"`
	IP      string `json:"ip"`
	Netmask string `json:"netmask"`
	MAC     string `json:"mac"`
}

// HostOnlyNet is a VirtualBox 7 host-only network.
type HostOnlyNet struct {
	Name    string `json:"name"`
	GUID    string `json:"guid"`
	Enabled bool   `json:"enabled"`
	Netmask string `json:"netmask"`
	LowerIP string `json:"lowerIP"`
	UpperIP string `json:"upperIP"`
}

// DHCPServer is a DHCP server on a host-only network.
type DHCPServer struct {
	NetName string `json:"netName"`
	IP      string `json:"ip"`
	Netmask string `json:"netmask"`
	LowerIP string `json:"lowerIP"`
	UpperIP string `json:"upperIP"`
	Enabled bool   `json:"enabled"`
}

// store is the state folder, locked for the length of one command.
type store struct {
	home string
	lock *os.File
}

func openStore(home string) (*store, error) {
	if home == "" {
		return nil, fmt.Errorf("%s is not set: point it at the stand-in's state folder", HomeEnv)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, fmt.Errorf("creating the state folder %s: %w", home, err)
	}
	f, err := os.OpenFile(filepath.Join(home, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the state folder: %w", err)
	}
	return &store{home: home, lock: f}, nil
}

func (s *store) close() { s.lock.Close() }

func (s *store) load() (*State, error) {
	st := &State{}
	data, err := os.ReadFile(filepath.Join(s.home, stateFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading the stand-in's state: %w", err)
	}
	if err == nil {
		if err := json.Unmarshal(data, st); err != nil {
			return nil, fmt.Errorf("the stand-in's state %s is damaged: %w", filepath.Join(s.home, stateFile), err)
		}
	}
	return st, nil
}

func (s *store) save(st *State) error {
	return writeJSON(filepath.Join(s.home, stateFile), st)
}

// writeJSON replaces path atomically, so a reader never sees half a file.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func (st *State) findVM(nameOrUUID string) *VM {
	for _, vm := range st.VMs {
		if vm.UUID == nameOrUUID {
			return vm
		}
	}
	for _, vm := range st.VMs {
		if vm.Name == nameOrUUID {
			return vm
		}
	}
	return nil
}

func (st *State) removeVM(vm *VM) {
	for i, v := range st.VMs {
		if v == vm {
			st.VMs = append(st.VMs[:i], st.VMs[i+1:]...)
			return
		}
	}
}

func (st *State) findMedium(pathOrUUID string) *Medium {
	for _, m := range st.Media {
		if m.UUID == pathOrUUID || m.Path == pathOrUUID {
			return m
		}
	}
	return nil
}

func (st *State) hostOnlyIf(name string) *HostOnlyIf {
	for _, h := range st.HostOnlyIfs {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (st *State) hostOnlyNet(name string) *HostOnlyNet {
	for _, h := range st.HostOnlyNets {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (st *State) dhcpServer(netName string) *DHCPServer {
	for _, d := range st.DHCPServers {
		if d.NetName == netName {
			return d
		}
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newMAC returns a MAC address in VirtualBox's 08:00:27 range, as
// showvminfo prints it (12 hex digits, no separators).
func newMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("080027%02X%02X%02X", b[0], b[1], b[2])
}
