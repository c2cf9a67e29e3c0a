package commands

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/clitest"
	"github.com/fleetdock/machine/drivers/generic"
	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func init() {
	plugin.RegisterBuiltin("none", func() drivers.Driver { return none.NewDriver("", "") })
	plugin.RegisterBuiltin("generic", func() drivers.Driver { return generic.NewDriver("", "") })
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs one docker-machine invocation against store.
func cli(t *testing.T, store string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"docker-machine", "-s", store}, args...)
	code := Run(full, strings.NewReader(stdin), &out, &errOut)
	return result{out.String(), errOut.String(), code}
}

var newStore = clitest.NewStore

// fakeEngine serves GET /version over TLS with a server certificate signed
// by the store's CA, requiring the client certificate, like a provisioned
// Docker daemon.
func fakeEngine(t *testing.T, store string) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", clitest.ServerTLS(t, store, "127.0.0.1", "localhost"))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/version" {
			fmt.Fprint(w, `{"Version":"20.10.24"}`)
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + ln.Addr().String()
}

func createNone(t *testing.T, store, name, url string) {
	t.Helper()
	r := cli(t, store, "", "create", "-d", "none", "--url", url, name)
	require.Equal(t, 0, r.code, "create %s: %s %s", name, r.stdout, r.stderr)
}

func TestCreateNoneWritesStockLayout(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "--engine-label", "tier=a", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Creating CA: "+filepath.Join(store, "certs", "ca.pem"))
	assert.Contains(t, r.stdout, "Creating client certificate: "+filepath.Join(store, "certs", "cert.pem"))
	assert.Contains(t, r.stdout, "Running pre-create checks...")
	assert.Contains(t, r.stdout, "To see how to connect your Docker Client to the Docker Engine running on this virtual machine, run: docker-machine env m1")

	cfgPath := filepath.Join(store, "machines", "m1", "config.json")
	info, err := os.Stat(cfgPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	var cfg map[string]any
	data, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cfg))
	assert.EqualValues(t, 3, cfg["ConfigVersion"])
	assert.Equal(t, "none", cfg["DriverName"])
	assert.Equal(t, "tcp://127.0.0.1:1", cfg["Driver"].(map[string]any)["URL"])
	eo := cfg["HostOptions"].(map[string]any)["EngineOptions"].(map[string]any)
	assert.Equal(t, []any{"tier=a"}, eo["Labels"])
	assert.Equal(t, []any{}, eo["RegistryMirror"], "empty lists are written as [] like stock")

	// A second create with the same name changes nothing.
	before, _ := os.ReadFile(cfgPath)
	r = cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:2", "m1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Docker machine "m1" already exists`)
	after, _ := os.ReadFile(cfgPath)
	assert.Equal(t, before, after)
}

func TestCreateRejectsBadInput(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "-bad")
	assert.Equal(t, 1, r.code)

	r = cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "bad_name")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "invalid machine name")

	r = cli(t, store, "", "create", "-d", "nosuchdriver", "x")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Driver "nosuchdriver" not found`)

	r = cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "No machine name specified")

	r = cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "a", "b")
	assert.Contains(t, r.stderr, "Found extra arguments [b]")

	names, _ := os.ReadDir(filepath.Join(store, "machines"))
	assert.Empty(t, names, "failed creates leave nothing in the store")
}

func TestCreatePreCreateFailureExitsThree(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "-d", "generic", "--generic-ip-address", "127.0.0.1",
		"--generic-ssh-key", filepath.Join(t.TempDir(), "missing-key"), "g1")
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Error with pre-create check")
	_, err := os.Stat(filepath.Join(store, "machines", "g1"))
	assert.True(t, os.IsNotExist(err), "a failed pre-create check leaves no machine")
}

func TestCreateDriverHelpListsDriverFlags(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "create", "--driver", "generic", "--help")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "--generic-ip-address")
	assert.Contains(t, r.stdout, "--engine-registry-mirror")
	// The stock parser accepted single-dash long flags.
	r = cli(t, store, "", "create", "-driver", "none", "-url", "tcp://127.0.0.1:1", "single")
	assert.Equal(t, 0, r.code, r.stderr)
}

