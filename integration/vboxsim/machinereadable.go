package vboxsim

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// vboxTime is how VirtualBox prints a state change time.
func vboxTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000") }

// machineReadable renders showvminfo --machinereadable in VirtualBox 7.2's
// order: key=value, strings quoted, numbers bare, plus the one bare
// " rec_screen0" line.
func machineReadable(vm *VM, st *State) string {
	var b strings.Builder
	q := func(k, v string) { fmt.Fprintf(&b, "%s=%q\n", k, v) }
	num := func(k string, v int) { fmt.Fprintf(&b, "%s=%d\n", k, v) }
	flag := func(k string) {
		v := vm.Flags[k]
		if v == "" {
			v = "off"
		}
		q(k, v)
	}
	dir := filepath.Dir(vm.CfgFile)
	q("name", vm.Name)
	q("encryption", "disabled")
	q("groups", "/")
	q("platformArchitecture", "x86")
	q("ostype", osTypes[vm.OSType])
	q("UUID", vm.UUID)
	q("CfgFile", vm.CfgFile)
	q("SnapFldr", filepath.Join(dir, "Snapshots"))
	q("LogFldr", filepath.Join(dir, "Logs"))
	q("hardwareuuid", vm.UUID)
	num("memory", vm.Memory)
	flag("pagefusion")
	num("vram", vm.VRAM)
	num("cpuexecutioncap", 100)
	q("cpu-profile", "host")
	q("chipset", vm.Chipset)
	q("firmware", vm.Firmware)
	num("cpus", vm.CPUs)
	for _, k := range []string{"hpet", "pae", "longmode", "triplefaultreset", "apic", "x2apic", "nested-hw-virt",
		"hwvirtex", "nestedpaging", "largepages", "vtxvpid", "vtxux"} {
		flag(k)
	}
	q("virtvmsavevmload", "on")
	q("iommu", "none")
	q("paravirtprovider", "default")
	q("effparavirtprovider", "kvm")
	q("bootmenu", bootMenu(vm))
	for i, d := range vm.Boot {
		q(fmt.Sprintf("boot%d", i+1), d)
	}
	flag("acpi")
	flag("ioapic")
	q("biosapic", "apic")
	num("biossystemtimeoffset", 0)
	q("BIOS NVRAM File", filepath.Join(dir, vm.Name+".nvram"))
	flag("rtcuseutc")
	q("VMState", vm.State)
	q("VMStateChangeTime", vboxTime(vm.StateChange))
	q("graphicscontroller", vm.Graphics)
	num("monitorcount", 1)
	flag("accelerate3d")
	q("teleporterenabled", "off")
	num("teleporterport", 0)
	q("teleporteraddress", "")
	q("teleporterpassword", "")
	q("tracing-enabled", "off")
	q("tracing-allow-vm-access", "off")
	q("tracing-config", "")
	q("autostart-enabled", "off")
	num("autostart-delay", 0)
	q("defaultfrontend", "")
	q("vmprocpriority", "default")
	for i, ctl := range vm.Ctls {
		q(fmt.Sprintf("storagecontrollername%d", i), ctl.Name)
		q(fmt.Sprintf("storagecontrollertype%d", i), ctl.Type)
		q(fmt.Sprintf("storagecontrollerinstance%d", i), "0")
		q(fmt.Sprintf("storagecontrollermaxportcount%d", i), fmt.Sprint(ctl.MaxPorts))
		q(fmt.Sprintf("storagecontrollerportcount%d", i), fmt.Sprint(ctl.PortCount))
		q(fmt.Sprintf("storagecontrollerbootable%d", i), onOff(ctl.Bootable))
	}
	for _, ctl := range vm.Ctls {
		for port := range ctl.PortCount {
			for dev := range ctl.Devices {
				key := fmt.Sprintf("%s-%d-%d", ctl.Name, port, dev)
				a := ctl.at(port, dev)
				if a == nil {
					fmt.Fprintf(&b, "%q=\"none\"\n", key)
					continue
				}
				suffix := fmt.Sprintf("-%d-%d", port, dev)
				if a.Medium == "emptydrive" {
					fmt.Fprintf(&b, "%q=\"emptydrive\"\n", key)
					fmt.Fprintf(&b, "%q=\"on\"\n", ctl.Name+"-IsEjected"+suffix)
					continue
				}
				fmt.Fprintf(&b, "%q=%q\n", key, a.Medium)
				fmt.Fprintf(&b, "%q=%q\n", ctl.Name+"-ImageUUID"+suffix, a.MediumID)
				if a.Type == "dvddrive" {
					fmt.Fprintf(&b, "%q=\"off\"\n", ctl.Name+"-tempeject"+suffix)
					fmt.Fprintf(&b, "%q=\"off\"\n", ctl.Name+"-IsEjected"+suffix)
				} else {
					fmt.Fprintf(&b, "%q=%q\n", ctl.Name+"-hot-pluggable"+suffix, onOff(a.HotPlug))
					fmt.Fprintf(&b, "%q=%q\n", ctl.Name+"-nonrotational"+suffix, onOff(a.NonRotate))
					fmt.Fprintf(&b, "%q=\"off\"\n", ctl.Name+"-discard"+suffix)
				}
			}
		}
	}
	for i, nic := range vm.NICs {
		n := i + 1
		if nic.Attachment == "none" {
			q(fmt.Sprintf("nic%d", n), "none")
			continue
		}
		switch nic.Attachment {
		case "nat":
			q(fmt.Sprintf("natnet%d", n), "nat")
		case "hostonly":
			q(fmt.Sprintf("hostonlyadapter%d", n), nic.HostOnlyIf)
		case "hostonlynetwork":
			q(fmt.Sprintf("hostonly-network%d", n), nic.HostOnlyNet)
		case "bridged":
			q(fmt.Sprintf("bridgeadapter%d", n), nic.Bridge)
		case "intnet":
			q(fmt.Sprintf("intnet%d", n), nic.IntNet)
		}
		q(fmt.Sprintf("macaddress%d", n), nic.MAC)
		q(fmt.Sprintf("cableconnected%d", n), onOff(nic.Cable))
		q(fmt.Sprintf("nic%d", n), nic.Attachment)
		q(fmt.Sprintf("nictype%d", n), nic.Type)
		q(fmt.Sprintf("nicspeed%d", n), fmt.Sprint(nic.Speed))
		if nic.Attachment == "nat" {
			q("mtu", "0")
			q("sockSnd", "64")
			q("sockRcv", "64")
			q("tcpWndSnd", "64")
			q("tcpWndRcv", "64")
			q("localhostReachable", "0")
			q("forwardBroadcast", "0")
			q("enableTFTP", "0")
			for j, r := range nic.NATRules {
				q(fmt.Sprintf("Forwarding(%d)", j), r.String())
			}
		}
	}
	q("hidpointing", "ps2mouse")
	q("hidkeyboard", "ps2kbd")
	if vm.Uart1 != "" && vm.Uart1 != "off" {
		f := strings.Fields(vm.Uart1)
		q("uart1", strings.Join(f, ","))
		mode := strings.Fields(vm.UartMode1)
		switch {
		case len(mode) == 2:
			q("uartmode1", mode[0]+","+mode[1])
		case len(mode) == 1:
			q("uartmode1", mode[0])
		default:
			q("uartmode1", "disconnected")
		}
		q("uarttype1", "16550A")
	} else {
		q("uart1", "off")
	}
	for _, k := range []string{"uart2", "uart3", "uart4", "lpt1", "lpt2"} {
		q(k, "off")
	}
	q("audio", "none")
	q("audio_out", "off")
	q("audio_in", "off")
	q("clipboard", "disabled")
	q("draganddrop", "disabled")
	if running(vm) {
		q("SessionName", "headless")
		q("VideoMode", "720,400,0@0,0 1")
	}
	q("vrde", "off")
	q("usb", vm.Flags["usb"])
	q("ehci", vm.Flags["ehci"])
	q("xhci", vm.Flags["xhci"])
	for i, s := range vm.Shares {
		q(fmt.Sprintf("SharedFolderNameMachineMapping%d", i+1), s.Name)
		q(fmt.Sprintf("SharedFolderPathMachineMapping%d", i+1), s.HostPath)
	}
	q("recording_started", "off")
	num("recording_screens", 1)
	b.WriteString(" rec_screen0\n")
	q("rec_screen_enabled", "on")
	q("rec_screen_mode", "video")
	q("rec_screen_dest", "File")
	q("rec_screen_dest_filename", filepath.Join(dir, vm.Name+"-screen0.webm"))
	q("rec_screen_opts", "vc_enabled=true,ac_enabled=false,ac_profile=med")
	q("rec_screen_video_res_xy", "1024x768")
	num("rec_screen_video_rate_kbps", 512)
	num("rec_screen_video_fps", 25)
	if vm.Desc != "" {
		q("description", vm.Desc)
	}
	num("GuestMemoryBalloon", 0)
	if running(vm) {
		if _, ok := vm.GuestProps["/VirtualBox/GuestAdd/Version"]; ok {
			q("GuestOSType", "Linux26_64")
			num("GuestAdditionsRunLevel", 2)
			q("GuestAdditionsVersion", vm.GuestProps["/VirtualBox/GuestAdd/Version"].Value)
		}
	}
	return b.String()
}

