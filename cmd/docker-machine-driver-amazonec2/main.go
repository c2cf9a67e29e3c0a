// Command docker-machine-driver-amazonec2 is the amazonec2 driver as a
// docker-machine plugin binary, speaking the stock plugin protocol (the
// client packages localbinary and rpcdriver of docker/machine v0.16.2 drive
// it). Stock docker-machine and rancher-machine re-execute themselves for
// the core name amazonec2 and never run a plugin of that name; this binary
// serves our CLI and any client that launches driver plugins from PATH.
package main

import (
	"github.com/fleetdock/machine/drivers/amazonec2"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func main() {
	plugin.Serve(amazonec2.NewDriver("", ""))
}
