package provision

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts under testdata/golden")

func readCert(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "certs", name))
	require.NoError(t, err)
	return b
}

// testOptions are the options of a typical create; CheckDocker succeeds
// only when the fake daemon runs with the machine's drop-in, as the real
// TLS check would.
func testOptions(t testing.TB, h *fakeHost) Options {
	return Options{
		MachineName: "node-1",
		DriverName:  "aliyunecs",
		Engine: &hostopts.Engine{
			Labels:           []string{"tier=web"},
			RegistryMirror:   []string{"https://mirror.example.test"},
			InsecureRegistry: []string{"10.0.0.5:5000"},
			Env:              []string{"HTTP_PROXY=http://proxy.example.test:3128"},
			ArbitraryFlags:   []string{"log-opt=max-size=10m"},
		},
		CACert:     readCert(t, "ca.pem"),
		ServerCert: readCert(t, "server.pem"),
		ServerKey:  readCert(t, "server-key.pem"),
		CheckDocker: func(ctx context.Context) error {
			if st := h.units[dockerService]; st == nil || st.active != "active" {
				return errors.New("connection refused")
			}
			if f, ok := h.files[RemoteDropIn]; !ok || !bytes.Contains(f.data, []byte("--tlsverify")) {
				return errors.New("tls: first record does not look like a TLS handshake")
			}
			return nil
		},
		Timeouts: Timeouts{PollInitial: time.Millisecond, PollMax: time.Millisecond},
	}
}

type family struct {
	name, osFile string
	user         string // "" is root
	noCurl       bool
	cloudInit    bool
	pkg          string // dnf or yum for the rpm family
	preinstalled bool   // Debian's docker.io already installed
	daemonJSON   string
}

var families = []family{
	{name: "debian-12", osFile: "debian-12", noCurl: true},
	{name: "debian-12-docker.io", osFile: "debian-12", preinstalled: true, daemonJSON: "{\n  \"log-driver\": \"journald\",\n  \"registry-mirrors\": [\"https://corp-mirror.example.test\"],\n  \"storage-driver\": \"overlay2\"\n}\n"},
	{name: "ubuntu-22.04", osFile: "ubuntu-22.04", user: "ubuntu", cloudInit: true},
	{name: "centos-7", osFile: "centos-7", pkg: "yum"},
	{name: "rocky-9", osFile: "rocky-9", user: "rocky", pkg: "dnf"},
	{name: "almalinux-9", osFile: "almalinux-9", pkg: "dnf"},
	{name: "ol-8", osFile: "ol-8", pkg: "dnf"},
	{name: "alinux-3", osFile: "alinux-3", pkg: "dnf", cloudInit: true},
	{name: "fedora-39", osFile: "fedora-39", user: "fedora", pkg: "dnf", cloudInit: true},
	{name: "amzn-2023", osFile: "amzn-2023", user: "ec2-user", pkg: "dnf", cloudInit: true},
}

func (f family) host(t testing.TB) *fakeHost {
	h := newFakeHost(t, f.osFile)
	if f.user != "" {
		h.uid, h.user = 1000, f.user
	}
	if f.noCurl {
		delete(h.tools, "curl")
	}
	if f.cloudInit {
		h.tools["cloud-init"] = "/usr/bin/cloud-init"
	}
	if f.pkg != "" {
		h.tools[f.pkg] = "/usr/bin/" + f.pkg
	} else {
		h.tools["apt-get"] = "/usr/bin/apt-get"
		h.startsOnInstall = true // get.docker.com starts Docker on Debian and Ubuntu
	}
	if f.preinstalled {
		h.tools["docker"], h.tools["dockerd"] = "/usr/bin/docker", "/usr/sbin/dockerd"
		h.dockerVersion = "Docker version 20.10.24+dfsg1, build 297e128"
		h.units[dockerService] = &unitState{enabled: "enabled", active: "active"}
		h.units[dockerSocket] = &unitState{enabled: "enabled", active: "active"}
	}
	if f.daemonJSON != "" {
		h.files[RemoteDaemonJSON] = fakeFile{[]byte(f.daemonJSON), 0o644}
	}
	return h
}

func reportSummary(r *Report) string {
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
	}
	return fmt.Sprintf("# os=%s changed=%v installed=%v restarted=%v commands=%d\n# steps: %s\n# warnings: %q\n\n",
		r.OS, r.Changed, r.Installed, r.Restarted, r.Commands, strings.Join(names, " | "), r.Warnings)
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "golden file missing: run go test ./provision -run %s -update", t.Name())
	assert.Equal(t, string(want), got, "transcript differs from %s (rerun with -update after checking the change)", p)
}

