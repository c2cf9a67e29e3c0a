package libmachine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
	"github.com/fleetdock/machine/libmachine/plugin"
	"github.com/fleetdock/machine/libmachine/store"
)

// CreateRequest is one machine to create, typed: the CLI maps create's
// command line to it and `cluster up` maps its file to it, and both hand it
// to Client.Create. NewCreateRequest fills in the defaults, including the
// ones stock reads from the environment.
type CreateRequest struct {
	Name   string
	Driver string
	// DriverOptions are the driver's flags by name, with every flag the
	// driver declares present (see DriverOptionsFrom).
	DriverOptions DriverOptions
	Engine        hostopts.Engine
	Swarm         hostopts.Swarm
	TLSSANs       []string
}

// Environment variables that set create defaults, as stock reads them.
const (
	EnvDriver         = "MACHINE_DRIVER"
	EnvInstallURL     = "MACHINE_DOCKER_INSTALL_URL"
	EnvRegistryMirror = "ENGINE_REGISTRY_MIRROR"
	EnvSwarmImage     = "MACHINE_SWARM_IMAGE"
)

// NewCreateRequest returns a request with stock's defaults: the install
// URL, registry mirrors and swarm image from their environment variables,
// TLS on, and empty lists written as [] like stock writes them.
func NewCreateRequest(name, driverName string) CreateRequest {
	return CreateRequest{
		Name:   name,
		Driver: driverName,
		Engine: hostopts.Engine{
			ArbitraryFlags:   []string{},
			Env:              []string{},
			InsecureRegistry: []string{},
			Labels:           []string{},
			RegistryMirror:   nonNil(EnvList(EnvRegistryMirror)),
			TLSVerify:        true,
			InstallURL:       strings.TrimSpace(envOr(EnvInstallURL, drivers.DefaultEngineInstallURL)),
		},
		Swarm: hostopts.Swarm{
			Host:               "tcp://0.0.0.0:3376",
			Image:              envOr(EnvSwarmImage, "swarm:latest"),
			Strategy:           "spread",
			ArbitraryFlags:     []string{},
			ArbitraryJoinFlags: []string{},
		},
		TLSSANs: []string{},
	}
}

// Validate checks what can be checked before any driver is asked.
func (r *CreateRequest) Validate() error {
	if err := hostopts.ValidateName(r.Name); err != nil {
		return fmt.Errorf("Error creating machine: %w", err)
	}
	if d := r.Swarm.Discovery; d != "" {
		if u, err := url.Parse(d); err != nil || u.Scheme == "" {
			return fmt.Errorf("Error parsing swarm discovery: Swarm Discovery URL was in the wrong format: %s", d)
		}
	}
	return nil
}

// driverValues are the options handed to the driver: its own flags plus
// the shared create settings stock passes on (swarm-master, ...).
func (r *CreateRequest) driverValues() DriverOptions {
	v := DriverOptions{}
	for k, val := range r.DriverOptions {
		v[k] = val
	}
	s := r.Swarm
	for k, b := range map[string]bool{"swarm": s.Agent, "swarm-master": s.Master, "swarm-experimental": s.IsExperimental} {
		v[k] = b
	}
	for k, str := range map[string]string{
		"swarm-host": s.Host, "swarm-discovery": s.Discovery, "swarm-image": s.Image, "swarm-strategy": s.Strategy,
		"swarm-addr": s.Address, "engine-install-url": r.Engine.InstallURL, "engine-storage-driver": r.Engine.StorageDriver,
		"driver": r.Driver,
	} {
		if _, set := v[k]; !set {
			v[k] = str
		}
	}
	return v
}

// OpenDriver opens a fresh driver of driverName that belongs to no machine
// yet. Asked for its create flags, the same driver then serves the create:
// a plugin is launched once per create.
func (c *Client) OpenDriver(ctx context.Context, driverName string) (plugin.Driver, error) {
	return c.openDriver(ctx, driverName, "", nil)
}

// NewHost prepares the unsaved machine a request describes, with d (from
// OpenDriver; nil opens one) bound to it and configured from the request's
// driver options.
func (c *Client) NewHost(ctx context.Context, d plugin.Driver, req CreateRequest) (*host.Host, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if exists, err := c.Store.Exists(req.Name); err != nil {
		return nil, fmt.Errorf("Error checking if host exists: %w", err)
	} else if exists {
		return nil, &store.ExistsError{Name: req.Name}
	}
	if d == nil {
		var err error
		if d, err = c.OpenDriver(ctx, req.Driver); err != nil {
			return nil, err
		}
	}
	bare, err := json.Marshal(drivers.BaseDriver{MachineName: req.Name, StorePath: c.Store.Path})
	if err != nil {
		return nil, err
	}
	if err := d.SetConfigRaw(bare); err != nil {
		return nil, fmt.Errorf("preparing the %s driver for machine %q: %w", req.Driver, req.Name, err)
	}
	if err := d.SetConfigFromFlags(req.driverValues()); err != nil {
		return nil, fmt.Errorf("Error setting machine configuration from flags provided: %w", err)
	}
	machineDir := c.Store.MachineDir(req.Name)
	engine, swarm := req.Engine, req.Swarm
	swarm.IsSwarm = swarm.Agent || swarm.Master
	return &host.Host{
		ConfigVersion: host.ConfigVersion,
		Name:          req.Name,
		Driver:        d,
		DriverName:    d.DriverName(),
		HostOptions: &host.Options{
			AuthOptions: &hostopts.Auth{
				CertDir:          c.Store.CertsDir(),
				CaCertPath:       c.Certs.CACert,
				CaPrivateKeyPath: c.Certs.CAKey,
				ClientCertPath:   c.Certs.ClientCert,
				ClientKeyPath:    c.Certs.ClientKey,
				ServerCertPath:   filepath.Join(machineDir, "server.pem"),
				ServerKeyPath:    filepath.Join(machineDir, "server-key.pem"),
				StorePath:        machineDir,
				ServerCertSANs:   nonNil(req.TLSSANs),
			},
			EngineOptions: &engine,
			SwarmOptions:  &swarm,
		},
	}, nil
}

