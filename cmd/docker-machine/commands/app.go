// Package commands is the docker-machine command line: the 0.16.2 commands,
// flags, output formats and exit codes, over this project's libmachine. It
// holds the root command, which fills the Factory's settings from the global
// flags, and the commands on single machines; the cluster, swarm and slb
// command groups live in packages of their own below it. Every command is
// built from one cmdutil.Factory and names no driver.
package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/cmd/docker-machine/commands/cluster"
	"github.com/fleetdock/machine/cmd/docker-machine/commands/slb"
	"github.com/fleetdock/machine/cmd/docker-machine/commands/swarm"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/store"
)

// Version is the CLI version; the build sets it with -ldflags.
var (
	Version   = "0.16.2-fleetdock"
	GitCommit = "dev"
)

// Run executes one docker-machine invocation and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := interruptible(stderr)
	defer stop()
	s := &cmdutil.Settings{Argv0: "docker-machine", Argv: args}
	if len(args) > 0 {
		s.Argv0 = args[0]
		args = args[1:]
	}
	f := cmdutil.New(iostreams.New(stdin, stdout, stderr), s)
	root := NewRootCmd(f)
	args, err := takeGlobalFlags(root, normalizeArgs(root, args))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return cmdutil.ExitError
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return cmdutil.ExitStatus(root.ExecuteContext(ctx), stderr)
}

// interruptible returns the command's context. The first Ctrl-C (or
// SIGTERM) ends it: work stops and what a create made is rolled back. The
// rollback runs on the cleanup context it carries (capability.CleanupContext),
// which a second signal ends; a third exits at once.
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cleanup, cancelCleanup := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case sig := <-sigs:
				switch n {
				case 1:
					fmt.Fprintf(stderr, "\nReceived %s: stopping; what was made is being removed (press Ctrl-C again to stop the cleanup too)\n", sig)
					cancel(fmt.Errorf("received %s", sig))
				case 2:
					fmt.Fprintf(stderr, "\nReceived %s again: stopping the cleanup\n", sig)
					cancelCleanup(fmt.Errorf("received %s twice", sig))
				default:
					fmt.Fprintf(stderr, "\nReceived %s a third time: exiting now\n", sig)
					os.Exit(cmdutil.ExitInterrupted)
				}
			}
		}
	}()
	return capability.WithCleanup(ctx, cleanup), func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
		cancelCleanup(nil)
	}
}

func envBool(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// NewRootCmd is the docker-machine command with every subcommand; its
// persistent flags fill f.Settings.
func NewRootCmd(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "docker-machine",
		Short:         "Create and manage machines running Docker.",
		Version:       Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: false,
		},
	}
	root.SetVersionTemplate(fmt.Sprintf("docker-machine version %s, build %s\n", Version, GitCommit))
	s := f.Settings
	pf := root.PersistentFlags()
	pf.BoolVarP(&s.Debug, "debug", "D", envBool("MACHINE_DEBUG"), "Enable debug mode [$MACHINE_DEBUG]")
	pf.StringVarP(&s.StoragePath, "storage-path", "s", store.DefaultPath(), "Configures storage path [$MACHINE_STORAGE_PATH]")
	for _, fl := range []struct {
		p          *string
		name, help string
	}{
		{&s.TLSCACert, "tls-ca-cert", "CA to verify remotes against [$MACHINE_TLS_CA_CERT]"},
		{&s.TLSCAKey, "tls-ca-key", "Private key to generate certificates [$MACHINE_TLS_CA_KEY]"},
		{&s.TLSClientCert, "tls-client-cert", "Client cert to use for TLS [$MACHINE_TLS_CLIENT_CERT]"},
		{&s.TLSClientKey, "tls-client-key", "Private key used in client TLS auth [$MACHINE_TLS_CLIENT_KEY]"},
		{&s.GithubToken, "github-api-token", "Token to use for requests to the Github API [$MACHINE_GITHUB_API_TOKEN]"},
		{&s.BugsnagToken, "bugsnag-api-token", "Accepted for compatibility; crash reports are never sent [$MACHINE_BUGSNAG_API_TOKEN]"},
	} {
		pf.StringVar(fl.p, fl.name, os.Getenv(envName(fl.name)), fl.help)
	}
	pf.BoolVar(&s.NativeSSH, "native-ssh", envBool("MACHINE_NATIVE_SSH"), "Use the native (Go-based) SSH implementation. [$MACHINE_NATIVE_SSH]")
	root.Flags().BoolP("version", "v", false, "print the version")

	root.AddCommand(
		newActiveCmd(f),
		cluster.NewCmd(f),
		newConfigCmd(f),
		newCreateCmd(f),
		newEnvCmd(f),
		newInspectCmd(f),
		newIPCmd(f),
		newKillCmd(f),
		newLsCmd(f),
		newMountCmd(f),
		newProvisionCmd(f),
		newRegenerateCertsCmd(f),
		newRestartCmd(f),
		newRmCmd(f),
		newSCPCmd(f),
		slb.NewCmd(f),
		newSSHCmd(f),
		newStartCmd(f),
		newStatusCmd(f),
		newStopCmd(f),
		swarm.NewCmd(f),
		newUpgradeCmd(f),
		newURLCmd(f),
		newVersionCmd(f),
	)
	return root
}

// envName is the environment variable of a global flag: MACHINE_ and the
// flag's name in capitals.
func envName(flag string) string {
	return "MACHINE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// normalizeArgs rewrites single-dash long flags (-driver x, as the stock
// CLI's flag parser allowed) to the double-dash form, leaving the arguments
// of `ssh` (a remote command line) untouched.
func normalizeArgs(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" || a == "ssh" || a == "create" {
			// ssh passes its tail through; create parses its own flags.
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// takeGlobalFlags applies the global flags that precede the command (the
// stock form: docker-machine -s PATH create ...) and returns the other
// arguments. Commands that parse their own arguments (create, ssh) would
// otherwise receive them.
func takeGlobalFlags(root *cobra.Command, args []string) ([]string, error) {
	pf := root.PersistentFlags()
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...), nil
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *pflag.Flag
		if strings.HasPrefix(a, "--") {
			f = pf.Lookup(name)
		} else if len(name) == 1 {
			f = pf.ShorthandLookup(name)
		}
		if f == nil {
			out = append(out, a) // --help, --version and the like are cobra's
			continue
		}
		switch {
		case hasValue:
		case f.Value.Type() == "bool":
			value = "true"
		case i+1 < len(args):
			i++
			value = args[i]
		default:
			return nil, fmt.Errorf("flag needs an argument: %s", a)
		}
		if err := pf.Set(f.Name, value); err != nil {
			return nil, fmt.Errorf("invalid value %q for %s: %w", value, a, err)
		}
	}
	return out, nil
}
