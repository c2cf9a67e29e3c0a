package vboxsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// controllerKinds are storagectl --add buses with their default
// controller, port limit, default port count and devices per port.
var controllerKinds = map[string]struct {
	typ                   string
	maxPorts, ports, devs int
}{
	"sata":   {"IntelAhci", 30, 30, 1},
	"ide":    {"PIIX4", 2, 2, 2},
	"scsi":   {"LsiLogic", 16, 16, 1},
	"sas":    {"LsiLogicSas", 255, 8, 1},
	"floppy": {"I82078", 1, 1, 2},
	"usb":    {"USB", 8, 8, 1},
	"pcie":   {"NVMe", 255, 1, 1},
	"virtio": {"VirtioSCSI", 256, 1, 1},
}

func cmdStorageCtl(c *call, args []string) error {
	if len(args) == 0 {
		return syntaxError("Not enough parameters")
	}
	vm, err := c.vm(args[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageStorageController.cpp", 1102)
	if err != nil {
		return err
	}
	p, err := parseArgs(args[1:], table(map[string]int{"name": 1, "add": 1, "controller": 1, "portcount": 1,
		"hostiocache": 1, "bootable": 1, "rename": 1, "remove": 0}))
	if err != nil {
		return err
	}
	name, _ := p.get("name")
	if name == "" {
		return syntaxError("Storage controller name not specified")
	}
	if running(vm) {
		return sessionLocked(vm.Name, "LockMachine(a->session, LockType_Write)", 1110, "VBoxManageStorageController.cpp")
	}
	var ctl *Controller
	for _, x := range vm.Ctls {
		if x.Name == name {
			ctl = x
		}
	}
	if bus, ok := p.get("add"); ok {
		kind, known := controllerKinds[strings.ToLower(bus)]
		if !known {
			return syntaxError("Invalid --add argument '%s'", bus)
		}
		if ctl != nil {
			return comError(fmt.Sprintf("Storage controller named '%s' already exists", name), codeObjectInUse, "SessionMachine",
				"IMachine", "AddStorageController(Bstr(pszCtl).raw(), StorageBus_SATA, ctl.asOutParam())", "VBoxManageStorageController.cpp", 1150)
		}
		ctl = &Controller{Name: name, Bus: strings.ToLower(bus), Type: kind.typ, PortCount: kind.ports, MaxPorts: kind.maxPorts,
			Devices: kind.devs, Bootable: true}
		vm.Ctls = append(vm.Ctls, ctl)
	}
	if ctl == nil {
		return comError(fmt.Sprintf("Could not find a storage controller named '%s'", name), codeObjectNotFound, "SessionMachine",
			"IMachine", "GetStorageControllerByName(Bstr(pszCtl).raw(), ctl.asOutParam())", "VBoxManageStorageController.cpp", 1205)
	}
	if p.has("remove") {
		for i, x := range vm.Ctls {
			if x == ctl {
				vm.Ctls = append(vm.Ctls[:i], vm.Ctls[i+1:]...)
			}
		}
		return nil
	}
	if v, ok := p.get("controller"); ok {
		ctl.Type = v
	}
	if v, ok := p.get("portcount"); ok {
		n, err := parseUint("--portcount", v)
		if err != nil {
			return err
		}
		if n < 1 || n > ctl.MaxPorts {
			return comError(fmt.Sprintf("Invalid port count: %d (must be in range [1, %d])", n, ctl.MaxPorts), codeInvalidArg,
				"StorageControllerWrap", "IStorageController", "COMSETTER(PortCount)(portcount)", "VBoxManageStorageController.cpp", 1240)
		}
		ctl.PortCount = n
	}
	if v, ok := p.get("hostiocache"); ok {
		b, err := parseOnOff("--hostiocache", v)
		if err != nil {
			return err
		}
		ctl.HostIOCache = b
	}
	if v, ok := p.get("bootable"); ok {
		b, err := parseOnOff("--bootable", v)
		if err != nil {
			return err
		}
		ctl.Bootable = b
	}
	if v, ok := p.get("rename"); ok {
		ctl.Name = v
	}
	return nil
}

func cmdStorageAttach(c *call, args []string) error {
	if len(args) == 0 {
		return syntaxError("Not enough parameters")
	}
	vm, err := c.vm(args[0], "FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())", "VBoxManageStorageController.cpp", 282)
	if err != nil {
		return err
	}
	p, err := parseArgs(args[1:], table(map[string]int{"storagectl": 1, "port": 1, "device": 1, "type": 1, "medium": 1,
		"mtype": 1, "nonrotational": 1, "hotpluggable": 1, "discard": 1, "comment": 1, "setuuid": 1, "setparentuuid": 1,
		"passthrough": 1, "tempeject": 1, "bandwidthgroup": 1, "forceunmount": 0, "server": 1, "target": 1, "tport": 1,
		"lun": 1, "encodedlun": 1, "username": 1, "password": 1, "passwordfile": 1, "initiator": 1, "intnet": 0}))
	if err != nil {
		return err
	}
	ctlName, _ := p.get("storagectl")
	if ctlName == "" {
		return syntaxError("Storage controller name not specified")
	}
	var ctl *Controller
	for _, x := range vm.Ctls {
		if x.Name == ctlName {
			ctl = x
		}
	}
	if ctl == nil {
		return comError(fmt.Sprintf("Could not find a controller named '%s'", ctlName), codeObjectNotFound, "SessionMachine",
			"IMachine", "GetStorageControllerByName(Bstr(pszCtl).raw(), storageCtl.asOutParam())", "VBoxManageStorageController.cpp", 376)
	}
	port, dev := 0, 0
	if v, ok := p.get("port"); ok {
		if port, err = parseUint("--port", v); err != nil {
			return err
		}
	}
	if v, ok := p.get("device"); ok {
		if dev, err = parseUint("--device", v); err != nil {
			return err
		}
	}
	if port >= ctl.PortCount || dev >= ctl.Devices {
		return plainError(fmt.Sprintf("The port and/or device parameter are out of range: port=%d (must be in range [0, %d]), device=%d (must be in range [0, %d])",
			port, ctl.PortCount-1, dev, ctl.Devices-1))
	}
	medium, ok := p.get("medium")
	if !ok {
		return syntaxError("Missing --medium argument")
	}
	typ, _ := p.get("type")
	typ = strings.ToLower(typ)
	existing := ctl.at(port, dev)
	if running(vm) && typ != "dvddrive" && !(existing != nil && existing.Type == "dvddrive") {
		return sessionLocked(vm.Name, "LockMachine(a->session, LockType_Write)", 330, "VBoxManageStorageController.cpp")
	}
	detach := func() {
		for i, a := range ctl.Attached {
			if a == existing {
				ctl.Attached = append(ctl.Attached[:i], ctl.Attached[i+1:]...)
			}
		}
	}
	if strings.EqualFold(medium, "none") {
		if existing == nil {
			return comError(fmt.Sprintf("No storage device attached to device slot %d on port %d of controller '%s'", dev, port, ctlName),
				codeObjectNotFound, "SessionMachine", "IMachine", "DetachDevice(Bstr(pszCtl).raw(), port, device)", "VBoxManageStorageController.cpp", 460)
		}
		detach()
		return nil
	}
	if typ == "" {
		if existing == nil {
			return syntaxError("Argument --type must be specified")
		}
		typ = existing.Type
	}
	switch typ {
	case "hdd", "dvddrive", "fdd":
	default:
		return syntaxError("Invalid --type argument '%s'", typ)
	}
	a := &Attachment{Port: port, Device: dev, Type: typ}
	switch {
	case strings.EqualFold(medium, "emptydrive"):
		if typ == "hdd" {
			return plainError("Hard disk drives cannot be empty")
		}
		a.Medium = "emptydrive"
	case strings.EqualFold(medium, "additions"):
		return comError("Could not find the Guest Additions ISO image (VERR_FILE_NOT_FOUND)", codeFileError, "SystemPropertiesWrap",
			"ISystemProperties", "COMGETTER(DefaultAdditionsISO)(bstrIso.asOutParam())", "VBoxManageStorageController.cpp", 560)
	default:
		kind := map[string]string{"hdd": "disk", "dvddrive": "dvd", "fdd": "floppy"}[typ]
		m, err := c.openMedium(medium, kind)
		if err != nil {
			return err
		}
		if kind == "disk" {
			for _, other := range c.st.VMs {
				if other != vm && attachedTo(other, m.Path) {
					return comError(fmt.Sprintf("Medium '%s' is already attached to the virtual machine '%s'", m.Path, other.Name),
						codeObjectInUse, "SessionMachine", "IMachine", "AttachDevice(Bstr(pszCtl).raw(), port, device, DeviceType_HardDisk, pMedium2Mount)",
						"VBoxManageStorageController.cpp", 1000)
				}
			}
		}
		a.Medium, a.MediumID = m.Path, m.UUID
	}
	for _, o := range p.opts {
		if o.name != "nonrotational" && o.name != "hotpluggable" {
			continue
		}
		b, err := parseOnOff(o.raw, o.vals[0])
		if err != nil {
			return err
		}
		if o.name == "nonrotational" {
			a.NonRotate = b
		} else {
			a.HotPlug = b
		}
	}
	detach()
	ctl.Attached = append(ctl.Attached, a)
	return nil
}

func attachedTo(vm *VM, path string) bool {
	for _, ctl := range vm.Ctls {
		for _, a := range ctl.Attached {
			if a.Medium == path {
				return true
			}
		}
	}
	return false
}

// openMedium finds a registered medium by path or UUID, or opens and
// registers the file, as VirtualBox does when a path is attached.
func (c *call) openMedium(ref, kind string) (*Medium, error) {
	if m := c.st.findMedium(strings.Trim(ref, "{}")); m != nil {
		return m, nil
	}
	path, err := filepath.Abs(ref)
	if err != nil {
		return nil, err
	}
	if m := c.st.findMedium(path); m != nil {
		return m, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, comError(fmt.Sprintf("Could not find file for the medium '%s' (VERR_FILE_NOT_FOUND)", path), codeFileError,
			"MediumWrap", "IMedium", "OpenMedium(Bstr(pszFilenameOrUuid).raw(), enmDevType, enmAccessMode, fForceNewUuidOnOpen, pMedium.asOutParam())",
			"VBoxManageDisk.cpp", 201)
	}
	format, err := detectFormat(path)
	if err != nil {
		return nil, err
	}
	if kind == "disk" && format == "ISO" {
		return nil, comError(fmt.Sprintf("Could not get the storage format of the medium '%s' (VERR_NOT_SUPPORTED)", path), codeFileError,
			"MediumWrap", "IMedium", "OpenMedium(Bstr(pszFilenameOrUuid).raw(), enmDevType, enmAccessMode, fForceNewUuidOnOpen, pMedium.asOutParam())",
			"VBoxManageDisk.cpp", 201)
	}
	if kind == "dvd" {
		format = "RAW"
	}
	m := &Medium{UUID: newUUID(), Path: path, Kind: kind, Format: format, SizeMB: fi.Size() >> 20}
	if kind == "disk" {
		if size, err := virtualSize(c.ctx, path); err == nil {
			m.SizeMB = size >> 20
		}
	}
	c.st.Media = append(c.st.Media, m)
	return m, nil
}

// detectFormat reads a disk image's magic.
func detectFormat(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 0x8006)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("KDMV")), bytes.HasPrefix(head, []byte("# Disk DescriptorFile")):
		return "VMDK", nil
	case len(head) >= 0x44 && bytes.Equal(head[0x40:0x44], []byte{0x7f, 0x10, 0xda, 0xbe}):
		return "VDI", nil
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return "qcow", nil
	case bytes.HasPrefix(head, []byte("conectix")):
		return "VHD", nil
	case len(head) >= 0x8006 && bytes.Equal(head[0x8001:0x8006], []byte("CD001")):
		return "ISO", nil
	}
	return "RAW", nil
}

