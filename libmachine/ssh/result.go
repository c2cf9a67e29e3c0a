package ssh

import "fmt"

// Result is what one remote command produced.
type Result struct {
	Stdout     []byte
	Stderr     []byte
	ExitStatus int
}

// Err turns a non-zero exit into an error that quotes the command's stderr,
// for callers that treat any failure as fatal. The error is a
// *CommandError, so callers can still read the status.
func (r *Result) Err(cmd string) error {
	if r.ExitStatus == 0 {
		return nil
	}
	msg := string(r.Stderr)
	if len(msg) > 2048 {
		msg = msg[len(msg)-2048:]
	}
	return &CommandError{Cmd: cmd, ExitStatus: r.ExitStatus, Stderr: msg}
}

// CommandError is a remote command that ran and exited non-zero.
type CommandError struct {
	Cmd        string
	ExitStatus int
	Stderr     string // the last 2 KiB
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("remote command %q exited with status %d: %s", e.Cmd, e.ExitStatus, e.Stderr)
}

// ExitError is a remote shell or command whose output went straight to the
// user and that exited non-zero, so the CLI can exit with the same status.
type ExitError struct {
	Status int
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("the remote command exited with status %d", e.Status)
}
