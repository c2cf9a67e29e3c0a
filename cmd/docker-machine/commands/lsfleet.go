package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/host"
)

// fleetAnswer is what one Statuses call said of a machine: its status, or
// that the call did not answer within --timeout. A machine without one
// (its driver has no FleetReporter, or the call failed) is asked alone.
type fleetAnswer struct {
	status   *capability.MachineStatus
	timedOut bool
	// start is when the call began, so the row's response time covers it.
	start time.Time
}

// fleetStatuses asks, for each driver name among hosts whose driver is a
// FleetReporter, that driver once about all machines of the name (with the
// configurations stored in their config.json), each call bounded by
// timeout. The calls of different drivers run at once.
//
// A call that fails as a whole (a plugin that died, say: API failures are
// each machine's own error in its answer) leaves its machines to be asked
// one by one, so the user sees the rows ls always showed; one that does
// not answer in time makes every one of its machines a Timeout, as a
// machine that does not answer in time is.
func fleetStatuses(ctx context.Context, log *slog.Logger, hosts []*host.Host, timeout time.Duration) []fleetAnswer {
	answers := make([]fleetAnswer, len(hosts))
	var names []string
	groups := map[string][]int{}
	for i, h := range hosts {
		if _, seen := groups[h.DriverName]; !seen {
			names = append(names, h.DriverName)
		}
		groups[h.DriverName] = append(groups[h.DriverName], i)
	}
	cmdutil.Parallel(len(names), 0, func(g int) {
		members := groups[names[g]]
		fr, ok := capability.Get[capability.FleetReporter](hosts[members[0]].Driver)
		if !ok {
			return
		}
		configs := make([][]byte, len(members))
		for j, i := range members {
			configs[j] = hosts[i].RawDriver
		}
		start := time.Now()
		statuses, err := askFleet(ctx, fr, configs, timeout)
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			for _, i := range members {
				answers[i] = fleetAnswer{timedOut: true, start: start}
			}
		case err != nil:
			log.Debug("Asking the driver about its machines at once failed; asking each machine", "driver", names[g], "err", err)
		case len(statuses) != len(members):
			log.Debug("The driver answered for another number of machines than asked; asking each machine", "driver", names[g], "asked", len(members), "answered", len(statuses))
		default:
			for j, i := range members {
				answers[i] = fleetAnswer{status: &statuses[j], start: start}
			}
		}
	})
	return answers
}

// askFleet calls Statuses, giving up when timeout passes even if the
// driver does not stop.
func askFleet(ctx context.Context, fr capability.FleetReporter, configs [][]byte, timeout time.Duration) ([]capability.MachineStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		st  []capability.MachineStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := fr.Statuses(ctx, configs)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
