package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// fleetDriver is a none driver that also answers for many machines at
// once, and counts how it is asked.
type fleetDriver struct{ *none.Driver }

var fleet struct {
	sync.Mutex
	mode      string // "", "fail" or "hang"
	calls     int
	configs   int
	getStates atomic.Int64
}

func (d *fleetDriver) DriverName() string { return "fleetfake" }

func (d *fleetDriver) GetState() (state.State, error) {
	fleet.getStates.Add(1)
	return d.Driver.GetState()
}

// Statuses answers by machine name: *-stopped is stopped, *-gone is an
// error, any other runs at its URL.
func (d *fleetDriver) Statuses(ctx context.Context, configs [][]byte) ([]capability.MachineStatus, error) {
	fleet.Lock()
	fleet.calls++
	fleet.configs += len(configs)
	mode := fleet.mode
	fleet.Unlock()
	switch mode {
	case "fail":
		return nil, errors.New("driver plugin exited")
	case "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out := make([]capability.MachineStatus, len(configs))
	for i, raw := range configs {
		m := none.NewDriver("", "")
		if err := json.Unmarshal(raw, m); err != nil {
			return nil, err
		}
		switch {
		case strings.HasSuffix(m.MachineName, "-stopped"):
			out[i] = capability.MachineStatus{State: state.Stopped}
		case strings.HasSuffix(m.MachineName, "-gone"):
			out[i] = capability.MachineStatus{State: state.Error, Err: "instance i-1 of machine \"" + m.MachineName + "\": instance no longer exists"}
		default:
			out[i] = capability.MachineStatus{State: state.Running, URL: m.URL}
		}
	}
	return out, nil
}

func init() {
	plugin.RegisterBuiltin("fleetfake", func() drivers.Driver { return &fleetDriver{none.NewDriver("", "")} })
}

func resetFleet(t *testing.T, mode string) {
	t.Helper()
	fleet.Lock()
	fleet.mode, fleet.calls, fleet.configs = mode, 0, 0
	fleet.Unlock()
	fleet.getStates.Store(0)
}

func createFleet(t *testing.T, store, url string, names ...string) {
	t.Helper()
	for _, n := range names {
		r := cli(t, store, "", "create", "-d", "fleetfake", "--url", url, n)
		require.Equal(t, 0, r.code, "create %s: %s %s", n, r.stdout, r.stderr)
	}
}

func TestLsAsksAFleetDriverOnceForAllItsMachines(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "plain", "tcp://127.0.0.1:1") // makes the store's CA
	url := fakeEngine(t, store)
	createFleet(t, store, url, "f-1", "f-2", "f-stopped", "f-gone")
	resetFleet(t, "")

	r := cli(t, store, "", "ls", "--format", "{{.Name}}|{{.DriverName}}|{{.State}}|{{.URL}}|{{.DockerVersion}}|{{.Error}}")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 5, r.stdout)
	assert.Equal(t, "f-1|fleetfake|Running|"+url+"|v20.10.24|", lines[0])
	assert.Equal(t, "f-2|fleetfake|Running|"+url+"|v20.10.24|", lines[1])
	assert.Equal(t, `f-gone|fleetfake|Error||Unknown|instance i-1 of machine "f-gone": instance no longer exists`, lines[2])
	assert.Equal(t, "f-stopped|fleetfake|Stopped||Unknown|", lines[3])
	assert.Regexp(t, `^plain\|none\|Running\|tcp://127\.0\.0\.1:1\|Unknown\|.*refused`, lines[4], "a driver without the capability is asked per machine")

	fleet.Lock()
	defer fleet.Unlock()
	assert.Equal(t, 1, fleet.calls, "one Statuses call for the driver")
	assert.Equal(t, 4, fleet.configs, "with every machine of the driver")
	assert.Zero(t, fleet.getStates.Load(), "no machine of the driver asked alone")
}

// A failed Statuses call leaves each machine to its own GetState: the rows
// are those ls always showed.
func TestLsAsksEachMachineWhenTheFleetCallFails(t *testing.T) {
	store := newStore(t)
	createFleet(t, store, "tcp://127.0.0.1:1", "f-0") // makes the store's CA
	url := fakeEngine(t, store)
	createFleet(t, store, url, "f-1", "f-stopped")
	resetFleet(t, "fail")

	r := cli(t, store, "", "ls", "--format", "{{.Name}}|{{.State}}|{{.DockerVersion}}|{{.Error}}")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `^f-0\|Running\|Unknown\|.*refused`, lines[0])
	assert.Equal(t, "f-1|Running|v20.10.24|", lines[1])
	assert.Equal(t, "f-stopped|Running|v20.10.24|", lines[2], "the none driver's own GetState answers")
	assert.EqualValues(t, 3, fleet.getStates.Load())
}

// A Statuses call that does not answer within --timeout makes its
// machines Timeout, as a machine that does not answer is.
func TestLsShowsTimeoutWhenTheFleetCallHangs(t *testing.T) {
	store := newStore(t)
	createFleet(t, store, "tcp://127.0.0.1:1", "f-1", "f-2")
	resetFleet(t, "hang")

	r := cli(t, store, "", "ls", "-t", "1", "--format", "{{.Name}}|{{.State}}")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "f-1|Timeout\nf-2|Timeout\n", r.stdout)
	assert.Zero(t, fleet.getStates.Load())
}
