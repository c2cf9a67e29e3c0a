package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
)

var (
	errNoDefault          = fmt.Errorf("Error: No machine name(s) specified and no %q machine exists", defaultMachineName)
	errExpectedOneMachine = errors.New("Error: Expected one machine name as an argument")
	errTooManyArguments   = errors.New("Error: Too many arguments given")
)

// targetNames returns the machines a command acts on: its arguments, or the
// machine named "default" when there are none.
func targetNames(client *libmachine.Client, args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	ok, err := client.Store.Exists(defaultMachineName)
	if err != nil {
		return nil, fmt.Errorf("Error checking if host %q exists: %w", defaultMachineName, err)
	}
	if !ok {
		return nil, errNoDefault
	}
	return []string{defaultMachineName}, nil
}

// oneTarget is targetNames for commands that take at most one machine.
func oneTarget(client *libmachine.Client, args []string) (string, error) {
	if len(args) > 1 {
		return "", errExpectedOneMachine
	}
	names, err := targetNames(client, args)
	if err != nil {
		return "", err
	}
	return names[0], nil
}

// loadOne loads the single machine a command acts on.
func loadOne(ctx context.Context, client *libmachine.Client, args []string) (*host.Host, error) {
	name, err := oneTarget(client, args)
	if err != nil {
		return nil, err
	}
	return client.Load(ctx, name)
}

// forEachMachine loads the target machines and runs action on each in
// parallel, saving each afterwards (drivers may learn new addresses). All
// errors are reported together, one line each.
func forEachMachine(ctx context.Context, client *libmachine.Client, args []string, action func(context.Context, *host.Host) error) error {
	names, err := targetNames(client, args)
	if err != nil {
		return err
	}
	var loadErrs []string
	var hosts []*host.Host
	for _, l := range loadHosts(ctx, client, names) {
		if l.err != nil {
			loadErrs = append(loadErrs, l.err.Error())
			continue
		}
		hosts = append(hosts, l.h)
	}
	if len(loadErrs) > 0 {
		return errors.New(strings.Join(loadErrs, "\n"))
	}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := client.Store.Lock(ctx, h.Name)
			if err != nil {
				errs[i] = err
				return
			}
			defer unlock()
			if err := action(ctx, h); err != nil {
				errs[i] = err
				return
			}
			errs[i] = client.Save(h)
		}()
	}
	wg.Wait()
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}
