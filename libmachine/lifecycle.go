package libmachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
	"github.com/fleetdock/machine/libmachine/poll"
	"github.com/fleetdock/machine/libmachine/store"
)

// Timeouts bound every wait of the lifecycle; tests shorten them.
type Timeouts struct {
	State time.Duration // a driver reaching Running/Stopped
}

// DefaultTimeouts are generous enough for slow clouds.
var DefaultTimeouts = Timeouts{State: 5 * time.Minute}

// PreCreateError marks a failed pre-create check; the CLI exits 3 on it, as stock does.
type PreCreateError struct{ Err error }

func (e *PreCreateError) Error() string { return "Error with pre-create check: " + e.Err.Error() }
func (e *PreCreateError) Unwrap() error { return e.Err }

// AlreadyInStateError is returned when start/stop/kill finds the machine
// already where it was asked to go.
type AlreadyInStateError struct {
	Name  string
	State state.State
}

func (e *AlreadyInStateError) Error() string {
	return fmt.Sprintf("Machine %q is already %s.", e.Name, strings.ToLower(e.State.String()))
}

// LeftoverError is a failed create whose cleanup could not finish: the
// machine stays in the store so that `rm` can remove what is left.
type LeftoverError struct {
	Name       string
	Err        error
	CleanupErr error
}

func (e *LeftoverError) Error() string {
	return fmt.Sprintf("Error creating machine: %v\nCleaning up after the failure did not finish (%v); resources of %q may still exist. Run 'docker-machine rm %s' to remove them, with the same credentials and settings the create had.",
		e.Err, e.CleanupErr, e.Name, e.Name)
}
func (e *LeftoverError) Unwrap() error { return e.Err }

// BootstrapCerts makes sure the CA and client certificate exist and are
// valid, reporting each file it had to create.
func (c *Client) BootstrapCerts(ctx context.Context) error {
	return c.withCertsLock(ctx, c.bootstrapCerts)
}

