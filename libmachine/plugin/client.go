package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/rpc"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
)

// Client is a driver running in a plugin process. It speaks the stock
// protocol: importing rpcdriver registers the gob type names
// (*rpcdriver.RPCFlags, *mcnflag.StringFlag, ...) that stock servers expect.
type Client struct {
	driverName string
	binary     string
	logger     *slog.Logger
	timing     timing
	service    string // RPCServerDriver, or RpcServerDriver for old plugins
	rpc        *rpc.Client
	proc       *process

	machine atomic.Pointer[string]

	stopBeat chan struct{}
	beatDone chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	capsOnce sync.Once
	caps     []string // what the plugin's capability service offers

	flagsMu sync.Mutex
	flags   []mcnflag.Flag // the driver's create flags, once asked
}

var _ Driver = (*Client)(nil)

func (c *Client) setMachineName(name string) { c.machine.Store(&name) }

func (c *Client) machineName() string {
	if p := c.machine.Load(); p != nil {
		return *p
	}
	return ""
}

// logLine forwards plugin output like stock: stdout at info, stderr at debug.
func (c *Client) logLine(stream, line string) {
	msg := fmt.Sprintf("(%s) %s", c.machineName(), line)
	if stream == "stdout" {
		c.logger.Info(msg)
		return
	}
	c.logger.Debug(msg)
}

func (c *Client) call(method string, args, reply any) error {
	if c.closed.Load() {
		return fmt.Errorf("%s on machine %q: %w", method, c.machineName(), ErrClosed)
	}
	c.logger.Debug(fmt.Sprintf("(%s) Calling .%s", c.machineName(), method))
	return c.wrap(method, c.rpc.Call(c.service+"."+method, args, reply))
}

// wrap turns transport failures into errors that say what happened to the
// plugin; errors the driver itself returned pass through unchanged.
func (c *Client) wrap(method string, err error) error {
	if err == nil {
		return nil
	}
	var fromDriver rpc.ServerError
	if errors.As(err, &fromDriver) {
		return err
	}
	if c.closed.Load() {
		return fmt.Errorf("%s on machine %q: %w", method, c.machineName(), ErrClosed)
	}
	if c.proc != nil && c.proc.waitExit(c.timing.exitGrace) {
		return fmt.Errorf("%s on machine %q failed: %w", method, c.machineName(), c.proc.exitedError())
	}
	return fmt.Errorf("%s on machine %q: lost the connection to driver plugin %s: %w", method, c.machineName(), c.binary, err)
}

func (c *Client) callString(method string) (string, error) {
	var s string
	err := c.call(method, struct{}{}, &s)
	return s, err
}

// stringOrWarn is for interface methods that cannot return an error.
func (c *Client) stringOrWarn(method string) string {
	s, err := c.callString(method)
	if err != nil {
		c.logger.Warn("Driver plugin call failed", "machine", c.machineName(), "method", method, "err", err)
	}
	return s
}

// Close asks the plugin to exit, waits for it, and kills it if it does not
// go. The process is always reaped. Safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.stopBeat)
		// The plugin exits inside the Close call, usually before answering.
		call := c.rpc.Go(c.service+".Close", struct{}{}, nil, make(chan *rpc.Call, 1))
		if !c.proc.waitExit(c.timing.closeTimeout) {
			c.proc.kill()
			c.closeErr = fmt.Errorf("driver plugin %s (machine %q) did not exit within %s after Close and was killed", c.binary, c.machineName(), c.timing.closeTimeout)
		}
		c.rpc.Close()
		<-call.Done
		<-c.beatDone
	})
	return c.closeErr
}

// MarshalJSON returns the plugin's own JSON, so a host holding this driver
// stores what the plugin would store.
func (c *Client) MarshalJSON() ([]byte, error) { return c.GetConfigRaw() }

// UnmarshalJSON loads a stored configuration into the plugin.
func (c *Client) UnmarshalJSON(data []byte) error { return c.SetConfigRaw(data) }

