package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/state"
	"github.com/spf13/cobra"

	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/ssh"
)

func newRmCmd(f *cmdutil.Factory) *cobra.Command {
	var force, yes bool
	cmd := machineCmd("rm", "Remove a machine", argsMachines)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return errors.New("Error: Expected to get one or more machine names as arguments")
		}
		fmt.Fprintf(f.IOStreams.Out, "About to remove %s\n", strings.Join(args, ", "))
		fmt.Fprintln(f.IOStreams.Out, "WARNING: This action will delete both local reference and remote instance.")
		if !force && !yes {
			ok, err := f.Prompter.Confirm("Are you sure?")
			if err != nil || !ok {
				return err
			}
		}
		client := f.Client(f.IOStreams.Out)
		defer client.Close()
		var failed []string
		for _, name := range args {
			warning, err := client.Remove(cmd.Context(), name, force)
			switch {
			case err != nil:
				failed = append(failed, err.Error())
			case warning != nil:
				// -f dropped the entry, but the machine may live on:
				// never a success.
				failed = append(failed, fmt.Sprintf("Error removing host %q: %v", name, warning))
			default:
				fmt.Fprintf(f.IOStreams.Out, "Successfully removed %s\n", name)
			}
		}
		return cmdutil.JoinLines(failed)
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Remove local configuration even if machine cannot be removed, also implies an automatic yes (`-y`)")
	cmd.Flags().BoolVarP(&yes, "y", "y", false, "Assumes automatic yes to proceed with remove, without prompting further user confirmation")
	return cmd
}

// runningHost loads a machine and insists that it runs, as SSH needs.
func runningHost(ctx context.Context, client *libmachine.Client, name, verb string) (*host.Host, error) {
	h, err := client.Load(ctx, name)
	if err != nil {
		return nil, err
	}
	st, err := h.Driver.GetState()
	if err != nil {
		return nil, fmt.Errorf("getting the state of %q: %w", name, err)
	}
	if st != state.Running {
		return nil, fmt.Errorf("Error: Cannot %s: Host %q is not running", verb, name)
	}
	return h, nil
}

// sshConfig is how to reach the running machine t names over SSH, as t's
// user when it names one.
func sshConfig(ctx context.Context, client *libmachine.Client, t scpTarget, verb string) (ssh.Config, error) {
	h, err := runningHost(ctx, client, t.machine, verb)
	if err != nil {
		return ssh.Config{}, err
	}
	cfg, err := client.SSHConfig(h)
	if err != nil {
		return ssh.Config{}, err
	}
	if t.user != "" {
		cfg.User = t.user
	}
	return cfg, nil
}

// externalSSHConfig is sshConfig for an external ssh (rsync, sshfs): one
// native connection first pins the machine's host key, since the external
// ssh trusts only pinned keys.
func externalSSHConfig(ctx context.Context, client *libmachine.Client, t scpTarget, verb string) (ssh.Config, error) {
	cfg, err := sshConfig(ctx, client, t, verb)
	if err != nil {
		return cfg, err
	}
	c, err := ssh.Dial(ctx, cfg)
	if err != nil {
		return cfg, err
	}
	return cfg, c.Close()
}

func newSSHCmd(f *cmdutil.Factory) *cobra.Command {
	return cmdutil.OwnFlagsCmd("ssh [arg...]", "Log into or run a command on a machine with SSH.",
		"Log into or run a command on a machine with SSH.\n\nArguments are [machine-name] [command]",
		func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				return cmd.Help()
			}
			client := f.Client(f.IOStreams.ErrOut)
			defer client.Close()
			var name string
			if len(args) == 0 {
				names, err := cmdutil.TargetNames(client, nil)
				if err != nil {
					return err
				}
				name = names[0]
			} else {
				name, args = args[0], args[1:]
			}
			ctx := cmd.Context()
			cfg, err := sshConfig(ctx, client, scpTarget{machine: name}, "run SSH command")
			if err != nil {
				return err
			}
			conn, err := ssh.Dial(ctx, cfg)
			if err != nil {
				return fmt.Errorf("connecting to %q over SSH: %w", name, err)
			}
			defer conn.Close()
			err = conn.Shell(ctx, strings.Join(args, " "), f.IOStreams.In, f.IOStreams.Out, f.IOStreams.ErrOut)
			var exit *ssh.ExitError
			if errors.As(err, &exit) {
				return &cmdutil.StatusError{Status: exit.Status}
			}
			return err
		})
}

// scpTarget is one side of a copy: a local path, or a path on a machine.
type scpTarget struct {
	machine, user, path string
}

// remoteSide is the side of a copy between this computer and one machine
// that names the machine.
func remoteSide(src, dst scpTarget) scpTarget {
	if src.machine == "" {
		return dst
	}
	return src
}

func parseSCPArg(arg string) scpTarget {
	// A Windows-style or relative local path never contains ':' before a
	// '/', so "name:path" is unambiguous enough, as in stock.
	before, after, ok := strings.Cut(arg, ":")
	if !ok || strings.Contains(before, "/") {
		return scpTarget{path: arg}
	}
	user, machine, hasUser := strings.Cut(before, "@")
	if !hasUser {
		machine, user = user, ""
	}
	return scpTarget{machine: machine, user: user, path: after}
}

