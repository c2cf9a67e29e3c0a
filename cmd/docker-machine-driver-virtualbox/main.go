// Command docker-machine-driver-virtualbox is the virtualbox driver as a
// docker-machine plugin binary, for CLIs that run plugins for this name
// (ours, and any that look the driver up on PATH).
package main

import (
	"github.com/fleetdock/machine/drivers/virtualbox"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func main() {
	plugin.Serve(virtualbox.NewDriver("", ""))
}
