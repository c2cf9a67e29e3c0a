package instance

import (
	"context"
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
