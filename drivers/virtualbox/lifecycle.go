package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/state"
)

// Start starts a stopped or saved VM, resumes a paused one, and waits for
// SSH (and the host-only address, which DHCP may have changed).
func (d *Driver) Start() error { return d.withTimeout(bootTimeout+actionTimeout, d.StartContext) }

// StartContext is Start on ctx.
func (d *Driver) StartContext(ctx context.Context) error {
	st, err := d.GetStateContext(ctx)
	if err != nil {
		return err
	}
	switch st {
	case state.Running, state.Starting:
		d.log().Info("the VM is already running")
		return nil
	case state.Paused:
		if _, err := d.vbm(ctx, "controlvm", d.MachineName, "resume"); err != nil {
			return fmt.Errorf("resuming machine %q: %w", d.MachineName, err)
		}
		return nil
	case state.Stopping:
		return fmt.Errorf("machine %q is still shutting down; run 'docker-machine start %s' again once 'docker-machine status %s' says Stopped", d.MachineName, d.MachineName, d.MachineName)
	}
	if err := d.refreshForwards(ctx); err != nil {
		return err
	}
	if err := d.startVM(ctx); err != nil {
		return fmt.Errorf("starting machine %q: %w", d.MachineName, err)
	}
	if err := d.waitForSSH(ctx); err != nil {
		if hint := d.logDiagnosis(); hint != "" {
			return fmt.Errorf("%w; %s", err, hint)
		}
		return err
	}
	if d.network() != networkNAT && !d.HostOnlyNoDHCP {
		ip, err := d.discoverIP(ctx)
		if err != nil {
			return err
		}
		d.IPAddress = ip
	}
	return nil
}

// refreshForwards moves a port forward whose host port another program
// took while the VM was off to a free port.
func (d *Driver) refreshForwards(ctx context.Context) error {
	type fw struct {
		name  string
		port  *int
		guest int
	}
	list := []fw{{"ssh", &d.SSHPort, sshGuestPort}}
	if d.network() == networkNAT {
		list = append(list, fw{"docker", &d.DockerPort, dockerPort})
	}
	for _, f := range list {
		if *f.port == 0 || portFree(*f.port) {
			continue
		}
		port, err := freePort()
		if err != nil {
			return err
		}
		d.log().Info("port taken by another program; forwarding another", "forward", f.name, "old", *f.port, "new", port)
		if _, err := d.vbm(ctx, "modifyvm", d.MachineName, "--natpf1", "delete", f.name, "--natpf1", natRule(f.name, port, f.guest)); err != nil {
			return fmt.Errorf("moving the %s port forward of machine %q: %w", f.name, d.MachineName, err)
		}
		*f.port = port
	}
	return nil
}

// Stop shuts the guest down with the ACPI power button and powers it off
// when it has not stopped within the deadline.
func (d *Driver) Stop() error { return d.withTimeout(stopTimeout+actionTimeout, d.StopContext) }

