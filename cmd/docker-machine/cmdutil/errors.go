package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fleetdock/machine/libmachine"
)

// Exit statuses, as stock: 1 for any error, 3 when the pre-create check fails.
const (
	ExitError     = 1
	ExitPreCreate = 3
	// ExitInterrupted is a command stopped by Ctrl-C or SIGTERM, as shells
	// report a command killed by SIGINT.
	ExitInterrupted = 130
)

// StatusError carries a specific exit status out of a command. An empty
// Err exits with Status and prints nothing (the command said it already).
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// ExitStatus prints what a command's error says to stderr and returns the
// exit status it stands for; nil is 0.
func ExitStatus(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Err != nil && se.Err.Error() != "" {
			fmt.Fprintln(stderr, se.Err)
		}
		return se.Status
	}
	fmt.Fprintln(stderr, err)
	var pe *libmachine.PreCreateError
	if errors.As(err, &pe) {
		return ExitPreCreate
	}
	var ie *libmachine.InterruptedError
	if errors.As(err, &ie) || errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitError
}

// JoinLines is msgs as one error, one message a line; nil when there are none.
func JoinLines(msgs []string) error {
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n"))
}
