//go:build windows

package ssh

import (
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// forwardResize passes console size changes to the remote PTY until stop
// is called. Windows has no SIGWINCH, so the size is sampled.
func forwardResize(fd int, sess *ssh.Session) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		lastW, lastH, _ := term.GetSize(fd)
		for {
			select {
			case <-done:
				return
			case <-t.C:
				w, h, err := term.GetSize(fd)
				if err == nil && (w != lastW || h != lastH) {
					lastW, lastH = w, h
					sess.WindowChange(h, w)
				}
			}
		}
	}()
	return func() { close(done) }
}
