package store

import (
	"fmt"

	"github.com/fleetdock/machine/libmachine/host"
)

// NotExistError says the store has no machine of that name. The wording is
// docker-machine 0.16.2's, which scripts match on.
type NotExistError struct {
	Name string
}

func (e *NotExistError) Error() string {
	return fmt.Sprintf("Docker machine %q does not exist. Use \"docker-machine ls\" to list machines. Use \"docker-machine create\" to add a new one.", e.Name)
}

// ExistsError says a machine of that name is already in the store.
type ExistsError struct {
	Name string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("Docker machine %q already exists", e.Name)
}

// CorruptError says a machine's directory exists but its config.json is
// missing, empty or cannot be decoded. Only that machine is affected.
type CorruptError struct {
	Name string
	Path string // the config.json that is wrong
	Err  error  // what is wrong with it
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("machine %q cannot be loaded: its config file %s %v; the other machines are not affected; `docker-machine rm -f %s` removes it from the store", e.Name, e.Path, e.Err, e.Name)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// FutureVersionError says config.json was written by a newer client.
type FutureVersionError struct {
	Name    string
	Path    string
	Version int
}

func (e *FutureVersionError) Error() string {
	// The stock sentence is kept whole: tools and users search for it.
	return fmt.Sprintf("machine %q: config version is from the future -- you should upgrade your Docker Machine client (%s has version %d, this client reads versions up to %d)", e.Name, e.Path, e.Version, host.ConfigVersion)
}
