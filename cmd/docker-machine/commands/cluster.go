package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/cluster"
)

const clusterLong = `Create, inspect and remove a swarm cluster described by a cluster file.

  up      creates the missing nodes (in parallel), initialises the swarm on the
          first manager, joins managers then workers, and syncs the SLB
          listeners. Run it again to converge: it adds what is missing and
          never duplicates.
  down    removes every node and every listener the cluster made; load
          balancers themselves are never deleted.
  status  shows nodes, their state and swarm role, SLB backends and listeners.

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

${VAR} and ${VAR:-default} are read from the environment.`

func (e *env) clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create and manage a swarm cluster from a cluster file",
		Long:  clusterLong,
	}
	var file string
	var parallel int
	var dryRun bool
	up := &cobra.Command{
		Use:   "up -f FILE",
		Short: "Create or converge the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runClusterUp(cmd.Context(), file, parallel, dryRun)
		},
	}
	up.Flags().IntVar(&parallel, "parallel", 4, "how many machines to create at once")
	up.Flags().BoolVar(&dryRun, "dry-run", false, "print what up would do and change nothing")
	down := &cobra.Command{
		Use:   "down -f FILE",
		Short: "Remove every node and listener of the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runClusterDown(cmd.Context(), file, parallel)
		},
	}
	down.Flags().IntVar(&parallel, "parallel", 4, "how many machines to remove at once")
	var format string
	status := &cobra.Command{
		Use:   "status -f FILE",
		Short: "Show the nodes, swarm and load balancers of the cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runClusterStatus(cmd.Context(), file, format)
		},
	}
	status.Flags().StringVar(&format, "format", "", "json for machine-readable output")
	for _, c := range []*cobra.Command{up, down, status} {
		c.Flags().StringVarP(&file, "file", "f", "", "the cluster file (required)")
		_ = c.MarkFlagRequired("file")
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// clusterRun is one cluster command: the file, the store, and the wiring
// of machines, swarm and load balancers.
type clusterRun struct {
	e      *env
	file   *cluster.File
	client *libmachine.Client
	disp   *progressDisplay
}

func (e *env) openCluster(path string) (*clusterRun, error) {
	f, err := cluster.Load(path)
	if err != nil {
		return nil, err
	}
	disp := newProgressDisplay(e.stdout)
	// Drivers log through slog's default logger; their lines join the
	// node they name in the display.
	slog.SetDefault(slog.New(newLineHandler(disp.driverLog(), e.stderr, e.debug)))
	return &clusterRun{e: e, file: f, client: e.nodeClient(io.Discard), disp: disp}, nil
}

func (r *clusterRun) close() { r.client.Close() }

// nodeClient is a client of the store whose progress lines go to out, so
// parallel creates each report to their own line of the display.
func (e *env) nodeClient(out io.Writer) *libmachine.Client {
	log := slog.New(newLineHandler(out, e.stderr, e.debug))
	c := libmachine.New(e.storagePath, out, log)
	c.NativeSSH = e.nativeSSH
	for dst, src := range map[*string]string{&c.Certs.CACert: e.tlsCACert, &c.Certs.CAKey: e.tlsCAKey, &c.Certs.ClientCert: e.tlsCert, &c.Certs.ClientKey: e.tlsKey} {
		if src != "" {
			*dst = src
		}
	}
	return c
}

func (r *clusterRun) machines() *cluster.StoreMachines {
	return &cluster.StoreMachines{Client: r.client, NewClient: r.e.nodeClient}
}

func (r *clusterRun) options(parallel int) cluster.Options {
	return cluster.Options{Parallel: parallel, Progress: r.disp.handle, LoadBalancers: r.machines().LoadBalancers(r.file)}
}

func (e *env) runClusterUp(ctx context.Context, path string, parallel int, dryRun bool) error {
	r, err := e.openCluster(path)
	if err != nil {
		return err
	}
	defer r.close()
	if dryRun {
		names, err := r.client.Store.List()
		if err != nil {
			return err
		}
		for _, line := range cluster.NewPlan(r.file, names).Describe() {
			fmt.Fprintln(e.stdout, line)
		}
		fmt.Fprintln(e.stdout, "then: initialise or keep the swarm, join managers one at a time, workers in parallel, sync the listeners")
		return nil
	}
	start := time.Now()
	res := cluster.Up(ctx, r.file, r.machines(), cluster.NewEngineSwarm(r.client), r.options(parallel))
	r.disp.finish()
	fmt.Fprintf(e.stdout, "cluster %s: %d created, %d already there, %d joined or changed in the swarm, %d failed (%s)\n",
		r.file.Name, len(res.Created), len(res.Existing), len(res.Joined), len(res.Failed), time.Since(start).Round(100*time.Millisecond))
	if res.Manager != "" {
		fmt.Fprintf(e.stdout, "swarm %s runs through %s; try: eval $(%s env %s) && docker node ls\n", res.ClusterID, res.Manager, e.args0, res.Manager)
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("cluster up of %s did not finish cleanly:\n%w\nRun `%s cluster up -f %s` again once the cause is fixed; it only does what is missing", r.file.Name, err, e.args0, path)
	}
	return nil
}

func (e *env) runClusterDown(ctx context.Context, path string, parallel int) error {
	r, err := e.openCluster(path)
	if err != nil {
		return err
	}
	defer r.close()
	res := cluster.Down(ctx, r.file, r.machines(), r.options(parallel))
	r.disp.finish()
	fmt.Fprintf(e.stdout, "cluster %s: %d removed, %d failed\n", r.file.Name, len(res.Removed), len(res.Failed))
	if err := res.Err(); err != nil {
		return fmt.Errorf("cluster down of %s left something behind:\n%w\nRun it again, or remove what is left with `%s rm NAME`", r.file.Name, err, e.args0)
	}
	return nil
}

func (e *env) runClusterStatus(ctx context.Context, path, format string) error {
	f, err := cluster.Load(path)
	if err != nil {
		return err
	}
	client := e.client(e.stderr)
	defer client.Close()
	r := &clusterRun{e: e, file: f, client: client}
	m := r.machines()
	st, err := cluster.GetStatus(ctx, f, m, cluster.NewEngineSwarm(client), cluster.Options{LoadBalancers: m.LoadBalancers(f)})
	if err != nil {
		return err
	}
	if format == "json" {
		return writeStatusJSON(e.stdout, st)
	}
	if format != "" {
		return fmt.Errorf("--format %q: only json is supported", format)
	}
	writeStatus(e.stdout, st)
	return nil
}

func writeStatus(w io.Writer, st *cluster.Status) {
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
	for _, lb := range st.LoadBalancers {
		if lb.Err != nil {
			fmt.Fprintf(w, "load balancer %s: %v\n", lb.ID, lb.Err)
			continue
		}
		fmt.Fprintf(w, "load balancer %s (%s) at %s, %s\n", lb.ID, lb.Name, lb.Address, lb.Status)
		for _, b := range lb.Backends {
			var health []string
			for _, p := range sortedPorts(b.Health) {
				health = append(health, fmt.Sprintf("%d:%s", p, b.Health[p]))
			}
			fmt.Fprintf(w, "  backend %s weight %d %s\n", b.ServerID, b.Weight, strings.Join(health, " "))
		}
		for _, l := range lb.Listeners {
			fmt.Fprintf(w, "  listener %s %s %s\n", l, l.Status, l.Description)
		}
	}
}

func sortedPorts(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func writeStatusJSON(w io.Writer, st *cluster.Status) error {
	type lbJSON struct {
		cluster.LoadBalancerState
		Listeners []cluster.Listener
		Error     string `json:",omitempty"`
	}
	out := struct {
		Name          string
		Manager       string
		SwarmError    string `json:",omitempty"`
		Nodes         []cluster.NodeStatus
		LoadBalancers []lbJSON
	}{Name: st.Name, Manager: st.Manager, Nodes: st.Nodes}
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

// progressDisplay shows cluster progress: on a terminal one line per node,
// redrawn in place, with cluster-wide lines scrolling above; otherwise
// plain "node: message" lines as they come.
type progressDisplay struct {
	w     io.Writer
	tty   bool
	width int

	mu    sync.Mutex
	order []string
	rows  map[string]*progressRow
	drawn int
}

type progressRow struct {
	phase      cluster.Phase
	line       string
	start, end time.Time // the node's active time: from its first step to ready or failed
}

func (r *progressRow) elapsed() time.Duration {
	switch {
	case r.start.IsZero():
		return 0
	case !r.end.IsZero():
		return r.end.Sub(r.start)
	}
	return time.Since(r.start)
}

func newProgressDisplay(w io.Writer) *progressDisplay {
	d := &progressDisplay{w: w, rows: map[string]*progressRow{}, width: 100}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		d.tty = true
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			d.width = cols
		}
	}
	return d
}

func (d *progressDisplay) handle(ev cluster.Event) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev.Node == "" {
		d.print(ev.Line)
		return
	}
	row := d.rows[ev.Node]
	if row == nil && ev.Phase == "" {
		// A line about a machine that is not a node of this run.
		d.print("(" + ev.Node + ") " + ev.Line)
		return
	}
	if row == nil {
		row = &progressRow{}
		d.rows[ev.Node] = row
		d.order = append(d.order, ev.Node)
	}
	if ev.Phase != "" {
		row.phase = ev.Phase
		switch ev.Phase {
		case cluster.PhaseCreating, cluster.PhaseJoining, cluster.PhaseRemoving:
			if row.start.IsZero() || !row.end.IsZero() {
				row.start, row.end = time.Now(), time.Time{}
			}
		case cluster.PhaseReady, cluster.PhaseFailed, cluster.PhaseRemoved:
			if !row.start.IsZero() {
				row.end = time.Now()
			}
		}
		if !d.tty {
			msg := string(ev.Phase)
			if ev.Line != "" {
				msg += ": " + ev.Line
			}
			fmt.Fprintf(d.w, "%s: %s\n", ev.Node, msg)
		}
	} else if !d.tty {
		fmt.Fprintf(d.w, "%s: %s\n", ev.Node, ev.Line)
	}
	if ev.Line != "" {
		row.line = ev.Line
	}
	if d.tty {
		d.redraw()
	}
}

