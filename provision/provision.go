package provision

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

// session is one Provision or Upgrade run.
type session struct {
	o      Options
	e      hostopts.Engine
	t      Timeouts
	r      *runner
	rep    *Report
	facts  *hostFacts
	p      Provisioner
	rel    *OSRelease
	url    string
	source string
	// lockWaitAnnounced keeps the package-lock message to one line per run.
	lockWaitAnnounced bool
}

func newSession(c Commander, opts Options) (*session, error) {
	if c == nil {
		return nil, errors.New("provisioning needs a connected SSH commander")
	}
	if err := hostopts.ValidateName(opts.MachineName); err != nil {
		return nil, err
	}
	s := &session{o: opts, t: opts.Timeouts.withDefaults(), rep: &Report{}}
	if opts.Engine != nil {
		s.e = *opts.Engine
	}
	if s.o.DockerPort == 0 {
		s.o.DockerPort = DefaultDockerPort
	}
	if s.o.DockerPort < 1 || s.o.DockerPort > 65535 {
		return nil, fmt.Errorf("docker port %d for machine %q is not a valid TCP port", s.o.DockerPort, opts.MachineName)
	}
	if s.o.MinFreeBytes == 0 {
		s.o.MinFreeBytes = DefaultMinFreeBytes
	}
	s.url = strings.TrimSpace(s.e.InstallURL)
	if s.url == "" {
		s.url = DefaultInstallURL
	}
	if s.url != "none" && !strings.HasPrefix(s.url, "https://") && !strings.HasPrefix(s.url, "http://") {
		return nil, fmt.Errorf("install URL %q for machine %q must be an http(s) URL or \"none\"", s.url, opts.MachineName)
	}
	if strings.ContainsAny(s.url, "'\n") {
		return nil, fmt.Errorf("install URL %q for machine %q contains a quote or newline", s.url, opts.MachineName)
	}
	if d := opts.DataDisk; d != nil {
		if d.Device == "" || !strings.HasPrefix(d.Device, "/dev/") {
			return nil, fmt.Errorf("data disk device %q for machine %q must be a /dev path", d.Device, opts.MachineName)
		}
		if d.FS != "" && d.FS != "ext4" && d.FS != "xfs" {
			return nil, fmt.Errorf("data disk filesystem %q for machine %q must be ext4 or xfs", d.FS, opts.MachineName)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s.r = &runner{c: c, machine: opts.MachineName, log: log}
	return s, nil
}

// checkCerts verifies the PEM material locally before anything is sent: the
// server key must match the server certificate, which must chain to the CA.
func checkCerts(o Options) error {
	if len(o.CACert) == 0 || len(o.ServerCert) == 0 || len(o.ServerKey) == 0 {
		return fmt.Errorf("machine %q needs the CA certificate, the server certificate and the server key to configure Docker's TLS", o.MachineName)
	}
	pair, err := tls.X509KeyPair(o.ServerCert, o.ServerKey)
	if err != nil {
		return fmt.Errorf("server certificate and key for machine %q do not form a pair (%v): regenerate them with 'docker-machine regenerate-certs %s'", o.MachineName, err, o.MachineName)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(o.CACert) {
		return fmt.Errorf("CA certificate for machine %q is not PEM", o.MachineName)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("parsing the server certificate for machine %q: %w", o.MachineName, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("server certificate for machine %q is not valid under the given CA (%v): regenerate it with 'docker-machine regenerate-certs %s'", o.MachineName, err, o.MachineName)
	}
	if blk, _ := pem.Decode(o.ServerKey); blk == nil || !strings.Contains(blk.Type, "PRIVATE KEY") {
		return fmt.Errorf("server key for machine %q is not a PEM private key", o.MachineName)
	}
	return nil
}

// step runs f as a named step: announced, timed and recorded.
func (s *session) step(name string, f func() error) error {
	if s.o.Progress != nil {
		s.o.Progress(name + "...")
	}
	start := time.Now()
	err := f()
	s.rep.Steps = append(s.rep.Steps, StepTiming{Name: name, Duration: time.Since(start)})
	return err
}

func (s *session) finish(err error) (*Report, error) {
	s.rep.Commands = s.r.count
	return s.rep, err
}

func (s *session) dataDir() string {
	if s.e.GraphDir != "" {
		return s.e.GraphDir
	}
	return dockerDataDir
}

// Provision makes the host a TLS-secured Docker host; see the package
// documentation for the steps. It returns a Report even on failure, saying
// how far it got.
func Provision(ctx context.Context, c Commander, opts Options) (*Report, error) {
	return run(ctx, c, opts, func(s *session) error { return s.provision(ctx) })
}

// run opens a session, checks the certificates and inspects the host, then
// does work; nothing on the host changes before work starts. The Report
// says how far it got, also on failure.
func run(ctx context.Context, c Commander, opts Options, work func(*session) error) (*Report, error) {
	s, err := newSession(c, opts)
	if err != nil {
		return &Report{}, err
	}
	if err := checkCerts(opts); err != nil {
		return s.finish(err)
	}
	if err := s.inspect(ctx); err != nil {
		return s.finish(err)
	}
	return s.finish(work(s))
}

func (s *session) provision(ctx context.Context) error {
	needDocker := !s.facts.has("docker")
	if err := s.preflight(ctx, needDocker); err != nil {
		return err
	}
	// Nothing on the host has changed up to here.
	if s.hostnameDiffers() {
		if err := s.step("Setting the hostname", func() error { return s.setHostname(ctx) }); err != nil {
			return err
		}
	}
	if pkgs := s.basePackages(needDocker); len(pkgs) > 0 {
		deferredCheck := needDocker && s.checkedURL() != "" && s.pendingURLCheck()
		if err := s.step("Installing "+strings.Join(pkgs, ", "), func() error { return s.installPackages(ctx, pkgs) }); err != nil {
			return err
		}
		if deferredCheck {
			if err := s.step("Checking the install URL", func() error { return s.checkURL(ctx, s.checkedURL()) }); err != nil {
				return err
			}
		}
	}
	if s.o.DataDisk != nil {
		if err := s.step("Preparing the data disk", func() error { return prepareDataDisk(ctx, s.r, *s.o.DataDisk, s.t) }); err != nil {
			return err
		}
	}
	if needDocker {
		if err := s.step("Installing Docker", func() error { return s.installDocker(ctx) }); err != nil {
			return err
		}
		s.rep.Installed = true
	}
	return s.configureAndStart(ctx, false)
}

// inspect reads the host (after cloud-init, when present) and detects it.
func (s *session) inspect(ctx context.Context) error {
	err := s.step("Checking the host", func() error {
		f, err := probe(ctx, s.r, s.dataDir(), s.diskDev(), s.t)
		if err != nil {
			return err
		}
		s.facts = f
		return nil
	})
	if err != nil {
		return err
	}
	if s.facts.has("cloud-init") {
		if err := s.step("Waiting for cloud-init", func() error { return s.waitCloudInit(ctx) }); err != nil {
			return err
		}
		// cloud-init may have installed packages or written daemon.json.
		f, err := probe(ctx, s.r, s.dataDir(), s.diskDev(), s.t)
		if err != nil {
			return err
		}
		s.facts = f
	}
	p, rel, err := detectFrom(s.facts)
	if err != nil {
		return fmt.Errorf("machine %q: %w", s.o.MachineName, err)
	}
	s.p, s.rel = p, rel
	s.rep.OS = rel.ID
	s.source = p.DockerSource(s.url)
	return nil
}

func (s *session) diskDev() string {
	if s.o.DataDisk == nil {
		return ""
	}
	return s.o.DataDisk.Device
}

// waitCloudInit waits for cloud-init to finish. Exit status 2 means it
// finished with recoverable errors, which does not stop provisioning.
func (s *session) waitCloudInit(ctx context.Context) error {
	secs := int(s.t.CloudInit / time.Second)
	script := fmt.Sprintf("# fdm:cloud-init\ntimeout %d cloud-init status --wait >/dev/null", secs)
	res, err := s.r.run(ctx, "waiting for cloud-init", script, true, s.t.CloudInit+30*time.Second)
	if err != nil {
		return err
	}
	switch res.ExitStatus {
	case 0, 2:
		return nil
	case 124:
		return fmt.Errorf("cloud-init on machine %q did not finish within %s: check /var/log/cloud-init-output.log on the host", s.o.MachineName, s.t.CloudInit)
	default:
		return fmt.Errorf("cloud-init on machine %q failed (exit status %d): %s; check /var/log/cloud-init-output.log on the host", s.o.MachineName, res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
}

// preflight checks everything that can be checked before changing the host.
func (s *session) preflight(ctx context.Context, needDocker bool) error {
	var problems []string
	f := s.facts
	if f.uid != 0 && !f.sudoOK {
		problems = append(problems, fmt.Sprintf("user %q can neither log in as root nor run 'sudo -n' without a password: allow passwordless sudo for it, or connect as root", f.user))
	}
	if !f.systemd || !f.has("systemctl") {
		problems = append(problems, "systemd is not running, and Docker is managed through systemd here")
	}
	if kv := parseVersion(f.kernel); !kv.atLeast(3, 10) {
		problems = append(problems, fmt.Sprintf("kernel %q is older than 3.10, the oldest Docker supports", f.kernel))
	}
	if d := s.o.DataDisk; d != nil {
		switch {
		case !f.disk.block:
			problems = append(problems, fmt.Sprintf("data disk %s is not a block device on the host", d.Device))
		case s.o.MinFreeBytes > 0 && f.disk.sectors*512 < s.o.MinFreeBytes:
			problems = append(problems, fmt.Sprintf("data disk %s holds %s, less than the %s Docker needs", d.Device, gib(f.disk.sectors*512), gib(s.o.MinFreeBytes)))
		}
	} else if s.o.MinFreeBytes > 0 && f.availKiB >= 0 && f.availKiB*1024 < s.o.MinFreeBytes {
		problems = append(problems, fmt.Sprintf("only %s is free under %s (for %s), less than the %s Docker needs: free some space or attach a data disk", gib(f.availKiB*1024), f.dfPath, s.dataDir(), gib(s.o.MinFreeBytes)))
	}
	// A daemon.json that cannot be merged is found now, not after install.
	if _, err := planDaemon(s.daemonInput("/usr/bin/dockerd", f.daemonJSON)); err != nil {
		problems = append(problems, err.Error())
	}
	if needDocker && s.source == SourceNone {
		problems = append(problems, "Docker is not installed and the install URL is \"none\": install Docker on the host first, or give an install URL")
	}
	if len(problems) == 0 && needDocker && s.checkedURL() != "" && !s.pendingURLCheck() {
		if err := s.checkURL(ctx, s.checkedURL()); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("machine %q cannot be provisioned; nothing was changed:\n  - %s", s.o.MachineName, strings.Join(problems, "\n  - "))
	}
	return nil
}

func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// checkedURL is the URL the install will fetch, "" when it fetches none.
func (s *session) checkedURL() string {
	switch s.source {
	case SourceScript:
		return s.url
	case SourceDockerRepo:
		return dockerRepoCheckURL
	}
	return ""
}

// pendingURLCheck: without curl or wget the check waits until curl is
// installed, which is still before anything Docker-related changes.
func (s *session) pendingURLCheck() bool { return !s.facts.has("curl") && !s.facts.has("wget") }

// checkURL fetches url from the host, which is where the install runs: the
// caller's own network access proves nothing about the host's.
func (s *session) checkURL(ctx context.Context, url string) error {
	secs := int(s.t.URLCheck / time.Second)
	if secs < 1 {
		secs = 1
	}
	var script string
	if s.facts.has("curl") || s.pendingURLCheck() {
		script = fmt.Sprintf("# fdm:url-check\ncurl -fsSL --max-time %d -o /dev/null %s", secs, shQuote(url))
	} else {
		script = fmt.Sprintf("# fdm:url-check\nwget -q -T %d -O /dev/null %s", secs, shQuote(url))
	}
	res, err := s.r.run(ctx, "checking the install URL", script, false, s.t.URLCheck+30*time.Second)
	if err != nil {
		return err
	}
	if res.ExitStatus == 0 {
		return nil
	}
	why := map[int]string{
		6: "its host name does not resolve", 7: "the connection was refused or the host is unreachable",
		22: "the server answered with an HTTP error", 28: "it timed out", 35: "the TLS handshake failed",
		60: "its TLS certificate is not trusted by the host",
	}[res.ExitStatus]
	if why == "" {
		why = "the download failed: " + tail(res.Stderr, res.Stdout)
	}
	return fmt.Errorf("machine %q cannot fetch %s (%s), so Docker cannot be installed; nothing was changed. Check the host's DNS, proxy and outbound access, or pass --engine-install-url with a reachable mirror of the install script", s.o.MachineName, url, why)
}

func (s *session) hostnameDiffers() bool {
	f, name := s.facts, s.o.MachineName
	if f.etcHost == nil || strings.TrimSpace(*f.etcHost) != name || f.hostname != name || f.etcHosts == nil {
		return true
	}
	return desiredHosts(*f.etcHosts, name) != *f.etcHosts
}

// setHostname writes /etc/hostname and the 127.0.1.1 line of /etc/hosts
// only when they differ; the files are rewritten in place because clouds
// and containers often bind-mount them.
func (s *session) setHostname(ctx context.Context) error {
	name := s.o.MachineName
	f := s.facts
	if f.etcHost == nil || strings.TrimSpace(*f.etcHost) != name || f.hostname != name {
		script := "# fdm:hostname\ncat > /etc/hostname && { hostname " + shQuote(name) + " 2>/dev/null || printf '%s' " + shQuote(name) + " > /proc/sys/kernel/hostname; }"
		res, err := s.r.runInput(ctx, "setting the hostname", script, []byte(name+"\n"), true, s.t.Command)
		if err != nil {
			return err
		}
		if res.ExitStatus != 0 {
			return fmt.Errorf("setting the hostname on machine %q failed (exit status %d): %s", name, res.ExitStatus, tail(res.Stderr, res.Stdout))
		}
	}
	cur := ""
	if f.etcHosts != nil {
		cur = *f.etcHosts
	}
	if want := desiredHosts(cur, name); want != cur || f.etcHosts == nil {
		if err := s.writeFile(ctx, "/etc/hosts", 0o644, []byte(want), true); err != nil {
			return err
		}
	}
	return nil
}

// writeFile sends data on stdin to path with mode. Files under /etc/docker
// and systemd's directories are replaced atomically (written beside, then
// renamed), never readable by others while being written; inPlace files
// (/etc/hosts, /etc/hostname) are truncated and rewritten because they may
// be bind mounts that cannot be renamed over.
func (s *session) writeFile(ctx context.Context, file string, mode uint32, data []byte, inPlace bool) error {
	q := shQuote(file)
	var script string
	if inPlace {
		script = fmt.Sprintf("# fdm:write %s %04o\ncat > %s", file, mode, q)
	} else {
		tmp := shQuote(file + ".fdm-new")
		script = fmt.Sprintf("# fdm:write %s %04o\nset -e\nmkdir -p %s\n(umask 077 && cat > %s)\nchmod %04o %s\nmv -f %s %s", file, mode, shQuote(path.Dir(file)), tmp, mode, tmp, tmp, q)
	}
	res, err := s.r.runInput(ctx, "writing "+file, script, data, true, s.t.Command)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("writing %s on machine %q failed (exit status %d): %s", file, s.o.MachineName, res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
	return nil
}

// basePackages are the packages to install before Docker: curl for the
// install script and the URL check, mkfs tools for the data disk.
func (s *session) basePackages(needDocker bool) []string {
	var pkgs []string
	if needDocker && (s.source == SourceScript || s.source == SourceDockerRepo) && !s.facts.has("curl") {
		pkgs = append(pkgs, "curl")
		if _, apt := s.p.(aptProvisioner); apt {
			pkgs = append(pkgs, "ca-certificates")
		}
	}
	if d := s.o.DataDisk; d != nil {
		if d.FS == "xfs" && !s.facts.has("mkfs.xfs") {
			pkgs = append(pkgs, "xfsprogs")
		}
		if d.FS != "xfs" && !s.facts.has("mkfs.ext4") {
			pkgs = append(pkgs, "e2fsprogs")
		}
	}
	return pkgs
}

func (s *session) installPackages(ctx context.Context, pkgs []string) error {
	_, err := s.pkgRun(ctx, "installing "+strings.Join(pkgs, ", "), "# fdm:pkg-install\n", s.p.installScript(pkgs), s.t.Install)
	if err == nil {
		for _, p := range pkgs {
			if p == "curl" {
				s.facts.tools["curl"] = "/usr/bin/curl"
			}
		}
	}
	return err
}

// busyExit is what the lock-aware wrapper exits with while another process
// holds the package manager's lock.
const busyExit = 75

// lockScript defines fdm_busy, which succeeds while a lock file is held.
// Holders are found in /proc/locks by the lock file's inode (fcntl locks, as
// dpkg, apt and rpm take them) and through pid files (yum, dnf); nothing
// depends on a tool's English messages, nor on fuser or lsof being
// installed.
func lockScript(p Provisioner) string {
	var b strings.Builder
	b.WriteString("fdm_busy() {\n")
	for _, kind := range []struct {
		files []string
		held  string // returns 0 when the file $f is held
	}{{p.lockFiles(), lockFileHeld}, {p.pidFiles(), pidFileHeld}} {
		if len(kind.files) > 0 {
			fmt.Fprintf(&b, "  for f in %s; do\n%s  done\n", strings.Join(kind.files, " "), kind.held)
		}
	}
	b.WriteString("  return 1\n}\n")
	return b.String()
}

// The loop bodies of fdm_busy, for lock files and for pid files.
const (
	lockFileHeld = `    [ -e "$f" ] || continue
    i=$(stat -c %i "$f") || continue
    awk -v i="$i" '$2 != "->" { for (k = 1; k <= NF; k++) if (split($k, a, ":") == 3 && a[3] == i) found = 1 } END { exit !found }' /proc/locks && return 0
`
	pidFileHeld = `    [ -s "$f" ] && kill -0 "$(head -n 1 "$f")" 2>/dev/null && return 0
`
)

// pkgRun runs a package-manager script, waiting with backoff while another
// process holds the package manager's lock, both before it starts and when
// it fails while the lock is held (the lock was taken in between).
// dnf's own lock failure (exit 200) counts as held.
func (s *session) pkgRun(ctx context.Context, what, tag, script string, timeout time.Duration) (string, error) {
	full := tag + lockScript(s.p) +
		fmt.Sprintf("if fdm_busy; then exit %d; fi\n(\n%s\n)\nrc=$?\nif [ $rc -ne 0 ] && { [ $rc -eq 200 ] || fdm_busy; }; then exit %d; fi\nexit $rc", busyExit, script, busyExit)
	try := func() (out string, busy bool, err error) {
		res, err := s.r.run(ctx, what, full, true, timeout)
		if err != nil {
			return "", false, err
		}
		switch res.ExitStatus {
		case 0:
			return string(res.Stdout), false, nil
		case busyExit:
			return "", true, nil
		}
		return "", false, fmt.Errorf("%s on machine %q failed (exit status %d): %s", what, s.o.MachineName, res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
	out, busy, err := try()
	if !busy {
		return out, err
	}
	if s.o.Progress != nil && !s.lockWaitAnnounced {
		s.o.Progress("Waiting for another package manager run to finish...")
	}
	s.lockWaitAnnounced = true
	err = s.waitPackageLock(ctx, func() (bool, error) {
		out, busy, err = try()
		return busy, err
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// installDocker installs Docker from the source chosen for this OS and URL.
func (s *session) installDocker(ctx context.Context) error {
	secs := int(s.t.Install / time.Second)
	switch s.source {
	case SourceDistro:
		// Amazon Linux and Alibaba Cloud Linux package Docker themselves;
		// get.docker.com does not support them.
		_, err := s.pkgRun(ctx, "installing Docker from the distribution's repository", "# fdm:install-docker distro\n", s.p.installScript([]string{"docker"}), s.t.Install)
		return err
	case SourceDockerRepo:
		if err := s.writeFile(ctx, "/etc/yum.repos.d/docker-ce.repo", 0o644, []byte(dockerRepoFile), false); err != nil {
			return err
		}
		_, err := s.pkgRun(ctx, "installing Docker from Docker's CentOS repository", "# fdm:install-docker docker-repo\n", s.p.installScript([]string{"docker-ce", "docker-ce-cli", "containerd.io"}), s.t.Install)
		return err
	default:
		// Downloaded to a file first: with "curl | sh" a failed download
		// runs an empty script and reports success.
		script := fmt.Sprintf("set -e\nexport DEBIAN_FRONTEND=noninteractive\nt=$(mktemp)\ntrap 'rm -f \"$t\"' EXIT\ncurl -fsSL --retry 3 -o \"$t\" %s\ntimeout %d sh \"$t\"", shQuote(s.url), secs)
		_, err := s.pkgRun(ctx, "running the Docker install script "+s.url, "# fdm:install-docker script\n", script, s.t.Install+time.Minute)
		if err != nil {
			return fmt.Errorf("%w\nThe install script %s failed; pass --engine-install-url with a script that supports %s %s, or install Docker on the host and use --engine-install-url none", err, s.url, s.rel.ID, s.rel.VersionID)
		}
		return nil
	}
}
