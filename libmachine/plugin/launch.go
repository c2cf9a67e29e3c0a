package plugin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/machine/libmachine/drivers/plugin/localbinary"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/version"
)

// timing holds the protocol's clocks; tests shorten them.
type timing struct {
	// addressTimeout bounds the wait for the plugin's address line.
	addressTimeout time.Duration
	// heartbeat is how often the client proves it is alive; stock plugins
	// exit after 10 s without one.
	heartbeat time.Duration
	// closeTimeout bounds the wait for the plugin to exit after Close.
	closeTimeout time.Duration
	// exitGrace is how long a failed call waits to learn whether the
	// plugin process died, to report that instead of a bare I/O error.
	exitGrace time.Duration
}

var defaultTiming = timing{
	addressTimeout: 10 * time.Second,
	heartbeat:      5 * time.Second,
	closeTimeout:   5 * time.Second,
	exitGrace:      2 * time.Second,
}

// stderrTailLines is how many stderr lines an ExitedError carries.
const stderrTailLines = 10

// ExitedError reports a plugin process that is no longer running.
type ExitedError struct {
	Binary string
	// Err is the process's exit error (nil for exit status 0).
	Err error
	// Stderr holds its last stderr lines, oldest first.
	Stderr []string
}

func (e *ExitedError) Error() string {
	status := "exit status 0"
	if e.Err != nil {
		status = e.Err.Error()
	}
	msg := fmt.Sprintf("driver plugin %s exited (%s)", e.Binary, status)
	if len(e.Stderr) > 0 {
		msg += "; its last output was:\n  " + strings.Join(e.Stderr, "\n  ")
	} else {
		msg += " without any output; run it with the same environment to see why"
	}
	return msg
}

func (e *ExitedError) Unwrap() error { return e.Err }

// process is one running plugin binary and the readers of its output.
type process struct {
	binary string
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process has been reaped
	err    error         // Wait's result, valid after done
	addrCh chan string   // receives the first stdout line
	tail   *lineTail
}

// Launch starts a plugin binary and connects to it. The driver name the
// plugin is told (MACHINE_PLUGIN_DRIVER_NAME) comes from the file name,
// docker-machine-driver-NAME.
func Launch(ctx context.Context, binaryPath string, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.Default()
	}
	name := strings.TrimSuffix(filepath.Base(binaryPath), ".exe")
	name = strings.TrimPrefix(name, BinaryPrefix)
	return launch(ctx, binaryPath, name, logger, defaultTiming)
}

func launch(ctx context.Context, binaryPath, driverName string, logger *slog.Logger, t timing) (*Client, error) {
	c := &Client{
		driverName: driverName,
		binary:     binaryPath,
		logger:     logger,
		timing:     t,
		service:    rpcdriver.RPCServiceNameV1,
		stopBeat:   make(chan struct{}),
		beatDone:   make(chan struct{}),
	}
	c.setMachineName(driverName)

	p, err := startProcess(binaryPath, driverName, c.logLine)
	if err != nil {
		return nil, err
	}
	c.proc = p
	logger.Debug("Launched driver plugin", "binary", binaryPath, "driver", driverName, "pid", p.cmd.Process.Pid)

	addr, err := p.address(ctx, t.addressTimeout)
	if err != nil {
		p.kill()
		return nil, err
	}
	logger.Debug("Driver plugin listening", "binary", binaryPath, "address", addr)

	c.rpc, err = dialRPC(ctx, addr, t.addressTimeout)
	if err != nil {
		p.kill()
		if exited := p.exitedError(); exited != nil {
			return nil, exited
		}
		return nil, fmt.Errorf("connecting to driver plugin %s at %s: %w", binaryPath, addr, err)
	}

	if err := c.negotiate(); err != nil {
		c.rpc.Close()
		p.kill()
		return nil, err
	}
	go c.heartbeat()
	return c, nil
}

func startProcess(binaryPath, driverName string, logLine func(stream, line string)) (*process, error) {
	p := &process{
		binary: binaryPath,
		done:   make(chan struct{}),
		addrCh: make(chan string, 1),
		tail:   &lineTail{max: stderrTailLines},
	}
	first := true
	stdout := &lineWriter{onLine: func(line string) {
		if first {
			first = false
			p.addrCh <- strings.TrimSpace(line)
			return
		}
		logLine("stdout", line)
	}}
	stderr := &lineWriter{onLine: func(line string) {
		p.tail.add(line)
		logLine("stderr", line)
	}}

	// No arguments, as stock; the token and driver name go to the child
	// only, so concurrent launches never race on our own environment.
	p.cmd = exec.Command(binaryPath)
	p.cmd.Env = append(os.Environ(),
		localbinary.PluginEnvKey+"="+localbinary.PluginEnvVal,
		localbinary.PluginEnvDriverName+"="+driverName,
	)
	p.cmd.Stdout = stdout
	p.cmd.Stderr = stderr
	// A grandchild holding the pipes open must not keep Wait from returning.
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting driver plugin %s: %w", binaryPath, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(p.done)
	}()
	return p, nil
}

