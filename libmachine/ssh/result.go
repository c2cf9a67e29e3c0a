package ssh

import "fmt"

// Result is what one remote command produced.
type Result struct {
	Stdout     []byte
	Stderr     []byte
	ExitStatus int
}

// Err turns a non-zero exit into an error that quotes the command's stderr,
// for callers that treat any failure as fatal.
func (r *Result) Err(cmd string) error {
	if r.ExitStatus == 0 {
		return nil
	}
	msg := string(r.Stderr)
	if len(msg) > 2048 {
		msg = msg[len(msg)-2048:]
	}
	return fmt.Errorf("remote command %q exited with status %d: %s", cmd, r.ExitStatus, msg)
}
