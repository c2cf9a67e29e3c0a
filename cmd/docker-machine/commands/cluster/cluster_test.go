package cluster

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/clitest"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/drivers/none"
	libcluster "github.com/fleetdock/machine/libmachine/cluster"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func init() { plugin.RegisterBuiltin("none", func() drivers.Driver { return none.NewDriver("", "") }) }

var ansi = regexp.MustCompile(`\x1b\[[0-9]*[A-Z]`)

var cli = clitest.Runner(NewCmd)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cluster.yml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// noneCluster is a cluster of none machines whose engines do not answer.
const noneCluster = `name: c
driver: none
driver_options:
  url: tcp://127.0.0.1:1
engine:
  labels: [tier=test]
groups:
  - {name: manager, role: manager, count: 1}
  - {name: worker, count: 2}
`

func TestClusterFileErrorsNameTheLine(t *testing.T) {
	store := clitest.NewStore(t)
	path := writeFile(t, "name: c\ndriver: none\ngroups:\n  - name: m\n    role: boss\n")
	for _, sub := range []string{"up", "down", "status"} {
		r := cli(t, store, sub, "-f", path)
		assert.Equal(t, 1, r.Code, sub)
		assert.Contains(t, r.Stderr, path+`:5: groups[0]: role "boss": use manager or worker`, sub)
	}
	r := cli(t, store, "up")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `"file" not set`)
}

func TestClusterUpDryRunShowsThePlan(t *testing.T) {
	store := clitest.NewStore(t)
	clitest.CreateNone(t, store, "c-worker-2", "tcp://127.0.0.1:1")
	clitest.CreateNone(t, store, "c-worker-5", "tcp://127.0.0.1:1")
	r := cli(t, store, "up", "--dry-run", "-f", writeFile(t, noneCluster))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, []string{
		"create c-manager-1 (manager, none)",
		"create c-worker-1 (worker, none)",
		"keep c-worker-2 (exists)",
		"leave c-worker-5 (beyond its group's count; `cluster down` or `docker-machine rm` removes it)",
	}, strings.Split(strings.TrimSpace(r.Stdout), "\n")[:4])
	assert.Equal(t, []string{"c-worker-2", "c-worker-5"}, clitest.Names(t, store), "a dry run changes nothing")
}

func TestClusterUpWithoutAManagerLeavesNoHalfMadeNode(t *testing.T) {
	store := clitest.NewStore(t)
	path := writeFile(t, strings.Replace(noneCluster, "count: 2", "count: 0", 1))
	r := cli(t, store, "up", "-f", path)
	assert.Equal(t, 1, r.Code, r.Stdout)
	assert.Contains(t, r.Stdout, "c-manager-1: creating")
	assert.Contains(t, r.Stdout, "c-manager-1: failed: initialising the swarm")
	assert.Contains(t, r.Stderr, "node c-manager-1 failed (left out)")
	assert.Contains(t, r.Stderr, "no manager could run the swarm")
	assert.Contains(t, r.Stderr, "cluster up -f "+path+"` again")
	assert.Empty(t, clitest.Names(t, store), "the node that could not start the swarm was removed")
}

func TestClusterDownAndStatus(t *testing.T) {
	store := clitest.NewStore(t)
	for _, name := range []string{"c-manager-1", "c-worker-1", "c-worker-2", "c-worker-3", "keep-me"} {
		clitest.CreateNone(t, store, name, "tcp://127.0.0.1:1")
	}
	path := writeFile(t, noneCluster)
	r := cli(t, store, "status", "-f", path)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "c-worker-3   (extra)  -        Running")
	assert.Contains(t, r.Stdout, "swarm: no manager answered")

	r = cli(t, store, "status", "--format", "json", "-f", path)
	require.Equal(t, 0, r.Code, r.Stderr)
	var st struct {
		Nodes []struct{ Name, State string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), r.Stdout)
	assert.Len(t, st.Nodes, 4)

	r = cli(t, store, "down", "-f", path)
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "cluster c: 4 removed, 0 failed")
	assert.Equal(t, []string{"keep-me"}, clitest.Names(t, store))

	r = cli(t, store, "down", "-f", path)
	require.Equal(t, 0, r.Code, "down of a removed cluster is a no-op: %s", r.Stderr)
	assert.Contains(t, r.Stdout, "cluster c: 0 removed, 0 failed")
}

func TestProgressDisplay(t *testing.T) {
	ios, plain, _ := iostreams.Test("")
	d := newProgressDisplay(ios)
	d.handle(libcluster.Event{Node: "n1", Phase: libcluster.PhaseCreating})
	d.handle(libcluster.Event{Node: "n1", Line: "Creating machine..."})
	d.handle(libcluster.Event{Line: "lb-1: created listener TCP 80 -> 80"})
	d.handle(libcluster.Event{Node: "other", Line: "driver line about another machine"})
	d.handle(libcluster.Event{Node: "n1", Phase: libcluster.PhaseReady, Line: "n1: joined as worker"})
	assert.Equal(t, "n1: creating\nn1: Creating machine...\nlb-1: created listener TCP 80 -> 80\n(other) driver line about another machine\nn1: ready: n1: joined as worker\n", plain.String())

	ios, screen, _ := iostreams.Test("")
	ios.SetStdoutTTY(true)
	ios.SetTerminalWidth(40)
	tty := newProgressDisplay(ios)
	tty.handle(libcluster.Event{Node: "n1", Phase: libcluster.PhaseCreating})
	tty.handle(libcluster.Event{Node: "n2", Phase: libcluster.PhaseWaiting})
	tty.handle(libcluster.Event{Node: "n1", Line: strings.Repeat("x", 100)})
	out := screen.String()
	assert.Contains(t, out, "\x1b[2A\x1b[2Kn1", "the rows are redrawn in place")
	for _, line := range strings.Split(out, "\n") {
		visible := ansi.ReplaceAllString(line, "")
		assert.LessOrEqual(t, len(visible), 39, "rows are cut to the terminal width")
	}

	var lines bytes.Buffer
	w := (&progressDisplay{w: &lines, rows: map[string]*progressRow{}}).driverLog()
	_, _ = w.Write([]byte("(m1) instance created\nplain line\n"))
	assert.Equal(t, "(m1) instance created\nplain line\n", lines.String(), "lines of machines that are not rows stay whole")
}
