package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary re-executes itself to act as another docker-machine
// process sharing the store; these variables give it its part.
const (
	roleEnv  = "STORE_TEST_ROLE"
	pathEnv  = "STORE_TEST_PATH"
	seedEnv  = "STORE_TEST_SEED"
	roleWork = "work"
	roleHold = "hold"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(m.Run())
}

func runHelper(role string) int {
	s := New(os.Getenv(pathEnv))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	switch role {
	case roleWork:
		seed, _ := strconv.ParseUint(os.Getenv(seedEnv), 10, 64)
		if err := work(ctx, s, seed); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case roleHold:
		unlock, err := s.Lock(ctx, "m")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer unlock()
		fmt.Println("locked")
		// Hold until the test kills us (or closes stdin).
		_, _ = io.Copy(io.Discard, os.Stdin)
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
	return 2
}

var churnNames = []string{"m0", "m1", "m2", "m3", "m4"}

const (
	churnRounds = 25
	increments  = 10
	counterName = "counter"
	workers     = 20
)

// work is one worker of the concurrency tests: it creates, updates and
// removes machines of a few shared names, checking under each lock that it
// sees exactly what it wrote, then adds increments to a shared counter (a
// lost update there means the lock let two writers in).
func work(ctx context.Context, s *Store, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 42))
	for range churnRounds {
		name := churnNames[r.IntN(len(churnNames))]
		if err := withLock(ctx, s, name, func() error { return churnOnce(s, name, r) }); err != nil {
			return err
		}
	}
	for range increments {
		err := withLock(ctx, s, counterName, func() error {
			h, err := s.Load(counterName)
			if err != nil {
				return err
			}
			h.HostOptions.Memory++
			return s.Save(h)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func withLock(ctx context.Context, s *Store, name string, f func() error) error {
	unlock, err := s.Lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	return f()
}

func churnOnce(s *Store, name string, r *rand.Rand) error {
	exists, err := s.Exists(name)
	if err != nil {
		return err
	}
	if !exists {
		if err := s.Create(testHost(s, name)); err != nil {
			return fmt.Errorf("create %s under its lock: %w", name, err)
		}
		return nil
	}
	h, err := s.Load(name)
	if err != nil {
		return fmt.Errorf("load %s under its lock: %w", name, err)
	}
	if r.IntN(3) == 0 {
		if err := s.Remove(name); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		var ne *NotExistError
		if _, err := s.Load(name); !errors.As(err, &ne) {
			return fmt.Errorf("%s still loads after remove (%v)", name, err)
		}
		return nil
	}
	h.HostOptions.Memory++
	want := h.HostOptions.Memory
	if err := s.Save(h); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	got, err := s.Load(name)
	if err != nil {
		return fmt.Errorf("reload %s: %w", name, err)
	}
	if got.HostOptions.Memory != want {
		return fmt.Errorf("%s: wrote %d, read back %d: someone wrote under our lock", name, want, got.HostOptions.Memory)
	}
	return nil
}

// newCounterStore makes a store with the shared counter machine at 0.
func newCounterStore(t *testing.T) *Store {
	t.Helper()
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, counterName)))
	return s
}

func assertCounter(t *testing.T, s *Store, want int) {
	t.Helper()
	h, err := s.Load(counterName)
	require.NoError(t, err)
	assert.Equal(t, want, h.HostOptions.Memory, "lost updates: the lock let two writers in")
}

func TestConcurrentGoroutines(t *testing.T) {
	s := newCounterStore(t)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[i] = work(t.Context(), s, uint64(i)) })
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "worker %d", i)
	}
	assertCounter(t, s, workers*increments)
	assertConsistent(t, s)
}