// print shows a cluster-wide line: above the node rows on a terminal.
func (d *progressDisplay) print(line string) {
	if !d.tty {
		fmt.Fprintln(d.w, line)
		return
	}
	d.clearRows()
	fmt.Fprintf(d.w, "%s\n", line)
	d.drawRows()
}

func (d *progressDisplay) clearRows() {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	for range d.drawn {
		fmt.Fprint(d.w, "\x1b[2K\n")
	}
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	d.drawn = 0
}

func (d *progressDisplay) redraw() {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	d.drawn = 0
	d.drawRows()
}

func (d *progressDisplay) drawRows() {
	nameWidth := 0
	for _, n := range d.order {
		nameWidth = max(nameWidth, len(n))
	}
	for _, n := range d.order {
		row := d.rows[n]
		line := fmt.Sprintf("%-*s  %-8s %5s  %s", nameWidth, n, row.phase, row.elapsed().Round(time.Second), row.line)
		if len(line) > d.width-1 {
			line = line[:d.width-1]
		}
		fmt.Fprintf(d.w, "\x1b[2K%s\n", line)
		d.drawn++
	}
}

// finish leaves the final rows on screen.
func (d *progressDisplay) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drawn = 0
}

// driverLog is where driver log lines go: "(machine) message" lines are
// shown as that node's progress.
func (d *progressDisplay) driverLog() io.Writer { return &driverLogWriter{d: d} }

type driverLogWriter struct{ d *progressDisplay }

func (w *driverLogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line == "" {
			continue
		}
		node, msg := "", line
		if rest, ok := strings.CutPrefix(line, "("); ok {
			if i := strings.Index(rest, ") "); i > 0 {
				node, msg = rest[:i], rest[i+2:]
			}
		}
		w.d.handle(cluster.Event{Node: node, Line: msg})
	}
	return len(p), nil
}