func bootMenu(vm *VM) string {
	if v := vm.Flags["biosbootmenu"]; v != "" {
		return v
	}
	return vm.BootMenu
}

func (ctl *Controller) at(port, dev int) *Attachment {
	for _, a := range ctl.Attached {
		if a.Port == port && a.Device == dev {
			return a
		}
	}
	return nil
}

var humanStates = map[string]string{"poweroff": "powered off", "running": "running", "paused": "paused",
	"saved": "saved", "aborted": "aborted", "starting": "starting", "stopping": "stopping"}

func humanReadable(vm *VM) string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%-28s %s\n", k+":", v) }
	row("Name", vm.Name)
	row("Encryption", "disabled")
	row("Groups", "/")
	row("Platform Architecture", "x86")
	row("Guest OS", osTypes[vm.OSType])
	row("UUID", vm.UUID)
	row("Config file", vm.CfgFile)
	row("Memory size", fmt.Sprintf("%dMB", vm.Memory))
	row("Number of CPUs", fmt.Sprint(vm.CPUs))
	row("Firmware", vm.Firmware)
	row("State", fmt.Sprintf("%s (since %s)", humanStates[vm.State], vboxTime(vm.StateChange)))
	for i, nic := range vm.NICs {
		if nic.Attachment == "none" {
			continue
		}
		row(fmt.Sprintf("NIC %d", i+1), fmt.Sprintf("MAC: %s, Attachment: %s, Cable connected: %s, Type: %s",
			nic.MAC, nic.Attachment, onOff(nic.Cable), nic.Type))
		for j, r := range nic.NATRules {
			row(fmt.Sprintf("NIC %d Rule(%d)", i+1, j), fmt.Sprintf("name = %s, protocol = %s, host ip = %s, host port = %d, guest ip = %s, guest port = %d",
				r.Name, r.Proto, r.HostIP, r.HostPort, r.GuestIP, r.GuestPort))
		}
	}
	return b.String()
}