func TestLsFormatsAndFilters(t *testing.T) {
	store := newStore(t)
	url := "tcp://127.0.0.1:1"
	for _, n := range []string{"node-10", "node-2", "other"} {
		createNone(t, store, n, url)
	}
	r := cli(t, store, "", "ls")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^NAME\s+ACTIVE\s+DRIVER\s+STATE\s+URL\s+SWARM\s+DOCKER\s+ERRORS$`, lines[0])
	assert.Regexp(t, `^node-2\s+-\s+none\s+Running\s+tcp://127\.0\.0\.1:1\s+Unknown\s+.*refused`, lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "node-10 "), "natural order: %q", lines[2])

	r = cli(t, store, "", "ls", "-q")
	assert.Equal(t, "node-2\nnode-10\nother\n", r.stdout)

	r = cli(t, store, "", "ls", "--filter", "name=^node", "--format", "{{.Name}}/{{.DriverName}}/{{.State}}")
	assert.Equal(t, "node-2/none/Running\nnode-10/none/Running\n", r.stdout)

	r = cli(t, store, "", "ls", "-q", "--filter", "driver=virtualbox")
	assert.Equal(t, "", r.stdout)

	r = cli(t, store, "", "ls", "--filter", "bogus=1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Unsupported filter key 'bogus'")

	r = cli(t, store, "", "ls", "--format", "table {{.Name}}\t{{.State}}")
	assert.Regexp(t, `^NAME\s+STATE\n`, r.stdout)
}

func TestLsShowsBrokenMachinesAndRmForceRemovesThem(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "good", "tcp://127.0.0.1:1")
	for name, content := range map[string]string{"empty": "", "garbage": "{not json"} {
		dir := filepath.Join(store, "machines", name)
		require.NoError(t, os.MkdirAll(dir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(store, "machines", "missing"), 0o700))

	r := cli(t, store, "", "ls")
	require.Equal(t, 0, r.code, r.stderr)
	for _, name := range []string{"empty", "garbage", "missing"} {
		assert.Regexp(t, `(?m)^`+name+`\s+-?\s*not found\s+Error\s+.*rm -f `+name, r.stdout)
	}
	assert.Regexp(t, `(?m)^good\s+-\s+none\s+Running`, r.stdout)

	r = cli(t, store, "", "inspect", "garbage")
	assert.Equal(t, 1, r.code)

	r = cli(t, store, "", "rm", "-y", "garbage")
	assert.Equal(t, 1, r.code, "without -f a machine that cannot be loaded stays")
	r = cli(t, store, "", "rm", "-f", "garbage", "empty", "missing")
	assert.Equal(t, 1, r.code, "what an unreadable config recorded may still exist: never a success")
	assert.Contains(t, r.stderr, `the entry of "garbage" was removed`)
	assert.Contains(t, r.stderr, "Its cloud resources may still exist")
	assert.NotContains(t, r.stdout, "Successfully removed")
	r = cli(t, store, "", "ls", "-q")
	assert.Equal(t, "good\n", r.stdout)
}

