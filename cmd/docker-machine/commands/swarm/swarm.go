// Package swarm is the `docker-machine swarm` command group: init, join,
// ls, promote, demote and leave of swarm mode clusters of machines, over
// libmachine/swarm.
package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/cmd/docker-machine/internal/listformat"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
	libswarm "github.com/fleetdock/machine/libmachine/swarm"
)

const lsDefaultFormat = "table {{.Name}}\t{{.ID}}\t{{.Role}}\t{{.Availability}}\t{{.Status}}\t{{.ManagerStatus}}"

var lsHeaders = map[string]string{
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

// NewCmd is the swarm command and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
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
		newInitCmd(f),
		newJoinCmd(f),
		newLsCmd(f),
		newRoleCmd(f, "promote", libswarm.RoleManager),
		newRoleCmd(f, "demote", libswarm.RoleWorker),
		newLeaveCmd(f),
	)
	return cmd
}

func newInitCmd(f *cmdutil.Factory) *cobra.Command {
	var advertise string
	cmd := memberCmd(f, "init [--advertise-addr IP] MANAGER", "Start a swarm with the machine as its first manager", &advertise,
		func(ctx context.Context, _ *libmachine.Client, m libswarm.Member) error {
			r, err := libswarm.EnsureManager(ctx, m)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IOStreams.Out, r)
			if r.Action == libswarm.ActionInitialized {
				fmt.Fprintf(f.IOStreams.Out, "Add nodes with: %s swarm join --manager %s NODE...\n", f.Settings.Argv0, m.Name)
			}
			return nil
		})
	cmd.Flags().StringVar(&advertise, "advertise-addr", "", "Address the manager advertises to the other nodes (default: its private IP)")
	return cmd
}

// memberCmd is a command on the one machine it names (or "default"), which
// do gets as a swarm member advertising *advertise (its private address
// when empty or nil).
func memberCmd(f *cmdutil.Factory, use, short string, advertise *string, do func(context.Context, *libmachine.Client, libswarm.Member) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			addr := ""
			if advertise != nil {
				addr = *advertise
			}
			return f.WithMachine(ctx, args, func(client *libmachine.Client, h *host.Host) error {
				m, err := client.SwarmMember(ctx, h, addr)
				if err != nil {
					return err
				}
				return do(ctx, client, m)
			})
		},
	}
}

// swarmTargets loads the manager and the nodes, and describes each for the
// swarm package. A node that cannot be loaded comes back as a failed result.
func swarmTargets(ctx context.Context, client *libmachine.Client, manager string, nodes []string, advertise string) (libswarm.Member, []libswarm.Member, []libswarm.Result, error) {
	loaded := cmdutil.LoadHosts(ctx, client, append([]string{manager}, nodes...))
	if loaded[0].Err != nil {
		return libswarm.Member{}, nil, nil, loaded[0].Err
	}
	mgr, err := client.SwarmMember(ctx, loaded[0].Host, "")
	if err != nil {
		return libswarm.Member{}, nil, nil, err
	}
	members, failed := membersOf(ctx, client, loaded[1:], advertise)
	return mgr, members, failed, nil
}

// membersOf describes loaded machines as swarm members; one that did not
// load, or whose address cannot be read, comes back as a failed result.
func membersOf(ctx context.Context, client *libmachine.Client, loaded []cmdutil.LoadedHost, advertise string) ([]libswarm.Member, []libswarm.Result) {
	var members []libswarm.Member
	var failed []libswarm.Result
	for _, l := range loaded {
		err := l.Err
		var m libswarm.Member
		if err == nil {
			m, err = client.SwarmMember(ctx, l.Host, advertise)
		}
		if err != nil {
			failed = append(failed, libswarm.Result{Machine: l.Name, Action: libswarm.ActionFailed, Err: err})
			continue
		}
		members = append(members, m)
	}
	return members, failed
}

// resultPrinter writes a node's result line: failures to the error stream.
func resultPrinter(ios *iostreams.IOStreams) func(libswarm.Result) {
	return func(r libswarm.Result) {
		if r.Action == libswarm.ActionFailed {
			fmt.Fprintln(ios.ErrOut, r)
			return
		}
		fmt.Fprintln(ios.Out, r)
	}
}

