package vboxsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// qemuBackend boots the machine's attached disk and DVDs in a real QEMU VM:
// NAT adapters become user-mode networks with the NAT rules as host
// forwards; other adapters have no counterpart on this host and are left
// out. The power button is QMP system_powerdown, power off QMP quit.
type qemuBackend struct{}

var qemuNICModels = map[string]string{"virtio": "virtio-net-pci", "82540EM": "e1000", "82543GC": "e1000",
	"82545EM": "e1000", "Am79C970A": "pcnet", "Am79C973": "pcnet", "Am79C960": "pcnet"}

// accel picks QEMU's accelerator. KVM is used only where the CPU shows
// vmx or svm: a KVM without them (as on shadow-paging hosts) is accepted by
// QEMU and then cannot boot a normal guest, so it is never left to QEMU's
// fallback.
func accel(cfg *Config) string {
	if cfg.Accel != "" {
		return cfg.Accel
	}
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "tcg"
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "tcg"
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(line, "flags") {
			f := " " + line + " "
			if strings.Contains(f, " vmx ") || strings.Contains(f, " svm ") {
				return "kvm"
			}
			return "tcg"
		}
	}
	return "tcg"
}

func qmpPath(vm *VM) string { return filepath.Join(os.TempDir(), "vboxsim-"+vm.UUID+".qmp") }

func hostfwd(r NATRule) string {
	ip := r.HostIP
	if ip == "" || ip == "0.0.0.0" {
		ip = "127.0.0.1"
	}
	return fmt.Sprintf("%s:%s:%d-%s:%d", r.Proto, ip, r.HostPort, r.GuestIP, r.GuestPort)
}

func macColons(m string) string {
	if len(m) != 12 {
		return m
	}
	return strings.ToLower(fmt.Sprintf("%s:%s:%s:%s:%s:%s", m[0:2], m[2:4], m[4:6], m[6:8], m[8:10], m[10:12]))
}

// qemuArgs is the QEMU command line for vm.
func qemuArgs(vm *VM, cfg *Config, dir, logDir string) ([]string, error) {
	args := []string{"-name", vm.Name, "-nodefaults", "-display", "none", "-m", fmt.Sprint(vm.Memory), "-smp", fmt.Sprint(vm.CPUs)}
	if accel(cfg) == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg,thread=multi", "-cpu", "max")
	}
	if strings.HasPrefix(vm.Firmware, "EFI") {
		ovmf := "/usr/share/ovmf/OVMF.fd"
		if _, err := os.Stat(ovmf); err != nil {
			return nil, fmt.Errorf("the machine uses EFI firmware, which needs %s: install ovmf", ovmf)
		}
		args = append(args, "-bios", ovmf)
	}
	if vm.Flags["acpi"] == "off" {
		args = append(args, "-no-acpi")
	}
	order := ""
	for _, b := range vm.Boot {
		l := map[string]string{"floppy": "a", "disk": "c", "dvd": "d", "net": "n"}[b]
		// VirtualBox allows a device twice in the order; QEMU does not.
		if l != "" && !strings.Contains(order, l) {
			order += l
		}
	}
	if order != "" {
		args = append(args, "-boot", "order="+order)
	}
	disks := 0
	for _, ctl := range vm.Ctls {
		for _, a := range ctl.Attached {
			switch {
			case a.Medium == "" || a.Medium == "emptydrive":
			case a.Type == "hdd":
				format, err := detectFormat(a.Medium)
				if err != nil {
					return nil, err
				}
				args = append(args, "-drive", fmt.Sprintf("file=%s,format=%s,if=virtio,index=%d", qemuPathArg(a.Medium), qemuFormats[strings.ToUpper(format)], disks))
				disks++
			case a.Type == "dvddrive":
				args = append(args, "-drive", fmt.Sprintf("file=%s,format=raw,media=cdrom,readonly=on,if=ide", qemuPathArg(a.Medium)))
			}
		}
	}
	for i, nic := range vm.NICs {
		if nic.Attachment != "nat" {
			continue
		}
		netdev := fmt.Sprintf("user,id=n%d", i)
		for _, r := range nic.NATRules {
			netdev += ",hostfwd=" + hostfwd(r)
		}
		model := qemuNICModels[nic.Type]
		if model == "" {
			model = "e1000"
		}
		args = append(args, "-netdev", netdev, "-device", fmt.Sprintf("%s,netdev=n%d,mac=%s", model, i, macColons(nic.MAC)))
	}
	args = append(args, "-qmp", "unix:"+qmpPath(vm)+",server=on,wait=off",
		"-serial", "file:"+filepath.Join(logDir, "console.log"),
		"-pidfile", filepath.Join(dir, "qemu.pid"), "-daemonize")
	return args, nil
}

