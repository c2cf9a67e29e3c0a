package libmachine

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
)

// fakeDriver is a driver whose machine exists only in memory. Each step can
// be made to fail, and every call is recorded, so the lifecycle's reaction to
// a driver failing at any point can be checked without a cloud.
type fakeDriver struct {
	*drivers.BaseDriver
	// IP is the public address and URL the Docker URL the machine reports.
	IP, URL string
	// Private are further addresses the addresses capability reports; the
	// server certificate covers them all.
	Private []string `json:",omitempty"`
	// NoSSH makes it a machine without SSH, like the none driver's.
	NoSSH bool

	failPreCreate, failCreate, failRemove error
	// states are returned by GetState in turn, the last one for ever;
	// Running when empty.
	states []state.State

	mu    sync.Mutex
	calls []string
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{BaseDriver: &drivers.BaseDriver{}, IP: "127.0.0.1"}
}

func (d *fakeDriver) record(call string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, call)
}

// called reports whether call was made.
func (d *fakeDriver) called(call string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.calls, call)
}

func (d *fakeDriver) DriverName() string { return "fake" }

func (d *fakeDriver) GetCreateFlags() []mcnflag.Flag { return nil }

func (d *fakeDriver) SetConfigFromFlags(drivers.DriverOptions) error { return nil }

func (d *fakeDriver) PreCreateCheck() error {
	d.record("PreCreateCheck")
	return d.failPreCreate
}

func (d *fakeDriver) Create() error {
	d.record("Create")
	return d.failCreate
}

func (d *fakeDriver) GetSSHHostname() (string, error) {
	d.record("GetSSHHostname")
	return d.IP, nil
}

func (d *fakeDriver) GetIP() (string, error) { return d.IP, nil }

func (d *fakeDriver) Addresses(context.Context) (capability.Addresses, error) {
	return capability.Addresses{Public: []string{d.IP}, Private: d.Private}, nil
}

func (d *fakeDriver) HasNoSSH() bool { return d.NoSSH }

func (d *fakeDriver) GetURL() (string, error) {
	if d.URL == "" {
		return "", errors.New("the fake machine has no Docker URL")
	}
	return d.URL, nil
}

func (d *fakeDriver) GetState() (state.State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, "GetState")
	if len(d.states) == 0 {
		return state.Running, nil
	}
	st := d.states[0]
	if len(d.states) > 1 {
		d.states = d.states[1:]
	}
	return st, nil
}

func (d *fakeDriver) Start() error   { d.record("Start"); return nil }
func (d *fakeDriver) Stop() error    { d.record("Stop"); return nil }
func (d *fakeDriver) Restart() error { d.record("Restart"); return nil }
func (d *fakeDriver) Kill() error    { d.record("Kill"); return nil }

func (d *fakeDriver) Remove() error {
	d.record("Remove")
	return d.failRemove
}