func TestInspectTemplatesAndGitLabForms(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	r := cli(t, store, "", "inspect", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	var h map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &h))
	assert.Equal(t, "m1", h["Name"])
	assert.Contains(t, r.stdout, "\n    \"ConfigVersion\": 3", "indented like stock")

	// GitLab Runner puts the flag after the machine name.
	r = cli(t, store, "", "inspect", "m1", "-f", "{{.HostOptions.AuthOptions.StorePath}}")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, filepath.Join(store, "machines", "m1")+"\n", r.stdout)

	r = cli(t, store, "", "inspect", "-f", "{{json .Driver}}", "m1")
	assert.Contains(t, r.stdout, `"URL":"tcp://127.0.0.1:1"`)
	r = cli(t, store, "", "inspect", "-f", "{{prettyjson .HostOptions.SwarmOptions.Host}}", "m1")
	assert.Equal(t, "\"tcp://0.0.0.0:3376\"\n", r.stdout)
	r = cli(t, store, "", "inspect", "-f", "{{.Nope", "m1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "template parsing error")

	r = cli(t, store, "", "inspect", "nosuch")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Docker machine "nosuch" does not exist`)
}

func TestIPURLStatusAndDefaultMachine(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	// The none driver reports host:port as its IP, as stock does.
	assert.Equal(t, "127.0.0.1:1\n", cli(t, store, "", "ip", "m1").stdout)
	assert.Equal(t, "tcp://127.0.0.1:1\n", cli(t, store, "", "url", "m1").stdout)
	assert.Equal(t, "Running\n", cli(t, store, "", "status", "m1").stdout)

	r := cli(t, store, "", "status")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `no "default" machine exists`)
	createNone(t, store, "default", "tcp://127.0.0.2:1")
	assert.Equal(t, "tcp://127.0.0.2:1\n", cli(t, store, "", "url").stdout)
	assert.Equal(t, "127.0.0.1:1\n127.0.0.2:1\n", cli(t, store, "", "ip", "m1", "default").stdout)
}

func TestStartStopOnNoneExplainWhy(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	for _, verb := range []string{"stop", "kill"} {
		r := cli(t, store, "", verb, "m1")
		assert.Equal(t, 1, r.code, verb)
		assert.NotEmpty(t, r.stderr, verb)
	}
	r := cli(t, store, "", "start", "m1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Machine "m1" is already running.`)
}

func TestEnvConfigVersionActiveAgainstEngine(t *testing.T) {
	store := newStore(t)
	// Certificates first, so the fake engine can be signed by the store's CA.
	createNone(t, store, "bootstrap", "tcp://127.0.0.1:1")
	url := fakeEngine(t, store)
	createNone(t, store, "m1", url)
	dir := filepath.Join(store, "machines", "m1")

	r := cli(t, store, "", "env", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("export DOCKER_TLS_VERIFY=\"1\"\nexport DOCKER_HOST=\"%s\"\nexport DOCKER_CERT_PATH=\"%s\"\nexport DOCKER_MACHINE_NAME=\"m1\"\n# Run this command to configure your shell: \n# eval $(docker-machine -s %s env m1)\n", url, dir, store), r.stdout)
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		assert.FileExists(t, filepath.Join(dir, f))
	}

	r = cli(t, store, "", "env", "--shell", "fish", "m1")
	assert.Contains(t, r.stdout, "set -gx DOCKER_HOST \""+url+"\";\n")
	assert.Contains(t, r.stdout, "# eval (docker-machine")
	r = cli(t, store, "", "env", "--shell", "powershell", "m1")
	assert.Contains(t, r.stdout, "$Env:DOCKER_MACHINE_NAME = \"m1\"\n")
	r = cli(t, store, "", "env", "--shell", "cmd", "m1")
	assert.Contains(t, r.stdout, "SET DOCKER_TLS_VERIFY=1\n")
	assert.Contains(t, r.stdout, "REM Run this command")
	r = cli(t, store, "", "env", "--shell", "tcsh", "m1")
	assert.Contains(t, r.stdout, "setenv DOCKER_CERT_PATH \""+dir+"\";\n")
	r = cli(t, store, "", "env", "--shell", "emacs", "m1")
	assert.Contains(t, r.stdout, "(setenv \"DOCKER_HOST\" \""+url+"\")\n")
	t.Setenv("SHELL", "/usr/bin/zsh")
	r = cli(t, store, "", "env", "m1")
	assert.Contains(t, r.stdout, "export DOCKER_HOST=")
	t.Setenv("SHELL", "/usr/bin/fish")
	r = cli(t, store, "", "env", "m1")
	assert.Contains(t, r.stdout, "set -gx DOCKER_HOST ")
	// Cron, systemd units and CI jobs run without $SHELL: scripts there
	// eval the POSIX form.
	os.Unsetenv("SHELL")
	r = cli(t, store, "", "env", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "export DOCKER_HOST=")

	t.Setenv("NO_PROXY", "example.test")
	r = cli(t, store, "", "env", "--no-proxy", "m1")
	assert.Contains(t, r.stdout, "export NO_PROXY=\"example.test,"+strings.TrimPrefix(url, "tcp://")+"\"\n")

	r = cli(t, store, "", "env", "-u")
	assert.Equal(t, "unset DOCKER_TLS_VERIFY\nunset DOCKER_HOST\nunset DOCKER_CERT_PATH\nunset DOCKER_MACHINE_NAME\n# Run this command to configure your shell: \n# eval $(docker-machine -s "+store+" env -u)\n", r.stdout)
	r = cli(t, store, "", "env", "-u", "--shell", "fish")
	assert.Contains(t, r.stdout, "set -e DOCKER_HOST;\n")

	r = cli(t, store, "", "config", "m1")
	require.Equal(t, 0, r.code, r.stderr)
	certDir := filepath.Join(store, "certs")
	assert.Equal(t, fmt.Sprintf("--tlsverify\n--tlscacert=%q\n--tlscert=%q\n--tlskey=%q\n-H=%s\n",
		filepath.Join(certDir, "ca.pem"), filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem"), url), r.stdout)

	r = cli(t, store, "", "version", "m1")
	assert.Equal(t, "20.10.24\n", r.stdout)
	r = cli(t, store, "", "ls", "--filter", "name=m1")
	assert.Regexp(t, `(?m)^m1\s+-\s+none\s+Running\s+tcp://\S+\s+v20\.10\.24\s*$`, r.stdout)

	t.Setenv("DOCKER_HOST", url)
	r = cli(t, store, "", "active")
	assert.Equal(t, "m1\n", r.stdout)
	r = cli(t, store, "", "ls", "--filter", "name=m1", "--format", "{{.Name}} {{.Active}}")
	assert.Equal(t, "m1 *\n", r.stdout)
	t.Setenv("DOCKER_HOST", "")
	r = cli(t, store, "", "active")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "No active host found")

	// An engine that is not there: env says so and how to go on.
	createNone(t, store, "gone", "tcp://127.0.0.1:1")
	r = cli(t, store, "", "env", "gone")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "Error checking TLS connection")
	assert.Contains(t, r.stderr, "Check that the machine is running ('docker-machine status gone')")
	assert.NotContains(t, r.stderr, "regenerate-certs", "an unreachable daemon is not a certificate problem")
	assert.Empty(t, r.stdout)
}

