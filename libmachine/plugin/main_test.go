package plugin

import (
	"fmt"
	"net"
	"net/http"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	stockplugin "github.com/docker/machine/libmachine/drivers/plugin"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/generic"
	"github.com/fleetdock/machine/drivers/none"
)

// The test binary doubles as plugin binaries: when started with
// FLEET_FAKE_PLUGIN set it becomes a (possibly misbehaving) plugin instead
// of running tests. When started the way a CLI starts a core driver, it
// serves its built-ins like our docker-machine binary does.
const fakeModeEnv = "FLEET_FAKE_PLUGIN"

var goTool string // resolved before tests change PATH

func TestMain(m *testing.M) {
	RegisterBuiltin(none.Name, func() drivers.Driver { return none.NewDriver("", "") })
	RegisterBuiltin(generic.Name, func() drivers.Driver { return generic.NewDriver("", "") })

	if mode := os.Getenv(fakeModeEnv); mode != "" {
		runFake(mode)
		os.Exit(0)
	}
	if name, ok := StartedAsPlugin(); ok {
		if err := ServeBuiltin(name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	goTool, _ = exec.LookPath("go")
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func runFake(mode string) {
	switch mode {
	case "stock-none":
		stockplugin.RegisterDriver(none.NewDriver("", ""))
	case "exit-early":
		fmt.Fprintln(os.Stderr, "fake plugin: loading credentials")
		fmt.Fprintln(os.Stderr, "fake plugin: cannot start: credentials rejected")
		os.Exit(3)
	case "silent":
		// Never prints an address; exits on its own later so a broken test
		// cannot leave it running.
		time.Sleep(2 * time.Minute)
	case "fake":
		serveFake()
	default:
		fmt.Fprintf(os.Stderr, "unknown %s mode %q\n", fakeModeEnv, mode)
		os.Exit(2)
	}
}

// fakeServer implements just enough of the stock RPC service for protocol
// tests. Behaviour comes from FAKE_* variables.
type fakeServer struct {
	version     int
	ignoreClose bool
	heartbeats  atomic.Int64
	beat        chan struct{}
	closing     chan struct{}
	closeOnce   sync.Once
	mu          sync.Mutex
	config      []byte
}

func (s *fakeServer) GetVersion(_ *struct{}, reply *int) error { *reply = s.version; return nil }

func (s *fakeServer) Heartbeat(_, _ *struct{}) error {
	s.heartbeats.Add(1)
	select {
	case s.beat <- struct{}{}:
	default:
	}
	return nil
}

// HeartbeatCount is not part of the protocol; tests read it.
func (s *fakeServer) HeartbeatCount(_ *struct{}, reply *int) error {
	*reply = int(s.heartbeats.Load())
	return nil
}

func (s *fakeServer) Close(_, _ *struct{}) error {
	if !s.ignoreClose {
		s.closeOnce.Do(func() { close(s.closing) })
	}
	return nil
}

func (s *fakeServer) SetConfigRaw(data []byte, _ *struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = data
	return nil
}

func (s *fakeServer) GetConfigRaw(_ *struct{}, reply *[]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	*reply = s.config
	return nil
}

func (s *fakeServer) GetMachineName(_ *struct{}, reply *string) error {
	*reply = "fake-machine"
	return nil
}

func (s *fakeServer) DriverName(_ *struct{}, reply *string) error {
	*reply = "fake"
	return nil
}

func serveFake() {
	version := 1
	if v := os.Getenv("FAKE_VERSION"); v != "" {
		version, _ = strconv.Atoi(v)
	}
	timeout := 10 * time.Second
	if v := os.Getenv("FAKE_HEARTBEAT_TIMEOUT"); v != "" {
		timeout, _ = time.ParseDuration(v)
	}
	s := &fakeServer{
		version:     version,
		ignoreClose: os.Getenv("FAKE_IGNORE_CLOSE") == "1",
		beat:        make(chan struct{}, 1),
		closing:     make(chan struct{}),
	}
	srv := rpc.NewServer()
	names := []string{"RPCServerDriver", "RpcServerDriver"}
	if os.Getenv("FAKE_V0_ONLY") == "1" {
		names = names[1:]
	}
	for _, n := range names {
		if err := srv.RegisterName(n, s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(l.Addr())
	if os.Getenv("FAKE_CHATTER") == "1" {
		fmt.Println("hello from stdout")
		fmt.Fprintln(os.Stderr, "hello from stderr")
	}
	go http.Serve(l, srv)

	for {
		select {
		case <-s.closing:
			os.Exit(0)
		case <-s.beat:
		case <-time.After(timeout):
			fmt.Fprintf(os.Stderr, "fake plugin: no heartbeat for %s, exiting\n", timeout)
			os.Exit(1)
		}
	}
}

var (
	buildOnce   sync.Once
	builtPlugin string
	buildErr    error
	buildDir    string
)

// genericPlugin builds integration/cmd/testplugin as
// docker-machine-driver-fleetgeneric once per test run and returns its path.
func genericPlugin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if goTool == "" {
			buildErr = fmt.Errorf("the go tool is not on PATH; it is needed to build the test plugin")
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "fleet-plugin-test-")
		if buildErr != nil {
			return
		}
		builtPlugin = filepath.Join(buildDir, "docker-machine-driver-fleetgeneric")
		out, err := exec.Command(goTool, "build", "-o", builtPlugin, "github.com/fleetdock/machine/integration/cmd/testplugin").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the test plugin: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return builtPlugin
}

// selfAs links this test binary under a plugin name in a fresh directory.
func selfAs(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, BinaryPrefix+name)
	require.NoError(t, os.Symlink(self, path))
	return path
}
