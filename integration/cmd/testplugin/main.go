// Command testplugin is a test-world plugin binary: it serves the generic
// driver through the stock plugin.RegisterDriver. The tests of
// libmachine/plugin build it as docker-machine-driver-fleetgeneric (a name
// stock does not treat as a core driver) and drive it with both the stock
// client and ours. It lives under integration/ because it is never shipped
// and because libmachine must not import a driver.
//
// Two environment variables make it misbehave for tests of plugin deaths:
// TESTPLUGIN_EXIT_IN names driver calls (comma separated) in which the
// process exits with status 3 after a line on stderr, as a crashing plugin
// does; TESTPLUGIN_CALL_LOG names a file each call is appended to, with the
// process ID, so a test sees which process served what;
// TESTPLUGIN_DRIVER_NAME is the name it reports, so that a CLI with generic
// built in still stores (and so reloads) machines as this plugin's.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	stockplugin "github.com/docker/machine/libmachine/drivers/plugin"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/generic"
)

// misbehaving is the generic driver with the deaths and call log above.
type misbehaving struct {
	*generic.Driver
	exitIn []string
	log    string
	name   string
}

func (m *misbehaving) DriverName() string {
	if m.name != "" {
		return m.name
	}
	return m.Driver.DriverName()
}

func (m *misbehaving) call(name string) {
	if m.log != "" {
		if f, err := os.OpenFile(m.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintf(f, "%d %s\n", os.Getpid(), name)
			f.Close()
		}
	}
	if slices.Contains(m.exitIn, name) {
		fmt.Fprintf(os.Stderr, "testplugin: dying in %s as asked\n", name)
		os.Exit(3)
	}
}

func (m *misbehaving) Create() error { m.call("Create"); return m.Driver.Create() }
func (m *misbehaving) Remove() error { m.call("Remove"); return m.Driver.Remove() }
func (m *misbehaving) GetState() (state.State, error) {
	m.call("GetState")
	return m.Driver.GetState()
}

func main() {
	var d drivers.Driver = generic.NewDriver("", "")
	exitIn, log, name := os.Getenv("TESTPLUGIN_EXIT_IN"), os.Getenv("TESTPLUGIN_CALL_LOG"), os.Getenv("TESTPLUGIN_DRIVER_NAME")
	if exitIn != "" || log != "" || name != "" {
		d = &misbehaving{Driver: d.(*generic.Driver), exitIn: strings.Split(exitIn, ","), log: log, name: name}
	}
	stockplugin.RegisterDriver(d)
}