func TestRmPromptsAndRemoves(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	r := cli(t, store, "n\n", "rm", "m1")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "About to remove m1\nWARNING: This action will delete both local reference and remote instance.\nAre you sure? (y/n): ")
	assert.DirExists(t, filepath.Join(store, "machines", "m1"))

	r = cli(t, store, "y\n", "rm", "m1")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Successfully removed m1")
	assert.NoDirExists(t, filepath.Join(store, "machines", "m1"))

	r = cli(t, store, "", "rm", "-y", "m1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Docker machine "m1" does not exist`)
	r = cli(t, store, "", "rm", "-y")
	assert.Equal(t, 1, r.code)
}

func TestVersionAndHelp(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "version")
	assert.Equal(t, fmt.Sprintf("docker-machine version %s, build %s\n", Version, GitCommit), r.stdout)
	r = cli(t, store, "", "--version")
	assert.Equal(t, fmt.Sprintf("docker-machine version %s, build %s\n", Version, GitCommit), r.stdout)
	r = cli(t, store, "", "--help")
	assert.Equal(t, 0, r.code)
	for _, c := range []string{"active", "config", "create", "env", "inspect", "ip", "kill", "ls", "mount", "provision", "regenerate-certs", "restart", "rm", "ssh", "scp", "start", "status", "stop", "upgrade", "url", "version"} {
		assert.Regexp(t, `(?m)^\s+`+c+`\s`, r.stdout, c)
	}
	r = cli(t, store, "", "completion", "bash")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "bash completion")
	r = cli(t, store, "", "nosuchcommand")
	assert.Equal(t, 1, r.code)
}

func TestSSHAndSCPNeedARunningReachableMachine(t *testing.T) {
	store := newStore(t)
	r := cli(t, store, "", "ssh", "nosuch", "hostname")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `Docker machine "nosuch" does not exist`)
	r = cli(t, store, "", "scp", "a", "b")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "must name a machine")
	r = cli(t, store, "", "scp", "a")
	assert.Contains(t, r.stderr, "Improper number of arguments")
}

