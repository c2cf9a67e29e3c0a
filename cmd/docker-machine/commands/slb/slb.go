// Package slb is the `docker-machine slb` command group: listeners of a
// load balancer that follow a swarm's published services, through the
// load-balancing capability of a driver.
package slb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	clustercmd "github.com/fleetdock/machine/cmd/docker-machine/commands/cluster"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/capability"
	libcluster "github.com/fleetdock/machine/libmachine/cluster"
)

const slbSyncLong = `Make the TCP listeners of a Server Load Balancer match the published ports
of a swarm's services, read from a manager's Engine API.

For each published TCP port of each service there is one listener: front port
from the service label fleetdock.slb.port (FRONT, or PUBLISHED:FRONT,...),
else --port SERVICE=FRONT (or SERVICE:PUBLISHED=FRONT), else the published
port; backend port the published port, with a TCP health check on it. The
listeners it creates are marked in their description (docker-machine/service/
NAME); it removes those whose service is gone and never touches a listener it
did not create.

The load balancer is managed through the load-balancing capability of a
driver: by default the manager's own driver with the manager's settings
(region, endpoint, credentials). Give --driver and that driver's create flags
(e.g. --aliyunecs-region, --aliyunecs-api-endpoint, with credentials from the
driver's environment variables) to manage it with other settings; driver
flags alone name their driver by their prefix.`

// NewCmd is the slb command and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slb",
		Short: "Manage load balancer listeners for swarm services",
	}
	// The driver flags depend on the driver the other flags name.
	const usage = " --slb-id LB --manager NAME [--driver DRIVER] [driver flags]"
	cmd.AddCommand(
		cmdutil.OwnFlagsCmd("sync"+usage, "Create and remove load balancer listeners for the swarm's published services", slbSyncLong,
			func(cmd *cobra.Command, args []string) error { return run(cmd, f, args, true) }),
		cmdutil.OwnFlagsCmd("ls"+usage, "Show the load balancer's address, backends and listeners", "",
			func(cmd *cobra.Command, args []string) error { return run(cmd, f, args, false) }),
	)
	return cmd
}

type slbOptions struct {
	lbID, manager, driver string
	ports                 []string
	dryRun                bool
	help                  bool
}

func (o *slbOptions) register(fs *pflag.FlagSet, sync bool) {
	fs.StringVar(&o.lbID, "slb-id", "", "the load balancer (required)")
	fs.StringVar(&o.manager, "manager", "", "a manager machine of the swarm (required)")
	fs.StringVar(&o.driver, "driver", "", "the driver that manages the load balancer (default: the manager's)")
	fs.BoolVarP(&o.help, "help", "h", false, "help for this command")
	if sync {
		fs.StringArrayVar(&o.ports, "port", nil, "front port of a service: SERVICE=FRONT or SERVICE:PUBLISHED=FRONT (repeatable)")
		fs.BoolVar(&o.dryRun, "dry-run", false, "print the changes and make none")
	}
}

func run(cmd *cobra.Command, f *cmdutil.Factory, args []string, sync bool) error {
	ctx := cmd.Context()
	client := f.Client(f.IOStreams.ErrOut)
	defer client.Close()
	o, lbs, err := parseArgs(ctx, client, f.IOStreams.ErrOut, args, sync)
	if err != nil || o.help {
		if o.help {
			cmd.SetOut(f.IOStreams.Out)
			return cmd.Help()
		}
		return err
	}
	if sync {
		return runSync(ctx, client, f.IOStreams.Out, o, lbs)
	}
	return runList(ctx, f.IOStreams.Out, o, lbs)
}

// parseArgs reads the slb flags, then the flags of the driver that
// manages the load balancer, and returns that driver's load balancing: the
// manager's own driver when no driver flag is given.
func parseArgs(ctx context.Context, client *libmachine.Client, stderr io.Writer, args []string, sync bool) (slbOptions, libcluster.LoadBalancers, error) {
	var o slbOptions
	first := pflag.NewFlagSet("slb", pflag.ContinueOnError)
	first.ParseErrorsWhitelist.UnknownFlags = true
	first.SetOutput(io.Discard)
	o.register(first, sync)
	if err := first.Parse(args); err != nil {
		return o, nil, err
	}
	if o.help {
		return o, nil, nil
	}
	if o.lbID == "" || o.manager == "" {
		return o, nil, errors.New(`required flag(s) "manager", "slb-id" not set`)
	}
	if _, err := parsePortFlags(o.ports); err != nil {
		return o, nil, err
	}
	extra := unknownFlags(first, args)
	driverName := o.driver
	if driverName == "" && len(extra) > 0 {
		// Driver flags are named DRIVER-...: they say whose they are.
		driverName, _, _ = strings.Cut(extra[0], "-")
	}
	h, err := client.Load(ctx, o.manager)
	if err != nil {
		return o, nil, err
	}
	var d drivers.Driver = h.Driver
	if driverName != "" && (len(extra) > 0 || driverName != h.DriverName) {
		fd, err := client.OpenDriver(ctx, driverName)
		if err != nil {
			return o, nil, err
		}
		fs := pflag.NewFlagSet("slb", pflag.ContinueOnError)
		fs.SetOutput(stderr)
		o.register(fs, sync)
		if _, err := cmdutil.AddDriverFlags(fs, fd.GetCreateFlags()); err != nil {
			return o, nil, err
		}
		if err := fs.Parse(args); err != nil {
			return o, nil, fmt.Errorf("%w\nRun 'docker-machine create --driver %s --help' for the flags of that driver.", err, driverName)
		}
		set := map[string][]string{}
		fs.Visit(func(f *pflag.Flag) {
			if first.Lookup(f.Name) == nil {
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					set[f.Name] = sv.GetSlice()
				} else {
					set[f.Name] = []string{f.Value.String()}
				}
			}
		})
		if d, err = client.DriverFor(ctx, driverName, set); err != nil {
			return o, nil, err
		}
	}
	lb, ok := capability.Get[capability.LoadBalancing](d)
	if !ok {
		name := driverName
		if name == "" {
			name = h.DriverName
		}
		return o, nil, fmt.Errorf("the %s driver of manager %q cannot manage load balancers: give --driver DRIVER with that driver's settings flags (for a driver that can), with its credentials in its environment variables", name, o.manager)
	}
	return o, lb, nil
}

