package plugin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/generic"
)

// --- helpers ---------------------------------------------------------------

type logRecord struct {
	level slog.Level
	msg   string
}

// captureHandler records every log message so tests can check plugin output.
type captureHandler struct {
	mu      sync.Mutex
	records []logRecord
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, logRecord{r.Level, r.Message})
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func (h *captureHandler) has(level slog.Level, msg string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if r.level == level && r.msg == msg {
			return true
		}
	}
	return false
}

func newLogger() (*slog.Logger, *captureHandler) {
	h := &captureHandler{}
	return slog.New(h), h
}

// childPIDs lists processes (zombies included) whose parent is this test.
func childPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	me := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state, ppid, ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(me) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func requireNoChildren(t *testing.T) {
	t.Helper()
	assert.Empty(t, childPIDs(t), "no plugin process (running or zombie) may be left behind")
}

func pidAlive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	return err == nil
}

func listen(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func testTiming() timing {
	return timing{addressTimeout: 10 * time.Second, heartbeat: 100 * time.Millisecond, closeTimeout: 5 * time.Second, exitGrace: 2 * time.Second}
}

// fake launches this test binary as a fake plugin configured by env.
func fake(t *testing.T, tm timing, env map[string]string) (*Client, *captureHandler, error) {
	t.Helper()
	t.Setenv(fakeModeEnv, "fake")
	for k, v := range env {
		t.Setenv(k, v)
	}
	logger, logs := newLogger()
	c, err := launch(context.Background(), selfAs(t, "fake"), "fake", logger, tm)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, logs, err
}

func normaliseFlags(flags []mcnflag.Flag) []mcnflag.Flag {
	out := make([]mcnflag.Flag, len(flags))
	for i, f := range flags {
		switch v := f.(type) {
		case *mcnflag.StringFlag:
			out[i] = *v
		case *mcnflag.IntFlag:
			out[i] = *v
		case *mcnflag.BoolFlag:
			out[i] = *v
		case *mcnflag.StringSliceFlag:
			out[i] = *v
		default:
			out[i] = f
		}
	}
	return out
}

// --- the same plugin binary through the stock client and ours ----------------

type rawDriver interface {
	drivers.Driver
	GetConfigRaw() ([]byte, error)
}

type scenarioResult struct {
	Flags          []mcnflag.Flag
	DriverName     string
	MachineName    string
	PreCheckErr    string
	ConfigAfterSet string
	State          state.State
	URL            string
	ConfigCreated  string
	StartErr       string
	SSHKeyPath     string
}

func runScenario(t *testing.T, d rawDriver, sshPort int, key string) scenarioResult {
	t.Helper()
	var r scenarioResult
	r.Flags = normaliseFlags(d.GetCreateFlags())
	r.DriverName = d.DriverName()
	r.MachineName = d.GetMachineName()
	if err := d.PreCreateCheck(); err != nil {
		r.PreCheckErr = err.Error()
	}

	values := map[string]any{}
	for _, f := range r.Flags {
		values[f.String()] = f.Default()
	}
	values["generic-ip-address"] = "127.0.0.1"
	values["generic-ssh-port"] = sshPort
	values["generic-ssh-user"] = "docker"
	values["generic-ssh-key"] = key
	values["swarm-master"] = false
	require.NoError(t, d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: values}))

	cfg, err := d.GetConfigRaw()
	require.NoError(t, err)
	r.ConfigAfterSet = string(cfg)

	r.State, err = d.GetState()
	require.NoError(t, err)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	r.URL, err = d.GetURL()
	require.NoError(t, err)
	cfg, err = d.GetConfigRaw()
	require.NoError(t, err)
	r.ConfigCreated = string(cfg)
	r.SSHKeyPath = d.GetSSHKeyPath()
	if err := d.Start(); err != nil {
		r.StartErr = err.Error()
	}
	return r
}

