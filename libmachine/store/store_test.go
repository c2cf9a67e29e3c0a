package store

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/host"
)

func TestDefaultPath(t *testing.T) {
	t.Setenv("MACHINE_STORAGE_PATH", "/srv/machines")
	assert.Equal(t, "/srv/machines", DefaultPath())

	home := t.TempDir()
	t.Setenv("MACHINE_STORAGE_PATH", "")
	t.Setenv("HOME", home)
	assert.Equal(t, filepath.Join(home, ".docker", "machine"), DefaultPath())
}

func TestLayout(t *testing.T) {
	s := New("/var/lib/m")
	assert.Equal(t, "/var/lib/m/certs", s.CertsDir())
	assert.Equal(t, "/var/lib/m/machines", s.MachinesDir())
	assert.Equal(t, "/var/lib/m/machines/a", s.MachineDir("a"))

	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "rel"), New("rel").Path, "stock writes absolute paths into configs")
}

func TestListMissingStoreIsEmpty(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "nothing-here"))
	names, err := s.List()
	require.NoError(t, err)
	assert.NotNil(t, names)
	assert.Empty(t, names)
}

func TestListSkipsHiddenAndFiles(t *testing.T) {
	s := New(t.TempDir())
	for _, d := range []string{"b", "a", ".hidden", "c"} {
		require.NoError(t, os.MkdirAll(s.MachineDir(d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(s.MachinesDir(), "file"), nil, 0o600))
	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, names)
}

// Save then Load then Save gives the same bytes as the stock CLI wrote.
func TestRoundTripKeepsStockBytes(t *testing.T) {
	for _, name := range []string{"url-only", "generic-host"} {
		t.Run(name, func(t *testing.T) {
			s := New(t.TempDir())
			stock, err := os.ReadFile(filepath.Join(fixtureRoot, "machines", name, "config.json"))
			require.NoError(t, err, "fixture config of %s", name)
			// Point it at this store so no relocation changes the paths.
			in := strings.ReplaceAll(string(stock), fixtureOrigin, s.Path)
			writeConfig(t, s, name, in)

			h, err := s.Load(name)
			require.NoError(t, err)
			require.NoError(t, s.Save(h))
			out, err := os.ReadFile(s.configPath(name))
			require.NoError(t, err)
			assert.Equal(t, in, string(out))
		})
	}
}

func TestSaveWritesStockKeyOrderAndModes(t *testing.T) {
	s := New(t.TempDir())
	h := testHost(s, "m1")
	require.NoError(t, s.Create(h))

	data, err := os.ReadFile(s.configPath("m1"))
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigVersion", "Driver", "DriverName", "HostOptions", "Name"}, topLevelKeys(t, data))
	assert.True(t, strings.HasPrefix(string(data), "{\n    \"ConfigVersion\": 3,\n    \"Driver\": {\n        \"IPAddress\""), "indented with four spaces like stock: %s", data)

	for path, want := range map[string]os.FileMode{
		s.MachinesDir():    os.ModeDir | 0o700,
		s.MachineDir("m1"): os.ModeDir | 0o700,
		s.configPath("m1"): 0o600,
	} {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, want, fi.Mode(), path)
	}

	// Overwriting keeps the mode and the content round-trips.
	h.HostOptions.Memory = 2048
	require.NoError(t, s.Save(h))
	fi, err := os.Stat(s.configPath("m1"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode())
	got, err := s.Load("m1")
	require.NoError(t, err)
	assert.Equal(t, 2048, got.HostOptions.Memory)
	assert.JSONEq(t, string(h.RawDriver), string(got.RawDriver))
}

func TestSaveStampsVersion3(t *testing.T) {
	s := New(t.TempDir())
	h := testHost(s, "m")
	h.ConfigVersion = 0 // a caller that never set it
	require.NoError(t, s.Create(h))
	assert.Equal(t, host.ConfigVersion, h.ConfigVersion)
	got, err := s.Load("m")
	require.NoError(t, err)
	assert.Equal(t, host.ConfigVersion, got.ConfigVersion)
	_, err = os.Stat(filepath.Join(s.MachineDir("m"), "config.json.bak"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a version-3 file is not migrated")
}

func TestMissingMachine(t *testing.T) {
	s := New(t.TempDir())
	var ne *NotExistError

	_, err := s.Load("ghost")
	require.ErrorAs(t, err, &ne)
	assert.Equal(t, "ghost", ne.Name)
	assert.Equal(t, `Docker machine "ghost" does not exist. Use "docker-machine ls" to list machines. Use "docker-machine create" to add a new one.`, err.Error())

	assert.ErrorAs(t, s.Remove("ghost"), &ne)
	ok, err := s.Exists("ghost")
	require.NoError(t, err)
	assert.False(t, ok)

	// Save never brings back a removed machine.
	assert.ErrorAs(t, s.Save(testHost(s, "ghost")), &ne)
	_, err = os.Stat(s.MachineDir("ghost"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestCreateExisting(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "m")))
	before, err := os.ReadFile(s.configPath("m"))
	require.NoError(t, err)

	other := testHost(s, "m")
	other.DriverName = "none"
	err = s.Create(other)
	var ee *ExistsError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, `Docker machine "m" already exists`, err.Error())

	after, err := os.ReadFile(s.configPath("m"))
	require.NoError(t, err)
	assert.Equal(t, before, after, "a failed create must not touch the existing machine")
}

func TestCreateReservesNameAtomically(t *testing.T) {
	s := New(t.TempDir())
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			h := testHost(s, "race")
			h.HostOptions.Memory = i
			errs[i] = s.Create(h)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var ee *ExistsError
		if err == nil {
			won++
		} else {
			assert.ErrorAs(t, err, &ee)
		}
	}
	assert.Equal(t, 1, won)
	assertConsistent(t, s)
}

// failingDriver stands for a driver whose state cannot be encoded.
type failingDriver struct{ drivers.Driver }

func (failingDriver) MarshalJSON() ([]byte, error) { return nil, errors.New("driver state broken") }

func TestCreateRemovesDirWhenSaveFails(t *testing.T) {
	s := New(t.TempDir())
	h := testHost(s, "bad")
	h.Driver = failingDriver{}
	err := s.Create(h)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "driver state broken")
	ok, err := s.Exists("bad")
	require.NoError(t, err)
	assert.False(t, ok)
	// And the name is free again.
	assert.NoError(t, s.Create(testHost(s, "bad")))
}

