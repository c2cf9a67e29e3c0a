package plugin

import (
	"fmt"
	"os"
	"strings"

	"github.com/docker/machine/libmachine/drivers/plugin/localbinary"
)

// StartedAsPlugin reports whether this process was launched as a driver
// plugin (MACHINE_PLUGIN_TOKEN=42) and the driver name it was asked for.
func StartedAsPlugin() (driverName string, ok bool) {
	if os.Getenv(localbinary.PluginEnvKey) != localbinary.PluginEnvVal {
		return "", false
	}
	return os.Getenv(localbinary.PluginEnvDriverName), true
}

// ServeBuiltin serves the built-in driver name as a plugin, the way stock
// docker-machine re-executes itself for its core drivers. When this process
// was started as a plugin for that registered built-in it never returns;
// otherwise it returns an error saying why it cannot serve.
func ServeBuiltin(name string) error {
	requested, ok := StartedAsPlugin()
	if !ok {
		return fmt.Errorf("cannot serve driver %q: this process was not started as a driver plugin (%s is not %s)",
			name, localbinary.PluginEnvKey, localbinary.PluginEnvVal)
	}
	if requested != name {
		return fmt.Errorf("cannot serve driver %q: the plugin was started for driver %q (%s)",
			name, requested, localbinary.PluginEnvDriverName)
	}
	f, found := builtin(name)
	if !found {
		return fmt.Errorf("cannot serve driver %q: it is not built into this binary (built-in drivers: %s)",
			name, strings.Join(Builtins(), ", "))
	}
	// Serve runs the stock server and exits the process itself.
	Serve(f())
	return fmt.Errorf("driver plugin server for %q stopped unexpectedly", name)
}