// TestProvisionTranscripts provisions each family twice: the first run's
// and the converged second run's commands are compared with golden files.
func TestProvisionTranscripts(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			h := f.host(t)
			var progress []string
			opts := testOptions(t, h)
			opts.Progress = func(s string) { progress = append(progress, s) }

			rep, err := Provision(context.Background(), h, opts)
			require.NoError(t, err)
			first := len(h.calls)
			assert.True(t, rep.Changed)
			assert.True(t, rep.Restarted)
			assert.Equal(t, !f.preinstalled, rep.Installed)
			assert.Equal(t, first, rep.Commands)
			assert.Equal(t, 1, h.restarts)
			assert.Equal(t, len(rep.Steps), len(progress), "one progress line per step")
			checkGolden(t, f.name+".first.txt", reportSummary(rep)+h.transcript(0))

			// The drop-in runs the dockerd the host really has.
			dropIn := string(h.files[RemoteDropIn].data)
			execStart := dropIn[strings.LastIndex(dropIn, "ExecStart="):]
			assert.True(t, strings.HasPrefix(execStart, "ExecStart="+h.tools["dockerd"]+" "), execStart)
			assert.NotContains(t, execStart, "fd://")
			assert.Equal(t, uint32(0o600), h.files[RemoteServerKey].mode)
			assert.Equal(t, uint32(0o644), h.files[RemoteCACert].mode)
			assert.Equal(t, "disabled", h.units[dockerSocket].enabled)
			assert.Equal(t, "enabled", h.units[dockerService].enabled)

			snapshot := map[string]string{}
			for p, f := range h.files {
				snapshot[p] = string(f.data)
			}
			rep2, err := Provision(context.Background(), h, opts)
			require.NoError(t, err)
			assert.False(t, rep2.Changed, "second run must not change the daemon config")
			assert.False(t, rep2.Restarted)
			assert.False(t, rep2.Installed)
			assert.Equal(t, 1, h.restarts, "second run must not restart Docker")
			assert.Empty(t, (&fakeHost{calls: h.calls[first:]}).writes(), "second run must write nothing")
			for p, f := range h.files {
				assert.Equal(t, snapshot[p], string(f.data), "file %s changed on the second run", p)
			}
			checkGolden(t, f.name+".second.txt", reportSummary(rep2)+h.transcript(first))
		})
	}
}

func TestProvisionKeepsExistingDaemonJSON(t *testing.T) {
	f := families[1]
	require.Equal(t, "debian-12-docker.io", f.name)
	h := f.host(t)
	rep, err := Provision(context.Background(), h, testOptions(t, h))
	require.NoError(t, err)
	got := string(h.files[RemoteDaemonJSON].data)
	assert.Contains(t, got, `"log-driver": "journald"`)
	assert.Contains(t, got, `"https://corp-mirror.example.test"`)
	assert.Contains(t, got, `"https://mirror.example.test"`, "our mirror is merged into the file's list")
	dropIn := string(h.files[RemoteDropIn].data)
	assert.NotContains(t, dropIn, "--registry-mirror", "a directive in daemon.json is never also a flag")
	assert.NotContains(t, dropIn, "--storage-driver")
	assert.Contains(t, dropIn, "ExecStart=/usr/sbin/dockerd ")
	assert.Empty(t, rep.Warnings, "daemon.json's storage-driver is the one wanted anyway, so nothing is lost")
}

func TestProvisionNeverSendsCAKey(t *testing.T) {
	caKey := readCert(t, "ca-key.pem")
	serverKey := readCert(t, "server-key.pem")
	var logs bytes.Buffer
	for _, f := range families {
		h := f.host(t)
		opts := testOptions(t, h)
		opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		_, err := Provision(context.Background(), h, opts)
		require.NoError(t, err, f.name)
		keyWrites := 0
		for _, c := range h.calls {
			for _, secret := range [][]byte{caKey, pemBody(caKey)} {
				assert.NotContains(t, c.cmd, string(secret), "%s: CA key on a command line", f.name)
				assert.False(t, bytes.Contains(c.stdin, secret), "%s: CA key sent on stdin", f.name)
			}
			assert.NotContains(t, c.cmd, string(pemBody(serverKey)), "%s: server key on a command line", f.name)
			if bytes.Contains(c.stdin, pemBody(serverKey)) {
				keyWrites++
				assert.Contains(t, c.cmd, "# fdm:write "+RemoteServerKey+" 0600")
				assert.Contains(t, c.cmd, "umask 077", "the key file is never readable by others while written")
			}
		}
		assert.Equal(t, 1, keyWrites, "%s: the server key is sent exactly once", f.name)
	}
	assert.NotContains(t, logs.String(), string(pemBody(serverKey)))
	assert.NotContains(t, logs.String(), string(pemBody(caKey)))
}