func TestInvalidNamesAreRejected(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, os.MkdirAll(s.MachinesDir(), 0o700))
	for _, name := range []string{"", ".", "..", "../escape", "a/b", ".hidden"} {
		_, err := s.Load(name)
		assert.Error(t, err, "Load(%q)", name)
		assert.Error(t, s.Remove(name), "Remove(%q)", name)
		_, err = s.Exists(name)
		assert.Error(t, err, "Exists(%q)", name)
		_, err = s.Lock(t.Context(), name)
		assert.Error(t, err, "Lock(%q)", name)
	}
	assert.Error(t, s.Create(testHost(s, "under_score")), "Create uses the stock name rule")
	_, err := os.Stat(s.MachinesDir())
	assert.NoError(t, err, "a bad name never removes machines/")
}

func TestRemove(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "a")))
	require.NoError(t, s.Create(testHost(s, "b")))
	require.NoError(t, os.WriteFile(filepath.Join(s.MachineDir("a"), "id_rsa"), []byte("key"), 0o600))

	require.NoError(t, s.Remove("a"))
	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"b"}, names)
	var ne *NotExistError
	_, err = s.Load("a")
	assert.ErrorAs(t, err, &ne)
	assertConsistent(t, s)
}

func TestCorruptConfigsAffectOnlyTheirMachine(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "good")))
	require.NoError(t, os.MkdirAll(s.MachineDir("missing"), 0o700))
	writeConfig(t, s, "empty", "")
	writeConfig(t, s, "blank", "  \n")
	good, err := os.ReadFile(s.configPath("good"))
	require.NoError(t, err)
	writeConfig(t, s, "truncated", string(good[:len(good)/2]))
	writeConfig(t, s, "renamed", string(good)) // says Name "good"
	writeConfig(t, s, "noauth", `{"ConfigVersion":3,"Driver":{},"DriverName":"none","HostOptions":{},"Name":"noauth"}`)
	writeConfig(t, s, "array", `{"ConfigVersion":3,"Driver":[1],"DriverName":"none","HostOptions":{"AuthOptions":{}},"Name":"array"}`)
	writeConfig(t, s, "badversion", `{"ConfigVersion":"3"}`)

	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"array", "badversion", "blank", "empty", "good", "missing", "noauth", "renamed", "truncated"}, names)

	wantWhat := map[string]string{
		"missing":    "is missing",
		"empty":      "is empty",
		"blank":      "is empty",
		"truncated":  "cannot be decoded (unexpected end of JSON input)",
		"renamed":    `names machine "good"`,
		"noauth":     "has no HostOptions.AuthOptions",
		"array":      "not a JSON object",
		"badversion": "cannot be decoded",
	}
	for name, what := range wantWhat {
		_, err := s.Load(name)
		var ce *CorruptError
		if assert.ErrorAs(t, err, &ce, name) {
			assert.Equal(t, name, ce.Name)
			assert.Equal(t, s.configPath(name), ce.Path)
			assert.Contains(t, err.Error(), s.configPath(name))
			assert.Contains(t, err.Error(), what)
			assert.Contains(t, err.Error(), "`docker-machine rm -f "+name+"`")
		}
	}

	h, err := s.Load("good")
	require.NoError(t, err)
	assert.Equal(t, "good", h.Name)

	// The way out the message names works.
	for name := range wantWhat {
		require.NoError(t, s.Remove(name))
	}
	names, err = s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"good"}, names)
}

