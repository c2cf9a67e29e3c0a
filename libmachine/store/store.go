// Package store keeps machines on disk in docker-machine 0.16.2's layout:
//
//	STORE/certs/                     the CA and client certificates
//	STORE/machines/NAME/config.json  one machine (host.Host, ConfigVersion 3), mode 0600
//	STORE/.locks/NAME                per-machine lock files, present only while held
//
// A store written by the stock CLI is read by this package and the other way
// round. Writes are atomic (temp file, fsync, rename), so a crash never leaves
// a truncated config.json behind.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
)

const (
	configFile = "config.json"
	backupFile = "config.json.bak"
	// tempSuffix follows the file name of every temp file; stock uses
	// "config.json.tmp" + digits, so its leftovers match too.
	tempSuffix = ".tmp"
)

// DefaultPath is $MACHINE_STORAGE_PATH, else ~/.docker/machine.
func DefaultPath() string {
	if p := os.Getenv("MACHINE_STORAGE_PATH"); p != "" {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		// No $HOME: a path relative to the working directory is the best
		// guess left, and errors will name it.
		return filepath.Join(".docker", "machine")
	}
	return filepath.Join(home, ".docker", "machine")
}

// Store is a machine store rooted at Path.
type Store struct {
	Path string

	sweepOnce sync.Once
}

// New returns the store rooted at path, made absolute so the paths written
// into machines' configs are absolute as stock writes them.
func New(path string) *Store {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return &Store{Path: path}
}

// CertsDir is where the CA and client certificates live.
func (s *Store) CertsDir() string { return filepath.Join(s.Path, "certs") }

// MachinesDir holds one directory per machine.
func (s *Store) MachinesDir() string { return filepath.Join(s.Path, "machines") }

// MachineDir is the directory of machine name.
func (s *Store) MachineDir(name string) string { return filepath.Join(s.MachinesDir(), name) }

func (s *Store) configPath(name string) string {
	return filepath.Join(s.MachineDir(name), configFile)
}

// checkName rejects names that would escape machines/ or that List would
// never show. It is looser than hostopts.ValidateName so that a machine with an
// odd name made by another tool can still be loaded and removed.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) || name != filepath.Base(name) {
		return fmt.Errorf("invalid machine name %q: a name must start with a letter or digit and contain only letters, digits, '-' and '.'", name)
	}
	return nil
}

// List returns the sorted names of the machines: the directories under
// machines/ whose names do not start with "." (the rule stock docker-machine
// and GitLab Runner use). A store without machines/ has no machines.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.MachinesDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing machines in %s: %w", s.MachinesDir(), err)
	}
	names := []string{}
	for _, e := range entries { // os.ReadDir sorts by name
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Exists reports whether machine name has a directory in the store.
func (s *Store) Exists(name string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	_, err := os.Stat(s.MachineDir(name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("checking whether machine %q exists: %w", name, err)
	}
}

// Create adds a new machine. Making its directory reserves the name
// atomically, so of two concurrent creates of one name exactly one wins; the
// other gets *ExistsError. If the config cannot be saved the directory goes.
func (s *Store) Create(h *host.Host) error {
	if err := hostopts.ValidateName(h.Name); err != nil {
		return err
	}
	if err := os.MkdirAll(s.MachinesDir(), 0o700); err != nil {
		return fmt.Errorf("creating the machines directory %s: %w", s.MachinesDir(), err)
	}
	dir := s.MachineDir(h.Name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &ExistsError{Name: h.Name}
		}
		return fmt.Errorf("creating the directory of machine %q: %w", h.Name, err)
	}
	if err := s.Save(h); err != nil {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			return fmt.Errorf("%w (removing %s afterwards also failed: %v; delete it by hand)", err, dir, rmErr)
		}
		return err
	}
	return nil
}