// pemBody is the base64 body of the first PEM block.
func pemBody(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(strings.Join(lines[1:len(lines)-1], "\n"))
}

// changingTags are the commands that modify a host.
var changingTags = []string{"hostname", "write", "pkg-install", "install-docker", "apply", "disk-prepare"}

func assertUnchanged(t *testing.T, h *fakeHost) {
	t.Helper()
	for _, tag := range h.tags() {
		assert.NotContains(t, changingTags, tag, "a failed pre-flight check must change nothing")
	}
}

func TestPreflightFailuresChangeNothing(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *fakeHost, o *Options)
		want  []string
	}{
		{"old kernel", func(h *fakeHost, o *Options) { h.kernel = "2.6.32-754.el6.x86_64" }, []string{`kernel "2.6.32-754.el6.x86_64" is older than 3.10`}},
		{"no space", func(h *fakeHost, o *Options) { h.availKiB = 1 << 20 }, []string{"only 1.0 GiB is free under /var/lib (for /var/lib/docker)", "2.0 GiB"}},
		{"no systemd", func(h *fakeHost, o *Options) { h.systemd = false }, []string{"systemd is not running"}},
		{"no sudo", func(h *fakeHost, o *Options) { h.uid, h.user, h.sudoOK = 1000, "ops", false }, []string{`user "ops" can neither log in as root nor run 'sudo -n'`}},
		{"bad daemon.json", func(h *fakeHost, o *Options) {
			h.files[RemoteDaemonJSON] = fakeFile{[]byte(`{"labels": [}`), 0o644}
		}, []string{"/etc/docker/daemon.json is not valid JSON"}},
		{"install url none", func(h *fakeHost, o *Options) { o.Engine.InstallURL = "none" }, []string{`Docker is not installed and the install URL is "none"`}},
		{"install url unreachable", func(h *fakeHost, o *Options) {
			h.replies["url-check"] = []fakeReply{{exit: 6}}
		}, []string{"cannot fetch https://get.docker.com (its host name does not resolve)", "nothing was changed"}},
		{"unsupported os", func(h *fakeHost, o *Options) {
			b, _ := os.ReadFile("testdata/os-release/opensuse-leap-15.5")
			h.osRelease = string(b)
		}, []string{`unsupported operating system ID "opensuse-leap" VERSION_ID "15.5"`, "debian"}},
		{"several at once", func(h *fakeHost, o *Options) { h.kernel = "3.2.0"; h.availKiB = 10 }, []string{"kernel", "free under"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := families[0].host(t)
			h.tools["curl"] = "/usr/bin/curl"
			opts := testOptions(t, h)
			c.setup(h, &opts)
			_, err := Provision(context.Background(), h, opts)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Contains(t, err.Error(), "node-1")
			assertUnchanged(t, h)
		})
	}
}

func TestPreflightDataDisk(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	opts.DataDisk = &DataDisk{Device: "/dev/vdb"}
	h.disk = nil // the probe reports no block device
	_, err := Provision(context.Background(), h, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "data disk /dev/vdb is not a block device")
	assertUnchanged(t, h)
}

