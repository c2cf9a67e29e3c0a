// Package testbin builds this repository's commands for tests that drive
// the real binaries, once per test binary.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	builds = map[string]*build{}
)

type build struct {
	once sync.Once
	dir  string
	err  error
}

// RepoRoot is the module root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Build compiles the given packages (e.g. "./cmd/docker-machine") into one
// directory and returns it; the same set is built once per test binary.
func Build(t testing.TB, pkgs ...string) string {
	t.Helper()
	key := strings.Join(pkgs, " ")
	mu.Lock()
	b := builds[key]
	if b == nil {
		b = &build{}
		builds[key] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "testbin-")
		if b.err != nil {
			return
		}
		cmd := exec.Command("go", append([]string{"build", "-o", b.dir + "/"}, pkgs...)...)
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w: %s", key, err, out)
		}
	})
	if b.err != nil {
		t.Fatalf("building %s: %v", key, b.err)
	}
	return b.dir
}
