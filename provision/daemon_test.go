package provision

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

func strp(s string) *string { return &s }

func baseInput() daemonInput {
	return daemonInput{
		Machine: "node-1", Driver: "amazonec2", Port: 2376, Dockerd: "/usr/sbin/dockerd",
		Engine: hostopts.Engine{
			Labels:           []string{"tier=web"},
			RegistryMirror:   []string{"https://m.example.test"},
			InsecureRegistry: []string{"10.0.0.5:5000"},
		},
	}
}

func execStart(t *testing.T, p *daemonPlan) string {
	t.Helper()
	lines := strings.Split(string(p.DropIn), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "ExecStart=") {
			return lines[i]
		}
	}
	t.Fatalf("no ExecStart in drop-in:\n%s", p.DropIn)
	return ""
}

func TestDropInContents(t *testing.T) {
	in := baseInput()
	in.Engine.StorageDriver = "btrfs"
	in.Engine.GraphDir = "/data/docker"
	in.Engine.LogLevel = "debug"
	in.Engine.Ipv6 = true
	in.Engine.SelinuxEnabled = true
	in.Engine.DNS = []string{"8.8.8.8"}
	in.Engine.ArbitraryFlags = []string{"max-concurrent-downloads=10", "--live-restore", "default-ulimit=nofile=1024:2048"}
	in.Engine.Env = []string{"HTTPS_PROXY=http://p:3128", `NO_PROXY=a b "c" 50%`}
	in.Port = 3376
	p, err := planDaemon(in)
	require.NoError(t, err)
	assert.False(t, p.WriteJSON, "no daemon.json: nothing is written there")
	want := "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:3376 --tlsverify" +
		" --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/server.pem --tlskey=/etc/docker/server-key.pem" +
		" --storage-driver=btrfs --data-root=/data/docker --log-level=debug --ipv6 --selinux-enabled --dns=8.8.8.8" +
		" --label=tier=web --label=provider=amazonec2 --registry-mirror=https://m.example.test --insecure-registry=10.0.0.5:5000" +
		" --max-concurrent-downloads=10 --live-restore --default-ulimit=nofile=1024:2048\n" +
		"Environment=\"HTTPS_PROXY=http://p:3128\"\n" +
		"Environment=\"NO_PROXY=a b \\\"c\\\" 50%%\"\n"
	got := string(p.DropIn)
	assert.True(t, strings.HasSuffix(got, want), "drop-in:\n%s", got)
	assert.True(t, strings.HasPrefix(got, "# Managed by fleetdock/machine for machine node-1"))
}

func TestDropInQuotesSystemdSpecials(t *testing.T) {
	in := baseInput()
	in.Engine.Labels = []string{"note=two words", "cost=$5", "pct=50%"}
	p, err := planDaemon(in)
	require.NoError(t, err)
	es := execStart(t, p)
	assert.Contains(t, es, `"--label=note=two words"`)
	assert.Contains(t, es, "--label=cost=$$5", "systemd would expand $5")
	assert.Contains(t, es, "--label=pct=50%%", "systemd would expand %-specifiers")
	assert.Equal(t, `"a;b"`, systemdWord("a;b"))
	assert.Equal(t, `"back\\slash"`, systemdWord(`back\slash`))
}

func TestProviderLabel(t *testing.T) {
	in := baseInput()
	in.Engine.Labels = []string{"provider=custom"}
	p, err := planDaemon(in)
	require.NoError(t, err)
	es := execStart(t, p)
	assert.Contains(t, es, "--label=provider=custom")
	assert.NotContains(t, es, "provider=amazonec2", "an explicit provider label wins")

	in.Engine.Labels = nil
	in.Driver = ""
	p, err = planDaemon(in)
	require.NoError(t, err)
	assert.NotContains(t, execStart(t, p), "provider=")
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), string(b))
	return m
}

