//go:build integration && linux

package ssh

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestIntegrationShellGetsATerminal drives the interactive path of Shell
// from a real pseudo-terminal, as `docker-machine ssh NAME` runs from a
// user's terminal: the remote shell gets a PTY of the local size and
// $TERM, size changes reach it, the local terminal is raw for the session
// and restored after, and the shell's exit status comes back.
func TestIntegrationShellGetsATerminal(t *testing.T) {
	d := startRealSSHD(t)
	c := connectReal(t, d.config(""))
	t.Setenv("TERM", "xterm-256color")

	master, tty, err := pty.Open()
	require.NoError(t, err)
	defer master.Close()
	defer tty.Close()
	require.NoError(t, pty.Setsize(tty, &pty.Winsize{Rows: 30, Cols: 100}))
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)

	screen := &syncBuffer{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- c.Shell(context.Background(), "", tty, tty, tty) }()

	// Markers are computed remotely, so the echo of the typed line never
	// matches them.
	typeLine := func(line string) {
		_, err := master.Write([]byte(line + "\r"))
		require.NoError(t, err)
	}
	typeLine(`tty | sed 's/^/TTY=/'; echo "T=$TERM"; echo "SIZE=$(stty size | tr ' ' x)"`)
	pollUntil(t, "the remote shell to report its terminal", func() (struct{}, bool) {
		s := screen.String()
		return struct{}{}, strings.Contains(s, "TTY=/dev/pts/") && strings.Contains(s, "T=xterm-256color") && strings.Contains(s, "SIZE=30x100")
	})

	raw, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Zero(t, raw.Lflag&(unix.ECHO|unix.ICANON), "the local terminal is raw during the session")

	// A resize of the local terminal (SIGWINCH) reaches the remote PTY.
	require.NoError(t, pty.Setsize(tty, &pty.Winsize{Rows: 50, Cols: 120}))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGWINCH))
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen.String(), "SIZE=50x120") {
		require.True(t, time.Now().Before(deadline), "the new size never reached the remote terminal; screen:\n%s", screen.String())
		typeLine(`echo "SIZE=$(stty size | tr ' ' x)"`)
		time.Sleep(200 * time.Millisecond)
	}

	typeLine("exit 7")
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the shell did not end after exit; screen:\n%s", screen.String())
	}
	var exitErr *ExitError
	require.True(t, errors.As(err, &exitErr), "got %v", err)
	assert.Equal(t, 7, exitErr.Status)

	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Equal(t, before.Lflag, after.Lflag, "local terminal modes restored")
	assert.Equal(t, before.Iflag, after.Iflag)
	assert.Equal(t, before.Oflag, after.Oflag)
}