func summarize(verb, manager string, results []libswarm.Result) error {
	n := 0
	for _, r := range results {
		if r.Action == libswarm.ActionFailed {
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
	return &cmdutil.StatusError{Status: cmdutil.ExitError, Err: fmt.Errorf("%d of %d machines could not %s %s; fix the errors above and run the same command again (machines already in place are left alone)", n, len(results), verb, swarmName)}
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

// onNodes loads the manager (when one is named or needed) and the nodes,
// reports the nodes that cannot be loaded, and hands the others to act,
// which reports each of its results as it comes. All the results make the
// exit status.
func onNodes(ctx context.Context, f *cmdutil.Factory, verb, manager string, needManager bool, nodes []string, advertise string,
	act func(mgr *libswarm.Member, members []libswarm.Member, report func(libswarm.Result)) []libswarm.Result) error {
	client := f.Client(f.IOStreams.ErrOut)
	defer client.Close()
	var mgr *libswarm.Member
	var members []libswarm.Member
	var results []libswarm.Result
	if manager != "" || needManager {
		m, ms, failed, err := swarmTargets(ctx, client, manager, nodes, advertise)
		if err != nil {
			return err
		}
		mgr, members, results = &m, ms, failed
	} else {
		members, results = membersOf(ctx, client, cmdutil.LoadHosts(ctx, client, nodes), advertise)
	}
	report := resultPrinter(f.IOStreams)
	for _, r := range results {
		report(r)
	}
	results = append(results, act(mgr, members, report)...)
	return summarize(verb, manager, results)
}

// managerFlag registers --manager; a command that needs a manager marks it
// required.
func managerFlag(cmd *cobra.Command, manager *string, usage string, required bool) {
	cmd.Flags().StringVar(manager, "manager", "", usage)
	if required {
		_ = cmd.MarkFlagRequired("manager")
	}
}

func newJoinCmd(f *cmdutil.Factory) *cobra.Command {
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
			want, err := libswarm.ParseRole(role)
			if err != nil {
				return err
			}
			if advertise != "" && len(args) > 1 {
				return errors.New("Error: --advertise-addr is one machine's address; join the machines that need it one at a time")
			}
			return onNodes(ctx, f, "join", manager, true, args, advertise, func(mgr *libswarm.Member, members []libswarm.Member, report func(libswarm.Result)) []libswarm.Result {
				targets := make([]libswarm.Target, len(members))
				for i, m := range members {
					targets[i] = libswarm.Target{Member: m, Role: want}
				}
				results := libswarm.JoinAll(ctx, *mgr, targets, libswarm.JoinOptions{Progress: report})
				if want == libswarm.RoleManager {
					// The daemon knows when the manager count gives no fault
					// tolerance; pass its advice on.
					if info, err := mgr.Engine.Info(ctx); err == nil {
						for _, w := range info.Warnings {
							fmt.Fprintln(f.IOStreams.ErrOut, w)
						}
					}
				}
				return results
			})
		},
	}
	managerFlag(cmd, &manager, "A manager of the swarm to join (required)", true)
	cmd.Flags().StringVar(&role, "role", string(libswarm.RoleWorker), "Role of the machines: worker or manager")
	cmd.Flags().StringVar(&advertise, "advertise-addr", "", "Address the machine advertises to the other nodes (default: its private IP)")
	return cmd
}

func newRoleCmd(f *cmdutil.Factory, verb string, role libswarm.Role) *cobra.Command {
	var manager string
	cmd := &cobra.Command{
		Use:   verb + " --manager MANAGER NODE...",
		Short: fmt.Sprintf("Make swarm nodes %ss", role),
		Args:  func(_ *cobra.Command, args []string) error { return nodeArgs(args) },
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return onNodes(ctx, f, verb+" nodes in", manager, true, args, "", func(mgr *libswarm.Member, members []libswarm.Member, report func(libswarm.Result)) []libswarm.Result {
				// One at a time: each role change moves the quorum.
				var results []libswarm.Result
				for _, m := range members {
					r, _ := libswarm.SetRole(ctx, *mgr, m, role)
					report(r)
					results = append(results, r)
				}
				return results
			})
		},
	}
	managerFlag(cmd, &manager, "A manager of the swarm (required)", true)
	return cmd
}

func newLeaveCmd(f *cmdutil.Factory) *cobra.Command {
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
			return onNodes(ctx, f, "leave", manager, false, args, "", func(mgr *libswarm.Member, members []libswarm.Member, report func(libswarm.Result)) []libswarm.Result {
				var results []libswarm.Result
				for _, m := range members {
					r, _ := libswarm.Leave(ctx, m, mgr, force)
					report(r)
					results = append(results, r)
				}
				return results
			})
		},
	}
	managerFlag(cmd, &manager, "Another manager of the swarm, to demote managers first and tidy the node list", false)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Leave even when the daemon warns that the swarm could lose its quorum")
	return cmd
}

func newLsCmd(f *cmdutil.Factory) *cobra.Command {
	var format string
	cmd := memberCmd(f, "ls [--format TEMPLATE|json] MANAGER", "List the nodes of a manager's swarm", nil,
		func(ctx context.Context, client *libmachine.Client, mgr libswarm.Member) error {
			nodes, err := libswarm.List(ctx, mgr, knownMachines(ctx, client, mgr.Name)...)
			if err != nil {
				return err
			}
			return writeNodes(f.IOStreams.Out, nodes, format)
		})
	cmd.Long = `List the nodes of a manager's swarm: NODE (the machine's name when the node is a known
machine, else its hostname), ID, ROLE, AVAILABILITY, STATUS and MANAGER STATUS.

--format json prints a JSON array; any other --format is a Go template over the fields
Name Machine Hostname ID Role Availability Status ManagerStatus Addr EngineVersion Self,
with a leading "table" for a table with headers, as in 'ls'.`
	cmd.Flags().StringVarP(&format, "format", "f", "", "Pretty-print nodes using a Go template, or json")
	return cmd
}

// knownMachines describes the store's other machines for naming nodes; a
// machine that cannot be loaded is simply not named.
func knownMachines(ctx context.Context, client *libmachine.Client, except string) []libswarm.Member {
	names, err := client.Store.List()
	if err != nil {
		return nil
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == except })
	hosts, _ := cmdutil.Loaded(cmdutil.LoadHosts(ctx, client, names))
	var out []libswarm.Member
	for _, h := range hosts {
		addr, err := client.SwarmAddress(ctx, h)
		if err != nil {
			addr = ""
		}
		out = append(out, libswarm.Member{Name: h.Name, AdvertiseAddr: addr})
	}
	return out
}

func writeNodes(w io.Writer, nodes []libswarm.NodeStatus, format string) error {
	if strings.EqualFold(strings.TrimSpace(format), "json") {
		if nodes == nil {
			nodes = []libswarm.NodeStatus{}
		}
		b, err := json.MarshalIndent(nodes, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return listformat.Write(w, format, lsDefaultFormat, lsHeaders, nodes)
}