func TestDaemonJSONMerge(t *testing.T) {
	cases := []struct {
		name       string
		json       string
		engine     func(e *hostopts.Engine)
		write      bool
		wantJSON   map[string]any // checked keys
		absentKeys []string
		flags      []string // in ExecStart
		noFlags    []string // not in ExecStart
		warnings   []string
	}{
		{
			name:     "lists merge into existing keys, duplicates dropped",
			json:     `{"labels": ["team=a", "tier=web"], "registry-mirrors": ["https://corp.example.test"], "insecure-registries": []}`,
			write:    true,
			wantJSON: map[string]any{"labels": []any{"team=a", "tier=web", "provider=amazonec2"}, "registry-mirrors": []any{"https://corp.example.test", "https://m.example.test"}, "insecure-registries": []any{"10.0.0.5:5000"}},
			noFlags:  []string{"--label", "--registry-mirror", "--insecure-registry"},
			flags:    []string{"--storage-driver=overlay2"},
		},
		{
			name:    "lists absent from the file stay flags and the file is untouched",
			json:    `{"log-driver": "journald"}`,
			write:   false,
			flags:   []string{"--label=tier=web", "--registry-mirror=https://m.example.test", "--insecure-registry=10.0.0.5:5000"},
			noFlags: []string{"log-driver"},
		},
		{
			name: "scalars set in the file win and are reported",
			json: `{"storage-driver": "devicemapper", "log-level": "warn", "graph": "/srv/docker", "debug": true}`,
			engine: func(e *hostopts.Engine) {
				e.LogLevel = "debug"
				e.GraphDir = "/data"
				e.ArbitraryFlags = []string{"D"}
			},
			write:   false,
			noFlags: []string{"--storage-driver", "--log-level", "--data-root", "--D"},
			// debug: true already means what -D asks, so only three warnings.
			warnings: []string{`sets "storage-driver", so --storage-driver=overlay2 is not applied`, `sets "graph", so --data-root=/data`, `sets "log-level", so --log-level=debug`},
		},
		{
			name:     "the same value in the file is silent",
			json:     `{"storage-driver": "overlay2", "ipv6": true}`,
			engine:   func(e *hostopts.Engine) { e.Ipv6 = true },
			noFlags:  []string{"--storage-driver", "--ipv6"},
			warnings: nil,
		},
		{
			name:       "machine-owned keys move out of the file, extra hosts are kept",
			json:       `{"hosts": ["fd://", "unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"], "tls": true, "tlsverify": false, "tlscert": "/x.pem", "live-restore": true}`,
			write:      true,
			wantJSON:   map[string]any{"live-restore": true},
			absentKeys: []string{"hosts", "tls", "tlsverify", "tlscert"},
			flags:      []string{"-H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376 -H tcp://127.0.0.1:2375 --tlsverify"},
			noFlags:    []string{"fd://"},
		},
		{
			name:     "engine-opt list flags merge like the named ones",
			json:     `{"labels": ["a=b"]}`,
			engine:   func(e *hostopts.Engine) { e.ArbitraryFlags = []string{"label=zone=1"} },
			write:    true,
			wantJSON: map[string]any{"labels": []any{"a=b", "tier=web", "provider=amazonec2", "zone=1"}},
			noFlags:  []string{"--label"},
		},
		{
			name:     "numbers and unknown keys survive a rewrite",
			json:     `{"labels": [], "max-concurrent-downloads": 12, "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]}`,
			write:    true,
			wantJSON: map[string]any{"max-concurrent-downloads": float64(12), "default-address-pools": []any{map[string]any{"base": "10.10.0.0/16", "size": float64(24)}}},
		},
		{
			name: "an empty file is like no file",
			json: "  \n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.DaemonJSON = strp(c.json)
			if c.engine != nil {
				c.engine(&in.Engine)
			}
			p, err := planDaemon(in)
			require.NoError(t, err)
			assert.Equal(t, c.write, p.WriteJSON)
			if c.write {
				got := decode(t, p.JSON)
				for k, v := range c.wantJSON {
					assert.Equal(t, v, got[k], k)
				}
				for _, k := range c.absentKeys {
					assert.NotContains(t, got, k)
				}
				assert.True(t, strings.HasSuffix(string(p.JSON), "}\n"))
			}
			es := execStart(t, p)
			for _, f := range c.flags {
				assert.Contains(t, es, f)
			}
			for _, f := range c.noFlags {
				assert.NotContains(t, es, f)
			}
			assert.Len(t, p.Warnings, len(c.warnings), "%q", p.Warnings)
			for i, w := range c.warnings {
				if i < len(p.Warnings) {
					assert.Contains(t, p.Warnings[i], w)
				}
			}
			// No directive is ever both in the merged file and a flag.
			final := map[string]any{}
			if p.WriteJSON {
				final = decode(t, p.JSON)
			} else if strings.TrimSpace(c.json) != "" {
				final = decode(t, []byte(c.json))
			}
			for k := range final {
				for flag, key := range flagToKey {
					if key == k {
						assert.NotContains(t, es, " --"+flag+"=", "%s is in daemon.json and a flag", k)
					}
				}
				assert.NotContains(t, es, " --"+k+"=", "%s is in daemon.json and a flag", k)
			}
		})
	}
}

func TestDaemonJSONMergeIsIdempotent(t *testing.T) {
	in := baseInput()
	in.DaemonJSON = strp(`{"labels": ["team=a"], "hosts": ["fd://"], "registry-mirrors": []}`)
	p1, err := planDaemon(in)
	require.NoError(t, err)
	require.True(t, p1.WriteJSON)
	in.DaemonJSON = strp(string(p1.JSON))
	p2, err := planDaemon(in)
	require.NoError(t, err)
	assert.False(t, p2.WriteJSON, "merging into the merged file changes nothing")
	assert.Equal(t, string(p1.DropIn), string(p2.DropIn))
}

func TestDaemonJSONErrors(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"labels": [`, "is not valid JSON"},
		{`["a"]`, "is not valid JSON"},
		{`null`, "must hold a JSON object"},
		{`{"labels": "a=b"}`, `"labels" in /etc/docker/daemon.json must be a list of strings`},
		{`{"registry-mirrors": [1]}`, `"registry-mirrors" in /etc/docker/daemon.json must be a list of strings`},
	} {
		in := baseInput()
		in.DaemonJSON = strp(c.json)
		_, err := planDaemon(in)
		require.Error(t, err, c.json)
		assert.Contains(t, err.Error(), c.want, c.json)
	}
	in := baseInput()
	in.Engine.ArbitraryFlags = []string{"tlskey=/tmp/k.pem"}
	_, err := planDaemon(in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the machine manages tlskey itself")

	in = baseInput()
	in.Engine.Env = []string{"NOEQUALS"}
	_, err = planDaemon(in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"NOEQUALS" is not NAME=value`)
}
