package commands

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/libmachine/host"
)

const defaultDriver = "virtualbox"

// createOptions are the driver-independent create flags, as stock names them.
type createOptions struct {
	driver            string
	installURL        string
	engineOpt         []string
	insecureRegistry  []string
	registryMirror    []string
	engineLabel       []string
	storageDriver     string
	engineEnv         []string
	swarm             bool
	swarmImage        string
	swarmMaster       bool
	swarmDiscovery    string
	swarmStrategy     string
	swarmOpt          []string
	swarmJoinOpt      []string
	swarmHost         string
	swarmAddr         string
	swarmExperimental bool
	tlsSAN            []string
}

// envList reads a list-valued environment variable the way the stock CLI
// did: comma separated, blanks dropped.
func envList(name string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (o *createOptions) register(fs *pflag.FlagSet) {
	fs.StringVarP(&o.driver, "driver", "d", envOr("MACHINE_DRIVER", defaultDriver), "Driver to create machine with. [$MACHINE_DRIVER]")
	fs.StringVar(&o.installURL, "engine-install-url", strings.TrimSpace(envOr("MACHINE_DOCKER_INSTALL_URL", drivers.DefaultEngineInstallURL)), "Custom URL to use for engine installation; \"none\" skips installation [$MACHINE_DOCKER_INSTALL_URL]")
	fs.StringArrayVar(&o.engineOpt, "engine-opt", nil, "Specify arbitrary flags to include with the created engine in the form flag=value")
	fs.StringArrayVar(&o.insecureRegistry, "engine-insecure-registry", nil, "Specify insecure registries to allow with the created engine")
	fs.StringArrayVar(&o.registryMirror, "engine-registry-mirror", envList("ENGINE_REGISTRY_MIRROR"), "Specify registry mirrors to use [$ENGINE_REGISTRY_MIRROR]")
	fs.StringArrayVar(&o.engineLabel, "engine-label", nil, "Specify labels for the created engine")
	fs.StringVar(&o.storageDriver, "engine-storage-driver", "", "Specify a storage driver to use with the engine")
	fs.StringArrayVar(&o.engineEnv, "engine-env", nil, "Specify environment variables to set in the engine")
	fs.BoolVar(&o.swarm, "swarm", false, "Configure Machine to join a Swarm cluster")
	fs.StringVar(&o.swarmImage, "swarm-image", envOr("MACHINE_SWARM_IMAGE", "swarm:latest"), "Specify Docker image to use for Swarm [$MACHINE_SWARM_IMAGE]")
	fs.BoolVar(&o.swarmMaster, "swarm-master", false, "Configure Machine to be a Swarm master")
	fs.StringVar(&o.swarmDiscovery, "swarm-discovery", "", "Discovery service to use with Swarm")
	fs.StringVar(&o.swarmStrategy, "swarm-strategy", "spread", "Define a default scheduling strategy for Swarm")
	fs.StringArrayVar(&o.swarmOpt, "swarm-opt", nil, "Define arbitrary flags for Swarm master")
	fs.StringArrayVar(&o.swarmJoinOpt, "swarm-join-opt", nil, "Define arbitrary flags for Swarm join")
	fs.StringVar(&o.swarmHost, "swarm-host", "tcp://0.0.0.0:3376", "ip/socket to listen on for Swarm master")
	fs.StringVar(&o.swarmAddr, "swarm-addr", "", "addr to advertise for Swarm (default: detect and use the machine IP)")
	fs.BoolVar(&o.swarmExperimental, "swarm-experimental", false, "Enable Swarm experimental features")
	fs.StringArrayVar(&o.tlsSAN, "tls-san", nil, "Support extra SANs for TLS certs")
}

// apply copies the shared flags into the host options, with empty lists
// written as [] like the stock CLI writes them.
func (o *createOptions) apply(h *host.Host) {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	eo := h.HostOptions.EngineOptions
	eo.ArbitraryFlags = nonNil(o.engineOpt)
	eo.Env = nonNil(o.engineEnv)
	eo.InsecureRegistry = nonNil(o.insecureRegistry)
	eo.Labels = nonNil(o.engineLabel)
	eo.RegistryMirror = nonNil(o.registryMirror)
	eo.StorageDriver = o.storageDriver
	eo.InstallURL = o.installURL
	so := h.HostOptions.SwarmOptions
	so.IsSwarm = o.swarm || o.swarmMaster
	so.Image = o.swarmImage
	so.Agent = o.swarm
	so.Master = o.swarmMaster
	so.Discovery = o.swarmDiscovery
	so.Address = o.swarmAddr
	so.Host = o.swarmHost
	so.Strategy = o.swarmStrategy
	so.ArbitraryFlags = nonNil(o.swarmOpt)
	so.ArbitraryJoinFlags = nonNil(o.swarmJoinOpt)
	so.IsExperimental = o.swarmExperimental
	h.HostOptions.AuthOptions.ServerCertSANs = nonNil(o.tlsSAN)
}

func validateSwarmDiscovery(d string) error {
	if d == "" {
		return nil
	}
	u, err := url.Parse(d)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("Swarm Discovery URL was in the wrong format: %s", d)
	}
	return nil
}

