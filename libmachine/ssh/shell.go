package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// Shell runs cmd, or the user's login shell when cmd is "", wired to the
// given streams. When stdin is a terminal the session gets a PTY of the
// terminal's size, the local terminal goes raw for the duration, and size
// changes are forwarded; otherwise plain pipes are used.
func (c *Client) Shell(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) error {
	what := "the login shell"
	if cmd != "" {
		what = describeCmd(cmd)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not starting %s on %s: %w", what, c.addr, err)
	}
	sess, err := c.conn.NewSession()
	if err != nil {
		return c.lostErr("opening a session for "+what, err)
	}
	defer sess.Close()
	c.commands.Add(1)
	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr

	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		width, height, err := term.GetSize(fd)
		if err != nil {
			width, height = 80, 24
		}
		termName := os.Getenv("TERM")
		if termName == "" {
			termName = "xterm"
		}
		modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 14400, ssh.TTY_OP_OSPEED: 14400}
		if err := sess.RequestPty(termName, height, width, modes); err != nil {
			return fmt.Errorf("requesting a terminal on %s: %w", c.addr, err)
		}
		state, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("switching the local terminal to raw mode: %w", err)
		}
		defer term.Restore(fd, state)
		stop := forwardResize(fd, sess)
		defer stop()
	}

	if cmd == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(cmd)
	}
	if err != nil {
		return c.lostErr("starting "+what, err)
	}
	err, stopped := c.wait(ctx, sess, what, nil)
	if stopped != nil {
		return stopped
	}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		return &ExitError{Status: exitErr.ExitStatus()}
	}
	return c.lostErr(what+" did not finish", err)
}