// Save writes h to machines/NAME/config.json (mode 0600) atomically: a temp
// file in the same directory is written and fsynced, renamed over the old
// file, and the directory is fsynced. Readers see the old or the new config,
// never a mix. Save always writes the version-3 layout and sets
// h.ConfigVersion to match. The machine must exist (see Create): saving a
// machine that was removed meanwhile fails with *NotExistError instead of
// bringing back a half machine.
func (s *Store) Save(h *host.Host) error {
	if err := checkName(h.Name); err != nil {
		return err
	}
	h.ConfigVersion = host.ConfigVersion
	// MarshalIndent, not Marshal: encoding/json compacts a Marshaler's output,
	// and stock files are indented with four spaces.
	data, err := json.MarshalIndent(h, "", "    ")
	if err != nil {
		return fmt.Errorf("encoding the config of machine %q: %w", h.Name, err)
	}
	if err := writeFileAtomic(s.MachineDir(h.Name), configFile, data); err != nil {
		if _, statErr := os.Stat(s.MachineDir(h.Name)); errors.Is(statErr, fs.ErrNotExist) {
			return &NotExistError{Name: h.Name}
		}
		return fmt.Errorf("saving machine %q: %w", h.Name, err)
	}
	return nil
}

// Load reads machine name. Configs of versions 0 to 2 are migrated to
// version 3; the original is kept as config.json.bak and the migrated config
// saved. Paths that point into another store root (a store copied from
// another home directory) are rewritten in memory to this store.
func (s *Store) Load(name string) (*host.Host, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	path := s.configPath(name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, dirErr := os.Stat(s.MachineDir(name)); errors.Is(dirErr, fs.ErrNotExist) {
			return nil, &NotExistError{Name: name}
		}
		return nil, &CorruptError{Name: name, Path: path, Err: errors.New("is missing")}
	}
	if err != nil {
		return nil, fmt.Errorf("reading the config of machine %q: %w", name, err)
	}

	h, migrated, err := s.decode(name, path, data)
	if err != nil {
		return nil, err
	}
	if migrated {
		if err := writeFileAtomic(s.MachineDir(name), backupFile, data); err != nil {
			return nil, fmt.Errorf("machine %q: keeping a backup of its config before migrating it: %w", name, err)
		}
		if err := s.Save(h); err != nil {
			return nil, fmt.Errorf("machine %q: saving its config after migrating it to version %d: %w", name, host.ConfigVersion, err)
		}
	}
	if err := s.relocate(h); err != nil {
		return nil, &CorruptError{Name: name, Path: path, Err: err}
	}
	return h, nil
}

// decode parses config.json of any version and reports whether it had to be
// migrated.
func (s *Store) decode(name, path string, data []byte) (*host.Host, bool, error) {
	corrupt := func(err error) error { return &CorruptError{Name: name, Path: path, Err: err} }
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, false, corrupt(errors.New("is empty"))
	}
	var meta host.Metadata
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, false, corrupt(fmt.Errorf("cannot be decoded (%w)", err))
	}
	switch v := meta.ConfigVersion; {
	case v > host.ConfigVersion:
		return nil, false, &FutureVersionError{Name: name, Path: path, Version: v}
	case v < 0:
		return nil, false, corrupt(fmt.Errorf("has an invalid ConfigVersion %d", v))
	}

	h := &host.Host{}
	migrated := meta.ConfigVersion < host.ConfigVersion
	var err error
	if migrated {
		h, err = migrate(s, name, meta.ConfigVersion, data)
	} else {
		err = json.Unmarshal(data, h)
	}
	if err != nil {
		return nil, false, corrupt(fmt.Errorf("is not a valid version %d config (%w)", meta.ConfigVersion, err))
	}
	switch {
	case h.Name != name:
		return nil, false, corrupt(fmt.Errorf("names machine %q but lies in the directory of %q", h.Name, name))
	case h.DriverName == "":
		return nil, false, corrupt(errors.New("has no DriverName"))
	case h.HostOptions == nil || h.HostOptions.AuthOptions == nil:
		return nil, false, corrupt(errors.New("has no HostOptions.AuthOptions"))
	}
	return h, migrated, nil
}

// Remove deletes machine name and everything in its directory. The directory
// is first renamed to a hidden name, so other readers see the machine whole or
// gone, and a delete that fails half way leaves nothing that lists as a
// machine.
func (s *Store) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	dir := s.MachineDir(name)
	// A random hidden name: nothing lists it, and two removers never collide.
	trash := filepath.Join(s.MachinesDir(), fmt.Sprintf("%s%s-%016x", trashPrefix, name, rand.Uint64()))
	if err := os.Rename(dir, trash); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &NotExistError{Name: name}
		}
		return fmt.Errorf("removing machine %q: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("machine %q is removed but deleting its files in %s failed: %w; delete that directory by hand", name, trash, err)
	}
	s.pruneLocks()
	return nil
}