// qemuPathArg escapes commas, which separate QEMU's -drive options.
func qemuPathArg(p string) string { return strings.ReplaceAll(p, ",", ",,") }

func (q qemuBackend) start(c *call, vm *VM) (*Runtime, error) {
	if vm.State == "saved" && vm.Run != nil && q.alive(c, vm) {
		if _, err := qmp(c.ctx, vm.Run.QMPSocket, "cont", nil); err != nil {
			return nil, fmt.Errorf("resuming the saved machine: %w", err)
		}
		run := *vm.Run
		return &run, nil
	}
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, errors.New("qemu-system-x86_64 is missing: install qemu-system-x86")
	}
	dir := filepath.Join(filepath.Dir(vm.CfgFile), "vboxsim")
	logDir := filepath.Join(filepath.Dir(vm.CfgFile), "Logs")
	for _, d := range []string{dir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	_ = os.Remove(qmpPath(vm))
	args, err := qemuArgs(vm, c.cfg, dir, logDir)
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		_ = os.Remove(qmpPath(vm))
		return nil, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(filepath.Join(dir, "qemu.pid"))
	if err != nil {
		return nil, fmt.Errorf("QEMU wrote no pid file: %w", err)
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(data)), &pid); err != nil {
		return nil, fmt.Errorf("QEMU's pid file holds %q", data)
	}
	return &Runtime{Backend: BackendQEMU, QEMUPID: pid, QMPSocket: qmpPath(vm), Forwards: natRules(vm)}, nil
}

func (qemuBackend) alive(_ *call, vm *VM) bool { return processAlive(vm.Run.QEMUPID, "qemu-system") }