func TestRegenerateCertsAsksFirst(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	r := cli(t, store, "n\n", "regenerate-certs", "m1")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "Regenerate TLS machine certs?  Warning: this is irreversible. (y/n): ")
}

func TestFixtureStoreFromStockCLI(t *testing.T) {
	store := newStore(t)
	copyTree(t, "../../../testdata/docker-machine-0.16.2-store", store)

	r := cli(t, store, "", "ls", "-q")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "generic-host\nurl-only\n", r.stdout)

	r = cli(t, store, "", "inspect", "generic-host", "-f", "{{.HostOptions.AuthOptions.StorePath}} {{.Driver.SSHKeyPath}} {{.HostOptions.EngineOptions.RegistryMirror}}")
	require.Equal(t, 0, r.code, r.stderr)
	dir := filepath.Join(store, "machines", "generic-host")
	assert.Equal(t, dir+" "+filepath.Join(dir, "k")+" [https://mirror.example.test]\n", r.stdout, "paths resolve into the store's real location")
	r = cli(t, store, "", "url", "url-only")
	assert.Equal(t, "tcp://127.0.0.9:2376\n", r.stdout)
	r = cli(t, store, "", "ip", "generic-host")
	assert.Equal(t, "127.0.0.2\n", r.stdout)

	r = cli(t, store, "", "rm", "-y", "url-only", "generic-host")
	require.Equal(t, 0, r.code, r.stderr)
	r = cli(t, store, "", "ls", "-q")
	assert.Empty(t, r.stdout)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, "key.pem") || d.Name() == "config.json" || d.Name() == "k" {
			mode = 0o600
		}
		return os.WriteFile(target, data, mode)
	}))
}

func TestConcurrentCreatesAndRemovesKeepTheStoreConsistent(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "seed", "tcp://127.0.0.1:1") // certificates exist before the rush
	const n = 20
	codes := make(chan int, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pairs of goroutines fight over the same name.
			name := fmt.Sprintf("m-%d", i/2)
			codes <- cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", name).code
			codes <- cli(t, store, "", "rm", "-f", name).code
		}()
	}
	wg.Wait()
	close(codes)
	for range codes {
	}
	entries, err := os.ReadDir(filepath.Join(store, "machines"))
	require.NoError(t, err)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("stray entry %s left in machines/", e.Name())
			continue
		}
		data, err := os.ReadFile(filepath.Join(store, "machines", e.Name(), "config.json"))
		require.NoError(t, err, e.Name())
		assert.True(t, json.Valid(data), "config of %s is valid JSON", e.Name())
	}
	r := cli(t, store, "", "ls", "--format", "{{.Name}} {{.Error}}")
	assert.Equal(t, 0, r.code)
	assert.NotContains(t, r.stdout, "cannot be loaded")
}

func TestMountAndRestartExplainWhatIsMissing(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "m1", "tcp://127.0.0.1:1")
	t.Setenv("PATH", t.TempDir()) // neither sshfs nor fusermount
	r := cli(t, store, "", "mount", "m1:/data", filepath.Join(t.TempDir(), "mnt"))
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "You must have a copy of the sshfs binary locally to use the mount feature")
	r = cli(t, store, "", "mount", "-u", "m1:/data", filepath.Join(t.TempDir(), "mnt"))
	assert.Contains(t, r.stderr, "fusermount")

	r = cli(t, store, "", "restart", "m1")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, `Restarting "m1"...`)
	assert.NotEmpty(t, r.stderr)
}

func TestParallelFirstCreatesMakeOneCA(t *testing.T) {
	store := newStore(t)
	outs := make([]result, 6)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			outs[i] = cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", fmt.Sprintf("p%d", i))
		})
	}
	wg.Wait()
	cas := 0
	for _, r := range outs {
		require.Equal(t, 0, r.code, r.stderr)
		cas += strings.Count(r.stdout, "Creating CA:")
	}
	assert.Equal(t, 1, cas, "one CA for the whole store")
}