func TestBadCertificatesFailBeforeAnyCommand(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	opts.ServerKey = readCert(t, "ca-key.pem") // a key that does not match server.pem
	_, err := Provision(context.Background(), h, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "do not form a pair")
	assert.NotContains(t, err.Error(), string(pemBody(opts.ServerKey)))
	assert.Empty(t, h.calls)

	opts = testOptions(t, h)
	opts.CACert = otherCA(t)
	_, err = Provision(context.Background(), h, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not valid under the given CA")
	assert.Empty(t, h.calls)
}

func TestCloudInit(t *testing.T) {
	for _, c := range []struct {
		exit int
		ok   bool
		want string
	}{{0, true, ""}, {2, true, ""}, {1, false, "cloud-init on machine \"node-1\" failed (exit status 1)"}, {124, false, "did not finish within 10m0s"}} {
		h := families[2].host(t) // ubuntu with cloud-init
		h.cloudInitExit = c.exit
		_, err := Provision(context.Background(), h, testOptions(t, h))
		if c.ok {
			assert.NoError(t, err, "exit %d", c.exit)
			continue
		}
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
		assertUnchanged(t, h)
	}
}

func TestPackageLockWait(t *testing.T) {
	h := families[0].host(t) // Debian without curl: installs curl first
	h.lockBusy = 3
	var progress []string
	opts := testOptions(t, h)
	opts.Progress = func(s string) { progress = append(progress, s) }
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	installs := 0
	for _, tag := range h.tags() {
		if tag == "pkg-install" {
			installs++
		}
	}
	assert.Equal(t, 4, installs, "three busy answers, then the install")
	assert.Contains(t, progress, "Waiting for another package manager run to finish...")
	assert.Equal(t, 1, strings.Count(strings.Join(progress, "\n"), "Waiting for another package manager"))

	// A lock that is never released ends in a clear error, not a hang.
	h = families[0].host(t)
	h.lockBusy = 1 << 30
	opts = testOptions(t, h)
	opts.Timeouts.PackageLock = time.Millisecond
	_, err = Provision(context.Background(), h, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "waiting for the package manager's lock on machine \"node-1\": timed out after 1ms")
	assert.Contains(t, err.Error(), "(last: another process holds the apt-get lock); wait for it")
}

func TestPackageLockWaitStopsWhenCancelled(t *testing.T) {
	h := families[0].host(t)
	h.lockBusy = 1 << 30
	opts := testOptions(t, h)
	opts.Timeouts.PollInitial, opts.Timeouts.PollMax = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	opts.Progress = func(s string) {
		if strings.HasPrefix(s, "Waiting for another package manager") {
			cancel()
		}
	}
	_, err := Provision(ctx, h, opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "waiting for the package manager's lock on machine \"node-1\": stopped after")
	assert.NotContains(t, err.Error(), "timed out")
}

func TestLockScriptUsesNoEnglishOutput(t *testing.T) {
	s := lockScript(aptProvisioner{id: "debian"})
	assert.Contains(t, s, "/proc/locks")
	assert.Contains(t, s, "/var/lib/dpkg/lock-frontend")
	assert.NotContains(t, s, "Could not get lock")
	r := lockScript(rpmProvisioner{id: "rocky", pkg: "dnf"})
	assert.Contains(t, r, "/var/run/yum.pid")
	assert.Contains(t, r, "/var/lib/rpm/.rpm.lock")
}

func TestDockerNeverAnswers(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	opts.Timeouts.Docker = 5 * time.Millisecond
	opts.CheckDocker = func(ctx context.Context) error { return errors.New("remote error: tls: bad certificate") }
	_, err := Provision(context.Background(), h, opts)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "waiting for the Docker API over TLS on port 2376 on machine \"node-1\": timed out after 5ms")
	assert.Contains(t, msg, "(last error: remote error: tls: bad certificate)", "the last failure is quoted")
	assert.Contains(t, msg, "dockerd: failed to load listeners", "the daemon's log tail is included")
	assert.Contains(t, msg, "TCP port 2376 is open")
}

func TestCheckDockerFallback(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	opts.CheckDocker = nil
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	assert.Contains(t, h.tags(), "docker-version")
}

func TestConfigChangeRestartsOnce(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	opts.Engine.Labels = append(opts.Engine.Labels, "zone=b")
	n := len(h.calls)
	rep, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	assert.True(t, rep.Changed)
	assert.Equal(t, 2, h.restarts)
	assert.Equal(t, []string{RemoteDropIn}, (&fakeHost{calls: h.calls[n:]}).writes(), "only the drop-in changes")
	assert.Contains(t, string(h.files[RemoteDropIn].data), "--label=zone=b")
}

func TestRepairsWrongKeyMode(t *testing.T) {
	h := families[0].host(t)
	opts := testOptions(t, h)
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	f := h.files[RemoteServerKey]
	f.mode = 0o644
	h.files[RemoteServerKey] = f
	n := len(h.calls)
	rep, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{RemoteServerKey}, (&fakeHost{calls: h.calls[n:]}).writes())
	assert.Equal(t, uint32(0o600), h.files[RemoteServerKey].mode)
	assert.True(t, rep.Changed)
}

