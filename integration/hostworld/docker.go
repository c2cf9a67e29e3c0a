package hostworld

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// CommandError is a failed external command (docker, debootstrap, ...). Its
// message carries the command's stderr, never its stdin, which is where
// secrets travel.
type CommandError struct {
	Args     []string // the command line, secrets excluded by construction
	ExitCode int      // -1 when it did not run or was killed
	Stderr   string
	Err      error
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s: %s", strings.Join(e.Args, " "), msg)
}

func (e *CommandError) Unwrap() error { return e.Err }

// run executes a command and returns its stdout. On failure the error is a
// *CommandError. Cancelling ctx sends SIGTERM first so tools such as
// debootstrap can unmount what they mounted.
func run(ctx context.Context, stdin io.Reader, name string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		code := -1
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return stdout.String(), &CommandError{
			Args:     append([]string{name}, args...),
			ExitCode: code,
			Stderr:   tail(stderr.String(), 2000),
			Err:      err,
		}
	}
	return stdout.String(), nil
}

// docker runs the docker CLI.
func docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	return run(ctx, stdin, "docker", args...)
}

// isNoSuch tells whether a docker error says the object does not exist.
func isNoSuch(err error) bool {
	ce, ok := errors.AsType[*CommandError](err)
	if !ok {
		return false
	}
	s := strings.ToLower(ce.Stderr)
	return strings.Contains(s, "no such") || strings.Contains(s, "not found")
}

// tail keeps the last n bytes of s: the end of a tool's output is where it
// says what went wrong.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
