package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/drivers/aliyunecs"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/cluster"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
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

The SLB client uses the manager's aliyunecs settings (region, API endpoint,
credentials); for a manager on another driver, give --aliyunecs-region and
--aliyunecs-api-endpoint, with the keys in ECS_ACCESS_KEY_ID and
ECS_ACCESS_KEY_SECRET.`

func (e *env) slbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slb",
		Short: "Manage Server Load Balancer listeners for swarm services",
	}
	var o slbOptions
	sync := &cobra.Command{
		Use:   "sync --slb-id LB --manager NAME",
		Short: "Create and remove SLB listeners for the swarm's published services",
		Long:  slbSyncLong,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runSLBSync(cmd.Context(), o)
		},
	}
	sync.Flags().StringArrayVar(&o.ports, "port", nil, "front port of a service: SERVICE=FRONT or SERVICE:PUBLISHED=FRONT (repeatable)")
	sync.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the changes and make none")
	ls := &cobra.Command{
		Use:   "ls --slb-id LB --manager NAME",
		Short: "Show the load balancer's address, backends and listeners",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runSLBList(cmd.Context(), o)
		},
	}
	for _, c := range []*cobra.Command{sync, ls} {
		c.Flags().StringVar(&o.lbID, "slb-id", "", "the load balancer (required)")
		c.Flags().StringVar(&o.manager, "manager", "", "a manager machine of the swarm (required)")
		c.Flags().StringVar(&o.region, "aliyunecs-region", "", "region of the load balancer (default: the manager's)")
		c.Flags().StringVar(&o.endpoint, "aliyunecs-api-endpoint", "", "API endpoint (default: the manager's)")
		_ = c.MarkFlagRequired("slb-id")
		_ = c.MarkFlagRequired("manager")
	}
	cmd.AddCommand(sync, ls)
	return cmd
}

type slbOptions struct {
	lbID, manager    string
	region, endpoint string
	ports            []string
	dryRun           bool
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

func (e *env) runSLBSync(ctx context.Context, o slbOptions) error {
	ports, err := parsePortFlags(o.ports)
	if err != nil {
		return err
	}
	client := e.client(e.stdout)
	defer client.Close()
	lbs, err := e.slbClientFor(ctx, client, o)
	if err != nil {
		return err
	}
	services, err := cluster.NewEngineSwarm(client).Services(ctx, o.manager)
	if err != nil {
		return fmt.Errorf("reading the swarm services through %q: %w", o.manager, err)
	}
	want, notes, wantErr := cluster.ServiceListeners(services, ports)
	for _, n := range notes {
		fmt.Fprintln(e.stdout, n)
	}
	if o.dryRun {
		current, err := lbs.Listeners(ctx, o.lbID)
		if err != nil {
			return err
		}
		plan := cluster.PlanListeners(current, want, cluster.IsServiceListener)
		for _, line := range (cluster.SyncReport{LoadBalancer: o.lbID, Plan: plan}).Lines() {
			fmt.Fprintln(e.stdout, "would: "+line)
		}
		for _, c := range plan.Conflicts {
			fmt.Fprintf(e.stdout, "conflict: port %d is held by %s (%q), not made by docker-machine\n", c.Want.Port, c.Have, c.Have.Description)
		}
		return wantErr
	}
	rep, err := cluster.SyncListeners(ctx, lbs, o.lbID, want, cluster.IsServiceListener)
	for _, line := range rep.Lines() {
		fmt.Fprintln(e.stdout, line)
	}
	if st, derr := lbs.Describe(ctx, o.lbID); derr == nil && len(want) > 0 {
		for _, l := range want {
			fmt.Fprintf(e.stdout, "%s -> tcp://%s:%d\n", strings.TrimPrefix(l.Description, "docker-machine/service/"), st.Address, l.Port)
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

func (e *env) runSLBList(ctx context.Context, o slbOptions) error {
	client := e.client(e.stderr)
	defer client.Close()
	lbs, err := e.slbClientFor(ctx, client, o)
	if err != nil {
		return err
	}
	st, err := lbs.Describe(ctx, o.lbID)
	if err != nil {
		return err
	}
	listeners, err := lbs.Listeners(ctx, o.lbID)
	if err != nil {
		return err
	}
	writeStatus(e.stdout, &cluster.Status{Manager: o.manager, LoadBalancers: []cluster.LoadBalancerStatus{{LoadBalancerState: st, Listeners: listeners}}})
	return nil
}

// slbClientFor builds the SLB client of slb sync and ls: the manager's
// aliyunecs settings, or the flags.
func (e *env) slbClientFor(ctx context.Context, client *libmachine.Client, o slbOptions) (cluster.LoadBalancers, error) {
	h, err := client.Load(ctx, o.manager)
	if err != nil {
		return nil, err
	}
	if o.region == "" && o.endpoint == "" && h.DriverName == aliyunecs.Name {
		return slbClientForMachine(client, h)
	}
	if o.region == "" && h.DriverName != aliyunecs.Name {
		return nil, fmt.Errorf("manager %q runs on the %s driver, so its SLB settings are unknown: give --aliyunecs-region (and --aliyunecs-api-endpoint for a custom endpoint), with the keys in ECS_ACCESS_KEY_ID and ECS_ACCESS_KEY_SECRET", o.manager, h.DriverName)
	}
	args := []string{"--driver", aliyunecs.Name}
	if o.region != "" {
		args = append(args, "--aliyunecs-region="+o.region)
	}
	if o.endpoint != "" {
		args = append(args, "--aliyunecs-api-endpoint="+o.endpoint)
	}
	return e.slbClientFromArgs(ctx, client, append(args, "slb-client"))
}

// slbClientForMachine uses an aliyunecs machine's region, endpoint and
// credentials.
func slbClientForMachine(client *libmachine.Client, h *host.Host) (cluster.LoadBalancers, error) {
	d, ok := plugin.Unwrap(h.Driver).(*aliyunecs.Driver)
	if !ok {
		// Run as a plugin: read the same settings from the stored config.
		d = aliyunecs.NewDriver(h.Name, client.Store.Path)
		if err := json.Unmarshal(h.RawDriver, d); err != nil {
			return nil, fmt.Errorf("reading the aliyunecs settings of %q: %w", h.Name, err)
		}
	}
	c, err := d.LoadBalancers()
	if err != nil {
		return nil, fmt.Errorf("setting up the SLB client with the settings of %q: %w", h.Name, err)
	}
	return slbAdapter{c}, nil
}

// slbClientFromArgs builds an SLB client from aliyunecs create flags,
// parsed as create parses them (defaults and environment included).
func (e *env) slbClientFromArgs(ctx context.Context, client *libmachine.Client, args []string) (cluster.LoadBalancers, error) {
	p, err := e.parseCreateFlags(ctx, client, args)
	if err != nil {
		return nil, err
	}
	c, err := aliyunecs.NewLoadBalancerClient(p.values)
	if err != nil {
		return nil, fmt.Errorf("setting up the SLB client: %w", err)
	}
	return slbAdapter{c}, nil
}

// slbAdapter gives the aliyunecs listener client the shape libmachine's
// cluster package asks for.
type slbAdapter struct{ c *aliyunecs.LoadBalancerClient }

func (a slbAdapter) Describe(ctx context.Context, lbID string) (cluster.LoadBalancerState, error) {
	st, err := a.c.Describe(ctx, lbID)
	if err != nil {
		return cluster.LoadBalancerState{ID: lbID}, err
	}
	out := cluster.LoadBalancerState{ID: st.ID, Name: st.Name, Address: st.Address, Status: st.Status}
	for _, b := range st.Backends {
		out.Backends = append(out.Backends, cluster.Backend{ServerID: b.ServerID, Weight: b.Weight, Health: b.Health})
	}
	return out, nil
}

func (a slbAdapter) Listeners(ctx context.Context, lbID string) ([]cluster.Listener, error) {
	ls, err := a.c.Listeners(ctx, lbID)
	if err != nil {
		return nil, err
	}
	out := make([]cluster.Listener, 0, len(ls))
	for _, l := range ls {
		out = append(out, cluster.Listener{Port: l.Port, BackendPort: l.BackendPort, Protocol: l.Protocol, Status: l.Status, Description: l.Description})
	}
	return out, nil
}

func (a slbAdapter) CreateListener(ctx context.Context, lbID string, l cluster.Listener) error {
	return a.c.CreateTCPListener(ctx, lbID, aliyunecs.SLBListener{Port: l.Port, BackendPort: l.BackendPort, Protocol: "tcp", Description: l.Description})
}

func (a slbAdapter) StartListener(ctx context.Context, lbID string, port int) error {
	return a.c.StartListener(ctx, lbID, port)
}

func (a slbAdapter) DeleteListener(ctx context.Context, lbID string, port int) error {
	return a.c.DeleteListener(ctx, lbID, port)
}
