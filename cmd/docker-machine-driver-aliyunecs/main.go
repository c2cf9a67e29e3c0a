// Command docker-machine-driver-aliyunecs is the aliyunecs driver as a
// docker-machine plugin binary. It speaks the stock plugin protocol, so
// docker-machine 0.16.2, rancher-machine and GitLab's fork can run it from
// PATH as well as our own CLI.
package main

import (
	"github.com/fleetdock/machine/drivers/aliyunecs"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func main() {
	plugin.Serve(aliyunecs.NewDriver("", ""))
}
