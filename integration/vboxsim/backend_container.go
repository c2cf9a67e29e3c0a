package vboxsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/fleetdock/machine/integration/hostworld"
)

const (
	// labelHome marks the containers of one state folder, so a test's
	// cleanup finds every one it caused.
	labelHome = "fleetdock.vboxsim.home"
	labelVM   = "fleetdock.vboxsim.vm"
	// containerStartTimeout bounds startvm on the container backend.
	containerStartTimeout = 3 * time.Minute
)

// containerBackend runs a machine as a VM-like hostworld container: sshd
// and systemd as on a cloud VM, the seed ISO's users, keys and hostname
// applied, and the NAT rules served by a loopback forwarder process.
type containerBackend struct{}

// HomeLabel is the label value the container backend puts on the
// containers of the state folder home.
func HomeLabel(home string) string {
	h := sha256.Sum256([]byte(home))
	return hex.EncodeToString(h[:8])
}

func containerName(vm *VM) string { return "vboxsim-" + vm.UUID }

func docker(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

var hostnamePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func (containerBackend) start(c *call, vm *VM) (*Runtime, error) {
	ctx, cancel := context.WithTimeout(c.ctx, containerStartTimeout)
	defer cancel()
	seed, err := findSeed(vm)
	if err != nil {
		return nil, err
	}
	if seed != nil && seed.Hostname != "" && !hostnamePattern.MatchString(seed.Hostname) {
		return nil, fmt.Errorf("the seed's hostname %q is not a valid hostname", seed.Hostname)
	}
	if host, ok, err := resume(ctx, vm); err != nil {
		return nil, fmt.Errorf("resuming the saved machine: %w", err)
	} else if ok {
		run := *vm.Run
		run.ContainerIP = host.IP
		pid, err := startForwarder(ctx, c.home, vm, host.IP)
		if err != nil {
			return nil, err
		}
		run.ForwarderPID = pid
		setGuestNet(vm, host.IP)
		return &run, nil
	}
	// A guest that ran before left this host a neighbour entry with its
	// VirtualBox MAC, which the new container does not answer to until
	// setGuestMAC runs; without this, the boot wait stalls until it ages.
	forgetGuestNeighbours(ctx)
	var host *hostworld.Host
	fresh := false
	if vm.Run != nil && vm.Run.Container != "" {
		host, err = hostworld.FindHost(ctx, vm.Run.Container)
		switch {
		case errors.Is(err, hostworld.ErrNoHost):
			host = nil
		case err != nil:
			return nil, err
		default:
			if err := host.StartAgain(ctx); err != nil {
				return nil, err
			}
		}
	}
	if host == nil {
		if host, err = createContainer(ctx, c, vm, shareBinds(vm, seed)); err != nil {
			return nil, err
		}
		fresh = true
	}
	run := &Runtime{Backend: BackendContainer, Container: host.Name, ContainerIP: host.IP}
	if vm.Run != nil {
		run.Forwards = vm.Run.Forwards
	}
	fail := func(err error) (*Runtime, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), time.Minute)
		defer cancel()
		if fresh {
			err = errors.Join(err, host.Remove(cctx))
		} else if _, kerr := docker(cctx, "kill", host.ContainerID); kerr != nil {
			err = errors.Join(err, kerr)
		}
		return nil, err
	}
	if seed != nil {
		if _, err := host.Exec(ctx, seed.script()); err != nil {
			return fail(fmt.Errorf("applying the cloud-init seed: %w", err))
		}
		if seed.Hostname != "" {
			// Docker resets the hostname at every container start.
			script := fmt.Sprintf(`hostname %[1]s 2>/dev/null || printf '%%s' %[1]s > /proc/sys/kernel/hostname
printf '%%s\n' %[1]s > /etc/hostname
grep -q '[[:space:]]%[1]s$' /etc/hosts || printf '127.0.1.1\t%%s\n' %[1]s >> /etc/hosts`, seed.Hostname)
			if _, err := host.Exec(ctx, script); err != nil {
				return fail(fmt.Errorf("setting the seed's hostname: %w", err))
			}
		}
	}
	if err := setGuestMAC(ctx, host, guestNICMAC(vm)); err != nil {
		return fail(err)
	}
	pid, err := startForwarder(ctx, c.home, vm, host.IP)
	if err != nil {
		return fail(err)
	}
	run.ForwarderPID = pid
	setGuestNet(vm, host.IP)
	return run, nil
}

// bind is a shared folder as a bind mount into the container.
type bind struct {
	host, guest string
	readOnly    bool
}