// qemuFormats maps VirtualBox format names to qemu-img's.
var qemuFormats = map[string]string{"VDI": "vdi", "VMDK": "vmdk", "VHD": "vpc", "RAW": "raw", "QCOW": "qcow2", "QED": "qed"}

func qemuImg(ctx context.Context, args ...string) (string, error) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return "", fmt.Errorf("the stand-in converts disk images with qemu-img, which is missing: install qemu-utils")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "qemu-img", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func virtualSize(ctx context.Context, path string) (int64, error) {
	out, err := qemuImg(ctx, "info", "--output=json", path)
	if err != nil {
		return 0, err
	}
	i := strings.Index(out, `"virtual-size":`)
	if i < 0 {
		return 0, errors.New("qemu-img info printed no virtual size")
	}
	rest := strings.TrimSpace(out[i+len(`"virtual-size":`):])
	end := strings.IndexAny(rest, ",\n}")
	return strconv.ParseInt(strings.TrimSpace(rest[:end]), 10, 64)
}

func mediumFormat(raw string, def string) (string, error) {
	if raw == "" {
		return def, nil
	}
	f := strings.ToUpper(raw)
	if _, ok := qemuFormats[f]; !ok {
		return "", comError(fmt.Sprintf("Invalid medium storage format '%s'", raw), codeInvalidArg, "VirtualBoxWrap", "IVirtualBox",
			"CreateMedium(Bstr(format).raw(), Bstr(pszFilename).raw(), AccessMode_ReadWrite, DeviceType_HardDisk, pMedium.asOutParam())",
			"VBoxManageDisk.cpp", 260)
	}
	return f, nil
}