// GetConfigRaw returns the driver's JSON as the plugin marshals it.
func (c *Client) GetConfigRaw() ([]byte, error) {
	var data []byte
	if err := c.call("GetConfigRaw", struct{}{}, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// SetConfigRaw loads the driver's JSON into the plugin; its log lines then
// name the machine the configuration is for.
func (c *Client) SetConfigRaw(data []byte) error {
	if err := c.call("SetConfigRaw", data, nil); err != nil {
		return err
	}
	var v struct{ MachineName string }
	if json.Unmarshal(data, &v) == nil && v.MachineName != "" {
		c.setMachineName(v.MachineName)
	}
	return nil
}

// GetCreateFlags returns the driver's flags as values (StringFlag, not
// *StringFlag), the same shape a built-in driver returns.
func (c *Client) GetCreateFlags() []mcnflag.Flag {
	// A driver's flags do not change while its process runs: asked once,
	// they also serve SetConfigFromFlags.
	c.flagsMu.Lock()
	defer c.flagsMu.Unlock()
	if c.flags != nil {
		return slices.Clone(c.flags)
	}
	var flags []mcnflag.Flag
	if err := c.call("GetCreateFlags", struct{}{}, &flags); err != nil {
		c.logger.Warn("Driver plugin call failed", "machine", c.machineName(), "method", "GetCreateFlags", "err", err)
		return nil
	}
	for i, f := range flags {
		switch v := f.(type) {
		case *mcnflag.StringFlag:
			flags[i] = *v
		case *mcnflag.IntFlag:
			flags[i] = *v
		case *mcnflag.BoolFlag:
			flags[i] = *v
		case *mcnflag.StringSliceFlag:
			flags[i] = *v
		}
	}
	c.flags = flags
	return slices.Clone(flags)
}

// SetConfigFromFlags sends the options as the stock RPCFlags map; other
// DriverOptions implementations are converted using the driver's flags and
// the shared create flags drivers read.
func (c *Client) SetConfigFromFlags(opts drivers.DriverOptions) error {
	var wire drivers.DriverOptions
	switch o := opts.(type) {
	case rpcdriver.RPCFlags:
		wire = o
	case *rpcdriver.RPCFlags:
		if o == nil {
			return fmt.Errorf("SetConfigFromFlags on machine %q: no options given", c.machineName())
		}
		wire = *o
	default:
		wire = c.toRPCFlags(opts)
	}
	return c.call("SetConfigFromFlags", &wire, nil)
}

// sharedFlags are create flags that are not the driver's own but that
// drivers read (swarm settings, install URL).
var sharedFlags = []mcnflag.Flag{
	mcnflag.StringFlag{Name: "driver"},
	mcnflag.StringFlag{Name: "engine-install-url"},
	mcnflag.StringFlag{Name: "engine-storage-driver"},
	mcnflag.StringSliceFlag{Name: "engine-opt"},
	mcnflag.StringSliceFlag{Name: "engine-insecure-registry"},
	mcnflag.StringSliceFlag{Name: "engine-registry-mirror"},
	mcnflag.StringSliceFlag{Name: "engine-label"},
	mcnflag.StringSliceFlag{Name: "engine-env"},
	mcnflag.BoolFlag{Name: "swarm"},
	mcnflag.StringFlag{Name: "swarm-image"},
	mcnflag.BoolFlag{Name: "swarm-master"},
	mcnflag.StringFlag{Name: "swarm-discovery"},
	mcnflag.StringFlag{Name: "swarm-strategy"},
	mcnflag.StringSliceFlag{Name: "swarm-opt"},
	mcnflag.StringSliceFlag{Name: "swarm-join-opt"},
	mcnflag.StringFlag{Name: "swarm-host"},
	mcnflag.StringFlag{Name: "swarm-addr"},
	mcnflag.BoolFlag{Name: "swarm-experimental"},
	mcnflag.StringSliceFlag{Name: "tls-san"},
}

func (c *Client) toRPCFlags(opts drivers.DriverOptions) rpcdriver.RPCFlags {
	values := map[string]any{}
	for _, f := range append(c.GetCreateFlags(), sharedFlags...) {
		name := f.String()
		switch f.(type) {
		case mcnflag.StringFlag:
			values[name] = opts.String(name)
		case mcnflag.IntFlag:
			values[name] = opts.Int(name)
		case mcnflag.BoolFlag:
			values[name] = opts.Bool(name)
		case mcnflag.StringSliceFlag:
			// gob cannot send a nil slice inside an interface; stock also
			// sends slices only when set.
			if v := opts.StringSlice(name); v != nil {
				values[name] = v
			}
		}
	}
	return rpcdriver.RPCFlags{Values: values}
}

// DriverName returns the plugin driver's name.
func (c *Client) DriverName() string { return c.stringOrWarn("DriverName") }

// GetMachineName returns the machine name the plugin holds.
func (c *Client) GetMachineName() string { return c.stringOrWarn("GetMachineName") }

// GetSSHKeyPath returns the SSH key path the plugin holds.
func (c *Client) GetSSHKeyPath() string { return c.stringOrWarn("GetSSHKeyPath") }

// GetSSHUsername returns the SSH user the plugin holds.
func (c *Client) GetSSHUsername() string { return c.stringOrWarn("GetSSHUsername") }

func (c *Client) GetIP() (string, error)          { return c.callString("GetIP") }
func (c *Client) GetSSHHostname() (string, error) { return c.callString("GetSSHHostname") }
func (c *Client) GetURL() (string, error)         { return c.callString("GetURL") }

func (c *Client) GetSSHPort() (int, error) {
	var port int
	if err := c.call("GetSSHPort", struct{}{}, &port); err != nil {
		return 0, err
	}
	return port, nil
}

func (c *Client) GetState() (state.State, error) {
	var s state.State
	if err := c.call("GetState", struct{}{}, &s); err != nil {
		return state.Error, err
	}
	return s, nil
}

func (c *Client) PreCreateCheck() error { return c.call("PreCreateCheck", struct{}{}, nil) }
func (c *Client) Create() error         { return c.call("Create", struct{}{}, nil) }
func (c *Client) Remove() error         { return c.call("Remove", struct{}{}, nil) }
func (c *Client) Start() error          { return c.call("Start", struct{}{}, nil) }
func (c *Client) Stop() error           { return c.call("Stop", struct{}{}, nil) }
func (c *Client) Restart() error        { return c.call("Restart", struct{}{}, nil) }
func (c *Client) Kill() error           { return c.call("Kill", struct{}{}, nil) }
