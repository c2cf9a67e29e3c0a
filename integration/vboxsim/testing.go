package vboxsim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetdock/machine/integration/hostworld"
	"github.com/fleetdock/machine/integration/testbin"
)

// Sim is one stand-in VirtualBox installation for a test: a directory
// holding the VBoxManage binary and a state folder.
type Sim struct {
	BinDir string // put it first in PATH
	Home   string // the state folder ($VBOXSIM_HOME)
}

// Install builds the VBoxManage stand-in (once per test binary), gives it
// a fresh state folder with cfg (for the container backend, with the
// hostworld image built beforehand), and removes whatever its machines left
// running (containers, QEMU VMs, forwarders) when the test ends.
func Install(t testing.TB, cfg Config) *Sim {
	t.Helper()
	bin := testbin.Build(t, "./integration/vboxsim/cmd/VBoxManage")
	if cfg.Backend == BackendContainer && cfg.ContainerImage == "" {
		// Built here, not inside a startvm that holds the state lock and
		// has a deadline for the boot alone.
		img, err := hostworld.EnsureImage(t.Context(), hostworld.ImageOptions{})
		if err != nil {
			t.Fatalf("preparing the host image for the VBoxManage stand-in: %v", err)
		}
		cfg.ContainerImage = img
	}
	s := &Sim{BinDir: bin, Home: t.TempDir()}
	if err := SaveConfig(s.Home, &cfg); err != nil {
		t.Fatalf("configuring the VBoxManage stand-in: %v", err)
	}
	t.Cleanup(func() { s.cleanup(t) })
	return s
}

// Env returns the environment variables that point a process at the
// stand-in: PATH with its binary first, and VBOXSIM_HOME.
func (s *Sim) Env() []string {
	return []string{"PATH=" + s.BinDir + string(os.PathListSeparator) + os.Getenv("PATH"), HomeEnv + "=" + s.Home}
}

// Setenv points the test process (and what it runs) at the stand-in.
func (s *Sim) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv("PATH", s.BinDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(HomeEnv, s.Home)
}

// Binary is the path of the VBoxManage stand-in.
func (s *Sim) Binary() string { return filepath.Join(s.BinDir, "VBoxManage") }

// Configure changes the stand-in's configuration (faults, host facts).
func (s *Sim) Configure(t testing.TB, change func(*Config)) {
	t.Helper()
	cfg, err := LoadConfig(s.Home)
	if err != nil {
		t.Fatal(err)
	}
	change(cfg)
	if err := SaveConfig(s.Home, cfg); err != nil {
		t.Fatal(err)
	}
}

// Calls returns the call log.
func (s *Sim) Calls(t testing.TB) []Call {
	t.Helper()
	calls, err := ReadCalls(s.Home)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// State returns the stand-in's current state.
func (s *Sim) State(t testing.TB) *State {
	t.Helper()
	st, err := ReadState(s.Home)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// VBoxManage runs the stand-in binary and returns its output and exit code.
func (s *Sim) VBoxManage(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, s.Binary(), args...)
	cmd.Env = append(os.Environ(), HomeEnv+"="+s.Home)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running VBoxManage %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

func (s *Sim) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Teardown(ctx, s.Home); err != nil {
		t.Errorf("cleaning up the VBoxManage stand-in: %v", err)
	}
}

// Teardown stops everything the machines of the state folder home run:
// forwarders, QEMU VMs and containers (which it removes). Install's
// cleanup calls it; call it yourself for a state folder made otherwise.
func Teardown(ctx context.Context, home string) error {
	st, err := ReadState(home)
	if err != nil {
		return fmt.Errorf("reading the stand-in's state: %w", err)
	}
	containers := false
	for _, vm := range st.VMs {
		_ = os.Remove(qmpPath(vm))
		if vm.Run == nil {
			continue
		}
		stopForwarder(vm.Run.ForwarderPID)
		if processAlive(vm.Run.QEMUPID, "qemu-system") {
			_ = syscall.Kill(vm.Run.QEMUPID, syscall.SIGKILL)
		}
		containers = containers || vm.Run.Backend == BackendContainer
	}
	if cfg, err := LoadConfig(home); err == nil && cfg.backend() == BackendContainer {
		containers = true
	}
	if !containers {
		return nil
	}
	if err := hostworld.RemoveAllLabelled(ctx, map[string]string{labelHome: HomeLabel(home)}); err != nil {
		return fmt.Errorf("removing the stand-in's containers: %w", err)
	}
	return nil
}