func TestStockClientAndOursDriveOurPluginAlike(t *testing.T) {
	bin := genericPlugin(t)
	// The stock client sets these in our own environment; restore them after.
	t.Setenv("MACHINE_PLUGIN_TOKEN", "")
	t.Setenv("MACHINE_PLUGIN_DRIVER_NAME", "")
	t.Setenv(fakeModeEnv, "")
	t.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	store := t.TempDir()
	key := filepath.Join(t.TempDir(), "host_key")
	require.NoError(t, os.WriteFile(key, []byte("PRIVATE KEY FOR TEST"), 0o644))
	port := listen(t)
	raw, err := json.Marshal(drivers.BaseDriver{MachineName: "gm", StorePath: store})
	require.NoError(t, err)

	// Stock docker-machine 0.16.2 client code.
	factory := rpcdriver.NewRPCClientDriverFactory()
	stockDriver, err := factory.NewRPCClientDriver("fleetgeneric", raw)
	require.NoError(t, err)
	children := childPIDs(t)
	require.Len(t, children, 1, "the stock client started one plugin")
	stock := runScenario(t, stockDriver, port, key)
	require.NoError(t, factory.Close())
	assert.Eventually(t, func() bool { return !pidAlive(children[0]) }, 10*time.Second, 20*time.Millisecond,
		"plugin process gone after the stock client closed it")

	// Our client.
	logger, _ := newLogger()
	ours, err := Launch(context.Background(), bin, logger)
	require.NoError(t, err)
	require.NoError(t, ours.SetConfigRaw(raw))
	pid := ours.proc.cmd.Process.Pid
	mine := runScenario(t, ours, port, key)
	require.NoError(t, ours.Close())
	assert.False(t, pidAlive(pid), "Close reaps the plugin")
	requireNoChildren(t)

	assert.Equal(t, stock, mine, "stock client and ours see the same plugin behaviour")

	// And what they saw is the generic driver's behaviour.
	assert.Equal(t, generic.NewDriver("", "").GetCreateFlags(), mine.Flags)
	assert.Equal(t, "generic", mine.DriverName)
	assert.Equal(t, "gm", mine.MachineName)
	assert.Equal(t, "generic driver requires the --generic-ip-address option", mine.PreCheckErr)
	assert.Equal(t, state.Running, mine.State)
	assert.Equal(t, "tcp://127.0.0.1:2376", mine.URL)
	assert.Equal(t, "generic driver does not support start", mine.StartErr)
	wantKey := filepath.Join(store, "machines", "gm", "host_key")
	assert.Equal(t, wantKey, mine.SSHKeyPath)
	info, err := os.Stat(wantKey)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	var cfg map[string]any
	require.NoError(t, json.Unmarshal([]byte(mine.ConfigCreated), &cfg))
	assert.Equal(t, map[string]any{
		"IPAddress": "127.0.0.1", "MachineName": "gm", "SSHUser": "docker", "SSHPort": float64(port),
		"SSHKeyPath": wantKey, "StorePath": store, "SwarmMaster": false, "SwarmHost": "", "SwarmDiscovery": "",
		"EnginePort": float64(2376), "SSHKey": key,
	}, cfg)
}

// mapOptions is a DriverOptions that is not the stock RPCFlags type.
type mapOptions map[string]any

func (m mapOptions) String(k string) string {
	s, _ := m[k].(string)
	return s
}
func (m mapOptions) StringSlice(k string) []string {
	s, _ := m[k].([]string)
	return s
}
func (m mapOptions) Int(k string) int {
	i, _ := m[k].(int)
	return i
}
func (m mapOptions) Bool(k string) bool {
	b, _ := m[k].(bool)
	return b
}

func TestClientConvertsOtherDriverOptions(t *testing.T) {
	bin := genericPlugin(t)
	t.Setenv(fakeModeEnv, "")
	logger, _ := newLogger()
	c, err := Launch(context.Background(), bin, logger)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetConfigRaw([]byte(`{"MachineName":"conv"}`)))

	err = c.SetConfigFromFlags(mapOptions{
		"generic-ip-address": "127.0.0.3", "generic-ssh-user": "ops", "generic-ssh-port": 2200,
		"generic-engine-port": 2377, "engine-label": []string{"a=b"},
	})
	require.NoError(t, err)
	ip, err := c.GetIP()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.3", ip)
	port, err := c.GetSSHPort()
	require.NoError(t, err)
	assert.Equal(t, 2200, port)
	assert.Equal(t, "ops", c.GetSSHUsername())

	// A plugin error comes back with the plugin's own message.
	err = c.SetConfigFromFlags(mapOptions{})
	require.Error(t, err)
	assert.Equal(t, "generic driver requires the --generic-ip-address option", err.Error())
	var fromDriver rpc.ServerError
	assert.ErrorAs(t, err, &fromDriver)
}

// --- Open with plugins, and our binary re-executed as a plugin --------------

