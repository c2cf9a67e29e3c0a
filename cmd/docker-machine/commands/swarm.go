package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/swarm"
)

const swarmLsDefaultFormat = "table {{.Name}}\t{{.ID}}\t{{.Role}}\t{{.Availability}}\t{{.Status}}\t{{.ManagerStatus}}"

var swarmLsHeaders = map[string]string{
	"Name":          "NODE",
	"Machine":       "MACHINE",
	"Hostname":      "HOSTNAME",
	"ID":            "ID",
	"Role":          "ROLE",
	"Availability":  "AVAILABILITY",
	"Status":        "STATUS",
	"ManagerStatus": "MANAGER STATUS",
	"Addr":          "ADDRESS",
	"EngineVersion": "ENGINE VERSION",
	"Self":          "SELF",
}

func (e *env) swarmCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "swarm",
		Short: "Form and inspect swarm mode clusters of machines",
		Long: `Form and inspect swarm mode clusters of machines, through each machine's Docker API over TLS.

Every command is safe to run again: a machine already in the right place is left alone.
Nodes advertise their private address to each other (the last private address the driver
reports, else the machine's IP) unless --advertise-addr says otherwise.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		e.swarmInitCommand(),
		e.swarmJoinCommand(),
		e.swarmLsCommand(),
		e.swarmRoleCommand("promote", swarm.RoleManager),
		e.swarmRoleCommand("demote", swarm.RoleWorker),
		e.swarmLeaveCommand(),
	)
	return cmd
}

func (e *env) swarmInitCommand() *cobra.Command {
	var advertise string
	cmd := &cobra.Command{
		Use:   "init [--advertise-addr IP] MANAGER",
		Short: "Start a swarm with the machine as its first manager",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client := e.client(e.stderr)
			defer client.Close()
			h, err := loadOne(ctx, client, args)
			if err != nil {
				return err
			}
			m, err := client.SwarmMember(ctx, h, advertise)
			if err != nil {
				return err
			}
			r, err := swarm.EnsureManager(ctx, m)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, r)
			if r.Action == swarm.ActionInitialized {
				fmt.Fprintf(e.stdout, "Add nodes with: %s swarm join --manager %s NODE...\n", e.args0, h.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&advertise, "advertise-addr", "", "Address the manager advertises to the other nodes (default: its private IP)")
	return cmd
}

// swarmTargets loads the manager and the nodes, and describes each for the
// swarm package. A node that cannot be loaded comes back as a failed result.
func swarmTargets(ctx context.Context, client *libmachine.Client, manager string, nodes []string, advertise string) (swarm.Member, []swarm.Member, []swarm.Result, error) {
	loaded := loadHosts(ctx, client, append([]string{manager}, nodes...))
	if loaded[0].err != nil {
		return swarm.Member{}, nil, nil, loaded[0].err
	}
	mgr, err := client.SwarmMember(ctx, loaded[0].h, "")
	if err != nil {
		return swarm.Member{}, nil, nil, err
	}
	var members []swarm.Member
	var failed []swarm.Result
	for _, l := range loaded[1:] {
		if l.err != nil {
			failed = append(failed, swarm.Result{Machine: l.name, Action: swarm.ActionFailed, Err: l.err})
			continue
		}
		m, err := client.SwarmMember(ctx, l.h, advertise)
		if err != nil {
			failed = append(failed, swarm.Result{Machine: l.name, Action: swarm.ActionFailed, Err: err})
			continue
		}
		members = append(members, m)
	}
	return mgr, members, failed, nil
}

// printResult writes a node's result line: failures to stderr.
func (e *env) printResult(r swarm.Result) {
	if r.Action == swarm.ActionFailed {
		fmt.Fprintln(e.stderr, r)
		return
	}
	fmt.Fprintln(e.stdout, r)
}

func summarize(verb, manager string, results []swarm.Result) error {
	n := 0
	for _, r := range results {
		if r.Action == swarm.ActionFailed {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// The per-node lines already said what went wrong; exit 1 without
	// repeating them.
	swarmName := "their swarm"
	if manager != "" {
		swarmName = fmt.Sprintf("the swarm of %q", manager)
	}
	return &statusError{status: exitError, err: fmt.Errorf("%d of %d machines could not %s %s; fix the errors above and run the same command again (machines already in place are left alone)", n, len(results), verb, swarmName)}
}

func nodeArgs(args []string) error {
	if len(args) == 0 {
		return errors.New("Error: name at least one machine")
	}
	seen := map[string]bool{}
	for _, a := range args {
		if seen[a] {
			return fmt.Errorf("Error: machine %q is named twice", a)
		}
		seen[a] = true
	}
	return nil
}

func (e *env) swarmJoinCommand() *cobra.Command {
	var manager, role, advertise string
	cmd := &cobra.Command{
		Use:   "join --manager MANAGER [--role worker|manager] [--advertise-addr IP] NODE...",
		Short: "Add machines to the swarm of a manager",
		Long: `Add machines to the swarm of a manager, or give them the asked role if they are in it already.

