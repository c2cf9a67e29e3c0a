package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/cmd/docker-machine/internal/listformat"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
	"github.com/fleetdock/machine/libmachine/store"
)

const (
	lsDefaultTimeout = 10
	lsDefaultFormat  = "table {{ .Name }}\t{{ .Active }}\t{{ .DriverName}}\t{{ .State }}\t{{ .URL }}\t{{ .Swarm }}\t{{ .DockerVersion }}\t{{ .Error}}"
)

var lsHeaders = map[string]string{
	"Name":          "NAME",
	"Active":        "ACTIVE",
	"ActiveHost":    "ACTIVE_HOST",
	"ActiveSwarm":   "ACTIVE_SWARM",
	"DriverName":    "DRIVER",
	"State":         "STATE",
	"URL":           "URL",
	"SwarmOptions":  "SWARM_OPTIONS",
	"Swarm":         "SWARM",
	"EngineOptions": "ENGINE_OPTIONS",
	"Error":         "ERRORS",
	"DockerVersion": "DOCKER",
	"ResponseTime":  "RESPONSE",
}

// HostListItem is one row of `ls`; its fields are the template fields.
type HostListItem struct {
	Name          string
	Active        string
	ActiveHost    bool
	ActiveSwarm   bool
	DriverName    string
	State         ListState
	URL           string
	SwarmOptions  *hostopts.Swarm
	Swarm         string
	EngineOptions *hostopts.Engine
	Error         string
	DockerVersion string
	ResponseTime  time.Duration
}

// ListState is a driver's state.State, or Creating for a machine whose
// create holds its lock, which no driver reports.
type ListState state.State

// StateCreating is a machine a create is still making.
const StateCreating ListState = 1 << 10

func (s ListState) String() string {
	if s == StateCreating {
		return "Creating"
	}
	return state.State(s).String()
}

type lsFilters struct {
	swarm, driver, state, name, label []string
}

func parseFilters(in []string) (lsFilters, error) {
	var f lsFilters
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return f, errors.New("Unsupported filter syntax")
		}
		switch strings.ToLower(k) {
		case "swarm":
			f.swarm = append(f.swarm, v)
		case "driver":
			f.driver = append(f.driver, v)
		case "state":
			f.state = append(f.state, v)
		case "name":
			if _, err := regexp.Compile(v); err != nil {
				return f, fmt.Errorf("invalid name filter %q: %w", v, err)
			}
			f.name = append(f.name, v)
		case "label":
			f.label = append(f.label, v)
		default:
			return f, fmt.Errorf("Unsupported filter key '%s'", k)
		}
	}
	return f, nil
}

func newLsCmd(f *cmdutil.Factory) *cobra.Command {
	var (
		quiet   bool
		filters []string
		timeout int
		format  string
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List machines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if timeout < 1 {
				return fmt.Errorf("--timeout %d: give the seconds each machine may take to answer, 1 or more", timeout)
			}
			client := f.Client(f.IOStreams.ErrOut)
			defer client.Close()
			return listMachines(cmd.Context(), client, f.IOStreams.Out, filter, quiet, format, time.Duration(timeout)*time.Second)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&quiet, "quiet", "q", false, "Enable quiet mode")
	fl.StringArrayVar(&filters, "filter", nil, "Filter output based on conditions provided")
	fl.IntVarP(&timeout, "timeout", "t", lsDefaultTimeout, fmt.Sprintf("Timeout in seconds, default to %ds", lsDefaultTimeout))
	fl.StringVarP(&format, "format", "f", "", "Pretty-print machines using a Go template")
	return cmd
}

