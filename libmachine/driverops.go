package libmachine

import (
	"context"
	"errors"
	"fmt"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
	"github.com/fleetdock/machine/libmachine/poll"
)

// ops is the driver's context-taking form: its own when it offers
// capability.Cancellable (built-ins that do, and every plugin, which stops
// by closing), else the plain calls, abandoned when the context ends.
func ops(d drivers.Driver) capability.Cancellable {
	if c, ok := capability.Get[capability.Cancellable](d); ok {
		return c
	}
	return plainOps{d}
}

// plainOps runs a driver's plain calls so that the caller returns when the
// context ends; the call itself runs on (a built-in driver without
// contexts cannot be stopped) and its result is dropped.
type plainOps struct{ d drivers.Driver }

func await(ctx context.Context, call func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p plainOps) PreCreateCheckContext(ctx context.Context) error {
	return await(ctx, p.d.PreCreateCheck)
}
func (p plainOps) CreateContext(ctx context.Context) error  { return await(ctx, p.d.Create) }
func (p plainOps) RemoveContext(ctx context.Context) error  { return await(ctx, p.d.Remove) }
func (p plainOps) StartContext(ctx context.Context) error   { return await(ctx, p.d.Start) }
func (p plainOps) StopContext(ctx context.Context) error    { return await(ctx, p.d.Stop) }
func (p plainOps) RestartContext(ctx context.Context) error { return await(ctx, p.d.Restart) }
func (p plainOps) KillContext(ctx context.Context) error    { return await(ctx, p.d.Kill) }

func (p plainOps) GetStateContext(ctx context.Context) (state.State, error) {
	var st state.State
	err := await(ctx, func() error {
		var err error
		st, err = p.d.GetState()
		return err
	})
	return st, err
}

// permanent marks errors that no retry can clear, so waits end at once:
// a plugin that exited or was closed.
func permanent(d drivers.Driver, err error) error {
	if err == nil {
		return nil
	}
	var exited *plugin.ExitedError
	if errors.As(err, &exited) || errors.Is(err, plugin.ErrClosed) {
		return poll.Permanent(err)
	}
	if pd, ok := d.(plugin.Driver); ok && !plugin.Usable(pd) {
		return poll.Permanent(err)
	}
	return err
}

// usableDriver returns h's driver, relaunching a plugin that was closed or
// died from raw (the driver's last known configuration), so a rollback or
// cleanup reaches a live process.
func (c *Client) usableDriver(ctx context.Context, h *host.Host, raw []byte) error {
	pd, ok := h.Driver.(plugin.Driver)
	if !ok || plugin.Usable(pd) {
		return nil
	}
	c.Log.Debug("Relaunching the driver plugin for the cleanup", "machine", h.Name, "driver", h.DriverName)
	d, err := c.openDriver(ctx, h.DriverName, h.Name, raw)
	if err != nil {
		return fmt.Errorf("relaunching the %s driver of %q to clean up: %w", h.DriverName, h.Name, err)
	}
	h.Driver = d
	return nil
}
