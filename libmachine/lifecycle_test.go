package libmachine

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// world is a client over a fresh store whose built-in driver "fake" makes
// machines backed by one fakeMachine.
type world struct {
	c *Client
	d *fakeDriver
	m *fakeMachine
}

func newWorld(t *testing.T, configure func(d *fakeDriver, m *fakeMachine)) *world {
	t.Helper()
	w := &world{c: New(t.TempDir(), nil, nil), d: newFakeDriver(), m: startFakeMachine(t)}
	w.d.URL = w.m.URL()
	if configure != nil {
		configure(w.d, w.m)
	}
	plugin.RegisterBuiltin("fake", func() drivers.Driver { return w.d })
	w.c.machines = w.m.access()
	t.Cleanup(func() { w.c.Close() })
	return w
}

func (w *world) create(t *testing.T) error {
	return w.c.CreateMachine(t.Context(), nil, NewCreateRequest("m1", "fake"))
}

// created creates m1, which must succeed, and loads it back.
func (w *world) created(t *testing.T) *host.Host {
	t.Helper()
	require.NoError(t, w.create(t))
	h, err := w.c.Load(t.Context(), "m1")
	require.NoError(t, err)
	return h
}

func shortStateTimeout(t *testing.T) {
	old := DefaultTimeouts
	DefaultTimeouts.State = time.Second
	t.Cleanup(func() { DefaultTimeouts = old })
}

// assertGone checks that a failed create left nothing in the store.
func assertGone(t *testing.T, c *Client, name string) {
	t.Helper()
	exists, err := c.Store.Exists(name)
	require.NoError(t, err)
	assert.False(t, exists, "the store entry of %s is gone", name)
	_, err = os.Stat(c.Store.MachineDir(name))
	assert.ErrorIs(t, err, os.ErrNotExist, "the machine directory is gone")
}

func TestCreateMakesAProvisionedMachine(t *testing.T) {
	w := newWorld(t, nil)

	h := w.created(t)
	assert.Equal(t, "fake", h.DriverName)
	assert.Equal(t, 1, w.m.provisioned())
	for _, call := range []string{"PreCreateCheck", "Create", "GetState"} {
		assert.True(t, w.d.called(call), "the driver was asked to %s", call)
	}
	assert.False(t, w.d.called("Remove"))
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem", "server.pem", "server-key.pem", "config.json"} {
		assert.FileExists(t, w.c.Store.MachineDir("m1")+"/"+f)
	}
}

func TestCreateWithoutSSHSkipsProvisioning(t *testing.T) {
	w := newWorld(t, func(d *fakeDriver, _ *fakeMachine) { d.NoSSH = true })

	w.created(t)
	assert.Equal(t, 0, w.m.provisioned())
}

func TestCreateFailingPreCreateCheckMakesNothing(t *testing.T) {
	w := newWorld(t, func(d *fakeDriver, _ *fakeMachine) { d.failPreCreate = errors.New("quota exceeded") })

	err := w.create(t)
	var pe *PreCreateError
	require.ErrorAs(t, err, &pe)
	assert.ErrorContains(t, err, "quota exceeded")
	assert.False(t, w.d.called("Create"), "no machine is made after a failed check")
	assert.False(t, w.d.called("Remove"), "there is nothing to remove")
	assertGone(t, w.c, "m1")
}

func TestCreateRollsBackAFailure(t *testing.T) {
	cases := []struct {
		name      string
		configure func(d *fakeDriver, m *fakeMachine)
		want      string
	}{
		{"driver create", func(d *fakeDriver, _ *fakeMachine) { d.failCreate = errors.New("instance type sold out") },
			"instance type sold out"},
		{"waiting for running", func(d *fakeDriver, _ *fakeMachine) { d.states = []state.State{state.Starting, state.Stopped} },
			"Error waiting for machine to be running"},
		{"reaching SSH", func(_ *fakeDriver, m *fakeMachine) { m.dialErr = errors.New("connection refused") },
			"connection refused"},
		{"provisioning", func(_ *fakeDriver, m *fakeMachine) { m.provisionErr = errors.New("apt-get install docker.io failed") },
			"apt-get install docker.io failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			shortStateTimeout(t)
			w := newWorld(t, tc.configure)

			err := w.create(t)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
			var le *LeftoverError
			assert.False(t, errors.As(err, &le), "the cleanup finished: %v", err)
			assert.True(t, w.d.called("Remove"), "the driver removed what it made")
			assertGone(t, w.c, "m1")
		})
	}
}