// The .vbox settings file, the part other tools read (vagrant reads the
// NAT forwarding rules from it).
type xmlVirtualBox struct {
	XMLName xml.Name   `xml:"VirtualBox"`
	Xmlns   string     `xml:"xmlns,attr"`
	Version string     `xml:"version,attr"`
	Machine xmlMachine `xml:"Machine"`
}

type xmlMachine struct {
	UUID     string      `xml:"uuid,attr"`
	Name     string      `xml:"name,attr"`
	OSType   string      `xml:"OSType,attr"`
	Hardware xmlHardware `xml:"Hardware"`
}

type xmlHardware struct {
	CPU     xmlCPU       `xml:"CPU"`
	Memory  xmlMemory    `xml:"Memory"`
	Network []xmlAdapter `xml:"Network>Adapter"`
}

type xmlCPU struct {
	Count int `xml:"count,attr"`
}

type xmlMemory struct {
	RAMSize int `xml:"RAMSize,attr"`
}

type xmlAdapter struct {
	Slot    int      `xml:"slot,attr"`
	Enabled bool     `xml:"enabled,attr"`
	MAC     string   `xml:"MACAddress,attr"`
	Type    string   `xml:"type,attr"`
	NAT     *xmlNAT  `xml:"NAT,omitempty"`
	HostIf  *xmlName `xml:"HostOnlyInterface,omitempty"`
}

type xmlNAT struct {
	Forwarding []xmlForwarding `xml:"Forwarding"`
}

type xmlForwarding struct {
	Name      string `xml:"name,attr"`
	Proto     int    `xml:"proto,attr"`
	HostIP    string `xml:"hostip,attr,omitempty"`
	HostPort  int    `xml:"hostport,attr"`
	GuestIP   string `xml:"guestip,attr,omitempty"`
	GuestPort int    `xml:"guestport,attr"`
}

type xmlName struct {
	Name string `xml:"name,attr"`
}

// writeSettings writes the machine's .vbox file, as VirtualBox saves it
// after each change.
func writeSettings(vm *VM) error {
	doc := xmlVirtualBox{Xmlns: "http://www.virtualbox.org/", Version: "1.19-linux",
		Machine: xmlMachine{UUID: "{" + vm.UUID + "}", Name: vm.Name, OSType: vm.OSType,
			Hardware: xmlHardware{CPU: xmlCPU{Count: vm.CPUs}, Memory: xmlMemory{RAMSize: vm.Memory}}}}
	for i, nic := range vm.NICs {
		a := xmlAdapter{Slot: i, Enabled: nic.Attachment != "none", MAC: nic.MAC, Type: nic.Type}
		if nic.Attachment == "nat" {
			a.NAT = &xmlNAT{}
			for _, r := range nic.NATRules {
				proto := 1
				if r.Proto == "udp" {
					proto = 0
				}
				a.NAT.Forwarding = append(a.NAT.Forwarding, xmlForwarding{Name: r.Name, Proto: proto, HostIP: r.HostIP,
					HostPort: r.HostPort, GuestIP: r.GuestIP, GuestPort: r.GuestPort})
			}
		}
		if nic.Attachment == "hostonly" {
			a.HostIf = &xmlName{Name: nic.HostOnlyIf}
		}
		doc.Machine.Hardware.Network = append(doc.Machine.Hardware.Network, a)
	}
	data, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Dir(vm.CfgFile)); err != nil {
		return fmt.Errorf("the machine folder of '%s' is gone (%v): unregister the machine", vm.Name, err)
	}
	tmp := vm.CfgFile + ".tmp"
	if err := os.WriteFile(tmp, append([]byte(xml.Header), data...), 0o644); err != nil {
		return fmt.Errorf("cannot save the settings of '%s': %w", vm.Name, err)
	}
	return os.Rename(tmp, vm.CfgFile)
}
