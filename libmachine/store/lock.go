package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fleetdock/machine/libmachine/poll"
)

// locksDir holds the lock files. It sits at the store root, outside
// machines/, so nothing that lists machines can mistake a lock for one.
const locksDir = ".locks"

const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 100 * time.Millisecond
)

func (s *Store) lockPath(name string) string {
	return filepath.Join(s.Path, locksDir, name)
}

// Lock takes the exclusive lock of machine name, shared by every process
// using this store, waiting until ctx is done. Call unlock to release it.
//
// The lock is flock(2) on STORE/.locks/NAME. The file exists only while
// someone holds or waits for the lock: unlock deletes it before releasing,
// and a locker that finds it has locked a deleted file starts over. So the
// store does not gain a file per machine ever created, and the lock is
// independent of the machine directory: a holder may Remove the machine, and
// the next holder then finds it gone (*NotExistError from Load).
func (s *Store) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return s.LockFor(ctx, name, OpUse)
}

// What a lock holder is doing, as Holder reports it.
const (
	OpUse    = "use"
	OpCreate = "create"
	OpRemove = "remove"
)

// LockFor is Lock for a holder that says what it does with the machine
// (OpCreate, OpRemove), so that a listing can tell a machine being made or
// removed from a broken one.
func (s *Store) LockFor(ctx context.Context, name, op string) (unlock func(), err error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.sweep()
	return lockFile(ctx, s.lockPath(name), fmt.Sprintf("machine %q", name), op)
}

// LockCerts takes the lock of the store's CA and client certificate, so
// that concurrent first creates make one CA, not one each. Its name starts
// with a dot, which no machine name can.
func (s *Store) LockCerts(ctx context.Context) (unlock func(), err error) {
	s.sweep()
	return lockFile(ctx, s.lockPath(".certs"), "the certificates", OpUse)
}

func lockFile(ctx context.Context, path, what, op string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("locking %s: creating %s: %w", what, filepath.Dir(path), err)
	}
	var f *os.File
	// Jitter keeps waiters in many processes from polling in step.
	o := poll.Options{What: "the lock on " + what, Initial: lockPollMin, Max: lockPollMax, Factor: 2, Jitter: 0.5}
	err = poll.Until(ctx, o, func(context.Context) (bool, error) {
		for {
			got, held, err := tryLock(path)
			switch {
			case err != nil:
				return false, poll.Permanent(fmt.Errorf("locking %s with %s: %w", what, path, err))
			case got != nil:
				f = got
				return true, nil
			case held:
				return false, poll.NotYet("another docker-machine command is still working on it")
			}
			// Lost a race with an unlock that deleted the file: retry at once.
		}
	})
	if err != nil {
		if errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w; wait for it to finish and retry", err)
		}
		return nil, err
	}
	// The holder's operation is the file's content, for Holder.
	_, _ = f.WriteAt([]byte(op), 0)
	var once sync.Once
	return func() { once.Do(func() { releaseLock(f, path) }) }, nil
}

// tryLock makes one attempt. It returns the locked file on success; held
// reports that someone else holds the lock. (nil, false, nil) means the file
// was deleted under us and the caller should try again.
func tryLock(path string) (f *os.File, held bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, true, nil
		}
		return nil, false, err
	}
	// The previous holder deletes the file before releasing it; if that
	// happened between our open and flock, we hold a lock nobody else sees.
	same, err := stillLinked(f, path)
	if err != nil || !same {
		_ = f.Close()
		return nil, false, err
	}
	return f, false, nil
}

// stillLinked reports whether path still names the file f has open.
func stillLinked(f *os.File, path string) (bool, error) {
	opened, err := f.Stat()
	if err != nil {
		return false, err
	}
	current, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(opened, current), nil
}

// releaseLock deletes the lock file while still holding it, then releases it.
func releaseLock(f *os.File, path string) {
	_ = os.Remove(path)
	_ = f.Close() // closing the last descriptor releases the flock
}

// pruneLocks deletes lock files left by processes that died holding a lock
// (the kernel released their flock but the file stays). Each is taken with
// the normal protocol first, so a lock in use is never touched.
func (s *Store) pruneLocks() {
	dir := filepath.Join(s.Path, locksDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if f, _, err := tryLock(path); err == nil && f != nil {
			releaseLock(f, path)
		}
	}
}
