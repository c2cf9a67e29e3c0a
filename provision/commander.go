package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fleetdock/machine/libmachine/ssh"
)

// Commander runs commands on the host being provisioned. A non-zero exit is
// reported in Result.ExitStatus with a nil error; an error means the command
// could not be run at all (connection lost, context done).
type Commander interface {
	Run(ctx context.Context, cmd string) (*ssh.Result, error)
	RunWithInput(ctx context.Context, cmd string, stdin io.Reader) (*ssh.Result, error)
}

// preamble makes every script independent of the login shell's locale and of
// sudo's secure_path (which on some hosts omits /usr/local/bin or /usr/sbin,
// where dockerd lives on Debian).
const preamble = "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH\n"

// runner wraps a Commander with privilege escalation, per-command deadlines
// and a command count.
type runner struct {
	c       Commander
	root    bool // logged in as root: no sudo needed
	machine string
	log     *slog.Logger
	count   int
}

// shQuote quotes s for a POSIX shell as one word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// wrap builds the command line for script. Privileged scripts run through
// "sudo -n" for non-root users so that a missing sudoers rule fails at once
// instead of hanging on a password prompt.
func (r *runner) wrap(script string, priv bool) string {
	cmd := "sh -c " + shQuote(preamble+script)
	if priv && !r.root {
		cmd = "sudo -n " + cmd
	}
	return cmd
}

// run executes script and returns its result. what names the action for
// error messages ("reading Docker's state").
func (r *runner) run(ctx context.Context, what, script string, priv bool, timeout time.Duration) (*ssh.Result, error) {
	return r.exec(ctx, what, script, nil, priv, timeout)
}

// runInput is run with data on the command's standard input.
func (r *runner) runInput(ctx context.Context, what, script string, data []byte, priv bool, timeout time.Duration) (*ssh.Result, error) {
	if data == nil {
		data = []byte{}
	}
	return r.exec(ctx, what, script, data, priv, timeout)
}

func (r *runner) exec(ctx context.Context, what, script string, data []byte, priv bool, timeout time.Duration) (*ssh.Result, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := r.wrap(script, priv)
	r.count++
	start := time.Now()
	var (
		res *ssh.Result
		err error
	)
	if data != nil {
		res, err = r.c.RunWithInput(ctx, cmd, strings.NewReader(string(data)))
	} else {
		res, err = r.c.Run(ctx, cmd)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && timeout > 0 {
			return nil, fmt.Errorf("%s%s did not finish within %s: %w", what, r.on(), timeout, err)
		}
		return nil, fmt.Errorf("%s%s: %w", what, r.on(), err)
	}
	if res == nil {
		res = &ssh.Result{}
	}
	// Only the step and exit status are logged: scripts carry no secrets but
	// can be long, and stdin may hold a private key.
	r.log.Debug("remote command", "machine", r.machine, "step", what, "exit", res.ExitStatus, "elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// check is run that treats a non-zero exit as an error quoting stderr.
func (r *runner) check(ctx context.Context, what, script string, priv bool, timeout time.Duration) (*ssh.Result, error) {
	res, err := r.run(ctx, what, script, priv, timeout)
	if err != nil {
		return nil, err
	}
	if res.ExitStatus != 0 {
		return res, fmt.Errorf("%s%s failed (exit status %d): %s", what, r.on(), res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
	return res, nil
}

// tail returns the last lines of the first non-empty output, for errors.
func tail(outs ...[]byte) string {
	for _, o := range outs {
		s := strings.TrimSpace(string(o))
		if s == "" {
			continue
		}
		lines := strings.Split(s, "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		s = strings.Join(lines, "\n")
		if len(s) > 3000 {
			s = s[len(s)-3000:]
		}
		return s
	}
	return "(no output)"
}

// sectionMark starts a named section in a probe's output. Each mark is
// preceded by a newline so that a file without a trailing newline cannot
// swallow it; parseSections removes exactly that newline again.
const sectionMark = "@@fdm:"

func section(name string) string {
	return "printf '\\n" + sectionMark + "%s\\n' " + shQuote(name) + "\n"
}

// fileSection prints the file at path as section name, only when it exists.
func fileSection(name, path string) string {
	return "if [ -f " + shQuote(path) + " ]; then " + strings.TrimSuffix(section(name), "\n") + "; cat " + shQuote(path) + "; fi\n"
}

// parseSections splits probe output into its named sections.
func parseSections(out []byte) map[string]string {
	secs := map[string]string{}
	s := string(out)
	marker := "\n" + sectionMark
	parts := strings.Split(s, marker)
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "\n")
		secs[name] = body
	}
	return secs
}

// on names the machine for error messages: ` on machine "x"`.
func (r *runner) on() string {
	if r.machine == "" {
		return ""
	}
	return fmt.Sprintf(" on machine %q", r.machine)
}
