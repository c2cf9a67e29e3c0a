// Package interrupt runs the built docker-machine CLI against the cloud
// simulator and stops it with real signals at chosen points of a create:
// what the interrupt tests check and the interrupt bench measures.
package interrupt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one docker-machine command, started as a plain child process so
// that signals reach it exactly as a shell's Ctrl-C would.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the Wait result, once done is closed

	mu       sync.Mutex
	out      bytes.Buffer
	changed  chan struct{} // closed and replaced on every write
	signaled time.Time     // when the first signal was sent
	exited   time.Time
}

// BaseEnv is what every command of the tests runs with: the cloud SDKs'
// metadata probes are off, whatever the caller's environment says.
func BaseEnv() []string {
	return []string{"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true", "AWS_EC2_METADATA_DISABLED=true"}
}

// Start runs cli with args; env is added to the process's own environment
// after BaseEnv. Stdout and stderr go to one buffer, in order.
func Start(cli string, env []string, args ...string) (*Proc, error) {
	p := &Proc{done: make(chan struct{}), changed: make(chan struct{})}
	p.cmd = exec.Command(cli, args...)
	p.cmd.Env = append(append(os.Environ(), BaseEnv()...), env...)
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cli, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.mu.Lock()
		p.exited = time.Now()
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	close(p.changed)
	p.changed = make(chan struct{})
	return len(b), nil
}

// Output is everything the command printed so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// ErrExited is the command ending before what was waited for happened.
var ErrExited = errors.New("the command exited")

// WaitOutput waits until the command has printed text.
func (p *Proc) WaitOutput(ctx context.Context, text string) error {
	for {
		p.mu.Lock()
		found, changed := strings.Contains(p.out.String(), text), p.changed
		p.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if strings.Contains(p.Output(), text) {
				return nil
			}
			return fmt.Errorf("waiting for %q: %w", text, ErrExited)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q: %w", text, context.Cause(ctx))
		}
	}
}

// Exited reports whether the command is gone.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the command; the first one starts the clock that
// Wait reads.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	if p.signaled.IsZero() {
		p.signaled = time.Now()
	}
	p.mu.Unlock()
	return p.cmd.Process.Signal(sig)
}

// ErrTimeout is a command that did not exit within Wait's bound.
var ErrTimeout = errors.New("the command did not exit in time and was killed")

// Wait waits at most bound for the command to exit and returns its exit
// code and the time from the first signal to the exit. A command still
// running after bound is killed and ErrTimeout returned.
func (p *Proc) Wait(bound time.Duration) (code int, sinceSignal time.Duration, err error) {
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Kill()
		return -1, 0, fmt.Errorf("%w (after %s)", ErrTimeout, bound)
	}
	p.mu.Lock()
	if !p.signaled.IsZero() {
		sinceSignal = p.exited.Sub(p.signaled)
	}
	p.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, sinceSignal, nil
	case errors.As(p.err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), sinceSignal, nil
	}
	return -1, sinceSignal, fmt.Errorf("the command ended abnormally: %w", p.err)
}

// Kill ends the command at once (SIGKILL) and waits for it.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}
