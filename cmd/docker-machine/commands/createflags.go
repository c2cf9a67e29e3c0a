package commands

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// parsedCreate is a create command line read against the driver's flags.
type parsedCreate struct {
	req libmachine.CreateRequest
	// driver answered the flag lookup and serves the create.
	driver plugin.Driver
	// help is the usage text when --help was asked for; nothing else is set.
	help string
}

// parseCreateFlags parses create's arguments into a create request: the
// shared flags, and the flags of the driver named by --driver (asked of the
// driver itself, which then serves the create), with defaults from their
// environment variables.
func parseCreateFlags(ctx context.Context, client *libmachine.Client, stderr io.Writer, args []string) (*parsedCreate, error) {
	driverName := sniffDriver(args)
	if driverName == "" {
		return nil, &cmdutil.StatusError{Status: cmdutil.ExitError, Err: errors.New("flag needs an argument: --driver (-d) names the driver to create the machine with, e.g. -d generic")}
	}
	d, err := client.OpenDriver(ctx, driverName)
	if err != nil {
		return nil, err
	}
	p := &parsedCreate{req: libmachine.NewCreateRequest("", driverName), driver: d}
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	registerCreateFlags(fs, &p.req)
	help := fs.BoolP("help", "h", false, "Show help for create")
	driverValues, err := cmdutil.AddDriverFlags(fs, d.GetCreateFlags())
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, &cmdutil.StatusError{Status: cmdutil.ExitError, Err: fmt.Errorf("%w\nRun 'docker-machine create --driver %s --help' for the flags of that driver.", err, driverName)}
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
	p.req.Name = rest[0]
	p.req.DriverOptions = driverValues()
	if err := p.req.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
