// Command testhost starts and removes hostworld hosts by hand, for the demo
// and for poking at the test world:
//
//	testhost image [--with-docker]
//	testhost up --name N [--authorized-key FILE] [--root-password P] [--with-docker]
//	testhost down --name N
//	testhost down --all    (every hostworld host on this machine, anyone's)
//	testhost serve-install (serves the Docker install script until stopped)
//
// "up" prints one JSON line: {"name","ip","container","sudo_user"}.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fleetdock/machine/integration/hostworld"
)

const usage = `usage:
  testhost image [--with-docker]
  testhost up --name N [--authorized-key FILE] [--root-password P] [--sudo-user U] [--with-docker]
  testhost down --name N | --all   (--all: every hostworld host on this machine, anyone's)
  testhost serve-install            (prints the script's URL, serves it until SIGINT/SIGTERM)
`

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testhost:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command given: %w", flag.ErrHelp)
	}
	switch args[0] {
	case "image":
		return cmdImage(ctx, args[1:], stdout)
	case "up":
		return cmdUp(ctx, args[1:], stdout)
	case "down":
		return cmdDown(ctx, args[1:])
	case "serve-install":
		return cmdServeInstall(ctx, stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q: %w", args[0], flag.ErrHelp)
	}
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("testhost "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func cmdImage(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("image")
	withDocker := fs.Bool("with-docker", false, "the image with Debian's docker.io preinstalled")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: *withDocker})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tag)
	return nil
}

type upResult struct {
	Name      string `json:"name"`
	IP        string `json:"ip"`
	Container string `json:"container"`
	SudoUser  string `json:"sudo_user"`
}

func cmdUp(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("up")
	name := fs.String("name", "", "host name (container name and hostname), required")
	keyFile := fs.String("authorized-key", "", "file of authorized_keys lines (e.g. a .pub key) for root and the sudo user")
	password := fs.String("root-password", "", "root password; SSH password login is enabled")
	sudoUser := fs.String("sudo-user", hostworld.DefaultSudoUser, "second user with passwordless sudo")
	withDocker := fs.Bool("with-docker", false, "use the image with docker.io preinstalled")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("--name is required: %w", flag.ErrHelp)
	}
	opts := hostworld.HostOptions{Name: *name, RootPassword: *password, SudoUser: *sudoUser}
	if *keyFile != "" {
		keys, err := readKeys(*keyFile)
		if err != nil {
			return err
		}
		opts.AuthorizedKeys = keys
	}
	img, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: *withDocker})
	if err != nil {
		return err
	}
	opts.Image = img
	h, err := hostworld.Start(ctx, opts)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(upResult{Name: h.Name, IP: h.IP, Container: h.ContainerID, SudoUser: h.SudoUser})
}

// readKeys returns the non-empty, non-comment lines of an authorized_keys
// style file.
func readKeys(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading authorized keys: %w", err)
	}
	var keys []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key found in %s: pass a public key file such as ~/.ssh/id_ed25519.pub", path)
	}
	return keys, nil
}

func cmdDown(ctx context.Context, args []string) error {
	fs := newFlags("down")
	name := fs.String("name", "", "host to remove")
	all := fs.Bool("all", false, "remove every hostworld host on this machine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *all && *name == "":
		return hostworld.RemoveAllLabelled(ctx, nil)
	case *name != "" && !*all:
		h, err := hostworld.FindHost(ctx, *name)
		if errors.Is(err, hostworld.ErrNoHost) {
			// Already gone: down is idempotent, like Remove.
			slog.Info("no such host, nothing to remove", "host", *name)
			return nil
		}
		if err != nil {
			return err
		}
		return h.Remove(ctx)
	default:
		return fmt.Errorf("give either --name N or --all: %w", flag.ErrHelp)
	}
}

// cmdServeInstall serves the install script hosts pipe to sh, printing its
// URL as the first line, until the context ends.
func cmdServeInstall(ctx context.Context, stdout io.Writer) error {
	url, stop, err := hostworld.ServeInstallScript(ctx)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stdout, url)
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	return nil
}
