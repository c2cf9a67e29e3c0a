// Command testplugin serves the generic driver through the stock
// plugin.RegisterDriver. The plugin tests build it as
// docker-machine-driver-fleetgeneric (a name stock does not treat as a core
// driver) and drive it with both the stock client and ours.
package main

import (
	stockplugin "github.com/docker/machine/libmachine/drivers/plugin"

	"github.com/fleetdock/machine/drivers/generic"
)

func main() {
	stockplugin.RegisterDriver(generic.NewDriver("", ""))
}
