package store

import (
	"os"
	"path/filepath"
	"strings"
)

// trashPrefix starts the hidden name a machine directory is renamed to
// while Remove deletes it.
const trashPrefix = ".removing-"

// sweep removes what commands killed half way left in the store: machine
// directories renamed for removal but never deleted (they can hold keys
// and stored secrets) and lock files whose holder is gone. It runs once per
// Store, from the first lock a command takes, and never touches anything a
// live command holds.
func (s *Store) sweep() {
	s.sweepOnce.Do(func() {
		s.removeTrash()
		s.pruneLocks()
	})
}

// removeTrash deletes .removing-NAME-* directories. A remover holds NAME's
// lock while it deletes, so a directory is only taken when that lock is free.
func (s *Store) removeTrash() {
	entries, err := os.ReadDir(s.MachinesDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), trashPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		i := strings.LastIndex(rest, "-")
		if i <= 0 {
			continue
		}
		name := rest[:i]
		if checkName(name) != nil {
			continue
		}
		path := s.lockPath(name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return
		}
		f, _, err := tryLock(path)
		if err != nil || f == nil {
			continue // held: its remover may still be at work
		}
		_ = os.RemoveAll(filepath.Join(s.MachinesDir(), e.Name()))
		releaseLock(f, path)
	}
}

// Holder reports what the command holding machine name's lock is doing
// (OpCreate, OpRemove, OpUse), without waiting for it; held is false when
// nobody holds it.
func (s *Store) Holder(name string) (op string, held bool) {
	if checkName(name) != nil {
		return "", false
	}
	path := s.lockPath(name)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false // lock files exist only while held or waited for
	}
	f, held, err := tryLock(path)
	if f != nil {
		releaseLock(f, path)
		return "", false
	}
	if !held || err != nil {
		return "", false
	}
	return string(data), true
}
