package store

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleTempAge is how old a temp file must be before a writer deletes it as
// the leftover of a crashed write. Younger ones may belong to a write in
// progress in another process (one not holding the machine's lock).
const staleTempAge = 10 * time.Minute

// writeFileAtomic replaces dir/name with data (mode 0600) so that a reader or
// a crash sees either the old file or the new one, never a truncated file.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, name+tempSuffix+"*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	// fsync before rename: otherwise a power loss can leave the renamed
	// file empty on filesystems that delay data writes.
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("flushing %s to disk: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	// fsync the directory so the rename itself survives a power loss.
	if d, openErr := os.Open(dir); openErr == nil {
		err = d.Sync()
		_ = d.Close()
		if err != nil {
			return fmt.Errorf("flushing directory %s to disk: %w", dir, err)
		}
	}
	removeStaleTemps(dir, name, time.Now())
	return nil
}

// removeStaleTemps deletes temp files of dir/name left by crashed writes.
// They are harmless (nothing reads them) but would pile up.
func removeStaleTemps(dir, name string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := name + tempSuffix
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleTempAge {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err == nil {
			slog.Debug("removed the leftover of an interrupted write", "file", path)
		}
	}
}
