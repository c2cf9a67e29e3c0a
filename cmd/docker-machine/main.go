// Command docker-machine is a drop-in replacement for Docker Machine 0.16.2.
//
// This file is the composition root, the one place that names the built-in
// drivers. Below it:
//
//	commands/            the root command and the commands on machines
//	commands/cluster     cluster up, down and status from a cluster file
//	commands/swarm       swarm init, join, ls, promote, demote and leave
//	commands/slb         slb sync and ls through a driver's load balancing
//	cmdutil/             the Factory commands are built from, exit statuses,
//	                     choosing and loading machines, driver flags
//	iostreams/           the streams and what is known of the terminal
//	prompter/            the y/n question
//	internal/linelog     the "(machine) message" log handler
//	internal/listformat  the --format template and table writer
//	internal/clitest     what the commands' tests share
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
