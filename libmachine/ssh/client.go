package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is one SSH connection to a machine. Every command of an operation
// runs in its own session on this connection; it is safe for concurrent use.
type Client struct {
	addr      string
	conn      *ssh.Client
	auth      *authSetup
	keepEvery time.Duration

	dials    atomic.Int64
	commands atomic.Int64

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// keepaliveInterval is how often an idle or busy connection is probed, and
// how long a probe may go unanswered before the connection counts as lost;
// without it a vanished host would hang a long command until TCP gives up.
var keepaliveInterval = 30 * time.Second

// Dial opens one connection: TCP connect, handshake, host key check (and
// pinning on first use), login. The attempt is bounded by ConnectTimeout
// and by ctx.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, &configError{err}
	}
	addr := cfg.Addr()
	auth, err := buildAuth(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := dialConn(ctx, cfg, addr, auth)
	if err != nil {
		auth.close()
		return nil, err
	}
	c := &Client{addr: addr, conn: conn, auth: auth, keepEvery: keepaliveInterval, done: make(chan struct{})}
	c.dials.Add(1)
	go c.keepalive()
	slog.Debug("SSH connected", "addr", addr, "user", cfg.User)
	return c, nil
}

func dialConn(ctx context.Context, cfg Config, addr string, auth *authSetup) (*ssh.Client, error) {
	timeout := cfg.connectTimeout()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var d net.Dialer
	tcp, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to SSH on %s: %w", addr, err)
	}
	// The handshake has no context of its own: a deadline bounds it, and
	// closing the socket ends it early when ctx is cancelled.
	deadline, _ := dctx.Deadline()
	tcp.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { tcp.Close() })

	policy := hostKeyPolicy{path: cfg.KnownHostsPath, addr: addr}
	pinned, err := policy.pinned(tcp.RemoteAddr())
	if err != nil {
		stop()
		tcp.Close()
		return nil, err
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth.methods,
		HostKeyCallback:   policy.callback(),
		HostKeyAlgorithms: hostKeyAlgorithms(pinned),
		ClientVersion:     "SSH-2.0-fleetdock-machine",
	}
	sconn, chans, reqs, err := ssh.NewClientConn(tcp, addr, clientCfg)
	interrupted := !stop()
	if err != nil {
		tcp.Close()
		var mismatch *HostKeyMismatchError
		var cfgErr *configError
		switch {
		case errors.As(err, &mismatch):
			return nil, mismatch
		case errors.As(err, &cfgErr):
			return nil, cfgErr
		case isAuthFailure(err):
			return nil, &AuthError{User: cfg.User, Addr: addr, Methods: auth.described, Err: err}
		case interrupted && ctx.Err() != nil:
			return nil, fmt.Errorf("SSH handshake with %s: %w", addr, ctx.Err())
		case interrupted:
			return nil, fmt.Errorf("SSH handshake with %s did not finish within %s: %w", addr, timeout, err)
		}
		return nil, fmt.Errorf("SSH handshake with %s: %w", addr, err)
	}
	if interrupted {
		sconn.Close()
		return nil, fmt.Errorf("SSH handshake with %s: %w", addr, context.Cause(dctx))
	}
	tcp.SetDeadline(time.Time{})
	return ssh.NewClient(sconn, chans, reqs), nil
}

// keepalive closes the connection when the server stops answering, which
// turns a silent network loss into an error for every running command.
func (c *Client) keepalive() {
	t := time.NewTicker(c.keepEvery)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case <-c.done:
			return
		case err := <-answered:
			if err != nil {
				slog.Debug("SSH keepalive failed", "addr", c.addr, "err", err)
				c.conn.Close()
				return
			}
		case <-time.After(c.keepEvery):
			slog.Warn("SSH server stopped answering; closing the connection", "addr", c.addr, "waited", c.keepEvery)
			c.conn.Close()
			return
		}
	}
}

// Addr is host:port of the connected server.
func (c *Client) Addr() string { return c.addr }

// Close ends the connection and every session on it.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.closeErr = c.conn.Close()
		c.auth.close()
	})
	if errors.Is(c.closeErr, net.ErrClosed) {
		return nil
	}
	return c.closeErr
}

// Stats reports the SSH connections this Client opened (1: commands share
// it) and the remote commands it ran, for "N connections, M commands"
// summaries.
func (c *Client) Stats() (dials int, commands int) {
	return int(c.dials.Load()), int(c.commands.Load())
}

// Run runs cmd and collects its output. err is non-nil only when the
// command could not be started or did not finish (connection lost, ctx
// done); a non-zero exit is Result.ExitStatus with a nil error.
func (c *Client) Run(ctx context.Context, cmd string) (*Result, error) {
	return c.RunWithInput(ctx, cmd, nil)
}

// RunWithInput is Run with stdin fed from r (nil: empty input).
func (c *Client) RunWithInput(ctx context.Context, cmd string, stdin io.Reader) (*Result, error) {
	var stdout, stderr bytes.Buffer
	status, err := c.exec(ctx, cmd, stdin, &stdout, &stderr)
	if err != nil {
		return nil, err
	}
	return &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitStatus: status}, nil
}