func TestFutureVersion(t *testing.T) {
	s := New(t.TempDir())
	path := writeConfig(t, s, "next", `{"ConfigVersion":4,"Driver":{"Shiny":true},"DriverName":"none","HostOptions":{"AuthOptions":{}},"Name":"next"}`)
	_, err := s.Load("next")
	var fe *FutureVersionError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, 4, fe.Version)
	assert.Contains(t, err.Error(), "config version is from the future -- you should upgrade your Docker Machine client")
	assert.Contains(t, err.Error(), path)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"ConfigVersion":4`, "a newer client's file is never rewritten")
	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"next"}, names)
}

// A writer that dies between writing its temp file and renaming it leaves
// the old config whole; the leftover is ignored and later cleaned.
func TestCrashBeforeRenameLeavesOldConfig(t *testing.T) {
	s := New(t.TempDir())
	h := testHost(s, "m")
	h.HostOptions.Memory = 1
	require.NoError(t, s.Create(h))
	old, err := os.ReadFile(s.configPath("m"))
	require.NoError(t, err)

	dir := s.MachineDir("m")
	stale := filepath.Join(dir, "config.json.tmp123456")
	require.NoError(t, os.WriteFile(stale, old[:len(old)/3], 0o600))
	long := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(stale, long, long))
	// Another process's write may be in flight: a fresh temp file stays.
	inFlight := filepath.Join(dir, "config.json.tmp999")
	require.NoError(t, os.WriteFile(inFlight, []byte("{"), 0o600))

	got, err := s.Load("m")
	require.NoError(t, err)
	assert.Equal(t, 1, got.HostOptions.Memory)
	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"m"}, names)

	got.HostOptions.Memory = 2
	require.NoError(t, s.Save(got))
	_, err = os.Stat(stale)
	assert.ErrorIs(t, err, os.ErrNotExist, "the crashed write's leftover is cleaned by the next save")
	_, err = os.Stat(inFlight)
	assert.NoError(t, err, "a recent temp file may belong to a running writer")

	again, err := s.Load("m")
	require.NoError(t, err)
	assert.Equal(t, 2, again.HostOptions.Memory)
}

func TestSaveLeavesNoTempFiles(t *testing.T) {
	s := New(t.TempDir())
	h := testHost(s, "m")
	require.NoError(t, s.Create(h))
	for i := range 5 {
		h.HostOptions.Memory = i
		require.NoError(t, s.Save(h))
	}
	entries, err := os.ReadDir(s.MachineDir("m"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "config.json", entries[0].Name())

	var back map[string]any
	data, err := os.ReadFile(s.configPath("m"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &back))
	assert.EqualValues(t, 4, back["HostOptions"].(map[string]any)["Memory"])
}
