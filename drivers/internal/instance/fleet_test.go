package instance

import (
	"errors"
	"testing"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"

	"github.com/fleetdock/machine/libmachine/capability"
)

func TestStatusOfAnAnsweredInstanceIsWhatGetStateSays(t *testing.T) {
	stored, asked := "", 0
	i := fake(&stored, vm{}, &asked)
	running := vm{status: "Running", ip: "203.0.113.5"}
	assert.Equal(t, capability.MachineStatus{State: state.Running, URL: "tcp://203.0.113.5:2376"}, i.Answered(&running, false, nil).Status(2376))
	assert.Equal(t, "203.0.113.5", stored, "the answer's addresses are recorded")

	stored = ""
	noIP := vm{status: "Running"}
	assert.Equal(t, capability.MachineStatus{State: state.Running}, i.Answered(&noIP, false, nil).Status(2376), "no address: GetURL words why")
	booting := vm{status: "Starting", ip: "203.0.113.6"}
	assert.Equal(t, capability.MachineStatus{State: state.Starting}, i.Answered(&booting, false, nil).Status(2376))
	assert.Equal(t, capability.MachineStatus{State: state.Error,
		Err: `instance i-1 of machine "m1": instance no longer exists; run 'docker-machine rm m1' to forget the machine`}, i.Answered(nil, true, nil).Status(2376))
	assert.Equal(t, capability.MachineStatus{State: state.Error, Err: `looking up instance i-1 of machine "m1": throttled`},
		i.Answered(nil, true, errors.New("throttled")).Status(2376))
	assert.Zero(t, asked, "an answered instance asks the cloud nothing")

	i.ID = ""
	assert.Equal(t, capability.MachineStatus{State: state.None, Err: `machine "m1" has no instance (was it created?)`}, i.Status(2376))
}

func TestChunks(t *testing.T) {
	assert.Nil(t, Chunks(nil, 2))
	assert.Equal(t, [][]string{{"a", "b"}, {"c"}}, Chunks([]string{"a", "b", "c"}, 2))
	assert.Equal(t, [][]string{{"a", "b"}}, Chunks([]string{"a", "b"}, 2))
}
