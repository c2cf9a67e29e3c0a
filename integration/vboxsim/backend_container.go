package vboxsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
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
		image := c.cfg.ContainerImage
		if image == "" {
			if image, err = hostworld.EnsureImage(ctx, hostworld.ImageOptions{}); err != nil {
				return nil, err
			}
		}
		host, err = hostworld.Start(ctx, hostworld.HostOptions{Name: containerName(vm), Image: image, SudoUser: "root",
			Labels: map[string]string{labelHome: HomeLabel(c.home), labelVM: vm.UUID}})
		if err != nil {
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
	pid, err := startForwarder(ctx, c.home, vm, host.IP)
	if err != nil {
		return fail(err)
	}
	run.ForwarderPID = pid
	setGuestNet(vm, host.IP)
	return run, nil
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
	return err == nil && strings.TrimSpace(out) == "true"
}

func (containerBackend) acpiShutdown(c *call, vm *VM) error {
	// systemd's request for a clean shutdown, like the power button's.
	_, err := docker(c.ctx, "kill", "--signal", "SIGRTMIN+3", vm.Run.Container)
	return err
}

func (containerBackend) powerOff(c *call, vm *VM, graceful bool) error {
	if graceful {
		_, err := docker(c.ctx, "stop", "--time", "20", vm.Run.Container)
		return err
	}
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
	vm.Run.ContainerIP = host.IP
	setGuestNet(vm, host.IP)
	return nil
}

// forwardsChanged needs nothing: the forwarder follows the state.
func (containerBackend) forwardsChanged(*call, *VM) error { return nil }

func (containerBackend) remove(c *call, vm *VM) error {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	return hostworld.RemoveAllLabelled(ctx, map[string]string{labelVM: vm.UUID})
}