// withCertsLock runs fn holding the store's certificates lock.
func (c *Client) withCertsLock(ctx context.Context, fn func() error) error {
	unlock, err := c.Store.LockCerts(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func (c *Client) bootstrapCerts() error {
	created, err := certs.Bootstrap(c.Certs, certs.DefaultOrg())
	for _, f := range created {
		switch f {
		case c.Certs.CACert:
			c.Infof("Creating CA: %s", f)
		case c.Certs.ClientCert:
			c.Infof("Creating client certificate: %s", f)
		}
	}
	if err != nil {
		return fmt.Errorf("Error generating certificates: %w", err)
	}
	return nil
}

// Create runs the whole create flow for a host prepared by NewHost whose
// driver already has its flags: certificates, pre-create check, driver
// create, wait for Running, then provisioning. Every step stops when ctx
// ends (Ctrl-C): a driver offering capability.Cancellable gets ctx, a
// plugin is closed.
//
// A failed or interrupted create removes what the driver made and the
// store entry, on capability.CleanupContext(ctx); only when that cleanup
// fails or is itself interrupted does the machine stay listed, with a
// LeftoverError telling the user what finishes it.
func (c *Client) Create(ctx context.Context, h *host.Host) error {
	// The lock is taken before the entry exists, so no other command of
	// ours sees the machine half made.
	unlock, err := c.Store.LockFor(ctx, h.Name, store.OpCreate)
	if err != nil {
		return fmt.Errorf("locking machine %q: %w", h.Name, err)
	}
	defer unlock()
	if exists, err := c.Store.Exists(h.Name); err != nil {
		return fmt.Errorf("Error checking if host exists: %w", err)
	} else if exists {
		return &store.ExistsError{Name: h.Name}
	}
	if err := c.BootstrapCerts(ctx); err != nil {
		return err
	}

	c.Infof("Running pre-create checks...")
	if err := ops(h.Driver).PreCreateCheckContext(ctx); err != nil {
		if ctx.Err() != nil {
			return interrupted(h.Name, "the pre-create check", ctx)
		}
		return &PreCreateError{Err: err}
	}
	if err := c.Store.Create(h); err != nil {
		return fmt.Errorf("Error saving host to store before attempting creation: %w", err)
	}
	// The configuration before the driver made anything: enough for a
	// relaunched plugin to find what it made by its tags.
	raw, err := json.Marshal(h.Driver)
	if err != nil {
		return c.abandonCreate(ctx, h, nil, fmt.Errorf("reading the driver configuration of %q: %w", h.Name, err))
	}

	c.Infof("Creating machine...")
	if err := ops(h.Driver).CreateContext(ctx); err != nil {
		if ctx.Err() != nil {
			return c.abandonCreate(ctx, h, raw, interrupted(h.Name, "the driver's create", ctx))
		}
		return c.abandonCreate(ctx, h, raw, fmt.Errorf("Error in driver during machine creation: %w", err))
	}
	if err := c.Save(h); err != nil {
		return c.abandonCreate(ctx, h, raw, err)
	}
	if err := ctx.Err(); err != nil {
		return c.abandonCreate(ctx, h, raw, interrupted(h.Name, "the create", ctx))
	}

	c.Infof("Waiting for machine to be running, this may take a few minutes...")
	if err := c.WaitForState(ctx, h, state.Running, DefaultTimeouts.State); err != nil {
		if ctx.Err() != nil {
			err = interrupted(h.Name, "waiting for the machine to be running", ctx)
		} else {
			err = fmt.Errorf("Error waiting for machine to be running: %w", err)
		}
		return c.abandonCreate(ctx, h, raw, err)
	}
	if err := c.Save(h); err != nil {
		return c.abandonCreate(ctx, h, raw, err)
	}
	if !hasSSH(h) {
		return nil
	}
	if err := c.Provision(ctx, h); err != nil {
		if ctx.Err() != nil {
			err = interrupted(h.Name, "provisioning", ctx)
		}
		return c.abandonCreate(ctx, h, raw, err)
	}
	return c.Save(h)
}

// InterruptedError is a command stopped by its context (Ctrl-C, SIGTERM).
type InterruptedError struct {
	Name, Step string
	Err        error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("creating %q was interrupted during %s", e.Name, e.Step)
}
func (e *InterruptedError) Unwrap() error { return e.Err }

func interrupted(name, step string, ctx context.Context) error {
	return &InterruptedError{Name: name, Step: step, Err: context.Cause(ctx)}
}

// abandonCreate undoes a failed create on the cleanup context: the driver
// (relaunched from raw when its plugin is gone) removes what it made, then
// the store entry goes. If the driver cannot clean up, or a second Ctrl-C
// stops the cleanup, the entry stays so `rm` can finish the job.
func (c *Client) abandonCreate(ctx context.Context, h *host.Host, raw []byte, cause error) error {
	cctx := capability.CleanupContext(ctx)
	c.Infof("Creating %q failed; removing what was created...", h.Name)
	if pd, ok := h.Driver.(plugin.Driver); ok && plugin.Usable(pd) {
		if latest, err := json.Marshal(h.Driver); err == nil {
			raw = latest
		}
	}
	err := c.usableDriver(cctx, h, raw)
	if err == nil {
		err = ops(h.Driver).RemoveContext(cctx)
		if err != nil && cctx.Err() != nil {
			err = fmt.Errorf("the cleanup was interrupted: %w", err)
		}
	}
	if err != nil {
		if serr := c.Save(h); serr != nil && raw != nil {
			// The driver is gone: keep the configuration it last had.
			h.Driver, h.RawDriver = nil, raw
			_ = c.Save(h)
		}
		return &LeftoverError{Name: h.Name, Err: cause, CleanupErr: err}
	}
	if err := c.Store.Remove(h.Name); err != nil {
		return fmt.Errorf("%w (and removing the store entry %s failed: %v)", cause, c.Store.MachineDir(h.Name), err)
	}
	return cause
}

// WaitForState polls the driver with backoff until it reports want.
func (c *Client) WaitForState(ctx context.Context, h *host.Host, want state.State, timeout time.Duration) error {
	o := poll.Options{What: fmt.Sprintf("machine %q to be %s", h.Name, want), Timeout: timeout, Jitter: 0.2}
	return poll.Until(ctx, o, func(ctx context.Context) (bool, error) {
		st, err := ops(h.Driver).GetStateContext(ctx)
		if err != nil {
			return false, permanent(h.Driver, err)
		}
		if st != want {
			return false, poll.NotYet("%s", st)
		}
		return true, nil
	})
}

// powerAction is start, stop or kill: the driver call, the state it leads
// to, and the words of its progress lines.
type powerAction struct {
	doing, done, verb string
	call              func(capability.Cancellable, context.Context) error
	want              state.State
}

var (
	actStart = powerAction{"Starting", "started", "starting", capability.Cancellable.StartContext, state.Running}
	actStop  = powerAction{"Stopping", "stopped", "stopping", capability.Cancellable.StopContext, state.Stopped}
	actKill  = powerAction{"Killing", "killed", "killing", capability.Cancellable.KillContext, state.Stopped}
)

// act runs a power action and waits for its state; a machine already
// there is an AlreadyInStateError.
func (c *Client) act(ctx context.Context, h *host.Host, a powerAction) error {
	c.Infof("%s %q...", a.doing, h.Name)
	d := ops(h.Driver)
	if st, err := d.GetStateContext(ctx); err == nil && st == a.want {
		return &AlreadyInStateError{Name: h.Name, State: a.want}
	}
	if err := a.call(d, ctx); err != nil {
		return fmt.Errorf("%s %q: %w", a.verb, h.Name, err)
	}
	if err := c.WaitForState(ctx, h, a.want, DefaultTimeouts.State); err != nil {
		return err
	}
	c.Infof("Machine %q was %s.", h.Name, a.done)
	return nil
}

// Start starts a stopped machine, then makes sure its certificate still
// covers its (possibly new) address and Docker answers.
func (c *Client) Start(ctx context.Context, h *host.Host) error {
	if err := c.act(ctx, h, actStart); err != nil {
		return err
	}
	return c.afterBoot(ctx, h)
}

// Stop stops a running machine.
func (c *Client) Stop(ctx context.Context, h *host.Host) error { return c.act(ctx, h, actStop) }

// Kill powers a machine off.
func (c *Client) Kill(ctx context.Context, h *host.Host) error { return c.act(ctx, h, actKill) }

// Restart restarts a running machine or starts a stopped one.
func (c *Client) Restart(ctx context.Context, h *host.Host) error {
	c.Infof("Restarting %q...", h.Name)
	d := ops(h.Driver)
	st, err := d.GetStateContext(ctx)
	if err != nil {
		return fmt.Errorf("getting the state of %q: %w", h.Name, err)
	}
	switch st {
	case state.Stopped, state.Saved:
		if err := d.StartContext(ctx); err != nil {
			return fmt.Errorf("starting %q: %w", h.Name, err)
		}
	default:
		if err := d.RestartContext(ctx); err != nil {
			return fmt.Errorf("restarting %q: %w", h.Name, err)
		}
	}
	if err := c.WaitForState(ctx, h, state.Running, DefaultTimeouts.State); err != nil {
		return err
	}
	return c.afterBoot(ctx, h)
}

// afterBoot runs after a machine (re)booted: the driver may report new
// addresses, so the stored state is refreshed and the TLS setup checked.
func (c *Client) afterBoot(ctx context.Context, h *host.Host) error {
	if err := c.Save(h); err != nil {
		return err
	}
	if !hasSSH(h) {
		return nil
	}
	if err := c.waitForDocker(ctx, h); err != nil {
		return err
	}
	if _, err := c.CheckDocker(ctx, h, true); err != nil {
		return err
	}
	return nil
}

// DockerBootTimeout bounds the wait for Docker to answer after a boot.
var DockerBootTimeout = 2 * time.Minute

// waitForDocker waits until the machine's Docker answers a TLS handshake
// after a (re)boot: the instance reports Running before its daemon
// listens. A certificate problem ends the wait; CheckDocker judges it.
func (c *Client) waitForDocker(ctx context.Context, h *host.Host) error {
	_, addr, err := dockerAddr(h)
	if err != nil {
		return err
	}
	files := c.Files(h)
	if _, err := os.Stat(files.CACert); err != nil {
		return nil // no local certificates yet: CheckDocker copies them and judges
	}
	return poll.Until(ctx, poll.Options{What: fmt.Sprintf("Docker on %q to answer on %s", h.Name, addr), Timeout: DockerBootTimeout, Jitter: 0.2},
		func(ctx context.Context) (bool, error) {
			err := certs.CheckConnection(ctx, addr, files.CACert, files.ClientCert, files.ClientKey)
			if err == nil || errors.As(err, new(*certs.StaleCertError)) {
				return true, nil
			}
			return false, err
		})
}

// Remove removes the machine's resources through its driver, then its
// store entry. A driver that cannot remove them fails the removal and the
// entry stays, so that `rm` can run again once the cause (credentials, a
// flag, the network) is fixed.
//
// With force, the store entry goes even when the driver fails or cannot be
// loaded (a corrupt config), and a *RemainingError comes back as the
// warning: it names every resource the driver reported as the machine's,
// which may still exist.
func (c *Client) Remove(ctx context.Context, name string, force bool) (warning error, err error) {
	exists, err := c.Store.Exists(name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, &store.NotExistError{Name: name}
	}
	unlock, err := c.Store.LockFor(ctx, name, store.OpRemove)
	if err != nil {
		return nil, fmt.Errorf("locking machine %q: %w", name, err)
	}
	defer unlock()

	var remoteErr error
	var resources []capability.Resource
	h, err := c.Load(ctx, name)
	if err != nil {
		remoteErr = err
	} else {
		if r, ok := capability.Get[capability.ResourceReporter](h.Driver); ok {
			resources = r.Resources()
		}
		remoteErr = ops(h.Driver).RemoveContext(ctx)
	}
	if remoteErr != nil && !force {
		// The driver forgets what it did remove; the entry keeps only
		// what is left, so status, stop and a later rm -f name that alone.
		if h != nil && h.Driver != nil {
			if err := c.Save(h); err != nil {
				remoteErr = errors.Join(remoteErr, err)
			}
		}
		return nil, fmt.Errorf("Error removing host %q: %w\nThe machine stays listed; fix the cause and run 'docker-machine rm %s' again (with -f the entry goes even though its resources may remain).", name, remoteErr, name)
	}
	if err := c.Store.Remove(name); err != nil {
		return remoteErr, fmt.Errorf("Can't remove %q: %w", name, err)
	}
	if remoteErr != nil {
		return &RemainingError{Name: name, Resources: resources, Err: remoteErr}, nil
	}
	return nil, nil
}

// RemainingError is a forced removal whose driver could not remove the
// machine's resources: the store entry is gone, the resources may not be.
type RemainingError struct {
	Name      string
	Resources []capability.Resource
	Err       error
}

func (e *RemainingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the entry of %q was removed, but its driver could not remove what it made: %v", e.Name, e.Err)
	if len(e.Resources) == 0 {
		b.WriteString("\nIts cloud resources may still exist; check for them in the cloud's console.")
		return b.String()
	}
	b.WriteString("\nThese may still exist; delete them in the cloud's console or API:")
	for _, r := range e.Resources {
		b.WriteString("\n  " + r.String())
	}
	return b.String()
}

func (e *RemainingError) Unwrap() error { return e.Err }

// RegenerateClientCerts replaces the CA and the client certificate. Every
// machine's server certificate then fails the chain check and is re-issued
// the next time the machine is used (env, config, provision).
func (c *Client) RegenerateClientCerts(ctx context.Context) error {
	return c.withCertsLock(ctx, c.regenerateClientCerts)
}

func (c *Client) regenerateClientCerts() error {
	if err := certs.GenerateCA(c.Certs.CACert, c.Certs.CAKey, certs.DefaultOrg()); err != nil {
		return fmt.Errorf("regenerating the CA: %w", err)
	}
	if err := certs.GenerateClientCert(c.Certs.CACert, c.Certs.CAKey, c.Certs.ClientCert, c.Certs.ClientKey, certs.DefaultOrg()+".<bootstrap>"); err != nil {
		return fmt.Errorf("regenerating the client certificate: %w", err)
	}
	return nil
}
