// Package rollback is how a driver's create undoes itself and how rm
// removes a machine: it times the create's steps, removes what a failed
// create made on a context of its own, and words what could not be
// removed, the same way for every driver.
package rollback

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fleetdock/machine/libmachine/capability"
)

// Phase is how long one step of a create took.
type Phase struct {
	Name     string
	Duration time.Duration
}

// Step runs the create step name, adds how long it took to phases and
// wraps its error with the name, so the user learns which step failed.
func Step(log *slog.Logger, phases *[]Phase, name string, f func() error) error {
	t := time.Now()
	err := f()
	*phases = append(*phases, Phase{name, time.Since(t)})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	log.Debug("create step done", "step", name, "took", time.Since(t).Round(time.Millisecond))
	return nil
}

// Undo is what a create of machine that failed with err returns: teardown
// runs on the cleanup context of the create's ctx (capability.CleanupContext:
// it outlives a first Ctrl-C, a second one ends it), bounded by timeout, and
// the error says whether it removed everything.
func Undo(ctx context.Context, timeout time.Duration, log *slog.Logger, machine string, err error, teardown func(context.Context) error) error {
	log.Info("create failed; removing what it made", "err", err)
	ctx, cancel := context.WithTimeout(capability.CleanupContext(ctx), timeout)
	defer cancel()
	if cerr := teardown(ctx); cerr != nil {
		return fmt.Errorf("creating machine %q failed: %w; cleaning up after it failed too: %v", machine, err, cerr)
	}
	return fmt.Errorf("creating machine %q failed (everything it had made was removed again): %w", machine, err)
}

// Remove is a cloud driver's RemoveContext: within timeout, it gets the
// driver's client for cloud from connect and runs teardown with it.
func Remove[C any](ctx context.Context, timeout time.Duration, machine, cloud string, connect func(context.Context) (C, error), teardown func(context.Context, C) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := connect(ctx)
	if err != nil {
		return fmt.Errorf("cannot remove machine %q from %s: %w", machine, cloud, err)
	}
	if err := teardown(ctx, c); err != nil {
		return fmt.Errorf("removing machine %q: %w", machine, err)
	}
	return nil
}

// Leftovers collects what a teardown could not remove. A teardown carries
// on past failures so that one stuck resource does not strand the others.
type Leftovers struct {
	Machine string
	Left    []string
	Errs    []error
}

// Fail records that what is left because of err.
func (e *Leftovers) Fail(what string, err error) {
	e.Left = append(e.Left, what)
	e.Errs = append(e.Errs, fmt.Errorf("%s: %w", what, err))
}

// Leave records that what is left without an error of its own: it could
// not go yet because something else is left.
func (e *Leftovers) Leave(what string) { e.Left = append(e.Left, what) }

// Err is e when anything is left, nil otherwise.
func (e *Leftovers) Err() error {
	if len(e.Left) == 0 {
		return nil
	}
	return e
}

func (e *Leftovers) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "these resources are left: %s (", strings.Join(e.Left, ", "))
	for i, err := range e.Errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	fmt.Fprintf(&b, "); run 'docker-machine rm %s' to finish removing them", e.Machine)
	return b.String()
}

func (e *Leftovers) Unwrap() []error { return e.Errs }
