package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
)

// DefaultMachineName is the machine a command acts on when it names none.
const DefaultMachineName = "default"

// loadWorkers bounds how many machines are loaded at once: a plugin driver
// is a process start each.
const loadWorkers = 16

var (
	errNoDefault          = fmt.Errorf("Error: No machine name(s) specified and no %q machine exists", DefaultMachineName)
	errExpectedOneMachine = errors.New("Error: Expected one machine name as an argument")
)

// TargetNames returns the machines a command acts on: its arguments, or the
// machine named "default" when there are none.
func TargetNames(client *libmachine.Client, args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	ok, err := client.Store.Exists(DefaultMachineName)
	if err != nil {
		return nil, fmt.Errorf("Error checking if host %q exists: %w", DefaultMachineName, err)
	}
	if !ok {
		return nil, errNoDefault
	}
	return []string{DefaultMachineName}, nil
}

// LoadOne loads the single machine a command acts on: the one argument,
// or "default".
func LoadOne(ctx context.Context, client *libmachine.Client, args []string) (*host.Host, error) {
	if len(args) > 1 {
		return nil, errExpectedOneMachine
	}
	names, err := TargetNames(client, args)
	if err != nil {
		return nil, err
	}
	return client.Load(ctx, names[0])
}

// LoadedHost is a machine loaded by LoadHosts, or the error that kept it
// from loading.
type LoadedHost struct {
	Name string
	Host *host.Host
	Err  error
}

// LoadHosts loads the named machines concurrently, keeping their order.
func LoadHosts(ctx context.Context, client *libmachine.Client, names []string) []LoadedHost {
	out := make([]LoadedHost, len(names))
	Parallel(len(names), loadWorkers, func(i int) {
		h, err := client.Load(ctx, names[i])
		out[i] = LoadedHost{Name: names[i], Host: h, Err: err}
	})
	return out
}

// Loaded splits loaded machines into those that loaded and the errors of
// the others.
func Loaded(loaded []LoadedHost) (hosts []*host.Host, errs []string) {
	for _, l := range loaded {
		if l.Err != nil {
			errs = append(errs, l.Err.Error())
			continue
		}
		hosts = append(hosts, l.Host)
	}
	return hosts, errs
}

// Parallel runs fn(0) .. fn(n-1) concurrently, at most limit at a time
// (no limit when it is 0), and returns when all are done.
func Parallel(n, limit int, fn func(i int)) {
	if limit <= 0 {
		limit = n
	}
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// ForEachMachine loads the target machines and runs action on each in
// parallel, under the machine's store lock, saving each afterwards (drivers
// may learn new addresses). All errors are reported together, one line each.
func ForEachMachine(ctx context.Context, client *libmachine.Client, args []string, action func(context.Context, *host.Host) error) error {
	names, err := TargetNames(client, args)
	if err != nil {
		return err
	}
	hosts, loadErrs := Loaded(LoadHosts(ctx, client, names))
	if err := JoinLines(loadErrs); err != nil {
		return err
	}
	errs := make([]string, len(hosts))
	Parallel(len(hosts), 0, func(i int) {
		if err := withLock(ctx, client, hosts[i], action); err != nil {
			errs[i] = err.Error()
		}
	})
	var msgs []string
	for _, m := range errs {
		if m != "" {
			msgs = append(msgs, m)
		}
	}
	return JoinLines(msgs)
}

func withLock(ctx context.Context, client *libmachine.Client, h *host.Host, action func(context.Context, *host.Host) error) error {
	unlock, err := client.Store.Lock(ctx, h.Name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := action(ctx, h); err != nil {
		return err
	}
	return client.Save(h)
}

// WithMachine opens a client whose progress goes to the error stream (the
// output is the command's answer), loads the one machine args name (or
// "default") and runs do with both.
func (f *Factory) WithMachine(ctx context.Context, args []string, do func(*libmachine.Client, *host.Host) error) error {
	client := f.Client(f.IOStreams.ErrOut)
	defer client.Close()
	h, err := LoadOne(ctx, client, args)
	if err != nil {
		return err
	}
	return do(client, h)
}