func TestConcurrentProcesses(t *testing.T) {
	s := newCounterStore(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	type result struct {
		out []byte
		err error
	}
	results := make([]result, workers)
	var wg sync.WaitGroup
	for i := range workers {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), roleEnv+"="+roleWork, pathEnv+"="+s.Path, seedEnv+"="+strconv.Itoa(i))
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			results[i] = result{out, err}
		})
	}
	wg.Wait()
	for i, r := range results {
		assert.NoError(t, r.err, "process %d: %s", i, r.out)
	}
	assertCounter(t, s, workers*increments)
	assertConsistent(t, s)
}

func TestLockIsExclusiveAndWaitsWithContext(t *testing.T) {
	s := New(t.TempDir())
	unlock, err := s.Lock(t.Context(), "m") // the machine need not exist yet
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx, "m")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), `waiting for the lock on machine "m": stopped after`)
	assert.Contains(t, err.Error(), "(last: another docker-machine command is still working on it); wait for it to finish and retry")

	other, err := s.Lock(t.Context(), "n")
	require.NoError(t, err, "locks of different machines are independent")
	other()

	unlock()
	unlock() // a second call must not release someone else's lock
	again, err := s.Lock(t.Context(), "m")
	require.NoError(t, err)
	_, held, err := tryLock(s.lockPath("m"))
	require.NoError(t, err)
	assert.True(t, held)
	again()

	_, err = os.Stat(s.lockPath("m"))
	assert.ErrorIs(t, err, os.ErrNotExist, "an unheld lock leaves no file")
}

// A holder removes the machine; the waiter then gets the lock and finds the
// machine gone rather than a half-written one.
func TestRemoveUnderLockIsSafeForWaiter(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "m")))
	unlock, err := s.Lock(t.Context(), "m")
	require.NoError(t, err)

	got := make(chan error, 1)
	go func() {
		err := withLock(t.Context(), s, "m", func() error {
			_, err := s.Load("m")
			return err
		})
		got <- err
	}()

	_, held, err := tryLock(s.lockPath("m"))
	require.NoError(t, err)
	require.True(t, held, "the waiter must not have the lock yet")
	require.NoError(t, s.Remove("m"))
	unlock()

	var ne *NotExistError
	assert.ErrorAs(t, <-got, &ne)
	assertConsistent(t, s)
}

// startHolder runs a helper process that takes the lock of "m" and keeps it
// until killed.
func startHolder(t *testing.T, s *Store) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), roleEnv+"="+roleHold, pathEnv+"="+s.Path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the helper process did not report holding the lock")
	require.Equal(t, "locked\n", line)
	return cmd
}

func crash(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait() // "signal: killed" is the expected outcome
}

func TestLockAcrossProcessesAndHolderCrash(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "m")))
	require.NoError(t, s.Create(testHost(s, "other")))

	holder := startHolder(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Lock(ctx, "m")
	require.ErrorIs(t, err, context.DeadlineExceeded, "another process holds the lock")

	crash(t, holder)
	assert.FileExists(t, s.lockPath("m"), "a crashed holder leaves its lock file")
	unlock, err := s.Lock(t.Context(), "m")
	require.NoError(t, err, "the kernel released the dead holder's lock")
	unlock()
	assert.NoFileExists(t, s.lockPath("m"))

	// Leftovers of crashes are swept when machines are removed, so they
	// cannot pile up for names never locked again.
	crash(t, startHolder(t, s))
	assert.FileExists(t, s.lockPath("m"))
	require.NoError(t, s.Remove("other"))
	assert.NoFileExists(t, s.lockPath("m"))
	assertConsistent(t, s)
}

func TestPruneLeavesHeldLocks(t *testing.T) {
	s := New(t.TempDir())
	require.NoError(t, s.Create(testHost(s, "gone")))
	unlock, err := s.Lock(t.Context(), "busy")
	require.NoError(t, err)
	defer unlock()
	require.NoError(t, s.Remove("gone"))
	assert.FileExists(t, s.lockPath("busy"))
	_, held, err := tryLock(s.lockPath("busy"))
	require.NoError(t, err)
	assert.True(t, held)
}
