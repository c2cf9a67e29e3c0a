package commands

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/plugin"
)

// brokenDriver fails Create on request, and Remove too, so the rollback of a
// failed create can be watched from the CLI. It logs through the logger the
// CLI hands it, as the built-in drivers do.
type brokenDriver struct {
	*drivers.BaseDriver
	FailCreate, FailRemove bool
	Removed                bool
	log                    *slog.Logger
}

func (d *brokenDriver) SetLogger(l *slog.Logger) { d.log = l }

func (d *brokenDriver) DriverName() string { return "broken" }
func (d *brokenDriver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mcnflag.BoolFlag{Name: "broken-fail-create"},
		mcnflag.BoolFlag{Name: "broken-fail-remove"},
	}
}
func (d *brokenDriver) SetConfigFromFlags(o drivers.DriverOptions) error {
	d.FailCreate, d.FailRemove = o.Bool("broken-fail-create"), o.Bool("broken-fail-remove")
	return nil
}
func (d *brokenDriver) GetSSHHostname() (string, error) { return "", errors.New("no SSH") }
func (d *brokenDriver) GetURL() (string, error)         { return "", nil }
func (d *brokenDriver) GetState() (state.State, error)  { return state.Running, nil }
func (d *brokenDriver) PreCreateCheck() error           { return nil }
func (d *brokenDriver) Create() error {
	if d.log == nil {
		return errors.New("no logger was handed to the driver")
	}
	d.log.Info("Creating instance", "machine", d.MachineName)
	d.log.Debug("create options", "machine", d.MachineName, "fail", d.FailCreate)
	if d.FailCreate {
		return errors.New("the cloud said no")
	}
	return nil
}
func (d *brokenDriver) Remove() error {
	if d.FailRemove {
		return errors.New("instance i-123 could not be deleted")
	}
	return nil
}
func (d *brokenDriver) Start() error   { return nil }
func (d *brokenDriver) Stop() error    { return nil }
func (d *brokenDriver) Restart() error { return nil }
func (d *brokenDriver) Kill() error    { return nil }

func init() {
	plugin.RegisterBuiltin("broken", func() drivers.Driver { return &brokenDriver{BaseDriver: &drivers.BaseDriver{}} })
}

func TestFailedCreateRollsBack(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "-d", "broken", "--broken-fail-create", "b1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the cloud said no")
	assert.Contains(t, r.stdout, `Creating "b1" failed; removing what was created...`)
	assert.Contains(t, r.stdout, "(b1) Creating instance\n", "the driver's lines join the command's progress")
	assert.NotContains(t, r.stdout+r.stderr, "create options", "debug lines only with --debug")
	_, err := os.Stat(filepath.Join(store, "machines", "b1"))
	assert.True(t, os.IsNotExist(err), "a create whose driver cleaned up leaves no machine")
}

func TestDriverDebugLinesGoToStderrWithDebug(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "-D", "create", "-d", "broken", "--broken-fail-create", "b3")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(b3) Creating instance\n")
	assert.Contains(t, r.stderr, "(b3) create options fail=true\n")
}

func TestFailedCreateWithLeftoversStaysForRm(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "-d", "broken", "--broken-fail-create", "--broken-fail-remove", "b2")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the cloud said no")
	assert.Contains(t, r.stderr, "instance i-123 could not be deleted")
	assert.Contains(t, r.stderr, "Run 'docker-machine rm b2' to remove them")
	require.FileExists(t, filepath.Join(store, "machines", "b2", "config.json"))

	r = cli(t, store, "", "ls", "-q")
	assert.Equal(t, "b2\n", r.stdout)
	r = cli(t, store, "", "rm", "-y", "b2")
	assert.Equal(t, 1, r.code, "the driver still cannot remove it")
	r = cli(t, store, "", "rm", "-f", "b2")
	assert.Equal(t, 1, r.code, "-f drops the entry, but the instance lives on: not a success")
	assert.Contains(t, r.stderr, `the entry of "b2" was removed, but its driver could not remove what it made: instance i-123 could not be deleted`)
	assert.NotContains(t, r.stdout, "Successfully removed")
	assert.NoDirExists(t, filepath.Join(store, "machines", "b2"))
}