func cmdCreateMedium(c *call, args []string) error {
	kind := "disk"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch strings.ToLower(args[0]) {
		case "disk", "dvd", "floppy":
			kind = strings.ToLower(args[0])
			args = args[1:]
		}
	}
	p, err := parseArgs(args, table(map[string]int{"filename": 1, "size": 1, "sizebyte": 1, "format": 1, "variant": 1,
		"diffparent": 1, "property": 1, "propertyfile": 1}))
	if err != nil {
		return err
	}
	file, _ := p.get("filename")
	if file == "" {
		return syntaxError("Parameters --filename is required")
	}
	var bytesSize int64
	if v, ok := p.get("size"); ok {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return syntaxError("Invalid size '%s'", v)
		}
		bytesSize = mb << 20
	} else if v, ok := p.get("sizebyte"); ok {
		if bytesSize, err = strconv.ParseInt(v, 10, 64); err != nil {
			return syntaxError("Invalid size '%s'", v)
		}
	} else {
		return syntaxError("Parameters --size is required")
	}
	fv, _ := p.get("format")
	format, err := mediumFormat(fv, "VDI")
	if err != nil {
		return err
	}
	path, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil || c.st.findMedium(path) != nil {
		return plainError("Failed to create medium",
			fmt.Sprintf("Could not create the medium storage unit '%s'.", path),
			fmt.Sprintf("%s: cannot create image '%s' (VERR_ALREADY_EXISTS)", format, path),
			"Details: code VBOX_E_FILE_ERROR (0x80bb0004), component MediumWrap, interface IMedium",
			"Context: \"RTEXITCODE handleCreateMedium(HandlerArg*)\" at line 630 of file VBoxManageDisk.cpp")
	}
	if _, err := qemuImg(c.ctx, "create", "-q", "-f", qemuFormats[format], path, strconv.FormatInt(bytesSize, 10)); err != nil {
		_ = os.Remove(path)
		return plainError("Failed to create medium", fmt.Sprintf("Could not create the medium storage unit '%s'.", path), err.Error())
	}
	m := &Medium{UUID: newUUID(), Path: path, Kind: kind, Format: format, SizeMB: bytesSize >> 20}
	c.st.Media = append(c.st.Media, m)
	c.progress()
	c.printf("Medium created. UUID: %s\n", m.UUID)
	return nil
}