func TestOpenRunsPluginFromSearchDirs(t *testing.T) {
	t.Setenv(fakeModeEnv, "stock-none")
	bin := selfAs(t, "fleetnone")
	t.Setenv("PATH", t.TempDir())

	raw := fixtureDriverJSON(t, "url-only")
	logger, _ := newLogger()
	d, err := Open(context.Background(), "fleetnone", raw, Options{SearchDirs: []string{t.TempDir(), filepath.Dir(bin)}, Logger: logger})
	require.NoError(t, err)
	c, ok := d.(*Client)
	require.True(t, ok, "a non-built-in name runs as a plugin")
	assert.Equal(t, "url-only", c.machineName(), "log prefix is the machine name")

	out, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Equal(t, string(raw), string(out), "host marshalling stores the plugin's own JSON")
	u, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.9:2376", u)

	require.NoError(t, d.Close())
	requireNoChildren(t)
}

func TestOpenBootstrapsPluginForNewMachine(t *testing.T) {
	t.Setenv(fakeModeEnv, "stock-none")
	bin := selfAs(t, "fleetnone")
	logger, _ := newLogger()
	d, err := Open(context.Background(), "fleetnone", nil, Options{MachineName: "newbie", StorePath: "/store", SearchDirs: []string{filepath.Dir(bin)}, Logger: logger})
	require.NoError(t, err)
	defer d.Close()
	assert.Equal(t, "newbie", d.GetMachineName())
	require.NoError(t, d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": "tcp://127.0.0.5:2376"}}))
	out, err := json.Marshal(d)
	require.NoError(t, err)
	assert.JSONEq(t, `{"IPAddress":"127.0.0.5:2376","MachineName":"newbie","SSHUser":"","SSHPort":0,"SSHKeyPath":"","StorePath":"/store","SwarmMaster":false,"SwarmHost":"","SwarmDiscovery":"","URL":"tcp://127.0.0.5:2376"}`, string(out))
}

func TestServeBuiltinWhenReexecutedAsPlugin(t *testing.T) {
	t.Setenv(fakeModeEnv, "")
	// Named like a plugin so Launch tells the child MACHINE_PLUGIN_DRIVER_NAME=none;
	// the child is this test binary, whose TestMain calls ServeBuiltin.
	bin := selfAs(t, "none")
	logger, _ := newLogger()
	c, err := Launch(context.Background(), bin, logger)
	require.NoError(t, err)
	raw := fixtureDriverJSON(t, "url-only")
	require.NoError(t, c.SetConfigRaw(raw))
	assert.Equal(t, "none", c.DriverName())
	u, err := c.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.9:2376", u)
	assert.EqualError(t, c.Kill(), "hosts without a driver cannot be killed")
	require.NoError(t, c.Close())
	requireNoChildren(t)
}

// --- protocol behaviour against fake plugins --------------------------------

func TestHeartbeatKeepsPluginAlive(t *testing.T) {
	// The fake exits after 1 s without a heartbeat; our client beats every 100 ms.
	c, _, err := fake(t, testTiming(), map[string]string{"FAKE_HEARTBEAT_TIMEOUT": "1s"})
	require.NoError(t, err)

	beats := func() int {
		var n int
		if err := c.call("HeartbeatCount", struct{}{}, &n); err != nil {
			return -1
		}
		return n
	}
	// 20 beats at 100 ms span about twice the plugin's patience.
	assert.Eventually(t, func() bool { return beats() >= 20 }, 30*time.Second, 50*time.Millisecond)
	assert.NoError(t, c.proc.exitedError(), "plugin still running")
	assert.Equal(t, "fake", c.DriverName())
	require.NoError(t, c.Close())
	requireNoChildren(t)
}

func TestDeadPluginErrorSaysItExited(t *testing.T) {
	tm := testTiming()
	tm.heartbeat = time.Hour // no heartbeats, so the fake gives up
	c, logs, err := fake(t, tm, map[string]string{"FAKE_HEARTBEAT_TIMEOUT": "300ms"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.proc.exitedError() != nil }, 10*time.Second, 20*time.Millisecond)

	s, err := c.GetState()
	require.Error(t, err)
	assert.Equal(t, state.Error, s)
	var exited *ExitedError
	require.ErrorAs(t, err, &exited)
	assert.Contains(t, err.Error(), "GetState on machine \"fake\" failed: driver plugin ")
	assert.Contains(t, err.Error(), "exited (exit status 1)")
	assert.Contains(t, err.Error(), "fake plugin: no heartbeat for 300ms, exiting")
	assert.NotContains(t, err.Error(), "connection is shut down")

	assert.Empty(t, c.DriverName())
	assert.True(t, logs.has(slog.LevelDebug, "(fake) fake plugin: no heartbeat for 300ms, exiting"))
	assert.NoError(t, c.Close())
	requireNoChildren(t)
}

func TestOldServiceNameFallback(t *testing.T) {
	c, _, err := fake(t, testTiming(), map[string]string{"FAKE_V0_ONLY": "1"})
	require.NoError(t, err)
	assert.Equal(t, rpcdriver.RPCServiceNameV0, c.service)
	assert.Equal(t, "fake", c.DriverName())
	require.NoError(t, c.Close())
	requireNoChildren(t)
}

func TestIncompatibleAPIVersion(t *testing.T) {
	_, _, err := fake(t, testTiming(), map[string]string{"FAKE_VERSION": "2"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "uses an incompatible API version (2)")
	requireNoChildren(t)
}

func TestLaunchReportsEarlyExit(t *testing.T) {
	t.Setenv(fakeModeEnv, "exit-early")
	logger, _ := newLogger()
	_, err := Launch(context.Background(), selfAs(t, "early"), logger)
	require.Error(t, err)
	var exited *ExitedError
	require.ErrorAs(t, err, &exited)
	assert.Equal(t, []string{"fake plugin: loading credentials", "fake plugin: cannot start: credentials rejected"}, exited.Stderr)
	assert.Contains(t, err.Error(), "exited (exit status 3)")
	requireNoChildren(t)
}

func TestLaunchGivesUpWithoutAddress(t *testing.T) {
	t.Setenv(fakeModeEnv, "silent")
	logger, _ := newLogger()
	tm := testTiming()
	tm.addressTimeout = 300 * time.Millisecond
	_, err := launch(context.Background(), selfAs(t, "silent"), "silent", logger, tm)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not print its address within 300ms")
	requireNoChildren(t)
}

func TestLaunchHonoursContext(t *testing.T) {
	t.Setenv(fakeModeEnv, "silent")
	logger, _ := newLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Launch(ctx, selfAs(t, "silent"), logger)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	requireNoChildren(t)
}

func TestCloseKillsPluginThatWillNotExit(t *testing.T) {
	tm := testTiming()
	tm.closeTimeout = 300 * time.Millisecond
	c, _, err := fake(t, tm, map[string]string{"FAKE_IGNORE_CLOSE": "1", "FAKE_HEARTBEAT_TIMEOUT": "1m"})
	require.NoError(t, err)
	err = c.Close()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not exit within 300ms after Close and was killed")
	assert.Equal(t, err, c.Close(), "Close is idempotent")
	requireNoChildren(t)

	_, err = c.GetIP()
	assert.ErrorIs(t, err, ErrClosed)
}

func TestPluginOutputIsLogged(t *testing.T) {
	c, logs, err := fake(t, testTiming(), map[string]string{"FAKE_CHATTER": "1"})
	require.NoError(t, err)
	assert.Eventually(t, func() bool {
		return logs.has(slog.LevelInfo, "(fake) hello from stdout") && logs.has(slog.LevelDebug, "(fake) hello from stderr")
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, c.Close())
}

func TestLaunchRefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:4000", "localhost:4000", "[::1]:4000"} {
		assert.NoError(t, checkLoopback(addr), addr)
	}
	for _, addr := range []string{"10.0.0.1:4000", "example.com:4000", "This is a Docker Machine plugin binary.", "127.0.0.1"} {
		assert.Error(t, checkLoopback(addr), addr)
	}
}

// A stock plugin exits after 10 s without a heartbeat; with the real
// interval ours must keep it alive well past that.
func TestRealHeartbeatKeepsStockPluginAlive(t *testing.T) {
	bin := genericPlugin(t)
	t.Parallel()
	logger, _ := newLogger()
	c, err := Launch(context.Background(), bin, logger)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetConfigRaw([]byte(`{"MachineName":"alive"}`)))

	past := time.Now().Add(12 * time.Second)
	for time.Now().Before(past) {
		require.NoError(t, c.proc.exitedError(), "plugin exited while heartbeats were running")
		assert.Equal(t, "alive", c.GetMachineName())
		time.Sleep(500 * time.Millisecond)
	}
	require.NoError(t, c.Close())
	assert.False(t, pidAlive(c.proc.cmd.Process.Pid))
}
