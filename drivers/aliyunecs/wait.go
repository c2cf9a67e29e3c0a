package aliyunecs

import (
	"context"
	"time"

	"github.com/fleetdock/machine/drivers/internal/wait"
)

// Polling tuning; variables so tests can shrink the waits.
var (
	pollInitial = 500 * time.Millisecond
	pollMax     = 5 * time.Second
)

// Deadlines of the waits. Instances usually boot in well under a minute;
// the margins cover a slow region without leaving a user staring at a hung
// command.
var (
	createTimeout   = 15 * time.Minute
	removeTimeout   = 10 * time.Minute
	instanceTimeout = 5 * time.Minute
	resourceTimeout = 2 * time.Minute
	actionTimeout   = 2 * time.Minute
)

// waitFor is wait.For at the driver's pace and with its logger.
func (a *api) waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	return wait.For(ctx, a.logger(), what, timeout, pollInitial, pollMax, check)
}
