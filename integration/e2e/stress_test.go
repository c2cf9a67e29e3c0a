//go:build integration

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/e2e/interrupt"
	"github.com/fleetdock/machine/libmachine"
)

// dockerStandIn answers the Docker API's /version over TLS with a server
// certificate from the store's CA, requiring its client certificates, so
// that every `ls` row of a none-driver machine has a true answer and any
// error in it is the listing's own.
func dockerStandIn(t *testing.T, store string) string {
	t.Helper()
	c := libmachine.New(store, io.Discard, nil)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.BootstrapCerts(t.Context()))
	certDir := filepath.Join(store, "certs")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	require.NoError(t, certs.GenerateServerCert(filepath.Join(certDir, "ca.pem"), filepath.Join(certDir, "ca-key.pem"), cert, key,
		certs.ServerCertOptions{Org: "stress.engine", Hosts: []string{"127.0.0.1"}}))
	pair, err := tls.LoadX509KeyPair(cert, key)
	require.NoError(t, err)
	ca, err := certs.ReadCertificate(filepath.Join(certDir, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"Version":"24.0.7"}`)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		// Clients that give up mid-handshake are no concern of the tests.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "tcp://" + ln.Addr().String()
}

type cliRun struct {
	args []string
	out  string
	code int
}

// runAll starts every command at once and waits for all of them.
func runAll(t *testing.T, m *machine, cmds [][]string) []cliRun {
	t.Helper()
	runs := make([]cliRun, len(cmds))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, args := range cmds {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			out, errOut, code := m.run(ctx, args...)
			runs[i] = cliRun{args: args, out: out + errOut, code: code}
		})
	}
	close(start)
	wg.Wait()
	return runs
}

// 20 creates, 8 removes and 12 ls at once on one store, three rounds: every
// command succeeds, no ls row is an error (every machine in this store
// answers, or is being created or removed), and the store ends up holding
// exactly the machines that were created and not removed.
func TestStressCreateRemoveList(t *testing.T) {
	m := newMachine(t)
	m.env = interrupt.BaseEnv()
	url := dockerStandIn(t, m.store)

	var alive []string
	for i := range 8 {
		name := fmt.Sprintf("seed-%d", i)
		m.must(t.Context(), "create", "-d", "none", "--url", url, name)
		alive = append(alive, name)
	}
	const format = "{{.Name}}|{{.State}}|{{.Error}}"
	for round := range 3 {
		var cmds [][]string
		var created []string
		for i := range 20 {
			name := fmt.Sprintf("r%d-%d", round, i)
			created = append(created, name)
			cmds = append(cmds, []string{"create", "-d", "none", "--url", url, name})
		}
		removed := alive[:8]
		for _, name := range removed {
			cmds = append(cmds, []string{"rm", "-y", name})
		}
		for range 12 {
			cmds = append(cmds, []string{"ls", "--format", format})
		}
		start := time.Now()
		runs := runAll(t, m, cmds)
		t.Logf("round %d: %d commands took %s", round+1, len(cmds), time.Since(start).Round(time.Millisecond))

		known := append(slices.Clone(alive), created...)
		falseErrors := 0
		for _, r := range runs {
			require.Equal(t, 0, r.code, "docker-machine %s:\n%s", strings.Join(r.args, " "), r.out)
			if r.args[0] != "ls" {
				continue
			}
			for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
				if line == "" {
					continue
				}
				name, rest, _ := strings.Cut(line, "|")
				st, errText, _ := strings.Cut(rest, "|")
				assert.Contains(t, known, name, "ls lists only machines of this store")
				if errText != "" || (st != "Running" && st != "Creating") {
					falseErrors++
					if falseErrors <= 3 {
						t.Errorf("round %d: false ls row %q", round+1, line)
					}
				}
			}
		}
		assert.Zero(t, falseErrors, "round %d: false ls rows (the first 3 are shown above)", round+1)
		alive = append(slices.Clone(alive[8:]), created...)
	}

	slices.Sort(alive)
	listed := strings.Fields(m.must(t.Context(), "ls", "-q"))
	slices.Sort(listed)
	assert.Equal(t, alive, listed, "the store holds exactly the surviving machines")
	entries, err := os.ReadDir(filepath.Join(m.store, "machines"))
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	slices.Sort(dirs)
	assert.Equal(t, alive, dirs, "and nothing else: no half-made or half-removed directories")
}

// What a SIGKILLed command leaves (a create's lock file, a removal's
// renamed directory with its keys) is swept by the next command that
// takes a lock.
func TestLeftoversOfKilledCommandsAreSwept(t *testing.T) {
	w := interruptWorld(t, false)
	f := cloudsim.DefaultFaults()
	f.Latency = cloudsim.Duration(time.Minute)
	require.NoError(t, w.Sim.SetFaults(f))
	p, err := w.Start(w.CreateArgs("killed")...)
	require.NoError(t, err)
	t.Cleanup(p.Kill)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, w.Watch.WaitInFlight(ctx, ""), p.Output())
	p.Kill()
	lock := filepath.Join(w.Store, ".locks", "killed")
	require.FileExists(t, lock, "a create killed before its entry existed leaves its lock file")

	trash := filepath.Join(w.Store, "machines", ".removing-gone-3f9a1c")
	require.NoError(t, os.MkdirAll(trash, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(trash, "id_rsa"), []byte("key of a removed machine"), 0o600))

	out, code := runCLI(t, w, "ls")
	require.Equal(t, 0, code, out)
	assert.NotContains(t, out, "gone")
	assert.NotContains(t, out, "killed")

	url := dockerStandIn(t, w.Store)
	out, code = runCLI(t, w, "create", "-d", "none", "--url", url, "next")
	require.Equal(t, 0, code, out)
	assert.NoDirExists(t, trash, "the half-removed directory is swept")
	assert.NoFileExists(t, lock, "the dead create's lock file is swept")
	out, code = runCLI(t, w, "ls", "-q")
	require.Equal(t, 0, code, out)
	assert.Equal(t, "next\n", out)
}

func runCLI(t *testing.T, w *interrupt.World, args ...string) (string, int) {
	t.Helper()
	p, err := w.Start(args...)
	require.NoError(t, err)
	code, _, err := p.Wait(time.Minute)
	require.NoError(t, err, p.Output())
	return p.Output(), code
}
