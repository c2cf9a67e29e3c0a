package amazonec2

import (
	"context"
	"time"

	"github.com/fleetdock/machine/drivers/internal/wait"
)

// Polling tuning; variables so tests can shrink the waits.
var (
	pollInitial = 1 * time.Second
	pollMax     = 10 * time.Second
)

// Deadlines. Instances usually run within a minute; the margins cover a
// slow region without leaving a user staring at a hung command.
var (
	createTimeout   = 20 * time.Minute
	removeTimeout   = 10 * time.Minute
	instanceTimeout = 10 * time.Minute
	resourceTimeout = 3 * time.Minute
	actionTimeout   = 3 * time.Minute
)

// waitFor is wait.For at the driver's pace and with its logger.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	return wait.For(ctx, logger(), what, timeout, pollInitial, pollMax, check)
}