// qmp runs one QMP command on the machine's monitor socket.
func qmp(ctx context.Context, socket, command string, arguments any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("connecting to QEMU's monitor: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	dec := json.NewDecoder(r)
	var greeting map[string]any
	if err := dec.Decode(&greeting); err != nil {
		return nil, fmt.Errorf("reading QEMU's monitor greeting: %w", err)
	}
	send := func(cmd string, args any) (json.RawMessage, error) {
		msg := map[string]any{"execute": cmd}
		if args != nil {
			msg["arguments"] = args
		}
		if err := json.NewEncoder(conn).Encode(msg); err != nil {
			return nil, err
		}
		for {
			var resp struct {
				Return json.RawMessage `json:"return"`
				Error  *struct {
					Class string `json:"class"`
					Desc  string `json:"desc"`
				} `json:"error"`
				Event string `json:"event"`
			}
			if err := dec.Decode(&resp); err != nil {
				if cmd == "quit" {
					return nil, nil // QEMU closes the socket as it exits
				}
				return nil, fmt.Errorf("reading QEMU's answer to %s: %w", cmd, err)
			}
			if resp.Event != "" {
				continue
			}
			if resp.Error != nil {
				return nil, fmt.Errorf("QEMU refused %s: %s: %s", cmd, resp.Error.Class, resp.Error.Desc)
			}
			return resp.Return, nil
		}
	}
	if _, err := send("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return send(command, arguments)
}

func (qemuBackend) acpiShutdown(c *call, vm *VM) error {
	_, err := qmp(c.ctx, vm.Run.QMPSocket, "system_powerdown", nil)
	return err
}

// saveState freezes the VM (QMP stop) and keeps its process, so the next
// start resumes the same boot. QEMU's migration to a file would survive
// the process, but it refuses VDI and VMDK disks, which VirtualBox uses.
func (qemuBackend) saveState(c *call, vm *VM) error {
	_, err := qmp(c.ctx, vm.Run.QMPSocket, "stop", nil)
	return err
}

func (q qemuBackend) discardState(c *call, vm *VM) error { return q.powerOff(c, vm) }

func (q qemuBackend) powerOff(c *call, vm *VM) error {
	if !q.alive(c, vm) {
		return nil
	}
	if _, err := qmp(c.ctx, vm.Run.QMPSocket, "quit", nil); err != nil {
		_ = syscall.Kill(vm.Run.QEMUPID, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for pause := 20 * time.Millisecond; q.alive(c, vm); pause = min(pause*2, 500*time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(vm.Run.QEMUPID, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(pause)
	}
	_ = os.Remove(vm.Run.QMPSocket)
	return nil
}

func (qemuBackend) pause(c *call, vm *VM, paused bool) error {
	cmd := "cont"
	if paused {
		cmd = "stop"
	}
	_, err := qmp(c.ctx, vm.Run.QMPSocket, cmd, nil)
	return err
}

func (qemuBackend) reset(c *call, vm *VM) error {
	_, err := qmp(c.ctx, vm.Run.QMPSocket, "system_reset", nil)
	return err
}

// forwardsChanged adds and removes host forwards on the running VM through
// the human monitor, as VirtualBox changes NAT rules of a running machine.
func (qemuBackend) forwardsChanged(c *call, vm *VM) error {
	now := natRules(vm)
	key := func(r NATRule) string { return hostfwd(r) }
	had := map[string]NATRule{}
	for _, r := range vm.Run.Forwards {
		had[key(r)] = r
	}
	want := map[string]NATRule{}
	for _, r := range now {
		want[key(r)] = r
	}
	netdev := "n0"
	for i, nic := range vm.NICs {
		if nic.Attachment == "nat" {
			netdev = fmt.Sprintf("n%d", i)
			break
		}
	}
	hmp := func(line string) error {
		out, err := qmp(c.ctx, vm.Run.QMPSocket, "human-monitor-command", map[string]string{"command-line": line})
		if err != nil {
			return err
		}
		var text string
		_ = json.Unmarshal(out, &text)
		text = strings.TrimSpace(text)
		// hostfwd_add prints nothing on success, hostfwd_remove a
		// confirmation; anything else is QEMU's complaint.
		if text != "" && !(strings.HasPrefix(line, "hostfwd_remove") && strings.HasSuffix(text, "removed")) {
			return fmt.Errorf("%s: %s", line, text)
		}
		return nil
	}
	for k, r := range had {
		if _, ok := want[k]; !ok {
			ip := r.HostIP
			if ip == "" || ip == "0.0.0.0" {
				ip = "127.0.0.1"
			}
			if err := hmp(fmt.Sprintf("hostfwd_remove %s %s:%s:%d", netdev, r.Proto, ip, r.HostPort)); err != nil {
				return err
			}
		}
	}
	for k := range want {
		if _, ok := had[k]; !ok {
			if err := hmp(fmt.Sprintf("hostfwd_add %s %s", netdev, k)); err != nil {
				return err
			}
		}
	}
	vm.Run.Forwards = now
	return nil
}

func (q qemuBackend) remove(c *call, vm *VM) error {
	if err := q.powerOff(c, vm); err != nil {
		return err
	}
	_ = os.Remove(qmpPath(vm))
	_ = os.RemoveAll(filepath.Join(filepath.Dir(vm.CfgFile), "vboxsim"))
	return nil
}