func newSCPCmd(f *cmdutil.Factory) *cobra.Command {
	var recursive, delta, quiet bool
	cmd := &cobra.Command{
		Use:   "scp [arg...]",
		Short: "Copy files between machines",
		Long:  "Copy files between machines\n\nArguments are [[user@]machine:][path] [[user@]machine:][path].",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return errors.New("Improper number of arguments")
			}
			src, dst := parseSCPArg(args[0]), parseSCPArg(args[1])
			if src.machine == "" && dst.machine == "" {
				return errors.New("Error: at least one of the arguments must name a machine, as in NAME:path")
			}
			client := f.Client(f.IOStreams.ErrOut)
			defer client.Close()
			ctx := cmd.Context()
			if delta {
				return rsync(f, ctx, client, src, dst, quiet)
			}
			open := func(t scpTarget) (*ssh.Client, error) {
				cfg, err := sshConfig(ctx, client, t, "copy files")
				if err != nil {
					return nil, err
				}
				return ssh.Dial(ctx, cfg)
			}
			if src.machine == "" || dst.machine == "" {
				c, err := open(remoteSide(src, dst))
				if err != nil {
					return err
				}
				defer c.Close()
				if src.machine == "" {
					return c.CopyTo(ctx, src.path, dst.path, recursive)
				}
				return c.CopyFrom(ctx, src.path, dst.path, recursive)
			}
			// Machine to machine goes through this computer, like scp -3.
			tmp, err := os.MkdirTemp("", "docker-machine-scp-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			from, err := open(src)
			if err != nil {
				return err
			}
			defer from.Close()
			local := filepath.Join(tmp, filepath.Base(filepath.Clean(src.path)))
			if err := from.CopyFrom(ctx, src.path, local, recursive); err != nil {
				return err
			}
			to, err := open(dst)
			if err != nil {
				return err
			}
			defer to.Close()
			return to.CopyTo(ctx, local, dst.path, recursive)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&recursive, "recursive", "r", false, "Copy files recursively (required to copy directories)")
	fl.BoolVarP(&delta, "delta", "d", false, "Reduce amount of data sent over network by sending only the differences (uses rsync)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Disables the progress meter as well as warning and diagnostic messages from ssh")
	return cmd
}

// externalSSH is the ssh command line (for rsync and sshfs) that uses the
// machine's key and the host key pinned in its directory.
func externalSSH(cfg ssh.Config) []string {
	args := []string{"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + cfg.KnownHostsPath,
		"-p", strconv.Itoa(cfg.Port)}
	for _, k := range cfg.KeyPaths {
		args = append(args, "-i", k)
	}
	return args
}

func rsync(f *cmdutil.Factory, ctx context.Context, client *libmachine.Client, src, dst scpTarget, quiet bool) error {
	if _, err := exec.LookPath("rsync"); err != nil {
		return errors.New("You must have a copy of the rsync binary locally to use the --delta option")
	}
	if src.machine != "" && dst.machine != "" {
		return errors.New("Error: --delta copies between this computer and one machine, not between two machines")
	}
	remote := remoteSide(src, dst)
	cfg, err := externalSSHConfig(ctx, client, remote, "copy files")
	if err != nil {
		return err
	}
	spec := func(t scpTarget) string {
		if t.machine == "" {
			return t.path
		}
		return fmt.Sprintf("%s@%s:%s", cfg.User, cfg.Host, t.path)
	}
	args := []string{"-a", "--delete", "-e", strings.Join(externalSSH(cfg), " ")}
	if !quiet {
		args = append(args, "--progress")
	}
	args = append(args, spec(src), spec(dst))
	c := exec.CommandContext(ctx, "rsync", args...)
	c.Stdout, c.Stderr = f.IOStreams.Out, f.IOStreams.ErrOut
	return c.Run()
}

func newMountCmd(f *cmdutil.Factory) *cobra.Command {
	var unmount bool
	cmd := &cobra.Command{
		Use:   "mount [arg...]",
		Short: "Mount or unmount a directory from a machine with SSHFS.",
		Long:  "Mount or unmount a directory from a machine with SSHFS.\n\nArguments are [machine:][path] [mountpoint]",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return errors.New("Improper number of arguments")
			}
			src := parseSCPArg(args[0])
			if src.machine == "" {
				src = scpTarget{machine: args[0]}
			}
			mountpoint := src.path
			if len(args) == 2 {
				mountpoint = args[1]
			}
			if mountpoint == "" {
				return errors.New("Error: a mountpoint is required")
			}
			ctx := cmd.Context()
			if unmount {
				if _, err := exec.LookPath("fusermount"); err != nil {
					return errors.New("You must have a copy of the fusermount binary locally to use the unmount option")
				}
				c := exec.CommandContext(ctx, "fusermount", "-u", mountpoint)
				c.Stdout, c.Stderr = f.IOStreams.Out, f.IOStreams.ErrOut
				return c.Run()
			}
			if _, err := exec.LookPath("sshfs"); err != nil {
				return errors.New("You must have a copy of the sshfs binary locally to use the mount feature")
			}
			client := f.Client(f.IOStreams.ErrOut)
			defer client.Close()
			cfg, err := externalSSHConfig(ctx, client, src, "mount")
			if err != nil {
				return err
			}
			sshArgs := externalSSH(cfg)
			opts := []string{"-o", "ssh_command=" + strings.Join(sshArgs, " ")}
			c := exec.CommandContext(ctx, "sshfs", append(opts, fmt.Sprintf("%s@%s:%s", cfg.User, cfg.Host, src.path), mountpoint)...)
			c.Stdout, c.Stderr = f.IOStreams.Out, f.IOStreams.ErrOut
			return c.Run()
		},
	}
	cmd.Flags().BoolVarP(&unmount, "unmount", "u", false, "Unmount instead of mount")
	return cmd
}
