package provision

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// Where Docker comes from on a host.
const (
	// SourceScript downloads the install URL and runs it with sh.
	SourceScript = "script"
	// SourceDistro installs the distribution's own "docker" package.
	SourceDistro = "distro"
	// SourceDockerRepo adds Docker's CentOS package repository and installs
	// docker-ce from it.
	SourceDockerRepo = "docker-repo"
	// SourceNone installs nothing: Docker must already be present.
	SourceNone = "none"
)

// DefaultInstallURL is the install script used when EngineOptions.InstallURL
// is empty.
const DefaultInstallURL = "https://get.docker.com"

// dockerRepoFile is Docker's CentOS repository as its own .repo file would
// define it; written directly so that dnf-plugins-core is not needed.
const dockerRepoFile = `[docker-ce-stable]
name=Docker CE Stable - $basearch
baseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable
enabled=1
gpgcheck=1
gpgkey=https://download.docker.com/linux/centos/gpg
`

const dockerRepoCheckURL = "https://download.docker.com/linux/centos/gpg"

// Provisioner knows how one distribution family installs packages and
// Docker. Detect returns one; Provision uses it.
type Provisioner interface {
	// Name is the os-release ID this provisioner serves ("debian", "rocky", ...).
	Name() string
	// PackageManager is the package tool used: "apt-get", "dnf" or "yum".
	PackageManager() string
	// DockerSource says how Docker is installed for installURL: one of
	// SourceScript, SourceDistro, SourceDockerRepo, SourceNone.
	DockerSource(installURL string) string

	// installScript installs packages (waiting on locks is done by the caller).
	installScript(pkgs []string) string
	// upgradeScript upgrades installed packages.
	upgradeScript(pkgs []string) string
	// installedScript prints which of pkgs are installed, one per line.
	installedScript(pkgs []string) string
	// lockFiles are files the package manager locks with fcntl; pidFiles
	// hold the pid of a running package manager.
	lockFiles() []string
	pidFiles() []string
	// enginePackages are the package names Docker may be installed as.
	enginePackages() []string
}

type aptProvisioner struct{ id string }

func (p aptProvisioner) Name() string           { return p.id }
func (p aptProvisioner) PackageManager() string { return "apt-get" }
func (p aptProvisioner) DockerSource(url string) string {
	if url == "none" {
		return SourceNone
	}
	return SourceScript
}

const aptOpts = "-y -q -o DPkg::Lock::Timeout=60 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"

func (p aptProvisioner) installScript(pkgs []string) string {
	// A broken third-party list must not block installing from the others;
	// the install itself fails clearly if the package is still unknown.
	return "export DEBIAN_FRONTEND=noninteractive\n" +
		"apt-get update -q -o DPkg::Lock::Timeout=60 || echo 'apt-get update failed; trying the install anyway' >&2\n" +
		"apt-get install " + aptOpts + " --no-install-recommends " + strings.Join(pkgs, " ")
}

func (p aptProvisioner) upgradeScript(pkgs []string) string {
	return "export DEBIAN_FRONTEND=noninteractive\n" +
		"apt-get update -q -o DPkg::Lock::Timeout=60 || echo 'apt-get update failed; upgrading from the cached lists' >&2\n" +
		"apt-get install " + aptOpts + " --only-upgrade " + strings.Join(pkgs, " ")
}

func (p aptProvisioner) installedScript(pkgs []string) string {
	return "for p in " + strings.Join(pkgs, " ") + "; do s=$(dpkg-query -W -f='${db:Status-Status}' \"$p\" 2>/dev/null) && [ \"$s\" = installed ] && echo \"$p\"; done; true"
}

func (p aptProvisioner) lockFiles() []string {
	return []string{"/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock", "/var/lib/apt/lists/lock", "/var/cache/apt/archives/lock"}
}
func (p aptProvisioner) pidFiles() []string { return nil }
func (p aptProvisioner) enginePackages() []string {
	return []string{"docker-ce", "docker-ce-cli", "containerd.io", "docker.io", "docker-engine"}
}

type rpmProvisioner struct {
	id  string
	pkg string // dnf or yum
}

func (p rpmProvisioner) Name() string           { return p.id }
func (p rpmProvisioner) PackageManager() string { return p.pkg }

// DockerSource: get.docker.com knows centos, rhel and fedora only. Amazon
// Linux and Alibaba Cloud Linux ship Docker in their own repositories, so the
// default URL means "the distribution's docker package" there. Rocky,
// AlmaLinux and Oracle Linux are served by Docker's CentOS repository. Any
// other URL is the user's own script and is always run as given.
func (p rpmProvisioner) DockerSource(url string) string {
	switch {
	case url == "none":
		return SourceNone
	case url != DefaultInstallURL && url != DefaultInstallURL+"/":
		return SourceScript
	}
	switch p.id {
	case "amzn", "alinux":
		return SourceDistro
	case "rocky", "almalinux", "ol":
		return SourceDockerRepo
	}
	return SourceScript
}

func (p rpmProvisioner) installScript(pkgs []string) string {
	return p.pkg + " install -y -q " + strings.Join(pkgs, " ")
}

func (p rpmProvisioner) upgradeScript(pkgs []string) string {
	verb := "upgrade"
	if p.pkg == "yum" {
		verb = "update"
	}
	return p.pkg + " " + verb + " -y -q " + strings.Join(pkgs, " ")
}

