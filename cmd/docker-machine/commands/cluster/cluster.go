// Package cluster is the `docker-machine cluster` command group: up, down
// and status of a swarm cluster described by a cluster file, over
// libmachine/cluster.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
	libcluster "github.com/fleetdock/machine/libmachine/cluster"
)

const clusterLong = `Create, inspect and remove a swarm cluster described by a cluster file.

  up      prepares what the nodes of each driver configuration share (a
          security group), creates every missing node at once (--parallel),
          and puts each node in the swarm as soon as it is ready: the first
          manager ready initialises it (an existing swarm is kept), managers
          join one at a time, workers in parallel. Then it creates the file's
          networks the swarm lacks and syncs the SLB listeners. Run it again
          to converge: it adds what is missing and never duplicates.
  down    removes every node and every listener the cluster made (the swarm
          and its networks go with the nodes); load balancers themselves are
          never deleted.
  status  shows nodes, their state and swarm role, SLB backends and listeners,
          and whether the swarm has the file's networks as the file says.

The file (YAML):

  name: web                       # machines are <name>-<group>-<n>
  driver: aliyunecs
  driver_options:                 # create flags of the driver, without --
    aliyunecs-region: cn-beijing
  engine:
    install_url: none             # also registry_mirror, insecure_registry,
    labels: [env=demo]            #   labels, opt, env, storage_driver, tls_san
  groups:
    - {name: manager, role: manager, count: 1, slb: lb-xxx}
    - {name: worker, role: worker, count: 2, slb: lb-xxx}
  load_balancers:
    - id: lb-xxx
      services: true              # a TCP listener per published service port
      service_ports: {web: 8080}  # front ports (else label fleetdock.slb.port,
      listeners: [{port: 2377}]   #   else the published port); fixed listeners
  networks:                       # swarm networks up creates through the manager
    - name: app                   # driver overlay, attachable true unless set
      subnet: 10.0.9.0/24         # also gateway, ip_range, internal, options, labels

${VAR} and ${VAR:-default} are read from the environment.`

// NewCmd is the cluster command and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create and manage a swarm cluster from a cluster file",
		Long:  clusterLong,
	}
	var (
		parallel int
		dryRun   bool
		format   string
	)
	up := fileCmd("up", "Create or converge the cluster", func(ctx context.Context, path string) error {
		return runUp(ctx, f, path, parallel, dryRun)
	})
	up.Flags().IntVar(&parallel, "parallel", libcluster.DefaultParallel, "how many machines to create at once")
	up.Flags().BoolVar(&dryRun, "dry-run", false, "print what up would do and change nothing")
	down := fileCmd("down", "Remove every node and listener of the cluster", func(ctx context.Context, path string) error {
		return runDown(ctx, f, path, parallel)
	})
	down.Flags().IntVar(&parallel, "parallel", libcluster.DefaultParallel, "how many machines to remove at once")
	status := fileCmd("status", "Show the nodes, swarm and load balancers of the cluster", func(ctx context.Context, path string) error {
		return runStatus(ctx, f, path, format)
	})
	status.Flags().StringVar(&format, "format", "", "json for machine-readable output")
	cmd.AddCommand(up, down, status)
	return cmd
}

// fileCmd is a subcommand that takes no arguments and a required --file.
func fileCmd(use, short string, run func(ctx context.Context, path string) error) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   use + " -f FILE",
		Short: short,
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), file) },
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the cluster file (required)")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// run is one up or down: the file, the store, and the display of the
// nodes' progress.
type run struct {
	f      *cmdutil.Factory
	file   *libcluster.File
	client *libmachine.Client
	disp   *progressDisplay
}

func open(f *cmdutil.Factory, path string) (*run, error) {
	file, err := libcluster.Load(path)
	if err != nil {
		return nil, err
	}
	r := &run{f: f, file: file, disp: newProgressDisplay(f.IOStreams)}
	r.client = r.nodeClient(io.Discard)
	return r, nil
}

func (r *run) close() { r.client.Close() }

// nodeClient is a client of the store whose progress lines go to out, so
// parallel creates each report to their own line of the display. Log lines
// of libmachine and its drivers go to the display, which shows a
// "(machine) message" line as that node's progress.
func (r *run) nodeClient(out io.Writer) *libmachine.Client {
	c := r.f.Client(out)
	c.Log = r.f.Logger(r.disp.driverLog())
	return c
}

func (r *run) machines() *libcluster.StoreMachines {
	return &libcluster.StoreMachines{Client: r.client, NewClient: r.nodeClient}
}

func (r *run) options(parallel int) libcluster.Options {
	return libcluster.Options{Parallel: parallel, Progress: r.disp.handle, LoadBalancers: r.machines().LoadBalancers(r.file)}
}