Workers join concurrently; managers join one at a time, each waited for until it is a
reachable member, so the swarm keeps its quorum throughout. A machine in another swarm is
an error: take it out first with 'swarm leave --force'.`,
		Args: func(_ *cobra.Command, args []string) error { return nodeArgs(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r, err := swarm.ParseRole(role)
			if err != nil {
				return err
			}
			if advertise != "" && len(args) > 1 {
				return errors.New("Error: --advertise-addr is one machine's address; join the machines that need it one at a time")
			}
			client := e.client(e.stderr)
			defer client.Close()
			mgr, members, results, err := swarmTargets(ctx, client, manager, args, advertise)
			if err != nil {
				return err
			}
			for _, f := range results {
				e.printResult(f)
			}
			targets := make([]swarm.Target, len(members))
			for i, m := range members {
				targets[i] = swarm.Target{Member: m, Role: r}
			}
			results = append(results, swarm.JoinAll(ctx, mgr, targets, swarm.JoinOptions{Progress: e.printResult})...)
			if r == swarm.RoleManager {
				// The daemon knows when the manager count gives no fault
				// tolerance; pass its advice on.
				if info, err := mgr.Engine.Info(ctx); err == nil {
					for _, w := range info.Warnings {
						fmt.Fprintln(e.stderr, w)
					}
				}
			}
			return summarize("join", manager, results)
		},
	}
	f := cmd.Flags()
	f.StringVar(&manager, "manager", "", "A manager of the swarm to join (required)")
	f.StringVar(&role, "role", string(swarm.RoleWorker), "Role of the machines: worker or manager")
	f.StringVar(&advertise, "advertise-addr", "", "Address the machine advertises to the other nodes (default: its private IP)")
	cmd.MarkFlagRequired("manager")
	return cmd
}

func (e *env) swarmRoleCommand(verb string, role swarm.Role) *cobra.Command {
	var manager string
	cmd := &cobra.Command{
		Use:   verb + " --manager MANAGER NODE...",
		Short: fmt.Sprintf("Make swarm nodes %ss", role),
		Args:  func(_ *cobra.Command, args []string) error { return nodeArgs(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client := e.client(e.stderr)
			defer client.Close()
			mgr, members, results, err := swarmTargets(ctx, client, manager, args, "")
			if err != nil {
				return err
			}
			for _, f := range results {
				e.printResult(f)
			}
			// One at a time: each role change moves the quorum.
			for _, m := range members {
				r, _ := swarm.SetRole(ctx, mgr, m, role)
				e.printResult(r)
				results = append(results, r)
			}
			return summarize(verb+" nodes in", manager, results)
		},
	}
	cmd.Flags().StringVar(&manager, "manager", "", "A manager of the swarm (required)")
	cmd.MarkFlagRequired("manager")
	return cmd
}

func (e *env) swarmLeaveCommand() *cobra.Command {
	var manager string
	var force bool
	cmd := &cobra.Command{
		Use:   "leave [--manager MANAGER] [--force] NODE...",
		Short: "Take machines out of their swarm",
		Long: `Take machines out of their swarm.

