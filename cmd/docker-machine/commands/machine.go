package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/docker/machine/libmachine/state"
	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
)

// machinesCommand is a command that acts on one or more machines in parallel.
func (e *env) machinesCommand(use, short string, action func(*libmachine.Client, context.Context, *host.Host) error, after string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " [arg...]",
		Short: short,
		Long:  short + "\n\nArgument(s) are one or more machine names.",
		RunE: func(cmd *cobra.Command, args []string) error {
			client := e.client(e.stdout)
			defer client.Close()
			do := func(ctx context.Context, h *host.Host) error { return action(client, ctx, h) }
			if err := forEachMachine(cmd.Context(), client, args, do); err != nil {
				return err
			}
			if after != "" {
				fmt.Fprintln(e.stdout, after)
			}
			return nil
		},
	}
}

func (e *env) startCommand() *cobra.Command {
	return e.machinesCommand("start", "Start a machine", (*libmachine.Client).Start, "Started machines may have new IP addresses. You may need to re-run the `docker-machine env` command.")
}

func (e *env) stopCommand() *cobra.Command {
	return e.machinesCommand("stop", "Stop a machine", (*libmachine.Client).Stop, "")
}

func (e *env) killCommand() *cobra.Command {
	return e.machinesCommand("kill", "Kill a machine", (*libmachine.Client).Kill, "")
}

func (e *env) restartCommand() *cobra.Command {
	return e.machinesCommand("restart", "Restart a machine", (*libmachine.Client).Restart, "Restarted machines may have new IP addresses. You may need to re-run the `docker-machine env` command.")
}

func (e *env) provisionCommand() *cobra.Command {
	return e.machinesCommand("provision", "Re-provision existing machines", (*libmachine.Client).Provision, "")
}

func (e *env) upgradeCommand() *cobra.Command {
	return e.machinesCommand("upgrade", "Upgrade a machine to the latest version of Docker", upgrade, "")
}

// upgrade starts a stopped machine first, as stock does, then upgrades Docker.
func upgrade(c *libmachine.Client, ctx context.Context, h *host.Host) error {
	st, err := h.Driver.GetState()
	if err != nil {
		return fmt.Errorf("getting the state of %q: %w", h.Name, err)
	}
	if st != state.Running {
		c.Infof("Starting machine so machine can be upgraded...")
		if err := c.Start(ctx, h); err != nil {
			return err
		}
	}
	return c.Upgrade(ctx, h)
}

func (e *env) regenerateCertsCommand() *cobra.Command {
	var force, clientCerts bool
	cmd := &cobra.Command{
		Use:   "regenerate-certs [arg...]",
		Short: "Regenerate TLS Certificates for a machine",
		Long:  "Regenerate TLS Certificates for a machine\n\nArgument(s) are one or more machine names.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				ok, err := confirm(e.stdin, e.stdout, "Regenerate TLS machine certs?  Warning: this is irreversible.")
				if err != nil || !ok {
					return err
				}
			}
			client := e.client(e.stdout)
			defer client.Close()
			if clientCerts {
				client.Infof("Regenerating local certificates")
				if err := client.RegenerateClientCerts(cmd.Context()); err != nil {
					return err
				}
			}
			return forEachMachine(cmd.Context(), client, args, func(ctx context.Context, h *host.Host) error {
				client.Infof("Regenerating TLS certificates")
				return client.RegenerateCerts(ctx, h)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force rebuild and do not prompt")
	cmd.Flags().BoolVar(&clientCerts, "client-certs", false, "Also regenerate client certificates and CA.")
	return cmd
}

// confirm asks a yes/no question on the terminal; anything but y/yes is no.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s (y/n): ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y"), nil
}

func (e *env) ipCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ip [arg...]",
		Short: "Get the IP address of a machine",
		Long:  "Get the IP address of a machine\n\nArgument(s) are one or more machine names.",
		RunE: func(cmd *cobra.Command, args []string) error {
			client := e.client(e.stderr)
			defer client.Close()
			names, err := targetNames(client, args)
			if err != nil {
				return err
			}
			var errs []string
			for _, l := range loadHosts(cmd.Context(), client, names) {
				if l.err != nil {
					errs = append(errs, l.err.Error())
					continue
				}
				ip, err := l.h.Driver.GetIP()
				if err != nil {
					errs = append(errs, fmt.Sprintf("Error getting IP address of %q: %v", l.name, err))
					continue
				}
				fmt.Fprintln(e.stdout, ip)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
}

// printOneCommand prints one value of the single machine it is given.
func (e *env) printOneCommand(use, short string, value func(*host.Host) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use + " [arg...]",
		Short: short,
		Long:  short + "\n\nArgument is a machine name.",
		RunE: func(cmd *cobra.Command, args []string) error {
			client := e.client(e.stderr)
			defer client.Close()
			h, err := loadOne(cmd.Context(), client, args)
			if err != nil {
				return err
			}
			v, err := value(h)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, v)
			return nil
		},
	}
}

