package aliyunecs

import (
	"context"
	"slices"
	"strings"
)

// underway reports whether a start or stop that the service refused with
// IncorrectInstanceStatus has in fact what it asked for: the instance is in
// one of statuses (the transition asked for, or its end). That is how a
// retried call ends when the first attempt took effect but its answer was
// lost, and how a second stop of a stopping instance ends.
func (a *api) underway(ctx context.Context, id string, err error, statuses ...string) bool {
	if !strings.HasPrefix(errorCode(err), "IncorrectInstanceStatus") {
		return false
	}
	inst, ferr := a.findInstance(ctx, id)
	return ferr == nil && inst != nil && slices.Contains(statuses, inst.Status)
}
