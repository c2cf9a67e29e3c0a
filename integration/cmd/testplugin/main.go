// Command testplugin is a test-world plugin binary: it serves the generic
// driver through the stock plugin.RegisterDriver. The tests of
// libmachine/plugin build it as docker-machine-driver-fleetgeneric (a name
// stock does not treat as a core driver) and drive it with both the stock
// client and ours. It lives under integration/ because it is never shipped
// and because libmachine must not import a driver.
package main

import (
	stockplugin "github.com/docker/machine/libmachine/drivers/plugin"

	"github.com/fleetdock/machine/drivers/generic"
)

func main() {
	stockplugin.RegisterDriver(generic.NewDriver("", ""))
}