func listMachines(ctx context.Context, client *libmachine.Client, w io.Writer, f lsFilters, quiet bool, format string, timeout time.Duration) error {
	names, err := client.Store.List()
	if err != nil {
		return err
	}
	var ok []*host.Host
	var broken []cmdutil.LoadedHost
	// What the command holding an unreadable machine does, asked once: a
	// create or rm that held it at load time may end at any moment.
	holders := map[string]string{}
	for _, l := range cmdutil.LoadHosts(ctx, client, names) {
		if l.Err != nil && !errors.As(l.Err, new(*store.NotExistError)) {
			if op, held := client.Store.Holder(l.Name); held {
				holders[l.Name] = op
			} else {
				// Whoever made it unreadable has ended since: what it
				// left is the truth, unless a new command took it.
				l.Host, l.Err = client.Load(ctx, l.Name)
				if op, held := client.Store.Holder(l.Name); l.Err != nil && held {
					holders[l.Name] = op
				}
			}
		}
		if l.Err != nil {
			broken = append(broken, l)
		} else {
			ok = append(ok, l.Host)
		}
	}
	masters := swarmMasters(ok)
	var items []HostListItem
	if quiet && len(f.state) == 0 {
		// Names only: no machine needs to be asked anything.
		for _, h := range ok {
			items = append(items, HostListItem{Name: h.Name, DriverName: h.DriverName})
		}
	} else {
		// State is needed by the state filter and by every row; ask each driver once.
		items = hostItems(ctx, client, ok, masters, timeout)
	}
	var rows []HostListItem
	for i, h := range ok {
		// A machine a create or rm is working on reads as such, not as
		// whatever error its half-made state gives.
		switch op, _ := client.Store.Holder(h.Name); op {
		case store.OpRemove:
			continue
		case store.OpCreate:
			if showsCreating(f) {
				rows = append(rows, HostListItem{Name: h.Name, DriverName: h.DriverName, State: StateCreating})
			}
			continue
		}
		if matchesFilters(h, items[i], f, masters) {
			rows = append(rows, items[i])
		}
	}
	for _, b := range broken {
		op := holders[b.Name]
		switch {
		case errors.As(b.Err, new(*store.NotExistError)), op == store.OpRemove:
			// Removed between listing and loading, or being removed: gone.
		case op == store.OpCreate:
			// A create is making it: not an error, and nothing to remove.
			if showsCreating(f) {
				rows = append(rows, HostListItem{Name: b.Name, DriverName: "-", State: StateCreating})
			}
		case noFilters(f):
			rows = append(rows, HostListItem{
				Name:       b.Name,
				DriverName: "not found",
				State:      ListState(state.Error),
				Error:      strings.ReplaceAll(b.Err.Error(), "\n", " "),
			})
		}
	}
	sortItems(rows)

	if quiet {
		for _, r := range rows {
			fmt.Fprintln(w, r.Name)
		}
		return nil
	}
	return listformat.Write(w, format, lsDefaultFormat, lsHeaders, rows)
}

// showsCreating: a machine still being created has only a name and a
// state, so only a state filter can select it.
func showsCreating(f lsFilters) bool {
	if len(f.swarm)+len(f.driver)+len(f.name)+len(f.label) > 0 {
		return false
	}
	return len(f.state) == 0 || slices.ContainsFunc(f.state, func(v string) bool { return strings.EqualFold(v, StateCreating.String()) })
}

func noFilters(f lsFilters) bool {
	return len(f.swarm)+len(f.driver)+len(f.state)+len(f.name)+len(f.label) == 0
}

func swarmMasters(hosts []*host.Host) map[string]string {
	m := map[string]string{}
	for _, h := range hosts {
		if h.HostOptions != nil && h.HostOptions.SwarmOptions != nil && h.HostOptions.SwarmOptions.Master {
			m[h.HostOptions.SwarmOptions.Discovery] = h.Name
		}
	}
	return m
}

func matchesFilters(h *host.Host, item HostListItem, f lsFilters, masters map[string]string) bool {
	anyOf := func(vals []string, match func(string) bool) bool {
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if match(v) {
				return true
			}
		}
		return false
	}
	so := h.HostOptions.SwarmOptions
	labels := map[string]string{}
	if h.HostOptions.EngineOptions != nil {
		for _, l := range h.HostOptions.EngineOptions.Labels {
			k, v, _ := strings.Cut(l, "=")
			labels[k] = v
		}
	}
	return anyOf(f.swarm, func(v string) bool {
		return so != nil && strings.EqualFold(v, masters[so.Discovery])
	}) && anyOf(f.driver, func(v string) bool {
		return strings.EqualFold(v, h.DriverName)
	}) && anyOf(f.state, func(v string) bool {
		return strings.EqualFold(v, item.State.String())
	}) && anyOf(f.name, func(v string) bool {
		return regexp.MustCompile(v).MatchString(h.Name)
	}) && anyOf(f.label, func(v string) bool {
		k, val, _ := strings.Cut(v, "=")
		got, ok := labels[k]
		return ok && strings.EqualFold(got, val)
	})
}