func cmdCloneMedium(c *call, args []string) error {
	kind := "disk"
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "disk", "dvd", "floppy":
			kind = strings.ToLower(args[0])
			args = args[1:]
		}
	}
	p, err := parseArgs(args, table(map[string]int{"format": 1, "variant": 1, "existing": 0}))
	if err != nil {
		return err
	}
	if len(p.pos) != 2 {
		return syntaxError("Mandatory UUID or input file parameter missing")
	}
	src, err := c.openMedium(p.pos[0], kind)
	if err != nil {
		return err
	}
	fv, _ := p.get("format")
	format, err := mediumFormat(fv, src.Format)
	if err != nil {
		return err
	}
	if _, ok := qemuFormats[strings.ToUpper(format)]; !ok {
		format = "VDI"
	}
	format = strings.ToUpper(format)
	dst, err := filepath.Abs(p.pos[1])
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil && !p.has("existing") {
		return plainError("Failed to clone medium",
			fmt.Sprintf("Could not create the clone medium '%s' (VERR_ALREADY_EXISTS)", dst),
			"Details: code VBOX_E_FILE_ERROR (0x80bb0004), component MediumWrap, interface IMedium",
			"Context: \"RTEXITCODE handleCloneMedium(HandlerArg*)\" at line 1098 of file VBoxManageDisk.cpp")
	}
	srcFmt := qemuFormats[strings.ToUpper(src.Format)]
	if _, err := qemuImg(c.ctx, "convert", "-f", srcFmt, "-O", qemuFormats[format], src.Path, dst); err != nil {
		_ = os.Remove(dst)
		return plainError("Failed to clone medium", err.Error())
	}
	m := &Medium{UUID: newUUID(), Path: dst, Kind: kind, Format: format, SizeMB: src.SizeMB}
	c.st.Media = append(c.st.Media, m)
	c.progress()
	c.printf("Clone medium created in format '%s'. UUID: %s\n", format, m.UUID)
	return nil
}