// StopContext is Stop on ctx.
func (d *Driver) StopContext(ctx context.Context) error {
	st, err := d.GetStateContext(ctx)
	if err != nil {
		return err
	}
	switch st {
	case state.Stopped, state.Saved:
		return nil
	case state.Paused:
		if _, err := d.vbm(ctx, "controlvm", d.MachineName, "resume"); err != nil {
			return err
		}
	}
	if _, err := d.vbm(ctx, "controlvm", d.MachineName, "acpipowerbutton"); err != nil {
		if errors.Is(err, errNotRunning) {
			return nil
		}
		return fmt.Errorf("stopping machine %q: %w", d.MachineName, err)
	}
	err = waitFor(ctx, fmt.Sprintf("machine %q to shut down", d.MachineName), stopTimeout, func(ctx context.Context) (bool, string, error) {
		st, err := d.stateOf(ctx)
		if err != nil {
			return false, "", err
		}
		return st == state.Stopped, st.String(), nil
	})
	if err == nil {
		d.IPAddress = d.keptAddress()
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	d.log().Warn("the guest did not shut down in time; powering it off", "waited", stopTimeout)
	return d.KillContext(ctx)
}

// keptAddress is the host-only address that survives a stop: only a fixed
// one; DHCP may hand out another at the next start.
func (d *Driver) keptAddress() string {
	if d.HostOnlyNoDHCP {
		return d.IPAddress
	}
	return ""
}

// Restart stops the VM gracefully and starts it again.
func (d *Driver) Restart() error {
	return d.withTimeout(stopTimeout+bootTimeout+2*actionTimeout, d.RestartContext)
}

// RestartContext is Restart on ctx.
func (d *Driver) RestartContext(ctx context.Context) error {
	if err := d.StopContext(ctx); err != nil {
		return err
	}
	return d.StartContext(ctx)
}

// Kill powers the VM off at once.
func (d *Driver) Kill() error { return d.withTimeout(actionTimeout, d.KillContext) }

// KillContext is Kill on ctx.
func (d *Driver) KillContext(ctx context.Context) error {
	st, err := d.GetStateContext(ctx)
	if err != nil {
		return err
	}
	switch st {
	case state.Stopped:
		return nil
	case state.Saved:
		_, err := d.vbm(ctx, "discardstate", d.MachineName)
		return err
	}
	if _, err := d.vbm(ctx, "controlvm", d.MachineName, "poweroff"); err != nil && !errors.Is(err, errNotRunning) {
		return fmt.Errorf("powering off machine %q: %w", d.MachineName, err)
	}
	d.IPAddress = d.keptAddress()
	return waitFor(ctx, fmt.Sprintf("machine %q to power off", d.MachineName), actionTimeout, func(ctx context.Context) (bool, string, error) {
		st, err := d.stateOf(ctx)
		if err != nil {
			return false, "", err
		}
		return st == state.Stopped, st.String(), nil
	})
}

func (d *Driver) withTimeout(t time.Duration, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	return f(ctx)
}

// Remove powers the VM off, unregisters and deletes it with its disks, and
// removes the host-only network and DHCP server it made when no other VM
// uses them. What is already gone counts as removed, so rm can run again.
func (d *Driver) Remove() error { return d.withTimeout(removeTimeout, d.RemoveContext) }

// RemoveContext is Remove on ctx.
func (d *Driver) RemoveContext(ctx context.Context) error {
	if err := d.teardown(ctx, false); err != nil {
		return fmt.Errorf("removing machine %q: %w", d.MachineName, err)
	}
	d.log().Info("machine removed", "vboxmanageCalls", d.Calls())
	return nil
}

// teardown removes what belongs to the machine, carrying on past failures
// so one stuck part does not strand the others. A rollback touches the
// VM only if this create registered it: a VM of the same name that
// already existed is not ours.
func (d *Driver) teardown(ctx context.Context, rollback bool) error {
	var left []string
	var errs []error
	fail := func(what string, err error) {
		left = append(left, what)
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	if !rollback || d.VMCreated {
		if err := d.removeVM(ctx); err != nil {
			fail("VM "+d.MachineName, err)
		} else {
			d.VMCreated = false
		}
	}
	vmLeft := len(left) > 0
	if !vmLeft {
		if err := d.removeDisk(ctx); err != nil {
			fail("disk "+d.diskPath(), err)
		}
		for _, p := range []string{d.seedPath(), d.b2dISOPath()} {
			if err := d.removeDVD(ctx, p); err != nil {
				fail(p, err)
			}
		}
		if err := d.removeNetwork(ctx); err != nil {
			fail("host-only network "+d.HostOnlyInterface+d.HostOnlyNetwork, err)
		}
	}
	if len(left) == 0 {
		return nil
	}
	return fmt.Errorf("these are left: %s (%w); run 'docker-machine rm -f %s' to finish removing them",
		strings.Join(left, ", "), errors.Join(errs...), d.MachineName)
}

// removeVM powers the VM off and deletes it. A VM VirtualBox no longer
// knows is already removed.
func (d *Driver) removeVM(ctx context.Context) error {
	st, err := d.stateOf(ctx)
	if errors.Is(err, ErrMachineNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch st {
	case state.Stopped:
	case state.Saved:
		if _, err := d.vbm(ctx, "discardstate", d.MachineName); err != nil {
			return err
		}
	default:
		if _, err := d.vbm(ctx, "controlvm", d.MachineName, "poweroff"); err != nil && !errors.Is(err, errNotRunning) {
			return err
		}
	}
	// The session of a VM just powered off is released a moment later;
	// until then unregistervm reports it locked.
	return waitFor(ctx, fmt.Sprintf("VirtualBox to delete VM %q", d.MachineName), actionTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := d.vbm(ctx, "unregistervm", d.MachineName, "--delete")
		switch {
		case err == nil, errors.Is(err, ErrMachineNotExist):
			return true, "", nil
		case errors.Is(err, errSessionLocked):
			return false, "session still locked", nil
		}
		return false, "", err
	})
}

// removeDisk deletes a disk the VM did not take with it (a create that
// failed before attaching it).
func (d *Driver) removeDisk(ctx context.Context) error {
	p := d.diskPath()
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		d.DiskCreated = false
		return nil
	}
	if !d.DiskCreated {
		return nil // a disk this driver did not make (a stock machine's) stays
	}
	if _, err := d.vbm(ctx, "closemedium", "disk", p, "--delete"); err != nil && !errors.Is(err, errMediumNotFound) && !notFound(err) {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	d.DiskCreated = false
	return nil
}

// removeDVD closes an ISO the VM had attached (unregistervm --delete
// deletes hard disks only, and leaves DVDs in the media registry) and
// deletes the file.
func (d *Driver) removeDVD(ctx context.Context, p string) error {
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := d.vbm(ctx, "closemedium", "dvd", p); err != nil && !errors.Is(err, errMediumNotFound) && !notFound(err) {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
