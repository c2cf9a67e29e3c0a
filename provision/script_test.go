package provision

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unwrap recovers the script from a command built by runner.wrap.
func unwrap(t *testing.T, cmd string) string {
	t.Helper()
	cmd = strings.TrimPrefix(cmd, "sudo -n ")
	require.True(t, strings.HasPrefix(cmd, "sh -c '") && strings.HasSuffix(cmd, "'"), cmd)
	body := cmd[len("sh -c '") : len(cmd)-1]
	return strings.ReplaceAll(body, `'\''`, `'`)
}

// TestScriptsParse checks every script sent in the transcripts with the
// system's POSIX shell in no-exec mode (sh -n parses, runs nothing), so a
// quoting mistake in a family the integration test cannot boot is caught.
func TestScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err, "a POSIX sh is needed to parse the generated scripts")
	for _, f := range families {
		h := f.host(t)
		opts := testOptions(t, h)
		h.disk = &fakeDisk{dev: "/dev/vdb"}
		opts.DataDisk = &DataDisk{Device: "/dev/vdb", FS: "xfs"}
		_, err := Provision(context.Background(), h, opts)
		require.NoError(t, err, f.name)
		_, err = Upgrade(context.Background(), h, opts)
		require.NoError(t, err, f.name)
		for _, c := range h.calls {
			script := unwrap(t, c.cmd)
			assert.Equal(t, shQuote(preamble+strings.TrimPrefix(script, preamble)), strings.TrimPrefix(strings.TrimPrefix(c.cmd, "sudo -n "), "sh -c "), "quoting round-trips")
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "%s: script does not parse: %s\n%s", f.name, out, script)
		}
	}
}

// TestProbeRunsLocally runs the read-only probe with the local shell and
// parses what it prints: the script's sections and the parser agree.
func TestProbeRunsLocally(t *testing.T) {
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	out, err := exec.Command(sh, "-c", preamble+probeScript("/var/lib/docker", "")).Output()
	require.NoError(t, err)
	f, err := parseFacts(out)
	require.NoError(t, err)
	assert.NotEmpty(t, f.kernel)
	assert.NotEmpty(t, f.user)
	assert.NotEmpty(t, f.dfPath)
	assert.Greater(t, f.availKiB, int64(0))
	assert.NotEmpty(t, f.tools, "at least one probed tool exists")
	if f.osRelease != nil {
		_, err := ParseOSRelease(f.osRelease)
		assert.NoError(t, err)
	}
}