func cmdModifyMedium(c *call, args []string) error {
	kind := "disk"
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "disk", "dvd", "floppy":
			kind = strings.ToLower(args[0])
			args = args[1:]
		}
	}
	p, err := parseArgs(args, table(map[string]int{"type": 1, "autoreset": 1, "property": 1, "compact": 0, "resize": 1,
		"resizebyte": 1, "move": 1, "setlocation": 1, "description": 1}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	m, err := c.openMedium(p.pos[0], kind)
	if err != nil {
		return err
	}
	var size int64 = -1
	if v, ok := p.get("resize"); ok {
		mb, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return syntaxError("Invalid --resize argument '%s'", v)
		}
		size = mb << 20
	} else if v, ok := p.get("resizebyte"); ok {
		if size, err = strconv.ParseInt(v, 10, 64); err != nil {
			return syntaxError("Invalid --resizebyte argument '%s'", v)
		}
	}
	if size >= 0 {
		cur, err := virtualSize(c.ctx, m.Path)
		if err != nil {
			return plainError("Failed to resize medium", err.Error())
		}
		if size < cur {
			return plainError(fmt.Sprintf("Shrinking is not yet supported for medium '%s'", m.Path))
		}
		if err := resizeImage(c.ctx, m, size); err != nil {
			return plainError("Failed to resize medium", err.Error())
		}
		m.SizeMB = size >> 20
		c.progress()
	}
	return nil
}

// resizeImage grows an image. qemu-img cannot resize VDI, VMDK or VHD in
// place, so those go through qcow2 and back.
func resizeImage(ctx context.Context, m *Medium, size int64) error {
	f := qemuFormats[strings.ToUpper(m.Format)]
	n := strconv.FormatInt(size, 10)
	if f == "raw" || f == "qcow2" {
		_, err := qemuImg(ctx, "resize", "-q", "-f", f, m.Path, n)
		return err
	}
	tmp := m.Path + ".resize.qcow2"
	defer os.Remove(tmp)
	if _, err := qemuImg(ctx, "convert", "-f", f, "-O", "qcow2", m.Path, tmp); err != nil {
		return err
	}
	if _, err := qemuImg(ctx, "resize", "-q", "-f", "qcow2", tmp, n); err != nil {
		return err
	}
	out := m.Path + ".resize.out"
	defer os.Remove(out)
	if _, err := qemuImg(ctx, "convert", "-f", "qcow2", "-O", f, tmp, out); err != nil {
		return err
	}
	return os.Rename(out, m.Path)
}

