package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// groupReporter makes a cancellable command print its shell's pid as the
// first line of stderr, and removes that line before the caller sees
// stderr. sshd starts each command's shell with setsid, so that pid is also
// the command's process group.
type groupReporter struct {
	w      io.Writer
	marker []byte // "fleetdock-pgid-<random> "

	mu    sync.Mutex
	done  bool          // marker line seen, or given up looking
	ready chan struct{} // closed when done becomes true
	group int
	buf   []byte
}

// finish marks the search for the marker over; the caller holds mu.
func (g *groupReporter) finish() {
	if !g.done {
		g.done = true
		close(g.ready)
	}
}

// groupLineLimit caps what is held back while looking for the marker (it is
// normally the very first line).
const groupLineLimit = 64 << 10

func newGroupReporter(w io.Writer) *groupReporter {
	id := make([]byte, 8)
	rand.Read(id)
	return &groupReporter{w: w, ready: make(chan struct{}), marker: []byte("fleetdock-pgid-" + hex.EncodeToString(id) + " ")}
}

func (g *groupReporter) wrap(cmd string) string {
	return "printf '" + string(g.marker) + "%d\\n' $$ >&2; " + cmd
}

func (g *groupReporter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return g.w.Write(p)
	}
	g.buf = append(g.buf, p...)
	for !g.done {
		nl := bytes.IndexByte(g.buf, '\n')
		if nl < 0 {
			if len(g.buf) > groupLineLimit {
				g.finish()
			}
			break
		}
		line := g.buf[:nl]
		if rest, ok := bytes.CutPrefix(line, g.marker); ok {
			g.group, _ = strconv.Atoi(string(rest))
			g.finish()
			g.buf = g.buf[nl+1:]
			break
		}
		// Output before the marker (shell start-up warnings) passes on.
		if _, err := g.w.Write(g.buf[:nl+1]); err != nil {
			return len(p), err
		}
		g.buf = g.buf[nl+1:]
	}
	if g.done && len(g.buf) > 0 {
		rest := g.buf
		g.buf = nil
		if _, err := g.w.Write(rest); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// flush passes on anything still held back once the stream has ended.
func (g *groupReporter) flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.finish()
	if len(g.buf) == 0 {
		return nil
	}
	rest := g.buf
	g.buf = nil
	_, err := g.w.Write(rest)
	return err
}

// pid is the command's process group, waiting up to wait for the marker:
// a command cancelled right after it started may not have reported yet.
func (g *groupReporter) pid(wait time.Duration) int {
	if g == nil {
		return 0
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-g.ready:
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.group
}

// endGroupTimeout bounds the clean-up after a cancel, so a dead connection
// cannot hold the caller up.
const endGroupTimeout = 10 * time.Second

// endGroup sends TERM to the process group (sudo passes it on to what it
// runs), gives it two seconds to exit, then KILLs what is left.
func (c *Client) endGroup(pgid int) {
	ctx, cancel := context.WithTimeout(context.Background(), endGroupTimeout)
	defer cancel()
	g := "-" + strconv.Itoa(pgid)
	script := "kill -s TERM -- " + g + " 2>/dev/null || exit 0; i=0; " +
		"while [ $i -lt 20 ] && kill -s 0 -- " + g + " 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; " +
		"kill -s KILL -- " + g + " 2>/dev/null; exit 0"
	if _, err := c.execSession(ctx, script, nil, io.Discard, io.Discard, false); err != nil {
		slog.Warn("could not stop a cancelled command on the machine", "addr", c.addr, "err", err)
	}
}
