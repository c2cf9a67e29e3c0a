package commands

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/store"
)

// ls tells the truth while other commands work on the store: a machine a
// create holds shows as Creating with no error and no advice to remove it;
// one being removed is left out; a broken one with no holder is an error row.
func TestLsWhileOtherCommandsWork(t *testing.T) {
	dir := newStore(t)
	createNone(t, dir, "ready", "tcp://127.0.0.1:1")
	createNone(t, dir, "going", "tcp://127.0.0.1:2")
	s := store.New(dir)
	for _, name := range []string{"making", "broken"} {
		// What a create looks like before its config is written.
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "machines", name), 0o700))
	}
	unlockMaking, err := s.LockFor(t.Context(), "making", store.OpCreate)
	require.NoError(t, err)
	defer unlockMaking()
	unlockReady, err := s.LockFor(t.Context(), "ready", store.OpCreate)
	require.NoError(t, err)
	unlockGoing, err := s.LockFor(t.Context(), "going", store.OpRemove)
	require.NoError(t, err)
	defer unlockGoing()

	r := cli(t, dir, "", "ls", "--format", "{{.Name}} {{.State}} {{.Error}}")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "making Creating \n", "a create under way is not an error")
	assert.Contains(t, r.stdout, "ready Creating \n", "a loadable machine still being created is Creating too")
	assert.NotContains(t, r.stdout, "going", "a machine being removed is left out")
	assert.Regexp(t, `broken Error .*config file .* is missing`, r.stdout, "a broken entry nobody works on stays an error")
	assert.NotContains(t, r.stdout, "making Error")

	r = cli(t, dir, "", "ls", "-q", "--filter", "state=Creating")
	assert.Equal(t, "making\nready\n", r.stdout)

	unlockReady()
	r = cli(t, dir, "", "ls", "--format", "{{.Name}} {{.State}}")
	assert.Contains(t, r.stdout, "ready Running", "once the create is done the driver answers")
}

func TestBadFlagValuesAreRefused(t *testing.T) {
	dir := newStore(t)
	r := cli(t, dir, "", "create", "-d")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "flag needs an argument: --driver (-d)")
	assert.NotContains(t, r.stderr, "virtualbox", "the default driver is not what was asked for")

	r = cli(t, dir, "", "ls", "--timeout", "-1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "--timeout -1: give the seconds each machine may take to answer, 1 or more")

	r = cli(t, dir, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", strings.Repeat("n", 64))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "at most 63 fit")
}