func TestOverridingDropInIsAnError(t *testing.T) {
	h := families[1].host(t)
	h.files["/etc/systemd/system/docker.service.d/override.conf"] = fakeFile{[]byte("[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd://\n"), 0o644}
	_, err := Provision(context.Background(), h, testOptions(t, h))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/etc/systemd/system/docker.service.d/override.conf")
	assert.Contains(t, err.Error(), "would replace the machine's TLS configuration")
}

func TestDataDiskInProvision(t *testing.T) {
	h := families[0].host(t)
	h.disk = &fakeDisk{dev: "/dev/vdb"}
	opts := testOptions(t, h)
	opts.DataDisk = &DataDisk{Device: "/dev/vdb", FS: "xfs"}
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	tags := strings.Join(h.tags(), " ")
	assert.Contains(t, tags, "pkg-install", "xfsprogs and curl are installed first")
	assert.Less(t, strings.Index(tags, "disk-prepare"), strings.Index(tags, "install-docker"), "the disk is mounted before Docker first starts")
	assert.Equal(t, "xfs", h.disk.fsType)
	assert.Equal(t, "/var/lib/docker", h.disk.mountedOn)
	assert.Contains(t, string(h.files["/etc/fstab"].data), "UUID=5a1e0b42-9c4b-4f1e-8f43-0d7c1f2b3a4c /var/lib/docker xfs defaults,nofail 0 2\n")

	n := len(h.calls)
	_, err = Provision(context.Background(), h, opts)
	require.NoError(t, err)
	for _, tag := range (&fakeHost{calls: h.calls[n:]}).tags() {
		assert.NotEqual(t, "disk-prepare", tag, "a prepared disk is left alone")
	}
	assert.Equal(t, 1, strings.Count(string(h.files["/etc/fstab"].data), "/var/lib/docker"))
}

func TestUpgrade(t *testing.T) {
	h := families[4].host(t) // rocky, sudo user
	opts := testOptions(t, h)
	_, err := Provision(context.Background(), h, opts)
	require.NoError(t, err)
	restarts := h.restarts
	n := len(h.calls)
	rep, err := Upgrade(context.Background(), h, opts)
	require.NoError(t, err)
	assert.True(t, rep.Upgraded)
	assert.Equal(t, "Docker version 25.0.3, build 4debf41", rep.EngineVersion)
	assert.Equal(t, restarts+1, h.restarts, "the new engine is restarted even though the config is unchanged")
	assert.False(t, rep.Changed)
	up := ""
	for _, c := range h.calls[n:] {
		if strings.Contains(c.cmd, "# fdm:pkg-upgrade") {
			up = c.cmd
		}
	}
	assert.Contains(t, up, "dnf upgrade -y -q docker-ce docker-ce-cli")

	_, err = Upgrade(context.Background(), families[0].host(t), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Docker is not installed on machine \"node-1\"")
}

func TestOptionValidation(t *testing.T) {
	h := families[0].host(t)
	for _, c := range []struct {
		mod  func(o *Options)
		want string
	}{
		{func(o *Options) { o.MachineName = "bad name" }, "invalid machine name"},
		{func(o *Options) { o.DockerPort = 70000 }, "not a valid TCP port"},
		{func(o *Options) { o.Engine.InstallURL = "ftp://x" }, "must be an http(s) URL"},
		{func(o *Options) { o.DataDisk = &DataDisk{Device: "vdb"} }, "must be a /dev path"},
		{func(o *Options) { o.DataDisk = &DataDisk{Device: "/dev/vdb", FS: "zfs"} }, "must be ext4 or xfs"},
	} {
		opts := testOptions(t, h)
		c.mod(&opts)
		_, err := Provision(context.Background(), h, opts)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
	}
	assert.Empty(t, h.calls)
}

// otherCA is a CA that did not sign testdata's server certificate.
func otherCA(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{Organization: []string{"other"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestHungCommandTimesOut: a remote command that never returns (stock
// docker-machine hung forever on one) ends at its deadline with an error
// naming the step and the machine.
func TestHungCommandTimesOut(t *testing.T) {
	h := families[0].host(t)
	h.hang = map[string]bool{"docker-state": true}
	opts := testOptions(t, h)
	opts.Timeouts.Command = 20 * time.Millisecond
	_, err := Provision(context.Background(), h, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `reading Docker's state on machine "node-1" did not finish within 20ms`)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// The caller's cancellation stops a run too.
	h = families[0].host(t)
	h.hang = map[string]bool{"probe": true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Provision(ctx, h, testOptions(t, h))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}
