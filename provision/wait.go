package provision

import (
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// waitOptions shape every wait of a run: checks start after
// Timeouts.PollInitial and back off, doubling, to Timeouts.PollMax.
func (s *session) waitOptions(what string, timeout time.Duration) poll.Options {
	return poll.Options{What: what, Timeout: timeout, Initial: s.t.PollInitial, Max: s.t.PollMax, Factor: 2, Jitter: 0.2}
}
