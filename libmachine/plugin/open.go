package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
)

// BinaryPrefix starts the file name of every driver plugin binary.
const BinaryPrefix = "docker-machine-driver-"

// Options tell Open which machine the driver is for and where plugins live.
type Options struct {
	// MachineName and StorePath bootstrap a new machine's driver when there
	// is no stored configuration yet.
	MachineName string
	StorePath   string
	// SearchDirs are tried after PATH; the CLI passes its own binary's directory.
	SearchDirs []string
	// Logger receives plugin output and protocol messages, and is handed to
	// a built-in driver that takes a logger (see the package doc); nil means
	// slog.Default().
	Logger *slog.Logger
}

// NotFoundError reports a driver that is neither built in nor installed.
type NotFoundError struct {
	DriverName string
	Binary     string
	Builtins   []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("Driver %q not found. Do you have the plugin binary %q accessible in your PATH?", e.DriverName, e.Binary)
	if len(e.Builtins) > 0 {
		msg += fmt.Sprintf(" (built-in drivers, which need no plugin binary: %s)", strings.Join(e.Builtins, ", "))
	}
	return msg
}

// Open returns a driver for driverName loaded with rawConfig, the driver's
// JSON from config.json. An empty rawConfig starts a new machine from
// opts.MachineName and opts.StorePath, as stock create does.
//
// Built-in drivers run in process; any other name runs the plugin binary
// docker-machine-driver-NAME found on PATH or in opts.SearchDirs.
func Open(ctx context.Context, driverName string, rawConfig []byte, opts Options) (Driver, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if len(rawConfig) == 0 {
		var err error
		rawConfig, err = json.Marshal(drivers.BaseDriver{MachineName: opts.MachineName, StorePath: opts.StorePath})
		if err != nil {
			return nil, fmt.Errorf("preparing the %s driver for machine %q: %w", driverName, opts.MachineName, err)
		}
	}

	if f, ok := builtin(driverName); ok {
		d := f()
		// Same decoding as the plugin server's SetConfigRaw, so a config
		// behaves identically in process and as a plugin.
		if err := json.Unmarshal(rawConfig, &d); err != nil {
			return nil, fmt.Errorf("reading the %s driver configuration of machine %q: %w; the machine's config.json may be damaged", driverName, opts.MachineName, err)
		}
		if l, ok := d.(loggerSetter); ok && opts.Logger != nil {
			l.SetLogger(opts.Logger)
		}
		return &local{Driver: d}, nil
	}

	binary, err := FindPlugin(driverName, opts.SearchDirs)
	if err != nil {
		return nil, err
	}
	c, err := launch(ctx, binary, driverName, logger, defaultTiming)
	if err != nil {
		return nil, err
	}
	if err := c.SetConfigRaw(rawConfig); err != nil {
		c.Close()
		return nil, fmt.Errorf("loading the configuration of machine %q into driver plugin %s: %w", opts.MachineName, binary, err)
	}
	if name := c.GetMachineName(); name != "" {
		c.setMachineName(name)
	} else if opts.MachineName != "" {
		c.setMachineName(opts.MachineName)
	}
	return c, nil
}

// FindPlugin returns the path of docker-machine-driver-NAME, looked up on
// PATH first and then in searchDirs.
func FindPlugin(driverName string, searchDirs []string) (string, error) {
	binary := BinaryPrefix + driverName
	notFound := &NotFoundError{DriverName: driverName, Binary: binary, Builtins: Builtins()}
	// A name with a separator would make LookPath treat it as a path.
	if driverName == "" || strings.ContainsAny(driverName, `/\`) {
		return "", notFound
	}
	if p, err := exec.LookPath(binary); err == nil {
		return p, nil
	}
	for _, dir := range searchDirs {
		if dir == "" {
			continue
		}
		candidate := filepath.Join(dir, binary)
		if runtime.GOOS == "windows" {
			candidate += ".exe"
		}
		if isExecutable(candidate) {
			return candidate, nil
		}
	}
	return "", notFound
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	if err != nil || info.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || info.Mode().Perm()&0o111 != 0
}

// loggerSetter is a built-in driver that logs through the logger it is
// given rather than slog's default one.
type loggerSetter interface {
	SetLogger(*slog.Logger)
}

// local is a built-in driver running in this process.
type local struct {
	drivers.Driver
}

func (l *local) Close() error { return nil }

// MarshalJSON stores the driver's own fields, exactly what a plugin's
// GetConfigRaw would return.
func (l *local) MarshalJSON() ([]byte, error) { return json.Marshal(l.Driver) }

// SetConfigRaw decodes like the plugin server's SetConfigRaw.
func (l *local) SetConfigRaw(data []byte) error { return l.UnmarshalJSON(data) }

// UnmarshalJSON mirrors the plugin server's SetConfigRaw.
func (l *local) UnmarshalJSON(data []byte) error {
	if l.Driver == nil {
		return errors.New("no driver to load the configuration into")
	}
	return json.Unmarshal(data, &l.Driver)
}

// assign stores d in the interface target points to when d implements it.
func assign(d drivers.Driver, target any) bool {
	v := reflect.ValueOf(target)
	if d == nil || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Interface {
		return false
	}
	dv := reflect.ValueOf(d)
	if !dv.Type().Implements(v.Elem().Type()) {
		return false
	}
	v.Elem().Set(dv)
	return true
}
