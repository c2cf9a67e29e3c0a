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
	"slices"
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

// Instance is a machine's instance as its driver sees it. T is the cloud
// SDK's description of an instance.
type Instance[T any] struct {
	Machine, ID string
	// Kind names the address the driver connects to: public, private, IPv6.
	Kind string
	// Stored is the stored address the driver connects to, "" when none.
	Stored func() string
	// Describe asks the cloud for the instance; Record stores the
	// addresses of its answer.
	Describe func(context.Context) (*T, error)
	Record   func(*T)
	// State maps an answer to a docker-machine state and to the instance's
	// status in words, such as "status Starting".
	State func(*T) (state.State, string)
	// Keep stores the address IP found.
	Keep func(ip string)
}

// IP returns the stored address, and asks the cloud (bounded by timeout)
// only when none is stored yet.
func (i Instance[T]) IP(timeout time.Duration) (string, error) {
	ip, err := i.ip(timeout)
	if err == nil {
		i.Keep(ip)
	}
	return ip, err
}

func (i Instance[T]) ip(timeout time.Duration) (string, error) {
	if ip := i.Stored(); ip != "" {
		return ip, nil
	}
	if i.ID == "" {
		return "", fmt.Errorf("machine %q has no instance yet, so no IP address", i.Machine)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	inst, err := i.refresh(ctx)
	if err != nil {
		return "", err
	}
	if ip := i.Stored(); ip != "" {
		return ip, nil
	}
	_, status := i.State(inst)
	return "", fmt.Errorf("instance %s of machine %q has no %s IP address yet (%s)", i.ID, i.Machine, i.Kind, status)
}

// GetState is the instance's state, asked of the cloud within timeout; the
// answer also refreshes the stored addresses, so a changed IP costs no
// extra call.
func (i Instance[T]) GetState(ctx context.Context, timeout time.Duration) (state.State, error) {
	if i.ID == "" {
		return state.None, fmt.Errorf("machine %q has no instance (was it created?)", i.Machine)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	inst, err := i.refresh(ctx)
	if err != nil {
		return state.Error, err
	}
	st, _ := i.State(inst)
	return st, nil
}

func (i Instance[T]) refresh(ctx context.Context) (*T, error) {
	inst, err := i.Describe(ctx)
	if err != nil {
		return nil, err
	}
	i.Record(inst)
	return inst, nil
}

// ToRemove is the instances rm removes: the stored one (id) or, when a
// create stopped before it stored the ID, those that byTag lists by the
// machine's tag (machineID), each once; idOf reads an instance's ID.
func ToRemove[T any](log *slog.Logger, id, machineID string, byTag func() ([]T, error), idOf func(*T) string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	if machineID == "" {
		return nil, nil
	}
	list, err := byTag()
	if err != nil {
		return nil, err
	}
	var ids []string
	for i := range list {
		if id := idOf(&list[i]); !slices.Contains(ids, id) {
			ids = append(ids, id)
			log.Info("found an instance of the machine by its tag", "instance", id)
		}
	}
	return ids, nil
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

// LogValue is what a cloud driver shows of itself in structured logs: the
// machine, region and instance, and whether an access key is stored, never
// the key.
func LogValue(machine, region, id string, keyStored bool) slog.Value {
	return slog.GroupValue(
		slog.String("machine", machine),
		slog.String("region", region),
		slog.String("instance", id),
		slog.Bool("accessKeyStored", keyStored),
	)
}

// String is what a cloud driver shows of itself in %v and %s, free of
// secrets.
func String(driver, machine, region, id string) string {
	return fmt.Sprintf("%s machine %q (region %s, instance %s)", driver, machine, region, id)
}