func (e *env) urlCommand() *cobra.Command {
	return e.printOneCommand("url", "Get the URL of a machine", func(h *host.Host) (string, error) {
		u, err := h.Driver.GetURL()
		if err != nil {
			return "", fmt.Errorf("Error getting URL of %q: %w", h.Name, err)
		}
		return u, nil
	})
}

func (e *env) statusCommand() *cobra.Command {
	return e.printOneCommand("status", "Get the status of a machine", func(h *host.Host) (string, error) {
		st, err := h.Driver.GetState()
		if err != nil {
			return "", fmt.Errorf("error getting state for host %s: %w", h.Name, err)
		}
		return st.String(), nil
	})
}

func (e *env) activeCommand() *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "active",
		Short: "Print which machine is active",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := e.client(e.stderr)
			defer client.Close()
			names, err := client.Store.List()
			if err != nil {
				return err
			}
			var hosts []*host.Host
			for _, l := range loadHosts(cmd.Context(), client, names) {
				if l.err == nil {
					hosts = append(hosts, l.h)
				}
			}
			items := hostItems(cmd.Context(), client, hosts, swarmMasters(hosts), time.Duration(timeout)*time.Second)
			timedOut := false
			for _, it := range items {
				if it.ActiveHost || it.ActiveSwarm {
					fmt.Fprintln(e.stdout, it.Name)
					return nil
				}
				timedOut = timedOut || it.State == state.Timeout
			}
			if timedOut {
				return errors.New("Error getting active host: timeout")
			}
			return errors.New("No active host found")
		},
	}
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 10, "Timeout in seconds, default to 10s")
	return cmd
}

func (e *env) inspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [arg...]",
		Short: "Inspect information about a machine",
		Long:  "Inspect information about a machine\n\nArgument is a machine name.",
		RunE: func(cmd *cobra.Command, args []string) error {
			client := e.client(e.stderr)
			defer client.Close()
			h, err := loadOne(cmd.Context(), client, args)
			if err != nil {
				return err
			}
			return inspect(e.stdout, h, format)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output using the given go template.")
	return cmd
}

func inspect(w io.Writer, h *host.Host, format string) error {
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if format == "" {
		pretty, err := json.MarshalIndent(h, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(pretty))
		return err
	}
	tmpl, err := template.New("inspect").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"prettyjson": func(v any) (string, error) {
			b, err := json.MarshalIndent(v, "", "    ")
			return string(b), err
		},
	}).Parse(format)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return err
	}
	if err := tmpl.Execute(w, data); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w)
	return err
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version [arg...]",
		Short: "Show the Docker Machine version or a machine docker version",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprintf(e.stdout, "docker-machine version %s, build %s\n", Version, GitCommit)
				return nil
			}
			client := e.client(e.stderr)
			defer client.Close()
			h, err := loadOne(cmd.Context(), client, args)
			if err != nil {
				return err
			}
			v, err := client.DockerVersion(cmd.Context(), h)
			if err != nil {
				return fmt.Errorf("Error getting the Docker version of %q: %w", h.Name, err)
			}
			fmt.Fprintln(e.stdout, v)
			return nil
		},
	}
}