// CreateMachine prepares the machine a request describes and creates it.
func (c *Client) CreateMachine(ctx context.Context, d plugin.Driver, req CreateRequest) error {
	h, err := c.NewHost(ctx, d, req)
	if err != nil {
		return err
	}
	return c.Create(ctx, h)
}

// DriverFor opens a driver of driverName configured from options but bound
// to no machine: a client of the driver's cloud with its settings, for
// capabilities such as load balancing.
func (c *Client) DriverFor(ctx context.Context, driverName string, set map[string][]string) (plugin.Driver, error) {
	d, err := c.OpenDriver(ctx, driverName)
	if err != nil {
		return nil, err
	}
	opts, err := DriverOptionsFrom(d.GetCreateFlags(), set)
	if err != nil {
		return nil, err
	}
	opts["driver"] = driverName
	if err := d.SetConfigFromFlags(opts); err != nil {
		return nil, fmt.Errorf("configuring the %s driver: %w", driverName, err)
	}
	return d, nil
}

// DriverOptions are a driver's create options by flag name (without --),
// each of its flag's type: string, int, bool or []string. They implement
// drivers.DriverOptions.
type DriverOptions map[string]any

var _ drivers.DriverOptions = DriverOptions(nil)

func (v DriverOptions) String(k string) string {
	s, _ := v[k].(string)
	return s
}

func (v DriverOptions) StringSlice(k string) []string {
	s, _ := v[k].([]string)
	return s
}

func (v DriverOptions) Int(k string) int {
	i, _ := v[k].(int)
	return i
}

func (v DriverOptions) Bool(k string) bool {
	b, _ := v[k].(bool)
	return b
}

// FlagDefault is the value a driver flag has when it is not given: its
// environment variable when set, else its default, as stock computes it.
func FlagDefault(f mcnflag.Flag) (any, error) {
	switch fl := f.(type) {
	case mcnflag.StringFlag:
		return envOr(fl.EnvVar, fl.Value), nil
	case *mcnflag.StringFlag:
		return envOr(fl.EnvVar, fl.Value), nil
	case mcnflag.IntFlag:
		return envInt(fl.EnvVar, fl.Value), nil
	case *mcnflag.IntFlag:
		return envInt(fl.EnvVar, fl.Value), nil
	case mcnflag.BoolFlag:
		return EnvBool(fl.EnvVar), nil
	case *mcnflag.BoolFlag:
		return EnvBool(fl.EnvVar), nil
	case mcnflag.StringSliceFlag:
		return envListOr(fl.EnvVar, fl.Value), nil
	case *mcnflag.StringSliceFlag:
		return envListOr(fl.EnvVar, fl.Value), nil
	}
	return nil, fmt.Errorf("driver flag %q has an unsupported type %T", f.String(), f)
}

// DriverOptionsFrom gives every flag of a driver its default, then the
// values in set (flag name without -- to its values as a command line
// would give them: a list flag repeats, others take their last value).
// A name the driver does not declare is an error naming the flags it has.
func DriverOptionsFrom(flags []mcnflag.Flag, set map[string][]string) (DriverOptions, error) {
	opts := DriverOptions{}
	byName := map[string]mcnflag.Flag{}
	for _, f := range flags {
		v, err := FlagDefault(f)
		if err != nil {
			return nil, err
		}
		opts[f.String()] = v
		byName[f.String()] = f
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := set[name]
		if _, ok := byName[name]; !ok {
			known := make([]string, 0, len(byName))
			for k := range byName {
				known = append(known, k)
			}
			slices.Sort(known)
			return nil, fmt.Errorf("the driver has no option %q (its options: %s)", name, strings.Join(known, ", "))
		}
		if len(values) == 0 {
			continue
		}
		last := values[len(values)-1]
		switch opts[name].(type) {
		case []string:
			opts[name] = slices.Clone(values)
		case bool:
			b, err := strconv.ParseBool(last)
			if err != nil {
				return nil, fmt.Errorf("option %s: %q is not true or false", name, last)
			}
			opts[name] = b
		case int:
			i, err := strconv.Atoi(last)
			if err != nil {
				return nil, fmt.Errorf("option %s: %q is not a whole number", name, last)
			}
			opts[name] = i
		default:
			opts[name] = last
		}
	}
	return opts, nil
}

func envOr(name, def string) string {
	if name != "" {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return def
}

// EnvBool reads a boolean environment variable the way the stock CLI did:
// unset, "0", "false" and "no" are false, anything else true.
func EnvBool(name string) bool {
	if name == "" {
		return false
	}
	switch strings.ToLower(os.Getenv(name)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

func envInt(name string, def int) int {
	if v := envOr(name, ""); v != "" {
		if i, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return i
		}
	}
	return def
}

// EnvList reads a list-valued environment variable the way the stock CLI
// did: comma separated, blanks dropped.
func EnvList(name string) []string {
	var out []string
	for _, v := range strings.Split(envOr(name, ""), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envListOr(name string, def []string) []string {
	if l := EnvList(name); len(l) > 0 {
		return l
	}
	return def
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
