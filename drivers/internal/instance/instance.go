// Package instance is what the cloud drivers share about the one instance a
// machine runs on: its stored address, its state and the wording of a
// look-up that fails, so every cloud answers a user the same way.
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/docker/machine/libmachine/state"
)

// ErrGone is wrapped by the error of a look-up of an instance that no
// longer exists.
var ErrGone = errors.New("instance no longer exists")

// Found words the answer of looking up instance id of machine: a failed
// call, or one that found nothing (gone) such as a deleted instance.
func Found[T any](machine, id string, inst *T, err error, gone bool) (*T, error) {
	if err != nil {
		return nil, fmt.Errorf("looking up instance %s of machine %q: %w", id, machine, err)
	}
	if gone {
		return nil, fmt.Errorf("instance %s of machine %q: %w; run 'docker-machine rm %s' to forget the machine", id, machine, ErrGone, machine)
	}
	return inst, nil
}

// Address is what GetIP needs from a driver.
type Address struct {
	Machine, Instance string
	// Kind names the address the driver connects to: public, private, IPv6.
	Kind string
	// Stored is the stored address the driver connects to, "" when none.
	Stored func() string
	// Refresh asks the cloud, stores the addresses it answers and returns
	// the instance's status in words, such as "status Starting".
	Refresh func(context.Context) (status string, err error)
}

// IP returns the stored address, and asks the cloud (bounded by timeout)
// only when none is stored yet.
func (a Address) IP(timeout time.Duration) (string, error) {
	if ip := a.Stored(); ip != "" {
		return ip, nil
	}
	if a.Instance == "" {
		return "", fmt.Errorf("machine %q has no instance yet, so no IP address", a.Machine)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	status, err := a.Refresh(ctx)
	if err != nil {
		return "", err
	}
	if ip := a.Stored(); ip != "" {
		return ip, nil
	}
	return "", fmt.Errorf("instance %s of machine %q has no %s IP address yet (%s)", a.Instance, a.Machine, a.Kind, status)
}

// State is GetStateContext for instance of machine: describe, bounded by
// timeout, maps the instance's answer and refreshes the stored addresses.
func State(ctx context.Context, machine, instance string, timeout time.Duration, describe func(context.Context) (state.State, error)) (state.State, error) {
	if instance == "" {
		return state.None, fmt.Errorf("machine %q has no instance (was it created?)", machine)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := describe(ctx)
	if err != nil {
		return state.Error, err
	}
	return st, nil
}

// URL is GetURL for the address ip and err that GetIP returned:
// tcp://IP:port, or "" while the host has no address (as stock).
func URL(ip string, err error, port int) (string, error) {
	if err != nil || ip == "" {
		return "", err
	}
	return "tcp://" + net.JoinHostPort(ip, strconv.Itoa(port)), nil
}

// Log is the logger of a driver for machine: l, the one SetLogger gave,
// or else slog.Default at the time of the call, so the CLI's or the
// plugin's configuration applies.
func Log(l *slog.Logger, machine string) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With("machine", machine)
}