With --manager (another manager of the same swarm), a manager node is demoted first so the
swarm keeps its quorum, and each node's entry is removed from the swarm's list once it left.
Without it the Docker daemon refuses to let a manager go unless --force is given.`,
		Args: func(_ *cobra.Command, args []string) error { return nodeArgs(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client := e.client(e.stderr)
			defer client.Close()
			var mgr *swarm.Member
			var members []swarm.Member
			var results []swarm.Result
			if manager != "" {
				m, ms, failed, err := swarmTargets(ctx, client, manager, args, "")
				if err != nil {
					return err
				}
				mgr, members, results = &m, ms, failed
			} else {
				for _, l := range loadHosts(ctx, client, args) {
					var m swarm.Member
					err := l.err
					if err == nil {
						m, err = client.SwarmMember(ctx, l.h, "")
					}
					if err != nil {
						results = append(results, swarm.Result{Machine: l.name, Action: swarm.ActionFailed, Err: err})
						continue
					}
					members = append(members, m)
				}
			}
			for _, f := range results {
				e.printResult(f)
			}
			for _, m := range members {
				r, _ := swarm.Leave(ctx, m, mgr, force)
				e.printResult(r)
				results = append(results, r)
			}
			return summarize("leave", manager, results)
		},
	}
	cmd.Flags().StringVar(&manager, "manager", "", "Another manager of the swarm, to demote managers first and tidy the node list")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Leave even when the daemon warns that the swarm could lose its quorum")
	return cmd
}

func (e *env) swarmLsCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ls [--format TEMPLATE|json] MANAGER",
		Short: "List the nodes of a manager's swarm",
		Long: `List the nodes of a manager's swarm: NODE (the machine's name when the node is a known
machine, else its hostname), ID, ROLE, AVAILABILITY, STATUS and MANAGER STATUS.

--format json prints a JSON array; any other --format is a Go template over the fields
Name Machine Hostname ID Role Availability Status ManagerStatus Addr EngineVersion Self,
with a leading "table" for a table with headers, as in 'ls'.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			client := e.client(e.stderr)
			defer client.Close()
			h, err := loadOne(ctx, client, args)
			if err != nil {
				return err
			}
			mgr, err := client.SwarmMember(ctx, h, "")
			if err != nil {
				return err
			}
			nodes, err := swarm.List(ctx, mgr, knownMachines(ctx, client, h.Name)...)
			if err != nil {
				return err
			}
			return writeSwarmNodes(e.stdout, nodes, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Pretty-print nodes using a Go template, or json")
	return cmd
}

// knownMachines describes the store's other machines for naming nodes; a
// machine that cannot be loaded is simply not named.
func knownMachines(ctx context.Context, client *libmachine.Client, except string) []swarm.Member {
	names, err := client.Store.List()
	if err != nil {
		return nil
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == except })
	var out []swarm.Member
	for _, l := range loadHosts(ctx, client, names) {
		if l.err != nil {
			continue
		}
		addr, err := client.SwarmAddress(ctx, l.h)
		if err != nil {
			addr = ""
		}
		out = append(out, swarm.Member{Name: l.name, AdvertiseAddr: addr})
	}
	return out
}

func writeSwarmNodes(w io.Writer, nodes []swarm.NodeStatus, format string) error {
	if strings.EqualFold(strings.TrimSpace(format), "json") {
		if nodes == nil {
			nodes = []swarm.NodeStatus{}
		}
		b, err := json.MarshalIndent(nodes, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	if format == "" {
		format = swarmLsDefaultFormat
	}
	return writeRows(w, format, swarmLsHeaders, nodes)
}
