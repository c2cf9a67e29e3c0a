package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
	"github.com/fleetdock/machine/libmachine/store"
)

// parsedCreate is a create command line read against the driver's flags:
// what `create` and `cluster up` both build a machine from.
type parsedCreate struct {
	opts   createOptions
	values driverFlagValues // the driver's flags plus the shared ones stock passes on
	name   string
	// help is the usage text when --help was asked for; nothing else is set.
	help string
}

// parseCreateFlags parses create's arguments: the shared flags, and the
// flags of the driver named by --driver (asked of the driver itself), with
// defaults from their environment variables.
func (e *env) parseCreateFlags(ctx context.Context, client *libmachine.Client, args []string) (*parsedCreate, error) {
	driverName := sniffDriver(args)
	// The driver's flags come from the driver itself; a throwaway instance
	// answers, as stock's "flag-lookup" plugin does.
	lookup, err := client.NewHost(ctx, driverName, "flag-lookup")
	if err != nil {
		return nil, err
	}
	driverFlags := lookup.Driver.GetCreateFlags()

	p := &parsedCreate{}
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.SortFlags = false
	p.opts.register(fs)
	help := fs.BoolP("help", "h", false, "Show help for create")
	driverValues, err := addDriverFlags(fs, driverFlags)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, &statusError{status: exitError, err: fmt.Errorf("%w\nRun 'docker-machine create --driver %s --help' for the flags of that driver.", err, driverName)}
	}
	if *help {
		p.help = fmt.Sprintf("Usage: docker-machine create [OPTIONS] [arg...]\n\nCreate a machine\n\nDescription:\n   Run 'docker-machine create --driver name --help' to include the create flags for that driver in the help text.\n\nOptions:\n\n%s", fs.FlagUsages())
		return p, nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return nil, errors.New("Error: No machine name specified")
	}
	if len(rest) > 1 {
		return nil, fmt.Errorf("Invalid command line. Found extra arguments %v", rest[1:])
	}
	p.name = rest[0]
	if err := hostopts.ValidateName(p.name); err != nil {
		return nil, fmt.Errorf("Error creating machine: %w", err)
	}
	if err := validateSwarmDiscovery(p.opts.swarmDiscovery); err != nil {
		return nil, fmt.Errorf("Error parsing swarm discovery: %w", err)
	}
	p.values = driverValues()
	// Stock passes the shared flags to the driver too (swarm-master, ...).
	for _, k := range []string{"swarm-master", "swarm", "swarm-experimental"} {
		v, _ := fs.GetBool(k)
		p.values[k] = v
	}
	for _, k := range []string{"swarm-host", "swarm-discovery", "swarm-image", "swarm-strategy", "swarm-addr", "engine-install-url", "engine-storage-driver", "driver"} {
		if _, set := p.values[k]; !set {
			v, _ := fs.GetString(k)
			p.values[k] = v
		}
	}
	return p, nil
}

// newHostFromFlags prepares the machine a parsed create line describes:
// not yet in the store, host options applied, driver configured.
func newHostFromFlags(ctx context.Context, client *libmachine.Client, p *parsedCreate) (*host.Host, error) {
	if exists, err := client.Store.Exists(p.name); err != nil {
		return nil, fmt.Errorf("Error checking if host exists: %w", err)
	} else if exists {
		return nil, &store.ExistsError{Name: p.name}
	}
	h, err := client.NewHost(ctx, p.opts.driver, p.name)
	if err != nil {
		return nil, err
	}
	p.opts.apply(h)
	if err := h.Driver.SetConfigFromFlags(p.values); err != nil {
		return nil, fmt.Errorf("Error setting machine configuration from flags provided: %w", err)
	}
	return h, nil
}
