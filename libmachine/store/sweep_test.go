package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What a SIGKILLed command leaves (a machine directory renamed for removal,
// a lock file of a create killed before its entry existed) is swept by the
// next command that takes a lock; what a live command holds is not.
func TestFirstLockSweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	old := New(dir)
	// A remover still at work: it holds the lock while its trash exists.
	unlockBusy, err := old.LockFor(t.Context(), "busy", OpRemove)
	require.NoError(t, err)
	defer unlockBusy()
	require.NoError(t, os.MkdirAll(old.MachinesDir(), 0o700))
	trash := filepath.Join(old.MachinesDir(), trashPrefix+"gone-00000000deadbeef")
	require.NoError(t, os.MkdirAll(trash, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(trash, "id_rsa"), []byte("secret"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, locksDir), 0o700))
	stale := old.lockPath("killed")
	require.NoError(t, os.WriteFile(stale, []byte(OpCreate), 0o600))

	busyTrash := filepath.Join(old.MachinesDir(), trashPrefix+"busy-0000000000000001")
	require.NoError(t, os.MkdirAll(busyTrash, 0o700))

	s := New(dir) // the next command
	op, held := s.Holder("busy")
	assert.True(t, held)
	assert.Equal(t, OpRemove, op)
	unlock, err := s.Lock(t.Context(), "other")
	require.NoError(t, err)
	unlock()

	assert.NoDirExists(t, trash, "a removal killed half way is finished")
	assert.NoFileExists(t, stale, "a lock file whose holder died is pruned")
	assert.DirExists(t, busyTrash, "a removal under way is left to its remover")
	_, held = s.Holder("killed")
	assert.False(t, held)
}
