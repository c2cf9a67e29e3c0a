// Package commands is the docker-machine command line: the 0.16.2 commands,
// flags, output formats and exit codes, over this project's libmachine.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/store"
)

// Version is the CLI version; the build sets it with -ldflags.
var (
	Version   = "0.16.2-fleetdock"
	GitCommit = "dev"
)

const defaultMachineName = "default"

// Exit codes, as stock: 1 for any error, 3 when the pre-create check fails.
const (
	exitError     = 1
	exitPreCreate = 3
)

// env holds the streams and global settings of one invocation.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	args0          string
	argv           []string // the whole command line, for usage hints

	debug       bool
	storagePath string
	tlsCACert   string
	tlsCAKey    string
	tlsCert     string
	tlsKey      string
	githubToken string
	nativeSSH   bool
	bugsnag     string
}

// exitError carries a specific exit status out of a command.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *statusError) Unwrap() error { return e.err }

// Run executes one docker-machine invocation and returns its exit status.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, args0: "docker-machine"}
	e.argv = args
	if len(args) > 0 {
		e.args0 = args[0]
		args = args[1:]
	}
	root := e.rootCommand()
	args, err := takeGlobalFlags(root, normalizeArgs(root, args))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se *statusError
	if errors.As(err, &se) {
		if se.err != nil && se.err.Error() != "" {
			fmt.Fprintln(stderr, se.err)
		}
		return se.status
	}
	fmt.Fprintln(stderr, err)
	var pe *libmachine.PreCreateError
	if errors.As(err, &pe) {
		return exitPreCreate
	}
	return exitError
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envBool(name string) bool {
	switch strings.ToLower(os.Getenv(name)) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

func (e *env) rootCommand() *cobra.Command {
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
	pf := root.PersistentFlags()
	pf.BoolVarP(&e.debug, "debug", "D", envBool("MACHINE_DEBUG"), "Enable debug mode [$MACHINE_DEBUG]")
	pf.StringVarP(&e.storagePath, "storage-path", "s", store.DefaultPath(), "Configures storage path [$MACHINE_STORAGE_PATH]")
	pf.StringVar(&e.tlsCACert, "tls-ca-cert", os.Getenv("MACHINE_TLS_CA_CERT"), "CA to verify remotes against [$MACHINE_TLS_CA_CERT]")
	pf.StringVar(&e.tlsCAKey, "tls-ca-key", os.Getenv("MACHINE_TLS_CA_KEY"), "Private key to generate certificates [$MACHINE_TLS_CA_KEY]")
	pf.StringVar(&e.tlsCert, "tls-client-cert", os.Getenv("MACHINE_TLS_CLIENT_CERT"), "Client cert to use for TLS [$MACHINE_TLS_CLIENT_CERT]")
	pf.StringVar(&e.tlsKey, "tls-client-key", os.Getenv("MACHINE_TLS_CLIENT_KEY"), "Private key used in client TLS auth [$MACHINE_TLS_CLIENT_KEY]")
	pf.StringVar(&e.githubToken, "github-api-token", os.Getenv("MACHINE_GITHUB_API_TOKEN"), "Token to use for requests to the Github API [$MACHINE_GITHUB_API_TOKEN]")
	pf.BoolVar(&e.nativeSSH, "native-ssh", envBool("MACHINE_NATIVE_SSH"), "Use the native (Go-based) SSH implementation. [$MACHINE_NATIVE_SSH]")
	pf.StringVar(&e.bugsnag, "bugsnag-api-token", os.Getenv("MACHINE_BUGSNAG_API_TOKEN"), "Accepted for compatibility; crash reports are never sent [$MACHINE_BUGSNAG_API_TOKEN]")
	root.Flags().BoolP("version", "v", false, "print the version")

	root.AddCommand(
		e.activeCommand(),
		e.clusterCommand(),
		e.configCommand(),
		e.createCommand(),
		e.envCommand(),
		e.inspectCommand(),
		e.ipCommand(),
		e.killCommand(),
		e.lsCommand(),
		e.mountCommand(),
		e.provisionCommand(),
		e.regenerateCertsCommand(),
		e.restartCommand(),
		e.rmCommand(),
		e.scpCommand(),
		e.slbCommand(),
		e.sshCommand(),
		e.startCommand(),
		e.statusCommand(),
		e.stopCommand(),
		e.swarmCommand(),
		e.upgradeCommand(),
		e.urlCommand(),
		e.versionCommand(),
	)
	return root
}

// client opens the store named by the global flags.
func (e *env) client(out io.Writer) *libmachine.Client {
	// Drivers running in this process log through slog's default logger;
	// their lines go where the command's progress goes.
	log := slog.New(newLineHandler(out, e.stderr, e.debug))
	slog.SetDefault(log)
	c := libmachine.New(e.storagePath, out, log)
	c.NativeSSH = e.nativeSSH
	if e.tlsCACert != "" {
		c.Certs.CACert = e.tlsCACert
	}
	if e.tlsCAKey != "" {
		c.Certs.CAKey = e.tlsCAKey
	}
	if e.tlsCert != "" {
		c.Certs.ClientCert = e.tlsCert
	}
	if e.tlsKey != "" {
		c.Certs.ClientKey = e.tlsKey
	}
	return c
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