// address waits for the plugin's first stdout line.
func (p *process) address(ctx context.Context, timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case addr := <-p.addrCh:
		if err := checkLoopback(addr); err != nil {
			return "", fmt.Errorf("driver plugin %s: %w", p.binary, err)
		}
		return addr, nil
	case <-p.done:
		return "", p.exitedError()
	case <-timer.C:
		return "", fmt.Errorf("driver plugin %s did not print its address within %s; is it a docker-machine plugin binary?", p.binary, timeout)
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for driver plugin %s to start: %w", p.binary, ctx.Err())
	}
}

// checkLoopback refuses addresses other than loopback: stock plugins always
// listen on 127.0.0.1, and anything else is not a plugin we should talk to.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("printed %q instead of its listening address (127.0.0.1:PORT)", addr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("printed address %q, which is not a loopback address", addr)
	}
	return nil
}

// exitedError returns the ExitedError once the process is gone, else nil.
func (p *process) exitedError() error {
	select {
	case <-p.done:
		return &ExitedError{Binary: p.binary, Err: p.err, Stderr: p.tail.lines()}
	default:
		return nil
	}
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to timeout for the process to exit by itself.
func (p *process) waitExit(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// kill ends the process and reaps it.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// dialRPC is rpc.DialHTTP with a context and a deadline on the handshake.
func dialRPC(ctx context.Context, addr string, timeout time.Duration) (*rpc.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	if _, err := io.WriteString(conn, "CONNECT "+rpc.DefaultRPCPath+" HTTP/1.0\n\n"); err != nil {
		conn.Close()
		return nil, err
	}
	// The server says nothing more until we call, so the reader cannot
	// swallow RPC bytes.
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("RPC handshake: %w", err)
	}
	resp.Body.Close()
	if resp.Status != "200 Connected to Go RPC" {
		conn.Close()
		return nil, fmt.Errorf("RPC handshake: unexpected HTTP response %q", resp.Status)
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	_ = conn.SetDeadline(time.Time{})
	return rpc.NewClient(conn), nil
}

// negotiate asks for the API version, retrying once under the pre-0.5.1
// service name, and requires version 1.
func (c *Client) negotiate() error {
	var v int
	err := c.rpc.Call(c.service+".GetVersion", struct{}{}, &v)
	if err != nil {
		c.logger.Debug("Driver plugin did not answer under the current service name; retrying with the old one",
			"binary", c.binary, "err", err)
		c.service = rpcdriver.RPCServiceNameV0
		if err = c.rpc.Call(c.service+".GetVersion", struct{}{}, &v); err != nil {
			return c.wrap("GetVersion", err)
		}
	}
	if v != version.APIVersion {
		return fmt.Errorf("driver plugin %s uses an incompatible API version (%d); this CLI speaks version %d, install a matching plugin", c.binary, v, version.APIVersion)
	}
	return nil
}

// heartbeat keeps the plugin alive until Close.
func (c *Client) heartbeat() {
	defer close(c.beatDone)
	ticker := time.NewTicker(c.timing.heartbeat)
	defer ticker.Stop()
	for {
		select {
		case <-c.stopBeat:
			return
		case <-ticker.C:
			if err := c.rpc.Call(c.service+".Heartbeat", struct{}{}, nil); err != nil {
				select {
				case <-c.stopBeat:
				default:
					c.logger.Warn("Driver plugin stopped answering heartbeats", "machine", c.machineName(), "binary", c.binary, "err", c.wrap("Heartbeat", err))
				}
				return
			}
		}
	}
}

// lineWriter splits a stream into lines.
type lineWriter struct {
	mu     sync.Mutex
	buf    []byte
	onLine func(string)
}

// maxLine bounds memory for output without newlines.
const maxLine = 64 << 10

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) >= maxLine {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			return len(b), nil
		}
		w.emit(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineWriter) emit(line []byte) {
	w.onLine(strings.TrimRight(string(line), "\r"))
}

// lineTail keeps the last max lines.
type lineTail struct {
	mu    sync.Mutex
	max   int
	store []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store = append(t.store, line)
	if len(t.store) > t.max {
		// Clone so the dropped head can be freed.
		t.store = slices.Clone(t.store[len(t.store)-t.max:])
	}
}

func (t *lineTail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.store...)
}

// ErrClosed is returned by calls to a plugin after Close (or after it was
// stopped because a call's context ended).
var ErrClosed = errors.New("driver plugin is closed")
