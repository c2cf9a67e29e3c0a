// Package plugin opens machine drivers: built-in ones in process, all others
// as docker-machine plugin binaries spoken to over the stock net/rpc protocol
// (API version 1), so any plugin written for docker-machine 0.16.2 or
// rancher-machine works, and our own binaries can serve our built-ins to
// those CLIs.
//
// Both kinds answer libmachine/capability's Get the same way: a built-in
// from the driver value, a plugin over the extra "Capabilities" RPC service
// that Serve registers (see capserver.go). A plugin call whose context ends
// stops the plugin by closing it; Usable tells the core to relaunch it.
//
// A built-in driver that has a method SetLogger(*slog.Logger) gets the
// Logger of Open's Options, so that in the CLI's process its lines go where
// the command's progress goes without touching slog's default logger. A
// driver without one, or opened without a Logger, logs through
// slog.Default(); so does a driver served as a plugin binary, whose output
// the CLI reads and logs itself.
package plugin

import (
	"slices"
	"sync"

	"github.com/docker/machine/libmachine/drivers"
)

// Driver is an opened driver. SetConfigRaw loads a stored (or a new
// machine's bare) configuration, exactly as the stock plugin server does.
// Close releases it: for a plugin it stops the plugin process; for a
// built-in it does nothing. Capabilities are asked for with capability.Get.
type Driver interface {
	drivers.Driver
	SetConfigRaw(data []byte) error
	Close() error
}

// Factory returns a fresh driver with empty configuration, like stock
// NewDriver("", "").
type Factory func() drivers.Driver

var registry = struct {
	sync.RWMutex
	factories map[string]Factory
}{factories: map[string]Factory{}}

// RegisterBuiltin makes name run in process. Registering a name again
// replaces the earlier factory.
func RegisterBuiltin(name string, f Factory) {
	if name == "" || f == nil {
		panic("plugin: RegisterBuiltin needs a name and a factory")
	}
	registry.Lock()
	defer registry.Unlock()
	registry.factories[name] = f
}

// Builtins returns the registered built-in driver names, sorted.
func Builtins() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.factories))
	for name := range registry.factories {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func builtin(name string) (Factory, bool) {
	registry.RLock()
	defer registry.RUnlock()
	f, ok := registry.factories[name]
	return f, ok
}
