package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
)

// shellSyntax is how one shell sets and unsets a variable.
type shellSyntax struct {
	setPrefix, setDelim, setSuffix       string
	unsetPrefix, unsetDelim, unsetSuffix string
	comment, evalFmt                     string
}

var shells = map[string]shellSyntax{
	"fish":       {"set -gx ", " \"", "\";\n", "set -e ", "", ";\n", "#", "eval (%s)"},
	"powershell": {"$Env:", " = \"", "\"\n", `Remove-Item Env:\\`, "", "\n", "#", "& %s | Invoke-Expression"},
	"cmd":        {"SET ", "=", "\n", "SET ", "=", "\n", "REM", "\t@FOR /f \"tokens=*\" %%i IN ('%s') DO @%%i"},
	"tcsh":       {"setenv ", " \"", "\";\n", "unsetenv ", "", ";\n", ":", "eval `%s`"},
	"emacs":      {"(setenv \"", "\" \"", "\")\n", "(setenv \"", "\" nil", ")\n", ";;", "(with-temp-buffer (shell-command \"%s\" (current-buffer)) (eval-buffer))"},
	"posix":      {"export ", "=\"", "\"\n", "unset ", "", "\n", "#", "eval $(%s)"},
}

// detectShell picks the shell syntax from --shell or $SHELL; bash, zsh, sh
// and other POSIX shells share the default syntax. Without either (cron,
// systemd units, CI jobs) it is the POSIX syntax too, since that is what
// `eval $(docker-machine env NAME)` in a script needs.
func detectShell(flag string) shellSyntax {
	name := flag
	if name == "" {
		name = filepath.Base(os.Getenv("SHELL"))
	}
	if s, ok := shells[name]; ok {
		return s
	}
	return shells["posix"]
}

func newEnvCmd(f *cmdutil.Factory) *cobra.Command {
	var (
		swarm, unset, noProxy bool
		shell                 string
	)
	cmd := machineCmd("env", "Display the commands to set up the environment for the Docker client", argsMachine)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		syn := detectShell(shell)
		var vars [][2]string
		if unset {
			if len(args) != 0 {
				return errors.New("Error: Expected no machine name when the -u flag is present")
			}
			vars = [][2]string{{"DOCKER_TLS_VERIFY"}, {"DOCKER_HOST"}, {"DOCKER_CERT_PATH"}, {"DOCKER_MACHINE_NAME"}}
			if noProxy {
				name, value := noProxyFromEnv()
				vars = append(vars, [2]string{name, value})
			}
		} else {
			// Progress (a certificate re-issue) goes to stderr so that
			// `eval $(docker-machine env NAME)` sees only the variables.
			err := f.WithMachine(cmd.Context(), args, func(client *libmachine.Client, h *host.Host) error {
				dockerURL, err := connect(cmd.Context(), client, h, swarm)
				if err != nil {
					return err
				}
				vars = [][2]string{
					{"DOCKER_TLS_VERIFY", "1"},
					{"DOCKER_HOST", dockerURL},
					{"DOCKER_CERT_PATH", client.Files(h).Dir},
					{"DOCKER_MACHINE_NAME", h.Name},
				}
				if noProxy {
					ip, err := h.Driver.GetIP()
					if err != nil {
						return fmt.Errorf("Error getting host IP: %w", err)
					}
					name, value := noProxyFromEnv()
					switch {
					case value == "":
						value = ip
					case !strings.Contains(value, ip):
						value += "," + ip
					}
					vars = append(vars, [2]string{name, value})
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		var b strings.Builder
		for _, v := range vars {
			if unset {
				b.WriteString(syn.unsetPrefix + v[0] + syn.unsetDelim + syn.unsetSuffix)
			} else {
				b.WriteString(syn.setPrefix + v[0] + syn.setDelim + v[1] + syn.setSuffix)
			}
		}
		commandLine := strings.Join(f.Settings.Argv, " ")
		fmt.Fprintf(&b, "%s Run this command to configure your shell: \n%s %s\n", syn.comment, syn.comment, fmt.Sprintf(syn.evalFmt, commandLine))
		_, err := fmt.Fprint(f.IOStreams.Out, b.String())
		return err
	}
	fl := cmd.Flags()
	fl.BoolVar(&swarm, "swarm", false, "Display the Swarm config instead of the Docker daemon")
	fl.StringVar(&shell, "shell", "", "Force environment to be configured for a specified shell: [fish, cmd, powershell, tcsh, emacs], default is auto-detect")
	fl.BoolVarP(&unset, "unset", "u", false, "Unset variables instead of setting them")
	fl.BoolVar(&noProxy, "no-proxy", false, "Add machine IP to NO_PROXY environment variable")
	return cmd
}

func noProxyFromEnv() (string, string) {
	if v := os.Getenv("no_proxy"); v != "" {
		return "no_proxy", v
	}
	return "NO_PROXY", os.Getenv("NO_PROXY")
}

// connect checks the machine's Docker API over TLS, under its store lock,
// re-issuing the server certificate when it no longer covers the machine.
// It returns the URL a client should use (the swarm master's with swarm).
func connect(ctx context.Context, client *libmachine.Client, h *host.Host, swarm bool) (string, error) {
	unlock, err := client.Store.Lock(ctx, h.Name)
	if err != nil {
		return "", err
	}
	defer unlock()
	dockerURL, err := client.CheckDocker(ctx, h, true)
	if err != nil {
		return "", err
	}
	if err := client.Save(h); err != nil {
		return "", err
	}
	if swarm {
		so := h.HostOptions.SwarmOptions
		if so == nil || !so.Master {
			return "", fmt.Errorf("Error: %q is not a swarm master. The --swarm flag is intended for use with swarm masters", h.Name)
		}
		dockerURL = swarmURL(dockerURL, so.Host)
	}
	return dockerURL, nil
}

func newConfigCmd(f *cmdutil.Factory) *cobra.Command {
	var swarm bool
	cmd := machineCmd("config", "Print the connection config for machine", argsMachine)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var h *host.Host
		var dockerURL string
		err := f.WithMachine(cmd.Context(), args, func(client *libmachine.Client, loaded *host.Host) (err error) {
			h = loaded
			dockerURL, err = connect(cmd.Context(), client, h, swarm)
			return err
		})
		if err != nil {
			return fmt.Errorf("Error running connection boilerplate: %w", err)
		}
		a := h.HostOptions.AuthOptions
		_, err = fmt.Fprintf(f.IOStreams.Out, "--tlsverify\n--tlscacert=%q\n--tlscert=%q\n--tlskey=%q\n-H=%s\n",
			a.CaCertPath, a.ClientCertPath, a.ClientKeyPath, dockerURL)
		return err
	}
	cmd.Flags().BoolVar(&swarm, "swarm", false, "Display the Swarm config instead of the Docker daemon")
	return cmd
}