// shareBinds places the machine's shared folders where a guest with the
// Guest Additions would have them: where the seed's cloud-config mounts
// a vboxsf of that name, else, for an automounted folder, at MountDir +
// MountPrefix + name (the guest properties; /media/sf_NAME by default).
func shareBinds(vm *VM, seed *Seed) []bind {
	var out []bind
	for _, s := range vm.Shares {
		guest := ""
		if seed != nil {
			for _, m := range seed.Mounts {
				if m.Type == "vboxsf" && m.Spec == s.Name {
					guest = m.Point
				}
			}
		}
		if guest == "" && s.Automount {
			dir, prefix := "/media", "sf_"
			if p, ok := vm.GuestProps["/VirtualBox/GuestAdd/SharedFolders/MountDir"]; ok {
				dir = p.Value
			}
			if p, ok := vm.GuestProps["/VirtualBox/GuestAdd/SharedFolders/MountPrefix"]; ok {
				prefix = p.Value
			}
			guest = path.Join("/", dir, prefix+s.Name)
		}
		if !path.IsAbs(guest) || strings.ContainsAny(guest, ",") || strings.ContainsAny(s.HostPath, ",") {
			continue
		}
		out = append(out, bind{host: s.HostPath, guest: path.Clean(guest), readOnly: s.ReadOnly})
	}
	return out
}

// createContainer creates and boots the machine's container with its
// shared folders mounted; on failure it leaves no container behind.
func createContainer(ctx context.Context, c *call, vm *VM, binds []bind) (*hostworld.Host, error) {
	image := c.cfg.ContainerImage
	if image == "" {
		var err error
		if image, err = hostworld.EnsureImage(ctx, hostworld.ImageOptions{}); err != nil {
			return nil, err
		}
	}
	name := containerName(vm)
	args := append([]string{"create"}, hostworld.ContainerRunFlags(name, "root")...)
	args = append(args, "--network", "bridge", "--label", labelHome+"="+HomeLabel(c.home), "--label", labelVM+"="+vm.UUID)
	for _, b := range binds {
		m := "type=bind,source=" + b.host + ",target=" + b.guest
		if b.readOnly {
			m += ",readonly"
		}
		args = append(args, "--mount", m)
	}
	args = append(args, image, "/sbin/init")
	fail := func(err error) (*hostworld.Host, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, hostworld.RemoveAllLabelled(cctx, map[string]string{labelVM: vm.UUID}))
	}
	if _, err := docker(ctx, args...); err != nil {
		return fail(err)
	}
	host, err := hostworld.FindHost(ctx, name)
	if err != nil {
		return fail(err)
	}
	if err := host.StartAgain(ctx); err != nil {
		return fail(err)
	}
	return host, nil
}

// setGuestMAC gives the container's one interface the MAC of the NIC it
// plays, as drivers find the guest's address by matching that MAC in
// "ip addr show". Docker sets it only at container creation, and this
// machine's Docker client refuses to with its older daemon, so it is
// changed inside the guest at every start; the guest announces it
// (arp_notify) and this host's stale neighbour entry is dropped.
func setGuestMAC(ctx context.Context, host *hostworld.Host, mac string) error {
	if mac == "" {
		return nil
	}
	script := fmt.Sprintf(`set -e
echo 1 > /proc/sys/net/ipv4/conf/eth0/arp_notify
ip link set dev eth0 address %s`, mac)
	if _, err := host.Exec(ctx, script); err != nil {
		return fmt.Errorf("giving the guest's interface the NIC's MAC %s: %w", mac, err)
	}
	flushErr := exec.CommandContext(ctx, "ip", "neigh", "flush", "to", host.IP).Run()
	deadline := time.Now().Add(30 * time.Second)
	for pause := 50 * time.Millisecond; ; pause = min(pause*2, time.Second) {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(host.IP, "22"), 2*time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the guest at %s is unreachable after its MAC changed to %s: %w (flushing the neighbour entry: %v)",
				host.IP, mac, err, flushErr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// forgetGuestNeighbours drops this host's neighbour entries with a
// VirtualBox MAC (08:00:27, used by no one else here). Failing to is no
// error: the entries then age out by themselves.
func forgetGuestNeighbours(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "ip", "neigh", "show").Output()
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[1] != "dev" || f[3] != "lladdr" || !strings.HasPrefix(strings.ToLower(f[4]), "08:00:27:") {
			continue
		}
		_ = exec.CommandContext(ctx, "ip", "neigh", "del", f[0], "dev", f[2]).Run()
	}
}

// guestNICMAC is the colon-form MAC of the first host-only (or bridged)
// adapter, else of the first NAT adapter.
func guestNICMAC(vm *VM) string {
	for _, want := range [][]string{{"hostonly", "hostonlynetwork", "bridged"}, {"nat"}} {
		for _, nic := range vm.NICs {
			for _, w := range want {
				if nic.Attachment == w {
					return macColons(nic.MAC)
				}
			}
		}
	}
	return ""
}