// hostItems queries every host in parallel, each bounded by timeout; a host
// that does not answer in time shows as Timeout. Drivers that answer for
// many machines at once are asked once for all of theirs first (see
// fleetStatuses); then each machine's URL and Docker check, bounded by
// timeout, run in parallel.
func hostItems(ctx context.Context, client *libmachine.Client, hosts []*host.Host, masters map[string]string, timeout time.Duration) []HostListItem {
	items := make([]HostListItem, len(hosts))
	fleet := fleetStatuses(ctx, client.Log, hosts, timeout)
	cmdutil.Parallel(len(hosts), 0, func(i int) {
		h := hosts[i]
		if fleet[i].timedOut {
			items[i] = HostListItem{Name: h.Name, DriverName: h.DriverName, State: ListState(state.Timeout), ResponseTime: timeout}
			return
		}
		done := make(chan HostListItem, 1)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		go func() { done <- hostItem(hctx, client, h, masters, fleet[i]) }()
		select {
		case it := <-done:
			items[i] = it
		case <-hctx.Done():
			items[i] = HostListItem{Name: h.Name, DriverName: h.DriverName, State: ListState(state.Timeout), ResponseTime: timeout}
		}
	})
	return items
}

// hostItem is the row of h: from its driver's fleet answer when there is
// one, else from the driver's GetState and GetURL.
func hostItem(ctx context.Context, client *libmachine.Client, h *host.Host, masters map[string]string, fleet fleetAnswer) HostListItem {
	start := time.Now()
	item := HostListItem{Name: h.Name, DriverName: h.DriverName, State: ListState(state.None), DockerVersion: "Unknown"}
	if h.HostOptions != nil {
		item.SwarmOptions = h.HostOptions.SwarmOptions
		item.EngineOptions = h.HostOptions.EngineOptions
	}
	var st state.State
	var err error
	if fs := fleet.status; fs != nil {
		start = fleet.start
		st = fs.State
		if fs.Err != "" {
			err = errors.New(fs.Err)
		}
	} else {
		st, err = h.Driver.GetState()
	}
	item.State = ListState(st)
	if err == nil && st == state.Running {
		if fleet.status != nil && fleet.status.URL != "" {
			item.URL = fleet.status.URL
		} else {
			item.URL, err = h.Driver.GetURL()
		}
		if err == nil && item.URL != "" {
			var v string
			if v, err = client.DockerVersionAt(ctx, h, item.URL); err == nil {
				item.DockerVersion = "v" + v
			}
		}
	}
	if err != nil && err.Error() != drivers.ErrHostIsNotRunning.Error() {
		item.Error = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	item.ActiveHost = st == state.Running && item.URL != "" && item.URL == os.Getenv("DOCKER_HOST")
	if so := item.SwarmOptions; so != nil && so.Discovery != "" {
		item.Swarm = masters[so.Discovery]
		if so.Master {
			item.Swarm += " (master)"
			item.ActiveSwarm = st == state.Running && swarmURL(item.URL, so.Host) == os.Getenv("DOCKER_HOST")
		}
	}
	item.Active = "-"
	if item.ActiveHost {
		item.Active = "*"
	}
	if item.ActiveSwarm {
		item.Active = "* (swarm)"
	}
	item.ResponseTime = time.Since(start).Round(time.Millisecond)
	return item
}

// swarmURL is the machine URL with the swarm master's port.
func swarmURL(machineURL, swarmHost string) string {
	i := strings.LastIndex(machineURL, ":")
	j := strings.LastIndex(swarmHost, ":")
	if i < 0 || j < 0 {
		return ""
	}
	return machineURL[:i] + swarmHost[j:]
}

// sortItems orders rows by name, comparing digit runs as numbers
// (node-2 before node-10), case-insensitively.
func sortItems(items []HostListItem) {
	slices.SortStableFunc(items, func(a, b HostListItem) int {
		x, y := strings.ToLower(a.Name), strings.ToLower(b.Name)
		switch {
		case naturalLess(x, y):
			return -1
		case naturalLess(y, x):
			return 1
		}
		return 0
	})
}

func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := splitDigits(a)
			nb, rb := splitDigits(b)
			ta, tb := strings.TrimLeft(na, "0"), strings.TrimLeft(nb, "0")
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func splitDigits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