// Output returns cmd's stdout; a non-zero exit is an error quoting stderr.
func (c *Client) Output(ctx context.Context, cmd string) (string, error) {
	res, err := c.Run(ctx, cmd)
	if err != nil {
		return "", err
	}
	if err := res.Err(cmd); err != nil {
		return string(res.Stdout), fmt.Errorf("on %s: %w", c.addr, err)
	}
	return string(res.Stdout), nil
}

// inputReader remembers a failure to read local input, so a transfer whose
// source broke is reported even if the remote side exited 0.
type inputReader struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (ir *inputReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if err != nil && err != io.EOF {
		ir.mu.Lock()
		ir.err = err
		ir.mu.Unlock()
	}
	return n, err
}

func (ir *inputReader) failed() error {
	if ir == nil {
		return nil
	}
	ir.mu.Lock()
	defer ir.mu.Unlock()
	return ir.err
}

// exec runs one command in a new session, streaming into stdout and stderr,
// and returns its exit status. When ctx can end, the command also reports
// its process group so that cancelling ends the whole command on the
// machine (see cancel.go).
func (c *Client) exec(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return c.execSession(ctx, cmd, stdin, stdout, stderr, ctx.Done() != nil)
}

func (c *Client) execSession(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer, killable bool) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("not running %s on %s: %w", describeCmd(cmd), c.addr, err)
	}
	sess, err := c.conn.NewSession()
	if err != nil {
		return 0, c.lostErr("opening a session for "+describeCmd(cmd), err)
	}
	defer sess.Close()
	c.commands.Add(1)
	remoteCmd := cmd
	var group *groupReporter
	if killable {
		group = newGroupReporter(stderr)
		stderr = group
		remoteCmd = group.wrap(cmd)
	}
	sess.Stdout = stdout
	sess.Stderr = stderr

	// Stdin is copied here rather than by the session: the session would
	// report a remote that stops reading early as a failure, and would not
	// stop the command when the local source fails.
	var in *inputReader
	var stdinPipe io.WriteCloser
	if stdin != nil {
		in = &inputReader{r: stdin}
		if stdinPipe, err = sess.StdinPipe(); err != nil {
			return 0, fmt.Errorf("attaching input to %s on %s: %w", describeCmd(cmd), c.addr, err)
		}
	}
	slog.Debug("SSH run", "addr", c.addr, "cmd", describeCmd(cmd))
	if err := sess.Start(remoteCmd); err != nil {
		return 0, c.lostErr("starting "+describeCmd(cmd), err)
	}
	if in != nil {
		go func() {
			_, err := io.Copy(stdinPipe, in)
			if in.failed() != nil {
				// Abort: the remote must not treat a truncated input as complete.
				sess.Close()
				return
			}
			if err != nil {
				slog.Debug("remote command stopped reading its input", "addr", c.addr, "cmd", describeCmd(cmd), "err", err)
			}
			stdinPipe.Close()
		}()
	}

	// sshd honours the signal request only for non-root users, and then
	// only for the shell itself; ending the process group from a second
	// session also covers root logins and the shell's children. Output
	// gathered so far is discarded: the copiers may still be writing it.
	err, stopped := c.wait(ctx, sess, describeCmd(cmd), func() {
		if pid := group.pid(2 * time.Second); pid > 0 {
			c.endGroup(pid)
		}
	})
	if stopped != nil {
		return 0, stopped
	}
	if group != nil {
		if ferr := group.flush(); err == nil && ferr != nil {
			err = ferr
		}
	}
	if err := in.failed(); err != nil {
		return 0, fmt.Errorf("reading the input for %s on %s: %w", describeCmd(cmd), c.addr, err)
	}
	var exitErr *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		return exitErr.ExitStatus(), nil
	}
	return 0, c.lostErr(describeCmd(cmd)+" did not finish", err)
}

// wait waits for the command of sess. When ctx ends first, the command is
// sent SIGKILL, kill (if any) ends what the signal does not reach, the
// session is closed, and stopped says what was stopped and why.
func (c *Client) wait(ctx context.Context, sess *ssh.Session, what string, kill func()) (err, stopped error) {
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err := <-waited:
		return err, nil
	case <-ctx.Done():
		sess.Signal(ssh.SIGKILL)
		if kill != nil {
			kill()
		}
		sess.Close()
		return nil, fmt.Errorf("%s on %s was stopped: %w", what, c.addr, context.Cause(ctx))
	}
}

func (c *Client) lostErr(what string, err error) error {
	var missing *ssh.ExitMissingError
	if errors.Is(err, io.EOF) || errors.As(err, &missing) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%s on %s: the SSH connection was lost (the machine may have rebooted or the network dropped); reconnect and try again: %w", what, c.addr, err)
	}
	return fmt.Errorf("%s on %s: %w", what, c.addr, err)
}

// describeCmd shortens a command for messages and logs: scripts can be long.
func describeCmd(cmd string) string {
	first, _, multi := strings.Cut(cmd, "\n")
	const max = 80
	if len(first) > max {
		first = first[:max]
		multi = true
	}
	if multi {
		first += " ..."
	}
	return fmt.Sprintf("command %q", first)
}
