package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/cluster"
)

var ansi = regexp.MustCompile(`\x1b\[[0-9]*[A-Z]`)

func quietSimLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

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
	store := newStore(t)
	path := writeFile(t, "name: c\ndriver: none\ngroups:\n  - name: m\n    role: boss\n")
	for _, sub := range []string{"up", "down", "status"} {
		r := cli(t, store, "", "cluster", sub, "-f", path)
		assert.Equal(t, 1, r.code, sub)
		assert.Contains(t, r.stderr, path+`:5: groups[0]: role "boss": use manager or worker`, sub)
	}
	r := cli(t, store, "", "cluster", "up")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `"file" not set`)
}

func TestClusterUpDryRunShowsThePlan(t *testing.T) {
	store := newStore(t)
	createNone(t, store, "c-worker-2", "tcp://127.0.0.1:1")
	createNone(t, store, "c-worker-5", "tcp://127.0.0.1:1")
	r := cli(t, store, "", "cluster", "up", "--dry-run", "-f", writeFile(t, noneCluster))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{
		"create c-manager-1 (manager, none)",
		"create c-worker-1 (worker, none)",
		"keep c-worker-2 (exists)",
		"leave c-worker-5 (beyond its group's count; `cluster down` or `docker-machine rm` removes it)",
	}, strings.Split(strings.TrimSpace(r.stdout), "\n")[:4])
	names := cli(t, store, "", "ls", "-q")
	assert.Equal(t, "c-worker-2\nc-worker-5\n", names.stdout, "a dry run changes nothing")
}

func TestClusterNodeIsMadeLikeCreate(t *testing.T) {
	store := newStore(t)
	cli(t, store, "", "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "--engine-label", "tier=test", "--engine-install-url", "none", "by-hand")
	f, err := cluster.Parse("c.yml", []byte(noneCluster+"  - {name: extra, count: 1, engine: {install_url: none, labels: [tier=test]}}\n"), os.LookupEnv)
	require.NoError(t, err)
	nodes := f.Nodes()
	node := nodes[len(nodes)-1]
	e := &env{stdout: io.Discard, stderr: io.Discard, storagePath: store}
	m := &cluster.StoreMachines{Client: e.nodeClient(io.Discard), NewClient: e.nodeClient}
	var out bytes.Buffer
	require.NoError(t, m.Create(context.Background(), node, &out))
	assert.Contains(t, out.String(), "Running pre-create checks...", "the node's progress goes to its own writer")

	read := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join(store, "machines", name, "config.json"))
		require.NoError(t, err)
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(data, &cfg))
		return cfg
	}
	byHand, fromFile := read("by-hand"), read("c-extra-1")
	ho := func(cfg map[string]any) map[string]any { return cfg["HostOptions"].(map[string]any) }
	assert.Equal(t, ho(byHand)["EngineOptions"], ho(fromFile)["EngineOptions"], "engine options as create makes them")
	assert.Equal(t, ho(byHand)["SwarmOptions"], ho(fromFile)["SwarmOptions"])
	assert.Equal(t, byHand["Driver"].(map[string]any)["URL"], fromFile["Driver"].(map[string]any)["URL"])

	state, err := m.State(context.Background(), "c-extra-1")
	require.NoError(t, err)
	assert.Equal(t, "Running", state)
}

func TestClusterUpWithoutAManagerLeavesNoHalfMadeNode(t *testing.T) {
	store := newStore(t)
	path := writeFile(t, strings.Replace(noneCluster, "count: 2", "count: 0", 1))
	r := cli(t, store, "", "cluster", "up", "-f", path)
	assert.Equal(t, 1, r.code, r.stdout)
	assert.Contains(t, r.stdout, "c-manager-1: creating")
	assert.Contains(t, r.stdout, "c-manager-1: failed: initialising the swarm")
	assert.Contains(t, r.stderr, "node c-manager-1 failed (left out)")
	assert.Contains(t, r.stderr, "no manager could run the swarm")
	assert.Contains(t, r.stderr, "cluster up -f "+path+"` again")
	assert.Empty(t, cli(t, store, "", "ls", "-q").stdout, "the node that could not start the swarm was removed")
}

func TestClusterDownAndStatus(t *testing.T) {
	store := newStore(t)
	for _, name := range []string{"c-manager-1", "c-worker-1", "c-worker-2", "c-worker-3", "keep-me"} {
		createNone(t, store, name, "tcp://127.0.0.1:1")
	}
	path := writeFile(t, noneCluster)
	r := cli(t, store, "", "cluster", "status", "-f", path)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "c-worker-3   (extra)  -        Running")
	assert.Contains(t, r.stdout, "swarm: no manager answered")

	r = cli(t, store, "", "cluster", "status", "--format", "json", "-f", path)
	require.Equal(t, 0, r.code, r.stderr)
	var st struct {
		Nodes []struct{ Name, State string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	assert.Len(t, st.Nodes, 4)

	r = cli(t, store, "", "cluster", "down", "-f", path)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "cluster c: 4 removed, 0 failed")
	assert.Equal(t, "keep-me\n", cli(t, store, "", "ls", "-q").stdout)

	r = cli(t, store, "", "cluster", "down", "-f", path)
	require.Equal(t, 0, r.code, "down of a removed cluster is a no-op: %s", r.stderr)
	assert.Contains(t, r.stdout, "cluster c: 0 removed, 0 failed")
}

func TestProgressDisplay(t *testing.T) {
	var plain bytes.Buffer
	d := newProgressDisplay(&plain)
	d.handle(cluster.Event{Node: "n1", Phase: cluster.PhaseCreating})
	d.handle(cluster.Event{Node: "n1", Line: "Creating machine..."})
	d.handle(cluster.Event{Line: "lb-1: created listener TCP 80 -> 80"})
	d.handle(cluster.Event{Node: "other", Line: "driver line about another machine"})
	d.handle(cluster.Event{Node: "n1", Phase: cluster.PhaseReady, Line: "n1: joined as worker"})
	assert.Equal(t, "n1: creating\nn1: Creating machine...\nlb-1: created listener TCP 80 -> 80\n(other) driver line about another machine\nn1: ready: n1: joined as worker\n", plain.String())

	var screen bytes.Buffer
	tty := newProgressDisplay(&screen)
	tty.tty, tty.width = true, 40
	tty.handle(cluster.Event{Node: "n1", Phase: cluster.PhaseCreating})
	tty.handle(cluster.Event{Node: "n2", Phase: cluster.PhaseWaiting})
	tty.handle(cluster.Event{Node: "n1", Line: strings.Repeat("x", 100)})
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
