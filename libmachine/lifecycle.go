package libmachine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
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
	return fmt.Sprintf("Error creating machine: %v\nCleaning up after the failure did not finish (%v); resources of %q may still exist. Run 'docker-machine rm -f %s' to remove them.",
		e.Err, e.CleanupErr, e.Name, e.Name)
}
func (e *LeftoverError) Unwrap() error { return e.Err }

// BootstrapCerts makes sure the CA and client certificate exist and are
// valid, reporting each file it had to create.
func (c *Client) BootstrapCerts(ctx context.Context) error {
	unlock, err := c.Store.LockCerts(ctx)
	if err != nil {
		return err
	}
	defer unlock()
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
// create, wait for Running, then provisioning.
//
// A failed create removes what the driver made and the store entry; only
// when that cleanup fails does the machine stay listed, with a LeftoverError
// telling the user to rm it.
func (c *Client) Create(ctx context.Context, h *host.Host) error {
	// The lock is taken before the entry exists, so no other command of
	// ours sees the machine half made.
	unlock, err := c.Store.Lock(ctx, h.Name)
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
	if err := h.Driver.PreCreateCheck(); err != nil {
		return &PreCreateError{Err: err}
	}
	if err := c.Store.Create(h); err != nil {
		return fmt.Errorf("Error saving host to store before attempting creation: %w", err)
	}

	c.Infof("Creating machine...")
	if err := h.Driver.Create(); err != nil {
		return c.abandonCreate(h, fmt.Errorf("Error in driver during machine creation: %w", err))
	}
	if err := c.Save(h); err != nil {
		return c.abandonCreate(h, err)
	}
	if err := ctx.Err(); err != nil {
		return c.abandonCreate(h, fmt.Errorf("create of %q was interrupted: %w", h.Name, err))
	}

	c.Infof("Waiting for machine to be running, this may take a few minutes...")
	if err := c.WaitForState(ctx, h, state.Running, DefaultTimeouts.State); err != nil {
		return c.abandonCreate(h, fmt.Errorf("Error waiting for machine to be running: %w", err))
	}
	if err := c.Save(h); err != nil {
		return c.abandonCreate(h, err)
	}
	if !hasSSH(h) {
		return nil
	}
	if err := c.Provision(ctx, h); err != nil {
		return c.abandonCreate(h, err)
	}
	return c.Save(h)
}

// abandonCreate undoes a failed create: the driver removes what it made,
// then the store entry goes. If the driver cannot clean up, the entry stays
// so `rm` can finish the job.
func (c *Client) abandonCreate(h *host.Host, cause error) error {
	c.Infof("Creating %q failed; removing what was created...", h.Name)
	if err := h.Driver.Remove(); err != nil {
		_ = c.Save(h)
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
	return poll.Until(ctx, o, func(context.Context) (bool, error) {
		st, err := h.Driver.GetState()
		if err != nil {
			return false, err
		}
		if st != want {
			return false, poll.NotYet("%s", st)
		}
		return true, nil
	})
}

func (c *Client) actionToState(ctx context.Context, h *host.Host, verb string, action func() error, want state.State) error {
	if st, err := h.Driver.GetState(); err == nil && st == want {
		return &AlreadyInStateError{Name: h.Name, State: want}
	}
	if err := action(); err != nil {
		return fmt.Errorf("%s %q: %w", verb, h.Name, err)
	}
	return c.WaitForState(ctx, h, want, DefaultTimeouts.State)
}

// Start starts a stopped machine, then makes sure its certificate still
// covers its (possibly new) address and Docker answers.
func (c *Client) Start(ctx context.Context, h *host.Host) error {
	c.Infof("Starting %q...", h.Name)
	if err := c.actionToState(ctx, h, "starting", h.Driver.Start, state.Running); err != nil {
		return err
	}
	c.Infof("Machine %q was started.", h.Name)
	return c.afterBoot(ctx, h)
}

// Stop stops a running machine.
func (c *Client) Stop(ctx context.Context, h *host.Host) error {
	c.Infof("Stopping %q...", h.Name)
	if err := c.actionToState(ctx, h, "stopping", h.Driver.Stop, state.Stopped); err != nil {
		return err
	}
	c.Infof("Machine %q was stopped.", h.Name)
	return nil
}

// Kill powers a machine off.
func (c *Client) Kill(ctx context.Context, h *host.Host) error {
	c.Infof("Killing %q...", h.Name)
	if err := c.actionToState(ctx, h, "killing", h.Driver.Kill, state.Stopped); err != nil {
		return err
	}
	c.Infof("Machine %q was killed.", h.Name)
	return nil
}

// Restart restarts a running machine or starts a stopped one.
func (c *Client) Restart(ctx context.Context, h *host.Host) error {
	c.Infof("Restarting %q...", h.Name)
	st, err := h.Driver.GetState()
	if err != nil {
		return fmt.Errorf("getting the state of %q: %w", h.Name, err)
	}
	switch st {
	case state.Stopped, state.Saved:
		if err := h.Driver.Start(); err != nil {
			return fmt.Errorf("starting %q: %w", h.Name, err)
		}
	default:
		if err := h.Driver.Restart(); err != nil {
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
	if _, err := c.CheckDocker(ctx, h, true); err != nil {
		return err
	}
	return nil
}

// Remove removes the machine's resources through its driver, then its
// store entry. With force, the store entry goes even when the driver fails
// or cannot be loaded (a corrupt config), and the driver error is returned
// as a warning alongside nil.
func (c *Client) Remove(ctx context.Context, name string, force bool) (warning error, err error) {
	exists, err := c.Store.Exists(name)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, &store.NotExistError{Name: name}
	}
	unlock, err := c.Store.Lock(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("locking machine %q: %w", name, err)
	}
	defer unlock()

	var remoteErr error
	h, err := c.Load(ctx, name)
	if err != nil {
		remoteErr = err
	} else if err := h.Driver.Remove(); err != nil {
		remoteErr = err
	}
	if remoteErr != nil && !force {
		return nil, fmt.Errorf("Error removing host %q: %w", name, remoteErr)
	}
	if err := c.Store.Remove(name); err != nil {
		return remoteErr, fmt.Errorf("Can't remove %q: %w", name, err)
	}
	return remoteErr, nil
}

// RegenerateClientCerts replaces the CA and the client certificate. Every
// machine's server certificate then fails the chain check and is re-issued
// the next time the machine is used (env, config, provision).
func (c *Client) RegenerateClientCerts(ctx context.Context) error {
	unlock, err := c.Store.LockCerts(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := certs.GenerateCA(c.Certs.CACert, c.Certs.CAKey, certs.DefaultOrg()); err != nil {
		return fmt.Errorf("regenerating the CA: %w", err)
	}
	if err := certs.GenerateClientCert(c.Certs.CACert, c.Certs.CAKey, c.Certs.ClientCert, c.Certs.ClientKey, certs.DefaultOrg()+".<bootstrap>"); err != nil {
		return fmt.Errorf("regenerating the client certificate: %w", err)
	}
	return nil
}