func cmdCloseMedium(c *call, args []string) error {
	kind := "disk"
	if len(args) > 0 {
		switch strings.ToLower(args[0]) {
		case "disk", "dvd", "floppy":
			kind = strings.ToLower(args[0])
			args = args[1:]
		}
	}
	p, err := parseArgs(args, table(map[string]int{"delete": 0}))
	if err != nil {
		return err
	}
	if len(p.pos) != 1 {
		return syntaxError("Incorrect number of parameters")
	}
	m, err := c.openMedium(p.pos[0], kind)
	if err != nil {
		return err
	}
	var users []string
	for _, vm := range c.st.VMs {
		if attachedTo(vm, m.Path) {
			users = append(users, vm.Name)
		}
	}
	if len(users) > 0 {
		return comError(fmt.Sprintf("Cannot close medium '%s' because it is still attached to %d virtual machines", m.Path, len(users)),
			codeObjectInUse, "MediumWrap", "IMedium", "Close()", "VBoxManageDisk.cpp", 1795)
	}
	if p.has("delete") {
		if err := os.Remove(m.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return comError(fmt.Sprintf("Could not delete the medium storage unit '%s' (%v)", m.Path, err), codeFileError,
				"MediumWrap", "IMedium", "DeleteStorage(pProgress.asOutParam())", "VBoxManageDisk.cpp", 1780)
		}
		c.progress()
	}
	c.st.dropMedium(m.Path)
	return nil
}

func cmdConvertFromRaw(c *call, args []string) error {
	p, err := parseArgs(args, table(map[string]int{"format": 1, "variant": 1, "uuid": 1, "static": 0, "o": 1}))
	if err != nil {
		return err
	}
	fv, _ := p.get("format")
	format, err := mediumFormat(fv, "VDI")
	if err != nil {
		return err
	}
	var in io.Reader
	var inName, outName string
	switch {
	case len(p.pos) == 3 && p.pos[0] == "stdin":
		inName, outName = "stdin", p.pos[1]
		n, err := strconv.ParseInt(p.pos[2], 10, 64)
		if err != nil {
			return syntaxError("Invalid size '%s'", p.pos[2])
		}
		in = io.LimitReader(c.in, n)
	case len(p.pos) == 2:
		inName, outName = p.pos[0], p.pos[1]
		f, err := os.Open(inName)
		if err != nil {
			return plainError(fmt.Sprintf("Cannot open file '%s': %v", inName, err))
		}
		defer f.Close()
		in = f
	default:
		return syntaxError("Incorrect number of parameters")
	}
	out, err := filepath.Abs(outName)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return plainError(fmt.Sprintf("Cannot create the disk image \"%s\": VERR_ALREADY_EXISTS", out))
	}
	raw, err := os.CreateTemp(filepath.Dir(out), ".convertfromraw-*")
	if err != nil {
		return plainError(fmt.Sprintf("Cannot create the disk image \"%s\": %v", out, err))
	}
	defer os.Remove(raw.Name())
	n, err := io.Copy(raw, in)
	raw.Close()
	if err != nil {
		return plainError(fmt.Sprintf("Cannot read the raw image: %v", err))
	}
	c.printf("Converting from raw image file=\"%s\" to file=\"%s\"...\n", inName, out)
	c.printf("Creating dynamic image with size %d bytes (%dMB)...\n", n, (n+(1<<20)-1)>>20)
	if _, err := qemuImg(c.ctx, "convert", "-f", "raw", "-O", qemuFormats[format], raw.Name(), out); err != nil {
		_ = os.Remove(out)
		return plainError(fmt.Sprintf("Cannot create the disk image \"%s\": %v", out, err))
	}
	return nil
}
