package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/template"
	"time"

	"github.com/docker/machine/libmachine/state"
	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
)

// Argument lines of the help texts, as stock words them.
const (
	argsMachines = "Argument(s) are one or more machine names."
	argsMachine  = "Argument is a machine name."
)

// machineCmd is a command over the machines its arguments name, described
// as stock describes them; the caller sets RunE.
func machineCmd(use, short, argsLine string) *cobra.Command {
	return &cobra.Command{Use: use + " [arg...]", Short: short, Long: short + "\n\n" + argsLine}
}

// actionCmd runs action on each machine named, in parallel, and prints
// after when all succeeded.
func actionCmd(f *cmdutil.Factory, use, short string, action func(*libmachine.Client, context.Context, *host.Host) error, after string) *cobra.Command {
	cmd := machineCmd(use, short, argsMachines)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		client := f.Client(f.IOStreams.Out)
		defer client.Close()
		do := func(ctx context.Context, h *host.Host) error { return action(client, ctx, h) }
		if err := cmdutil.ForEachMachine(cmd.Context(), client, args, do); err != nil {
			return err
		}
		if after != "" {
			fmt.Fprintln(f.IOStreams.Out, after)
		}
		return nil
	}
	return cmd
}

const newAddresses = "may have new IP addresses. You may need to re-run the `docker-machine env` command."

func newStartCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "start", "Start a machine", (*libmachine.Client).Start, "Started machines "+newAddresses)
}

func newStopCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "stop", "Stop a machine", (*libmachine.Client).Stop, "")
}

func newKillCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "kill", "Kill a machine", (*libmachine.Client).Kill, "")
}

func newRestartCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "restart", "Restart a machine", (*libmachine.Client).Restart, "Restarted machines "+newAddresses)
}

func newProvisionCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "provision", "Re-provision existing machines", (*libmachine.Client).Provision, "")
}

func newUpgradeCmd(f *cmdutil.Factory) *cobra.Command {
	return actionCmd(f, "upgrade", "Upgrade a machine to the latest version of Docker", upgrade, "")
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

func newRegenerateCertsCmd(f *cmdutil.Factory) *cobra.Command {
	var force, clientCerts bool
	cmd := machineCmd("regenerate-certs", "Regenerate TLS Certificates for a machine", argsMachines)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !force {
			ok, err := f.Prompter.Confirm("Regenerate TLS machine certs?  Warning: this is irreversible.")
			if err != nil || !ok {
				return err
			}
		}
		client := f.Client(f.IOStreams.Out)
		defer client.Close()
		if clientCerts {
			client.Infof("Regenerating local certificates")
			if err := client.RegenerateClientCerts(cmd.Context()); err != nil {
				return err
			}
		}
		return cmdutil.ForEachMachine(cmd.Context(), client, args, func(ctx context.Context, h *host.Host) error {
			client.Infof("Regenerating TLS certificates")
			return client.RegenerateCerts(ctx, h)
		})
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force rebuild and do not prompt")
	cmd.Flags().BoolVar(&clientCerts, "client-certs", false, "Also regenerate client certificates and CA.")
	return cmd
}

func newIPCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := machineCmd("ip", "Get the IP address of a machine", argsMachines)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		client := f.Client(f.IOStreams.ErrOut)
		defer client.Close()
		names, err := cmdutil.TargetNames(client, args)
		if err != nil {
			return err
		}
		var errs []string
		for _, l := range cmdutil.LoadHosts(cmd.Context(), client, names) {
			if l.Err != nil {
				errs = append(errs, l.Err.Error())
				continue
			}
			ip, err := l.Host.Driver.GetIP()
			if err != nil {
				errs = append(errs, fmt.Sprintf("Error getting IP address of %q: %v", l.Name, err))
				continue
			}
			fmt.Fprintln(f.IOStreams.Out, ip)
		}
		return cmdutil.JoinLines(errs)
	}
	return cmd
}

// printCmd prints one value of the single machine it is given.
func printCmd(f *cmdutil.Factory, use, short string, value func(*host.Host) (string, error)) *cobra.Command {
	cmd := machineCmd(use, short, argsMachine)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return f.WithMachine(cmd.Context(), args, func(_ *libmachine.Client, h *host.Host) error {
			v, err := value(h)
			if err != nil {
				return err
			}
			fmt.Fprintln(f.IOStreams.Out, v)
			return nil
		})
	}
	return cmd
}

func newURLCmd(f *cmdutil.Factory) *cobra.Command {
	return printCmd(f, "url", "Get the URL of a machine", func(h *host.Host) (string, error) {
		u, err := h.Driver.GetURL()
		if err != nil {
			return "", fmt.Errorf("Error getting URL of %q: %w", h.Name, err)
		}
		return u, nil
	})
}

func newStatusCmd(f *cmdutil.Factory) *cobra.Command {
	return printCmd(f, "status", "Get the status of a machine", func(h *host.Host) (string, error) {
		st, err := h.Driver.GetState()
		if err != nil {
			return "", fmt.Errorf("error getting state for host %s: %w", h.Name, err)
		}
		return st.String(), nil
	})
}

func newActiveCmd(f *cmdutil.Factory) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "active",
		Short: "Print which machine is active",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := f.Client(f.IOStreams.ErrOut)
			defer client.Close()
			names, err := client.Store.List()
			if err != nil {
				return err
			}
			hosts, _ := cmdutil.Loaded(cmdutil.LoadHosts(cmd.Context(), client, names))
			items := hostItems(cmd.Context(), client, hosts, swarmMasters(hosts), time.Duration(timeout)*time.Second)
			timedOut := false
			for _, it := range items {
				if it.ActiveHost || it.ActiveSwarm {
					fmt.Fprintln(f.IOStreams.Out, it.Name)
					return nil
				}
				timedOut = timedOut || it.State == ListState(state.Timeout)
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

func newInspectCmd(f *cmdutil.Factory) *cobra.Command {
	var format string
	cmd := machineCmd("inspect", "Inspect information about a machine", argsMachine)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return f.WithMachine(cmd.Context(), args, func(_ *libmachine.Client, h *host.Host) error {
			return inspect(f.IOStreams.Out, h, format)
		})
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

func newVersionCmd(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version [arg...]",
		Short: "Show the Docker Machine version or a machine docker version",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprintf(f.IOStreams.Out, "docker-machine version %s, build %s\n", Version, GitCommit)
				return nil
			}
			return f.WithMachine(cmd.Context(), args, func(client *libmachine.Client, h *host.Host) error {
				v, err := client.DockerVersion(cmd.Context(), h)
				if err != nil {
					return fmt.Errorf("Error getting the Docker version of %q: %w", h.Name, err)
				}
				fmt.Fprintln(f.IOStreams.Out, v)
				return nil
			})
		},
	}
}