// sniffDriver finds the driver name before the full flag set (which depends
// on the driver) can be built.
func sniffDriver(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, p := range []string{"--driver", "-driver", "-d"} {
			if a == p && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return envOr("MACHINE_DRIVER", defaultDriver)
}

func (e *env) createCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "create [OPTIONS] [arg...]",
		Short:              "Create a machine",
		Long:               "Create a machine.\n\nRun 'docker-machine create --driver name --help' to include the create flags for that driver in the help text.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runCreate(cmd.Context(), args)
		},
	}
}

// driverFlagValues implements drivers.DriverOptions over the parsed flags.
type driverFlagValues map[string]any

func (v driverFlagValues) String(k string) string {
	s, _ := v[k].(string)
	return s
}
func (v driverFlagValues) StringSlice(k string) []string {
	s, _ := v[k].([]string)
	return s
}
func (v driverFlagValues) Int(k string) int {
	i, _ := v[k].(int)
	return i
}
func (v driverFlagValues) Bool(k string) bool {
	b, _ := v[k].(bool)
	return b
}

// addDriverFlags registers the driver's mcnflags on fs, with defaults taken
// from their environment variables, and returns how to read them back.
func addDriverFlags(fs *pflag.FlagSet, flags []mcnflag.Flag) (func() driverFlagValues, error) {
	getters := map[string]func() any{}
	for _, f := range flags {
		name := f.String()
		if fs.Lookup(name) != nil {
			continue
		}
		switch fl := f.(type) {
		case mcnflag.StringFlag:
			p := fs.String(name, envOr(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case *mcnflag.StringFlag:
			p := fs.String(name, envOr(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case mcnflag.IntFlag:
			p := fs.Int(name, envInt(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case *mcnflag.IntFlag:
			p := fs.Int(name, envInt(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case mcnflag.BoolFlag:
			p := fs.Bool(name, envBool(fl.EnvVar), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case *mcnflag.BoolFlag:
			p := fs.Bool(name, envBool(fl.EnvVar), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case mcnflag.StringSliceFlag:
			p := fs.StringArray(name, envListOr(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		case *mcnflag.StringSliceFlag:
			p := fs.StringArray(name, envListOr(fl.EnvVar, fl.Value), usageWithEnv(fl.Usage, fl.EnvVar))
			getters[name] = func() any { return *p }
		default:
			return nil, fmt.Errorf("driver flag %q has an unsupported type %T", name, f)
		}
	}
	return func() driverFlagValues {
		v := driverFlagValues{}
		for k, g := range getters {
			v[k] = g()
		}
		return v
	}, nil
}

func usageWithEnv(usage, envVar string) string {
	if envVar == "" {
		return usage
	}
	return fmt.Sprintf("%s [$%s]", usage, envVar)
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		var i int
		if _, err := fmt.Sscanf(v, "%d", &i); err == nil {
			return i
		}
	}
	return def
}

func envListOr(name string, def []string) []string {
	if name != "" {
		if l := envList(name); len(l) > 0 {
			return l
		}
	}
	return def
}

func (e *env) runCreate(ctx context.Context, args []string) error {
	args = normalizeCreateArgs(args)
	client := e.client(e.stdout)
	defer client.Close()

	p, err := e.parseCreateFlags(ctx, client, args)
	if err != nil {
		return err
	}
	if p.help != "" {
		fmt.Fprint(e.stdout, p.help)
		return nil
	}
	h, err := newHostFromFlags(ctx, client, p)
	if err != nil {
		return err
	}
	if err := client.Create(ctx, h); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "To see how to connect your Docker Client to the Docker Engine running on this virtual machine, run: %s env %s\n", e.args0, p.name)
	return nil
}

// normalizeCreateArgs accepts the stock parser's single-dash long flags.
func normalizeCreateArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 2 && a[0] == '-' && a[1] >= 'a' && a[1] <= 'z' && !strings.HasPrefix(a, "-d=") {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}
