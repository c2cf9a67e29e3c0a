// Command docker-machine is a drop-in replacement for Docker Machine 0.16.2.
package main

import (
	"os"

	"github.com/docker/machine/libmachine/drivers"

	"github.com/fleetdock/machine/cmd/docker-machine/commands"
	"github.com/fleetdock/machine/drivers/aliyunecs"
	"github.com/fleetdock/machine/drivers/amazonec2"
	"github.com/fleetdock/machine/drivers/generic"
	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func init() {
	plugin.RegisterBuiltin("none", func() drivers.Driver { return none.NewDriver("", "") })
	plugin.RegisterBuiltin("generic", func() drivers.Driver { return generic.NewDriver("", "") })
	plugin.RegisterBuiltin("aliyunecs", func() drivers.Driver { return aliyunecs.NewDriver("", "") })
	plugin.RegisterBuiltin("amazonec2", func() drivers.Driver { return amazonec2.NewDriver("", "") })
}

func main() {
	// Started as a driver plugin (the stock CLI re-executes itself this way
	// for core drivers): serve the built-in driver and never return.
	if os.Getenv("MACHINE_PLUGIN_TOKEN") != "" {
		if err := plugin.ServeBuiltin(os.Getenv("MACHINE_PLUGIN_DRIVER_NAME")); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
	}
	os.Exit(commands.Run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