func (p rpmProvisioner) installedScript(pkgs []string) string {
	return "for p in " + strings.Join(pkgs, " ") + "; do rpm -q \"$p\" >/dev/null 2>&1 && echo \"$p\"; done; true"
}

func (p rpmProvisioner) lockFiles() []string { return []string{"/var/lib/rpm/.rpm.lock"} }
func (p rpmProvisioner) pidFiles() []string {
	return []string{"/var/run/yum.pid", "/var/lib/dnf/rpmdb_lock.pid", "/var/cache/dnf/metadata_lock.pid", "/var/cache/dnf/download_lock.pid"}
}
func (p rpmProvisioner) enginePackages() []string {
	return []string{"docker-ce", "docker-ce-cli", "containerd.io", "docker", "moby-engine"}
}

// supportedOS lists the os-release IDs Detect accepts, with their minimum
// versions; check returns a user-facing reason when a version is too old.
var supportedOS = map[string]struct {
	apt   bool
	check func(v version, raw string) string
}{
	"debian": {apt: true, check: func(v version, raw string) string {
		// Debian testing/sid have no VERSION_ID; they are newer than any release.
		if raw != "" && !v.atLeast(10) {
			return "Debian " + raw + " is not supported: Docker provisioning needs Debian 10 or newer"
		}
		return ""
	}},
	"ubuntu": {apt: true, check: func(v version, raw string) string {
		if !v.atLeast(18, 4) {
			return "Ubuntu " + raw + " is not supported: Docker provisioning needs Ubuntu 18.04 or newer"
		}
		return ""
	}},
	"centos":    {check: minMajor("CentOS", 7)},
	"rhel":      {check: minMajor("Red Hat Enterprise Linux", 7)},
	"rocky":     {check: minMajor("Rocky Linux", 8)},
	"almalinux": {check: minMajor("AlmaLinux", 8)},
	"ol":        {check: minMajor("Oracle Linux", 7)},
	"fedora":    {check: minMajor("Fedora", 30)},
	"alinux":    {check: minMajor("Alibaba Cloud Linux", 2)},
	"amzn": {check: func(v version, raw string) string {
		// Amazon Linux 1 numbered its releases by date (2018.03) and has no
		// systemd; Amazon Linux 2 is "2", then 2023 and later.
		if len(v) == 0 || (v[0] != 2 && v[0] < 2022) {
			return "Amazon Linux " + raw + " is not supported: Docker provisioning needs Amazon Linux 2 or 2023"
		}
		return ""
	}},
}

func minMajor(name string, min int) func(version, string) string {
	return func(v version, raw string) string {
		if !v.atLeast(min) {
			return fmt.Sprintf("%s %s is not supported: Docker provisioning needs %s %d or newer", name, raw, name, min)
		}
		return ""
	}
}

// SupportedOS returns the os-release IDs Detect accepts, sorted.
func SupportedOS() []string {
	ids := make([]string, 0, len(supportedOS))
	for id := range supportedOS {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// provisionerFor picks the provisioner for rel; tools tells whether dnf is
// present (preferred over yum on the rpm family).
func provisionerFor(rel *OSRelease, tools map[string]string) (Provisioner, error) {
	s, ok := supportedOS[rel.ID]
	if !ok {
		like := ""
		if rel.IDLike != "" {
			like = fmt.Sprintf(" (ID_LIKE %q)", rel.IDLike)
		}
		return nil, fmt.Errorf("unsupported operating system ID %q VERSION_ID %q%s: supported IDs are %s", rel.ID, rel.VersionID, like, strings.Join(SupportedOS(), ", "))
	}
	if msg := s.check(parseVersion(rel.VersionID), rel.VersionID); msg != "" {
		return nil, fmt.Errorf("%s", msg)
	}
	if s.apt {
		return aptProvisioner{id: rel.ID}, nil
	}
	pm := "yum"
	if tools["dnf"] != "" || (tools["yum"] == "" && !strings.HasPrefix(rel.VersionID, "7")) {
		pm = "dnf"
	}
	return rpmProvisioner{id: rel.ID, pkg: pm}, nil
}

// Detect reads /etc/os-release on the host and returns the provisioner for
// its distribution. An unknown distribution is an error naming the ID and
// VERSION_ID found and listing the supported ones.
func Detect(ctx context.Context, c Commander) (Provisioner, *OSRelease, error) {
	r := &runner{c: c, log: slog.Default(), machine: ""}
	f, err := probe(ctx, r, "/var/lib/docker", "", Timeouts{}.withDefaults())
	if err != nil {
		return nil, nil, err
	}
	return detectFrom(f)
}

func detectFrom(f *hostFacts) (Provisioner, *OSRelease, error) {
	if f.osRelease == nil {
		return nil, nil, fmt.Errorf("the host has neither /etc/os-release nor /usr/lib/os-release, so its distribution cannot be detected")
	}
	rel, err := ParseOSRelease(f.osRelease)
	if err != nil {
		return nil, nil, fmt.Errorf("detecting the distribution: %w", err)
	}
	p, err := provisionerFor(rel, f.tools)
	if err != nil {
		return nil, rel, err
	}
	return p, rel, nil
}
