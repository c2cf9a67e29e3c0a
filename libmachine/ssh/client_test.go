//go:build unix

package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor bounds a wait on the test server's reports so a broken client
// fails the test instead of hanging it.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("the test server never reported %s", what)
		var zero T
		return zero
	}
}

func dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunReportsExitStatusAndSeparateStreams(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)

	res, err := c.Run(context.Background(), "echo to-out; echo to-err >&2; exit 3")
	require.NoError(t, err, "a non-zero exit is not a transport error")
	assert.Equal(t, "to-out\n", string(res.Stdout))
	assert.Equal(t, "to-err\n", string(res.Stderr))
	assert.Equal(t, 3, res.ExitStatus)

	var cmdErr *CommandError
	require.ErrorAs(t, res.Err("the cmd"), &cmdErr)
	assert.Equal(t, 3, cmdErr.ExitStatus)
	assert.Contains(t, cmdErr.Error(), "to-err")

	res, err = c.Run(context.Background(), "true")
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitStatus)
	assert.NoError(t, res.Err("true"))
}

func TestOutputReturnsStdoutOrErrorWithStderr(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)

	out, err := c.Output(context.Background(), "printf 'ID=debian\\n'; echo noise >&2")
	require.NoError(t, err)
	assert.Equal(t, "ID=debian\n", out)

	_, err = c.Output(context.Background(), "echo 'apt is locked' >&2; exit 100")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "apt is locked")
	assert.Contains(t, err.Error(), "status 100")
	assert.Contains(t, err.Error(), c.Addr())
}

func TestRunWithInputFeedsStdin(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)

	res, err := c.RunWithInput(context.Background(), "tr a-z A-Z", strings.NewReader("hello machine"))
	require.NoError(t, err)
	assert.Equal(t, "HELLO MACHINE", string(res.Stdout))

	// Larger than every SSH window: flow control must carry it whole.
	big := make([]byte, 3<<20)
	_, err = rand.Read(big)
	require.NoError(t, err)
	sum := sha256.Sum256(big)
	res, err = c.RunWithInput(context.Background(), "sha256sum", bytes.NewReader(big))
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitStatus, string(res.Stderr))
	assert.Equal(t, hex.EncodeToString(sum[:]), strings.Fields(string(res.Stdout))[0])

	// A command that ignores its input still succeeds.
	res, err = c.RunWithInput(context.Background(), "exit 0", bytes.NewReader(big))
	require.NoError(t, err)
	assert.Equal(t, 0, res.ExitStatus)
}

type failingReader struct{ sent bool }

func (f *failingReader) Read(p []byte) (int, error) {
	if !f.sent {
		f.sent = true
		return copy(p, "partial"), nil
	}
	return 0, errors.New("disk read error")
}

func TestRunWithInputReportsBrokenLocalInput(t *testing.T) {
	_, cfg := keyedServer(t)
	c := dial(t, cfg)

	_, err := c.RunWithInput(context.Background(), "cat >/dev/null", &failingReader{})
	require.Error(t, err, "a truncated input must not look like success")
	assert.Contains(t, err.Error(), "disk read error")
}

func TestContextCancelEndsLongCommand(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "sleep 600")
		result <- err
	}()
	assert.Equal(t, "sleep 600", waitFor(t, s.started, "the command starting"))
	cancel()

	err := waitFor(t, result, "Run returning")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	end := waitFor(t, s.ended, "the remote process ending")
	assert.Equal(t, "sleep 600", end.cmd)
	assert.True(t, end.signaled, "the remote process was killed, not left running")

	// The connection outlives the cancelled session.
	out, err := c.Output(context.Background(), "echo still-here")
	require.NoError(t, err)
	assert.Equal(t, "still-here\n", out)
	dials, _ := c.Stats()
	assert.Equal(t, 1, dials)
}

func TestDeadlineEndsLongCommand(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, "sleep 600")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "sleep 600")
	assert.True(t, waitFor(t, s.ended, "the remote process ending").signaled)
}

func TestLostConnectionIsAnError(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)

	result := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "sleep 600")
		result <- err
	}()
	waitFor(t, s.started, "the command starting")
	s.dropConnections()

	err := waitFor(t, result, "Run returning")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection was lost")
	assert.Contains(t, err.Error(), c.Addr())

	_, err = c.Run(context.Background(), "true")
	assert.Error(t, err, "a dead connection cannot run more commands")
}

func TestStatsCountConnectionsAndCommands(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)
	for i := 0; i < 5; i++ {
		_, err := c.Run(context.Background(), "true")
		require.NoError(t, err)
	}
	require.NoError(t, c.Upload(context.Background(), t.TempDir()+"/f", []byte("x"), 0o644))
	dials, commands := c.Stats()
	assert.Equal(t, 1, dials)
	assert.Equal(t, 6, commands)
	assert.Equal(t, int32(1), s.accepted.Load(), "every command shared one TCP connection")
	assert.NoError(t, c.Close())
	assert.NoError(t, c.Close(), "Close is idempotent")
}

func TestShellWithPipes(t *testing.T) {
	s, cfg := keyedServer(t)
	c := dial(t, cfg)

	var out, errOut bytes.Buffer
	err := c.Shell(context.Background(), "echo hi; echo oops >&2; exit 7", nil, &out, &errOut)
	var exitErr *ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 7, exitErr.Status)
	assert.Equal(t, "hi\n", out.String())
	assert.Equal(t, "oops\n", errOut.String())

	// No command: the login shell reads its commands from stdin.
	out.Reset()
	err = c.Shell(context.Background(), "", strings.NewReader("echo from-shell\nexit 0\n"), &out, &errOut)
	require.NoError(t, err)
	assert.Equal(t, "from-shell\n", out.String())
	assert.Equal(t, 0, s.ptyRequests(), "stdin is not a terminal, so no PTY")
}

func TestDescribeCmdShortensScripts(t *testing.T) {
	assert.Equal(t, `command "ls"`, describeCmd("ls"))
	assert.Equal(t, `command "set -e ..."`, describeCmd("set -e\nsecret-step"))
	long := strings.Repeat("a", 200)
	assert.Equal(t, `command "`+strings.Repeat("a", 80)+` ..."`, describeCmd(long))
}

// blackHoleProxy forwards TCP to target until swallow is called; from then
// on it drops everything, like a network path that silently died.
type blackHoleProxy struct {
	port      int
	swallowed chan struct{}
}

func startBlackHoleProxy(t *testing.T, target string) *blackHoleProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &blackHoleProxy{port: ln.Addr().(*net.TCPAddr).Port, swallowed: make(chan struct{})}
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			select {
			case <-p.swallowed:
				continue
			default:
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			go pipe(up, down)
			go pipe(down, up)
		}
	}()
	return p
}

func (p *blackHoleProxy) swallow() { close(p.swallowed) }

func TestKeepaliveNoticesASilentlyDeadConnection(t *testing.T) {
	old := keepaliveInterval
	keepaliveInterval = 100 * time.Millisecond
	t.Cleanup(func() { keepaliveInterval = old })
	s, cfg := keyedServer(t)
	proxy := startBlackHoleProxy(t, s.addr)
	cfg.Port = proxy.port
	c := dial(t, cfg)

	result := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), "sleep 600")
		result <- err
	}()
	waitFor(t, s.started, "the command starting")
	proxy.swallow()

	err := waitFor(t, result, "Run noticing the dead connection")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection was lost")
}