func runUp(ctx context.Context, f *cmdutil.Factory, path string, parallel int, dryRun bool) error {
	out, argv0 := f.IOStreams.Out, f.Settings.Argv0
	r, err := open(f, path)
	if err != nil {
		return err
	}
	defer r.close()
	if dryRun {
		names, err := r.client.Store.List()
		if err != nil {
			return err
		}
		for _, line := range libcluster.NewPlan(r.file, names).Describe() {
			fmt.Fprintln(out, line)
		}
		fmt.Fprintln(out, "the creates run at once, after what each driver configuration shares is prepared; each node joins the swarm when it is ready:")
		fmt.Fprintln(out, "the first manager ready initialises it (or an existing manager keeps its swarm), managers join one at a time, workers in parallel; then the networks are made and the listeners synced")
		for _, line := range r.file.DescribeNetworks() {
			fmt.Fprintln(out, line)
		}
		return nil
	}
	start := time.Now()
	res := libcluster.Up(ctx, r.file, r.machines(), libcluster.NewEngineSwarm(r.client), r.options(parallel))
	r.disp.finish()
	fmt.Fprintf(out, "cluster %s: %d created, %d already there, %d joined or changed in the swarm, %d failed (%s)\n",
		r.file.Name, len(res.Created), len(res.Existing), len(res.Joined), len(res.Failed), time.Since(start).Round(100*time.Millisecond))
	if res.Manager != "" {
		fmt.Fprintf(out, "swarm %s runs through %s; try: eval $(%s env %s) && docker node ls\n", res.ClusterID, res.Manager, argv0, res.Manager)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("cluster up of %s did not finish cleanly:\n%w\nRun `%s cluster up -f %s` again once the cause is fixed; it only does what is missing", r.file.Name, err, argv0, path)
	}
	return nil
}

func runDown(ctx context.Context, f *cmdutil.Factory, path string, parallel int) error {
	out, argv0 := f.IOStreams.Out, f.Settings.Argv0
	r, err := open(f, path)
	if err != nil {
		return err
	}
	defer r.close()
	res := libcluster.Down(ctx, r.file, r.machines(), r.options(parallel))
	r.disp.finish()
	fmt.Fprintf(out, "cluster %s: %d removed, %d failed\n", r.file.Name, len(res.Removed), len(res.Failed))
	if err := res.Err(); err != nil {
		return fmt.Errorf("cluster down of %s left something behind:\n%w\nRun it again, or remove what is left with `%s rm NAME`", r.file.Name, err, argv0)
	}
	return nil
}

func runStatus(ctx context.Context, f *cmdutil.Factory, path, format string) error {
	file, err := libcluster.Load(path)
	if err != nil {
		return err
	}
	client := f.Client(f.IOStreams.ErrOut)
	defer client.Close()
	m := &libcluster.StoreMachines{Client: client, NewClient: f.Client}
	st, err := libcluster.GetStatus(ctx, file, m, libcluster.NewEngineSwarm(client), libcluster.Options{LoadBalancers: m.LoadBalancers(file)})
	if err != nil {
		return err
	}
	if format == "json" {
		return writeStatusJSON(f.IOStreams.Out, st)
	}
	if format != "" {
		return fmt.Errorf("--format %q: only json is supported", format)
	}
	WriteStatus(f.IOStreams.Out, st)
	return nil
}

// WriteStatus prints a cluster's status as `cluster status` shows it: the
// nodes, where the swarm was read, and each load balancer with its backends
// and listeners.
func WriteStatus(w io.Writer, st *libcluster.Status) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tGROUP\tROLE\tSTATE\tSWARM ROLE\tSWARM STATUS\tMANAGER STATUS")
	for _, n := range st.Nodes {
		group, role := n.Group, string(n.Role)
		if n.Extra {
			group, role = "(extra)", "-"
		}
		sr, ss, ms := "-", "-", ""
		if n.Swarm.ID != "" {
			sr, ss, ms = string(n.Swarm.Role), n.Swarm.Status, n.Swarm.ManagerStatus
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, group, role, n.State, sr, ss, ms)
	}
	tw.Flush()
	switch {
	case st.Manager != "":
		fmt.Fprintf(w, "swarm read through %s\n", st.Manager)
	case st.SwarmErr != nil:
		fmt.Fprintf(w, "swarm: no manager answered: %v\n", st.SwarmErr)
	default:
		fmt.Fprintln(w, "swarm: no running manager")
	}
	for _, n := range st.Networks {
		fmt.Fprintf(w, "network %s (%s): %s\n", n.Name, n.Want, n.State)
	}
	for _, lb := range st.LoadBalancers {
		if lb.Err != nil {
			fmt.Fprintf(w, "load balancer %s: %v\n", lb.ID, lb.Err)
			continue
		}
		fmt.Fprintf(w, "load balancer %s (%s) at %s, %s\n", lb.ID, lb.Name, lb.Address, lb.Status)
		for _, b := range lb.Backends {
			var health []string
			for _, p := range slices.Sorted(maps.Keys(b.Health)) {
				health = append(health, fmt.Sprintf("%d:%s", p, b.Health[p]))
			}
			fmt.Fprintf(w, "  backend %s weight %d %s\n", b.ServerID, b.Weight, strings.Join(health, " "))
		}
		for _, l := range lb.Listeners {
			fmt.Fprintf(w, "  listener %s %s %s\n", l, l.Status, l.Description)
		}
	}
}

func writeStatusJSON(w io.Writer, st *libcluster.Status) error {
	type lbJSON struct {
		libcluster.LoadBalancerState
		Listeners []libcluster.Listener
		Error     string `json:",omitempty"`
	}
	out := struct {
		Name          string
		Manager       string
		SwarmError    string `json:",omitempty"`
		Nodes         []libcluster.NodeStatus
		LoadBalancers []lbJSON
		Networks      []libcluster.NetworkStatus `json:",omitempty"`
	}{Name: st.Name, Manager: st.Manager, Nodes: st.Nodes, Networks: st.Networks}
	if st.SwarmErr != nil {
		out.SwarmError = st.SwarmErr.Error()
	}
	for _, lb := range st.LoadBalancers {
		j := lbJSON{LoadBalancerState: lb.LoadBalancerState, Listeners: lb.Listeners}
		if lb.Err != nil {
			j.Error = lb.Err.Error()
		}
		out.LoadBalancers = append(out.LoadBalancers, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
