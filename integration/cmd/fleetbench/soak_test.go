package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary stands in for docker-machine and docker when
// FLEETBENCH_FAKE_LOG is set: it logs each call and answers as they would
// for a machine that creates (after FLEETBENCH_FAKE_FAIL_CREATES failed
// creates, each leaving its store entry behind) and works.
func TestMain(m *testing.M) {
	if log := os.Getenv("FLEETBENCH_FAKE_LOG"); log != "" {
		os.Exit(fake(log, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fake(log string, args []string) int {
	store := os.Getenv("MACHINE_STORAGE_PATH")
	record := func(line string) {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, line)
			_ = f.Close()
		}
	}
	if len(args) > 0 && args[0] == "version" {
		record("docker version " + os.Getenv("DOCKER_HOST") + " " + os.Getenv("DOCKER_CERT_PATH") + " " + os.Getenv("DOCKER_TLS_VERIFY"))
		fmt.Println("20.10.24")
		return 0
	}
	if len(args) < 3 || args[0] != "--bugsnag-api-token=no-report" {
		fmt.Fprintln(os.Stderr, "unexpected call", args)
		return 2
	}
	args = args[1:]
	record(strings.Join(args, " "))
	name := args[len(args)-1]
	dir := filepath.Join(store, "machines", name)
	switch args[0] {
	case "create":
		counter := log + ".creates"
		b, _ := os.ReadFile(counter)
		n, _ := strconv.Atoi(string(b))
		_ = os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o600)
		_ = os.MkdirAll(dir, 0o700)
		_ = os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o600)
		fails, _ := strconv.Atoi(os.Getenv("FLEETBENCH_FAKE_FAIL_CREATES"))
		if n < fails {
			fmt.Println("Running pre-create checks...")
			fmt.Fprintln(os.Stderr, "Error creating machine: RunInstances failed: Throttling: Request was denied due to request throttling. after 10 attempts")
			return 1
		}
	case "url":
		fmt.Println("tcp://127.0.0.1:2376")
	case "inspect":
		if len(args) == 4 {
			name = args[1]
			fmt.Println(filepath.Join(store, "machines", name))
			break
		}
		if _, err := os.Stat(dir); err != nil {
			fmt.Fprintf(os.Stderr, "Host does not exist: %q\n", name)
			return 1
		}
	case "rm":
		_ = os.RemoveAll(dir)
	}
	return 0
}

func fakeSoak(t *testing.T, failCreates int) (*soak, string) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	store := filepath.Join(dir, "store")
	self, err := os.Executable()
	require.NoError(t, err)
	s := &soak{cli: self, docker: self, store: store, driver: "aliyunecs", create: []string{"--engine-install-url=none"},
		removeRetry: 10 * time.Millisecond, removeAttempts: 2, cleanup: context.Background(), failures: map[string]int{},
		env: cliEnv(store, "FLEETBENCH_FAKE_LOG="+log, "FLEETBENCH_FAKE_FAIL_CREATES="+strconv.Itoa(failCreates))}
	return s, log
}

func calls(t *testing.T, log string) []string {
	b, err := os.ReadFile(log)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// created is the names the log's creates gave, in order.
func created(lines []string) []string {
	var names []string
	for _, l := range lines {
		if strings.HasPrefix(l, "create ") {
			names = append(names, l[strings.LastIndex(l, " ")+1:])
		}
	}
	return names
}

func TestAJobIsTheRunnersCallSequence(t *testing.T) {
	s, log := fakeSoak(t, 0)
	s.run(t.Context(), 1, 1)

	lines := calls(t, log)
	names := created(lines)
	require.Len(t, names, 1)
	n := names[0]
	assert.Regexp(t, `^runner-fleetbch-soak-\d+-[0-9a-f]{8}$`, n)
	assert.Equal(t, []string{
		"create --driver aliyunecs --engine-install-url=none " + n,
		"config " + n,
		"url " + n,
		"inspect " + n + " -f {{.HostOptions.AuthOptions.StorePath}}",
		"docker version tcp://127.0.0.1:2376 " + filepath.Join(s.store, "machines", n) + " 1",
		"inspect " + n,
		"stop " + n,
		"rm -y " + n,
	}, lines)
	assert.Equal(t, 1, s.jobsOK)
	assert.Zero(t, s.jobsLost)
	assert.Len(t, s.createTimes, 1)
	assert.Empty(t, s.failures)
	assert.NoDirExists(t, filepath.Join(s.store, "machines", n))
}

func TestAFailedCreateIsRemovedAndTheJobTriesANewMachine(t *testing.T) {
	s, log := fakeSoak(t, 1)
	s.run(t.Context(), 1, 1)

	lines := calls(t, log)
	names := created(lines)
	require.Len(t, names, 2)
	assert.NotEqual(t, names[0], names[1])
	for _, n := range names {
		for _, want := range []string{"inspect " + n, "stop " + n, "rm -y " + n} {
			assert.Contains(t, lines, want)
		}
	}
	assert.NotContains(t, lines, "config "+names[0], "a machine that failed to create is not used")
	assert.Contains(t, lines, "config "+names[1])
	assert.Equal(t, 1, s.jobsOK)
	assert.Equal(t, map[string]int{"create: throttled (Throttling)": 1}, s.failures)
	assert.Len(t, s.createTimes, 1, "only successful creates are timed")
}

func TestAJobGivesUpAfterThreeMachines(t *testing.T) {
	s, log := fakeSoak(t, 5)
	s.run(t.Context(), 1, 1)

	lines := calls(t, log)
	assert.Len(t, created(lines), 3)
	assert.Zero(t, s.jobsOK)
	assert.Equal(t, 1, s.jobsLost)
	assert.Equal(t, 3, s.failures["create: throttled (Throttling)"])
	entries, err := os.ReadDir(filepath.Join(s.store, "machines"))
	require.NoError(t, err)
	assert.Empty(t, entries, "every failed machine was removed")
	assert.Equal(t, 3, len(slices.DeleteFunc(lines, func(l string) bool { return !strings.HasPrefix(l, "rm -y ") })))
}
