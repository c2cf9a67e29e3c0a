package commands

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
)

// defaultDriver is stock's default for --driver.
const defaultDriver = "virtualbox"

// registerCreateFlags binds the driver-independent create flags, as stock
// names them, to the request; its values are the flags' defaults.
func registerCreateFlags(fs *pflag.FlagSet, r *libmachine.CreateRequest) {
	e, s := &r.Engine, &r.Swarm
	fs.StringVarP(&r.Driver, "driver", "d", r.Driver, "Driver to create machine with. [$MACHINE_DRIVER]")
	fs.StringVar(&e.InstallURL, "engine-install-url", e.InstallURL, "Custom URL to use for engine installation; \"none\" skips installation [$MACHINE_DOCKER_INSTALL_URL]")
	fs.StringArrayVar(&e.ArbitraryFlags, "engine-opt", e.ArbitraryFlags, "Specify arbitrary flags to include with the created engine in the form flag=value")
	fs.StringArrayVar(&e.InsecureRegistry, "engine-insecure-registry", e.InsecureRegistry, "Specify insecure registries to allow with the created engine")
	fs.StringArrayVar(&e.RegistryMirror, "engine-registry-mirror", e.RegistryMirror, "Specify registry mirrors to use [$ENGINE_REGISTRY_MIRROR]")
	fs.StringArrayVar(&e.Labels, "engine-label", e.Labels, "Specify labels for the created engine")
	fs.StringVar(&e.StorageDriver, "engine-storage-driver", e.StorageDriver, "Specify a storage driver to use with the engine")
	fs.StringArrayVar(&e.Env, "engine-env", e.Env, "Specify environment variables to set in the engine")
	fs.BoolVar(&s.Agent, "swarm", false, "Configure Machine to join a Swarm cluster")
	fs.StringVar(&s.Image, "swarm-image", s.Image, "Specify Docker image to use for Swarm [$MACHINE_SWARM_IMAGE]")
	fs.BoolVar(&s.Master, "swarm-master", false, "Configure Machine to be a Swarm master")
	fs.StringVar(&s.Discovery, "swarm-discovery", "", "Discovery service to use with Swarm")
	fs.StringVar(&s.Strategy, "swarm-strategy", s.Strategy, "Define a default scheduling strategy for Swarm")
	fs.StringArrayVar(&s.ArbitraryFlags, "swarm-opt", s.ArbitraryFlags, "Define arbitrary flags for Swarm master")
	fs.StringArrayVar(&s.ArbitraryJoinFlags, "swarm-join-opt", s.ArbitraryJoinFlags, "Define arbitrary flags for Swarm join")
	fs.StringVar(&s.Host, "swarm-host", s.Host, "ip/socket to listen on for Swarm master")
	fs.StringVar(&s.Address, "swarm-addr", "", "addr to advertise for Swarm (default: detect and use the machine IP)")
	fs.BoolVar(&s.IsExperimental, "swarm-experimental", false, "Enable Swarm experimental features")
	fs.StringArrayVar(&r.TLSSANs, "tls-san", r.TLSSANs, "Support extra SANs for TLS certs")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
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
			if a == p {
				// No value: let the flag parser say so, rather than
				// naming the default driver.
				return ""
			}
			if v, ok := strings.CutPrefix(a, p+"="); ok {
				return v
			}
		}
	}
	return envOr(libmachine.EnvDriver, defaultDriver)
}

func newCreateCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.OwnFlagsCmd("create [OPTIONS] [arg...]", "Create a machine",
		"Create a machine.\n\nRun 'docker-machine create --driver name --help' to include the create flags for that driver in the help text.",
		func(cmd *cobra.Command, args []string) error { return runCreate(cmd.Context(), f, args) })
}

func runCreate(ctx context.Context, f *cmdutil.Factory, args []string) error {
	args = normalizeCreateArgs(args)
	out := f.IOStreams.Out
	client := f.Client(out)
	defer client.Close()

	p, err := parseCreateFlags(ctx, client, f.IOStreams.ErrOut, args)
	if err != nil {
		return err
	}
	if p.help != "" {
		fmt.Fprint(out, p.help)
		return nil
	}
	if err := client.CreateMachine(ctx, p.driver, p.req); err != nil {
		return err
	}
	fmt.Fprintf(out, "To see how to connect your Docker Client to the Docker Engine running on this virtual machine, run: %s env %s\n", f.Settings.Argv0, p.req.Name)
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
