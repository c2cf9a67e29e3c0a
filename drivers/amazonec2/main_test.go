package amazonec2

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain cuts the driver off from the machine's AWS set-up: no AWS_*
// variable, no shared config or credentials file, no HOME of the user, and
// no instance metadata lookup unless a test points it at the simulator.
// It also shortens every wait: the simulator's transitions take
// milliseconds, and the tests check behaviour, not patience.
func TestMain(m *testing.M) {
	pollInitial = 20 * time.Millisecond
	pollMax = 150 * time.Millisecond
	retryBaseDelay = 5 * time.Millisecond
	retryMaxDelay = 80 * time.Millisecond
	// One real key for all creates: RSA generation would dominate the run.
	real := generateKey
	var once sync.Once
	var priv, pub []byte
	var err error
	generateKey = func() ([]byte, []byte, error) {
		once.Do(func() { priv, pub, err = real() })
		return priv, pub, err
	}

	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			os.Unsetenv(k)
		}
	}
	// The go tool (for the plugin test) keeps its caches where they were.
	if os.Getenv("GOCACHE") == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			os.Setenv("GOCACHE", filepath.Join(dir, "go-build"))
		}
	}
	if os.Getenv("GOPATH") == "" {
		if home, err := os.UserHomeDir(); err == nil {
			os.Setenv("GOPATH", filepath.Join(home, "go"))
		}
	}
	home, _ := os.MkdirTemp("", "amazonec2-home-")
	os.Setenv("HOME", home)
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "no-config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "no-credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	slog.SetDefault(quietLogger())
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
