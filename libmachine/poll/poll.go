// Package poll is the one way the project waits for a condition: it calls a
// check with exponential backoff and jitter until the check reports done,
// fails for good, the wait's timeout passes or the caller's context ends.
//
// Its errors say what was awaited, for how long, and what was last seen,
// and they tell an interrupted wait (the caller's context ended) from one
// that ran out of time, so a Ctrl-C is never reported as a timeout.
//
// This package is a leaf: it imports only the standard library, so drivers,
// provisioners, the SSH client and the test world can all use it.
package poll

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrTimedOut is wrapped by the error of a wait whose timeout passed.
var ErrTimedOut = errors.New("timed out")

// Defaults for zero Options fields.
const (
	DefaultInitial = 250 * time.Millisecond
	DefaultMax     = 5 * time.Second
	DefaultFactor  = 2.0
)

// Options shape one wait.
type Options struct {
	// What is awaited, worded to follow "waiting for":
	// `machine "m1" to be Running`.
	What string
	// Timeout bounds the wait. Zero means no bound of its own: the wait
	// lasts until ctx ends (for waits on another process, such as a lock).
	Timeout time.Duration
	// Initial is the first pause between checks (DefaultInitial when zero);
	// each pause is Factor times the one before (DefaultFactor when below 1),
	// up to Max (DefaultMax when zero, never below Initial).
	Initial, Max time.Duration
	Factor       float64
	// Jitter is the part of each pause, from 0 to 1, that is random: a
	// pause of d lasts between d*(1-Jitter) and d. It keeps many machines
	// waiting at once from polling in step. Zero means exact pauses.
	Jitter float64

	// rand returns a number in [0, 1); tests make it deterministic.
	rand func() float64
}

// Until calls check until it reports done and returns nil. Between calls it
// pauses as Options say, on a timer that ctx can cut short; check gets a
// context that ends with the wait.
//
// A check error is remembered and retried, unless it is marked Permanent:
// then Until returns it at once, as it is. Return NotYet to describe a
// condition that is not met yet. done is ignored when err is not nil.
//
// When the timeout passes, the error wraps ErrTimedOut and the last check
// error: `waiting for machine "m1" to be Running: timed out after 5m0s
// (last: Stopped)`. When ctx ends first, it wraps ctx.Err() (and the
// context's cause, when there is one) and the last check error instead, and
// says how long it waited before it was stopped.
func Until(ctx context.Context, o Options, check func(ctx context.Context) (done bool, err error)) error {
	o = o.withDefaults()
	start := time.Now()
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	defer cancel()

	s := schedule{o: o, next: o.Initial}
	var timer *time.Timer
	var last error
	for {
		if wctx.Err() != nil {
			return o.ended(ctx, start, last)
		}
		done, err := check(wctx)
		over := pastDeadline(wctx)
		if err != nil {
			if isPermanent(err) {
				return err
			}
			// An attempt cut short by the end of the wait says nothing
			// about the condition: keep the error seen before it.
			if !over || last == nil {
				last = err
			}
		} else if done {
			return nil
		}
		if over {
			<-wctx.Done() // at most the context's own timer's lag behind its deadline
			return o.ended(ctx, start, last)
		}
		if timer == nil {
			timer = time.NewTimer(s.pause())
			defer timer.Stop()
		} else {
			timer.Reset(s.pause())
		}
		select {
		case <-wctx.Done():
			return o.ended(ctx, start, last)
		case <-timer.C:
		}
	}
}

// pastDeadline reports whether ctx has ended or its deadline has passed.
// A dial bounded by the deadline can fail on it a moment before the
// context's timer marks the context done.
func pastDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (o Options) withDefaults() Options {
	if o.What == "" {
		o.What = "the condition"
	}
	if o.Initial <= 0 {
		o.Initial = DefaultInitial
	}
	if o.Max <= 0 {
		o.Max = DefaultMax
	}
	o.Max = max(o.Max, o.Initial)
	if o.Factor < 1 {
		o.Factor = DefaultFactor
	}
	o.Jitter = min(max(o.Jitter, 0), 1)
	if o.rand == nil {
		o.rand = rand.Float64
	}
	return o
}

// ended is the error of a wait that stopped before its check was done.
func (o Options) ended(parent context.Context, start time.Time, last error) error {
	var format string
	var args []any
	if err := parent.Err(); err != nil {
		format, args = "waiting for %s: stopped after %s: %w", []any{o.What, round(time.Since(start)), err}
		if cause := context.Cause(parent); cause != nil && cause != err {
			format, args = format+": %w", append(args, cause)
		}
	} else {
		format, args = "waiting for %s: %w after %s", []any{o.What, ErrTimedOut, o.Timeout}
	}
	switch {
	case last == nil:
	case isNotYet(last):
		format, args = format+" (last: %w)", append(args, last)
	default:
		format, args = format+" (last error: %w)", append(args, last)
	}
	return fmt.Errorf(format, args...)
}

// round keeps waited times readable: 1.23s, 2m4s.
func round(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

// schedule yields the pauses of one wait.
type schedule struct {
	o    Options
	next time.Duration
}

func (s *schedule) pause() time.Duration {
	d := s.next
	s.next = min(time.Duration(float64(s.next)*s.o.Factor), s.o.Max)
	if s.o.Jitter > 0 {
		d -= time.Duration(s.o.Jitter * s.o.rand() * float64(d))
	}
	return d
}

// Permanent marks err as one that waiting cannot clear (a dead plugin, a
// closed connection, a refused login), so that Until returns it at once.
// The mark is found through wrapping, so an error that wraps a Permanent
// one is permanent too. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

func isPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// NotYet describes a condition that is not met yet ("Stopped"), for the
// error of a wait that ends before it is: "(last: Stopped)" rather than
// "(last error: ...)".
func NotYet(format string, args ...any) error {
	return &notYet{fmt.Sprintf(format, args...)}
}

type notYet struct{ seen string }

func (n *notYet) Error() string { return n.seen }

func isNotYet(err error) bool {
	var n *notYet
	return errors.As(err, &n)
}
