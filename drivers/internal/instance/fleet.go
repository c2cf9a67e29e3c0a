package instance

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
)

// Answered is i answering from a describe call made for many machines at
// once: found is i's instance in that answer (nil when it is absent), gone
// whether that means the instance no longer exists, and err the failure of
// the call. Its look-ups make no call of their own, so GetState and IP word
// their results exactly as they do after a describe of this one instance.
func (i Instance[T]) Answered(found *T, gone bool, err error) Instance[T] {
	i.Describe = func(context.Context) (*T, error) { return Found(i.Machine, i.ID, found, err, gone) }
	return i
}

// Status is what `ls` needs of i, told the way GetState tells it (same
// states, same errors), with the Docker URL on port when the instance runs
// and its address is known; a running instance without one leaves URL
// empty, for GetURL to word why.
func (i Instance[T]) Status(port int) capability.MachineStatus {
	// The look-ups of an answered instance make no call: the timeout
	// bounds nothing that waits.
	st, err := i.GetState(context.Background(), time.Minute)
	if err != nil {
		return capability.MachineStatus{State: st, Err: err.Error()}
	}
	ms := capability.MachineStatus{State: st}
	if st == state.Running {
		if ip := i.Stored(); ip != "" {
			ms.URL, _ = URL(ip, nil, port)
			i.Keep(ip)
		}
	}
	return ms
}

// Chunks splits ids into runs of at most n, the most one describe call
// takes.
func Chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

// Fleet is how a driver answers a FleetReporter call: Decode reads one
// machine's stored configuration; Account says which machines one describe
// can answer for together (false: the machine has no instance and Local
// tells its status without a call); Describe looks up an account's
// instances by ID with its first machine's settings, and Status tells one
// machine's status from that answer (its instance, nil when absent).
type Fleet[D any, K comparable, T any] struct {
	Driver   string // the driver's name, for the error of a damaged config
	Decode   func(raw []byte) (D, error)
	Account  func(D) (K, bool)
	ID       func(D) string
	Local    func(D) capability.MachineStatus
	Describe func(first D, ctx context.Context, ids []string) (map[string]*T, error) // a method expression: (*Driver).describeMany
	Status   func(m D, found *T, err error) capability.MachineStatus
}

// Statuses answers for configs: machines decoded and grouped by account,
// each account described once, the accounts at once.
func (f Fleet[D, K, T]) Statuses(ctx context.Context, configs [][]byte) []capability.MachineStatus {
	out := make([]capability.MachineStatus, len(configs))
	groups := map[K][]int{}
	machines := make([]D, len(configs))
	for i, raw := range configs {
		m, err := f.Decode(raw)
		if err != nil {
			out[i] = capability.MachineStatus{State: state.Error, Err: fmt.Sprintf("reading the %s driver configuration: %v; the machine's config.json may be damaged", f.Driver, err)}
			continue
		}
		machines[i] = m
		k, ok := f.Account(m)
		if !ok {
			out[i] = f.Local(m)
			continue
		}
		groups[k] = append(groups[k], i)
	}
	var wg sync.WaitGroup
	for _, members := range groups {
		wg.Go(func() {
			ids := make([]string, len(members))
			for j, i := range members {
				ids[j] = f.ID(machines[i])
			}
			found, err := f.Describe(machines[members[0]], ctx, ids)
			for _, i := range members {
				out[i] = f.Status(machines[i], found[f.ID(machines[i])], err)
			}
		})
	}
	wg.Wait()
	return out
}