// unknownFlags lists, in order, the names of flags in args that fs does
// not define.
func unknownFlags(fs *pflag.FlagSet, args []string) []string {
	var out []string
	for _, a := range args {
		if a == "--" {
			break
		}
		name, ok := strings.CutPrefix(a, "--")
		if !ok || name == "" {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		if fs.Lookup(name) == nil {
			out = append(out, name)
		}
	}
	return out
}

// parsePortFlags reads --port SERVICE=FRONT and SERVICE:PUBLISHED=FRONT.
func parsePortFlags(in []string) (map[string]int, error) {
	out := map[string]int{}
	for _, p := range in {
		key, val, ok := strings.Cut(p, "=")
		front, err := strconv.Atoi(val)
		if !ok || key == "" || err != nil || front < 1 || front > 65535 {
			return nil, fmt.Errorf("--port %q: use SERVICE=FRONT or SERVICE:PUBLISHED=FRONT, e.g. web=8080", p)
		}
		out[key] = front
	}
	return out, nil
}

func runSync(ctx context.Context, client *libmachine.Client, out io.Writer, o slbOptions, lbs libcluster.LoadBalancers) error {
	ports, err := parsePortFlags(o.ports)
	if err != nil {
		return err
	}
	services, err := libcluster.NewEngineSwarm(client).Services(ctx, o.manager)
	if err != nil {
		return fmt.Errorf("reading the swarm services through %q: %w", o.manager, err)
	}
	want, notes, wantErr := libcluster.ServiceListeners(services, ports)
	for _, n := range notes {
		fmt.Fprintln(out, n)
	}
	if o.dryRun {
		current, err := lbs.Listeners(ctx, o.lbID)
		if err != nil {
			return err
		}
		plan := libcluster.PlanListeners(current, want, libcluster.IsServiceListener)
		for _, line := range (libcluster.SyncReport{LoadBalancer: o.lbID, Plan: plan}).Lines() {
			fmt.Fprintln(out, "would: "+line)
		}
		for _, c := range plan.Conflicts {
			fmt.Fprintf(out, "conflict: port %d is held by %s (%q), not made by docker-machine\n", c.Want.Port, c.Have, c.Have.Description)
		}
		return wantErr
	}
	rep, err := libcluster.SyncListeners(ctx, lbs, o.lbID, want, libcluster.IsServiceListener)
	for _, line := range rep.Lines() {
		fmt.Fprintln(out, line)
	}
	if st, derr := lbs.DescribeLoadBalancer(ctx, o.lbID); derr == nil && len(want) > 0 {
		for _, l := range want {
			fmt.Fprintf(out, "%s -> tcp://%s:%d\n", strings.TrimPrefix(l.Description, "docker-machine/service/"), st.Address, l.Port)
		}
	}
	if err != nil || wantErr != nil {
		return fmt.Errorf("slb sync of %s was not complete:\n%w", o.lbID, joinErrs(wantErr, err))
	}
	return nil
}

func joinErrs(errs ...error) error {
	var msgs []string
	for _, err := range errs {
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}

func runList(ctx context.Context, out io.Writer, o slbOptions, lbs libcluster.LoadBalancers) error {
	st, err := lbs.DescribeLoadBalancer(ctx, o.lbID)
	if err != nil {
		return err
	}
	listeners, err := lbs.Listeners(ctx, o.lbID)
	if err != nil {
		return err
	}
	clustercmd.WriteStatus(out, &libcluster.Status{Manager: o.manager, LoadBalancers: []libcluster.LoadBalancerStatus{{LoadBalancerState: st, Listeners: listeners}}})
	return nil
}
