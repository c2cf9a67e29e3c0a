// Package cmdutil is what the docker-machine commands share: the Factory
// they get their dependencies from, the errors that carry an exit status,
// choosing and loading the machines a command names, and reading driver
// flags from a command line.
package cmdutil

import (
	"io"
	"log/slog"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/linelog"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/cmd/docker-machine/prompter"
	"github.com/fleetdock/machine/libmachine"
)

// Settings are the global flags of one invocation.
type Settings struct {
	StoragePath string
	// TLS overrides: the CA and client certificate for new machines, in
	// place of the store's own.
	TLSCACert, TLSCAKey, TLSClientCert, TLSClientKey string
	GithubToken                                      string
	BugsnagToken                                     string
	Debug                                            bool
	NativeSSH                                        bool
	// Argv0 is the name the CLI was started as, for the hints it prints;
	// Argv the whole command line.
	Argv0 string
	Argv  []string
}

// Factory is the one value every command is built from: streams, prompts,
// settings, and how to reach the store and log.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Prompter  prompter.Prompter
	// Settings are read when a command runs, so the root command can fill
	// them from the global flags after the commands are built.
	Settings *Settings

	// Logger returns the logger of libmachine and of the drivers it runs:
	// info lines to out, debug lines (with --debug) to the error stream.
	Logger func(out io.Writer) *slog.Logger
	// Client opens the store of the settings. Its progress lines and the
	// log lines of the drivers it opens go to out. The caller closes it.
	Client func(out io.Writer) *libmachine.Client
}

// New returns the factory over streams and settings, with prompts asked on
// the streams and clients over the settings' store.
func New(ios *iostreams.IOStreams, s *Settings) *Factory {
	f := &Factory{IOStreams: ios, Prompter: prompter.New(ios.In, ios.Out), Settings: s}
	f.Logger = func(out io.Writer) *slog.Logger { return linelog.New(out, ios.ErrOut, s.Debug) }
	f.Client = func(out io.Writer) *libmachine.Client { return s.client(out, f.Logger(out)) }
	return f
}

func (s *Settings) client(out io.Writer, log *slog.Logger) *libmachine.Client {
	c := libmachine.New(s.StoragePath, out, log)
	c.NativeSSH = s.NativeSSH
	for dst, src := range map[*string]string{
		&c.Certs.CACert:     s.TLSCACert,
		&c.Certs.CAKey:      s.TLSCAKey,
		&c.Certs.ClientCert: s.TLSClientCert,
		&c.Certs.ClientKey:  s.TLSClientKey,
	} {
		if src != "" {
			*dst = src
		}
	}
	return c
}