// setGuestNet publishes the guest's addresses as Guest Additions would:
// 10.0.2.15 behind NAT, the container's address on a host-only adapter.
func setGuestNet(vm *VM, ip string) {
	if vm.GuestProps == nil {
		vm.GuestProps = map[string]GuestProp{}
	}
	now := time.Now().UTC()
	set := func(k, v string) { vm.GuestProps[k] = GuestProp{Value: v, Time: now} }
	set("/VirtualBox/GuestInfo/OS/Product", "Linux")
	count := 0
	for i, nic := range vm.NICs {
		if nic.Attachment == "none" {
			continue
		}
		addr := ip
		if nic.Attachment == "nat" {
			addr = "10.0.2.15"
		}
		set(fmt.Sprintf("/VirtualBox/GuestInfo/Net/%d/V4/IP", i), addr)
		set(fmt.Sprintf("/VirtualBox/GuestInfo/Net/%d/MAC", i), nic.MAC)
		set(fmt.Sprintf("/VirtualBox/GuestInfo/Net/%d/Status", i), "Up")
		count++
	}
	set("/VirtualBox/GuestInfo/Net/Count", fmt.Sprint(count))
}

// findSeed reads the first cidata ISO attached as a DVD.
func findSeed(vm *VM) (*Seed, error) {
	for _, ctl := range vm.Ctls {
		for _, a := range ctl.Attached {
			if a.Type != "dvddrive" || a.Medium == "" || a.Medium == "emptydrive" {
				continue
			}
			s, err := ReadSeedISO(a.Medium)
			if err != nil {
				return nil, fmt.Errorf("reading the DVD %s: %w", a.Medium, err)
			}
			if s != nil {
				return s, nil
			}
		}
	}
	return nil, nil
}

func (containerBackend) alive(c *call, vm *VM) bool {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	out, err := docker(ctx, "container", "inspect", "--format", "{{.State.Running}}", vm.Run.Container)
	if err != nil {
		// Gone is off; an engine that does not answer says nothing about
		// the guest, which keeps its state until the engine is back.
		return !strings.Contains(strings.ToLower(err.Error()), "no such")
	}
	return strings.TrimSpace(out) == "true"
}

func (containerBackend) acpiShutdown(c *call, vm *VM) error {
	// systemd's request for a clean shutdown, like the power button's.
	_, err := docker(c.ctx, "kill", "--signal", "SIGRTMIN+3", vm.Run.Container)
	return err
}

// saveState freezes the container: its processes keep their memory, as a
// saved VM does, and the next start thaws it.
func (containerBackend) saveState(c *call, vm *VM) error {
	_, err := docker(c.ctx, "pause", vm.Run.Container)
	return err
}

func (containerBackend) discardState(c *call, vm *VM) error {
	if _, err := docker(c.ctx, "unpause", vm.Run.Container); err != nil && !strings.Contains(err.Error(), "not paused") {
		return err
	}
	return containerBackend{}.powerOff(c, vm)
}

// resume thaws a container frozen by saveState; false when there is none.
func resume(ctx context.Context, vm *VM) (*hostworld.Host, bool, error) {
	if vm.State != "saved" || vm.Run == nil || vm.Run.Container == "" {
		return nil, false, nil
	}
	out, err := docker(ctx, "container", "inspect", "--format", "{{.State.Paused}}", vm.Run.Container)
	if err != nil || strings.TrimSpace(out) != "true" {
		return nil, false, nil
	}
	if _, err := docker(ctx, "unpause", vm.Run.Container); err != nil {
		return nil, false, err
	}
	host, err := hostworld.FindHost(ctx, vm.Run.Container)
	if err != nil {
		return nil, false, err
	}
	return host, true, nil
}

func (containerBackend) powerOff(c *call, vm *VM) error {
	_, err := docker(c.ctx, "kill", vm.Run.Container)
	if err != nil && strings.Contains(err.Error(), "is not running") {
		return nil
	}
	return err
}

func (containerBackend) pause(c *call, vm *VM, paused bool) error {
	verb := "unpause"
	if paused {
		verb = "pause"
	}
	_, err := docker(c.ctx, verb, vm.Run.Container)
	return err
}

func (containerBackend) reset(c *call, vm *VM) error {
	ctx, cancel := context.WithTimeout(c.ctx, containerStartTimeout)
	defer cancel()
	host, err := hostworld.FindHost(ctx, vm.Run.Container)
	if err != nil {
		return err
	}
	if _, err := docker(ctx, "kill", host.ContainerID); err != nil {
		return err
	}
	if err := host.StartAgain(ctx); err != nil {
		return err
	}
	if err := setGuestMAC(ctx, host, guestNICMAC(vm)); err != nil {
		return err
	}
	vm.Run.ContainerIP = host.IP
	setGuestNet(vm, host.IP)
	return nil
}

// forwardsChanged needs nothing: the forwarder follows the state.
func (containerBackend) forwardsChanged(*call, *VM) error { return nil }

func (containerBackend) remove(c *call, vm *VM) error {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	// A saved machine's container is frozen; thaw it so it can be removed.
	_, _ = docker(ctx, "unpause", vm.Run.Container)
	return hostworld.RemoveAllLabelled(ctx, map[string]string{labelVM: vm.UUID})
}