func TestCreateWhoseCleanupFailsKeepsTheEntryForRm(t *testing.T) {
	w := newWorld(t, func(d *fakeDriver, _ *fakeMachine) {
		d.failCreate = errors.New("instance type sold out")
		d.failRemove = errors.New("instance i-1 is locked")
	})

	err := w.create(t)
	var le *LeftoverError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, "m1", le.Name)
	assert.ErrorContains(t, le.Err, "instance type sold out")
	assert.ErrorContains(t, le.CleanupErr, "instance i-1 is locked")
	assert.ErrorContains(t, err, "docker-machine rm m1")
	assert.True(t, w.d.called("Remove"))

	exists, err := w.c.Store.Exists("m1")
	require.NoError(t, err)
	assert.True(t, exists, "the entry stays so that rm can finish the job")
	loaded, err := w.c.Load(t.Context(), "m1")
	require.NoError(t, err, "the kept entry loads")
	assert.Equal(t, "fake", loaded.DriverName)

	w.d.failRemove = nil
	_, err = w.c.Remove(t.Context(), "m1", false)
	require.NoError(t, err)
	assertGone(t, w.c, "m1")
}

func TestCheckDockerWithAFittingCertificate(t *testing.T) {
	w := newWorld(t, nil)
	h := w.created(t)

	url, err := w.c.CheckDocker(t.Context(), h, true)
	require.NoError(t, err)
	assert.Equal(t, w.m.URL(), url)
	assert.Equal(t, 1, w.m.provisioned(), "nothing to fix")
}

func TestCheckDockerWhenTheDaemonIsUnreachable(t *testing.T) {
	w := newWorld(t, nil)
	h := w.created(t)
	w.m.ln.Close()

	_, err := w.c.CheckDocker(t.Context(), h, true)
	require.Error(t, err)
	assert.ErrorContains(t, err, "cannot reach the Docker daemon at "+w.m.ln.Addr().String())
	assert.ErrorContains(t, err, "Check that the machine is running ('docker-machine status m1')")
	assert.Equal(t, 1, w.m.provisioned(), "a new certificate would not help")
}

func TestCheckDockerReissuesAStaleCertificate(t *testing.T) {
	cases := []struct {
		name string
		// change makes the machine's server certificate stale.
		change func(t *testing.T, w *world)
		// hosts are what the new certificate must cover.
		hosts []string
	}{
		{"new address", func(t *testing.T, w *world) { w.d.Private = []string{"10.0.0.9"} },
			[]string{"127.0.0.1", "10.0.0.9"}},
		{"new CA", func(t *testing.T, w *world) { require.NoError(t, w.c.RegenerateClientCerts(t.Context())) },
			[]string{"127.0.0.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, nil)
			h := w.created(t)
			tc.change(t, w)
			a := h.HostOptions.AuthOptions

			_, err := w.c.CheckDocker(t.Context(), h, false)
			require.Error(t, err, "without fix the stale certificate is reported")
			var stale *certs.StaleCertError
			assert.ErrorAs(t, err, &stale)
			assert.ErrorContains(t, err, "docker-machine regenerate-certs m1")
			assert.Equal(t, 1, w.m.provisioned(), "nothing was changed without fix")

			url, err := w.c.CheckDocker(t.Context(), h, true)
			require.NoError(t, err)
			assert.Equal(t, w.m.URL(), url)
			assert.Equal(t, 2, w.m.provisioned(), "the new certificate was installed")
			assert.NoError(t, certs.CheckServerCert(a.CaCertPath, a.ServerCertPath, tc.hosts, time.Now()))

			_, err = w.c.CheckDocker(t.Context(), h, false)
			assert.NoError(t, err, "the machine now passes the check as it is")
		})
	}
}

func TestCheckDockerCannotFixAMachineWithoutSSH(t *testing.T) {
	w := newWorld(t, nil)
	h := w.created(t)
	w.d.NoSSH = true
	w.d.Private = []string{"10.0.0.9"}

	_, err := w.c.CheckDocker(t.Context(), h, true)
	require.Error(t, err)
	assert.ErrorContains(t, err, "docker-machine regenerate-certs m1")
	assert.Equal(t, 1, w.m.provisioned())
}

// A rebooted host reports Running before its Docker listens: restart waits
// for the daemon instead of failing on the first refused connection.
func TestRestartWaitsForDockerToAnswer(t *testing.T) {
	w := newWorld(t, nil)
	h := w.created(t)
	w.m.mu.Lock()
	w.m.refuse = 3
	w.m.mu.Unlock()
	require.NoError(t, w.c.Restart(t.Context(), h))
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	assert.Zero(t, w.m.refuse, "the dropped connections were tried again until Docker answered")
}

// A daemon that never comes back ends the wait with what was awaited.
func TestRestartGivesUpOnADockerThatNeverAnswers(t *testing.T) {
	old := DockerBootTimeout
	DockerBootTimeout = time.Second
	t.Cleanup(func() { DockerBootTimeout = old })
	w := newWorld(t, nil)
	h := w.created(t)
	w.m.mu.Lock()
	w.m.refuseAll = true
	w.m.mu.Unlock()
	err := w.c.Restart(t.Context(), h)
	require.Error(t, err)
	assert.ErrorContains(t, err, `waiting for Docker on "m1" to answer`)
	assert.ErrorContains(t, err, "timed out")
}
