package provision

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseOSReleaseFixtures(t *testing.T) {
	cases := []struct {
		file                        string
		id, like, version, name, pn string
		extraKey, extraVal          string
	}{
		{"debian-12", "debian", "", "12", "Debian GNU/Linux", "Debian GNU/Linux 12 (bookworm)", "VERSION_CODENAME", "bookworm"},
		{"ubuntu-22.04", "ubuntu", "debian", "22.04", "Ubuntu", "Ubuntu 22.04.3 LTS", "UBUNTU_CODENAME", "jammy"},
		{"ubuntu-16.04", "ubuntu", "debian", "16.04", "Ubuntu", "Ubuntu 16.04.7 LTS", "VERSION_CODENAME", "xenial"},
		{"centos-7", "centos", "rhel fedora", "7", "CentOS Linux", "CentOS Linux 7 (Core)", "CPE_NAME", "cpe:/o:centos:centos:7"},
		{"rocky-9", "rocky", "rhel centos fedora", "9.3", "Rocky Linux", "Rocky Linux 9.3 (Blue Onyx)", "PLATFORM_ID", "platform:el9"},
		{"almalinux-9", "almalinux", "rhel centos fedora", "9.3", "AlmaLinux", "AlmaLinux 9.3 (Shamrock Pampas Cat)", "ALMALINUX_MANTISBT_PROJECT", "AlmaLinux-9"},
		{"ol-8", "ol", "fedora", "8.9", "Oracle Linux Server", "Oracle Linux Server 8.9", "ORACLE_SUPPORT_PRODUCT_VERSION", "8.9"},
		{"alinux-3", "alinux", "rhel fedora centos anolis", "3", "Alibaba Cloud Linux", "Alibaba Cloud Linux 3.2104 U13.1 (OpenAnolis Edition)", "PLATFORM_ID", "platform:al8"},
		{"fedora-39", "fedora", "", "39", "Fedora Linux", "Fedora Linux 39 (Cloud Edition)", "VERSION_CODENAME", ""},
		{"amzn-2023", "amzn", "fedora", "2023", "Amazon Linux", "Amazon Linux 2023.3.20240219", "PLATFORM_ID", "platform:al2023"},
		{"opensuse-leap-15.5", "opensuse-leap", "suse opensuse", "15.5", "openSUSE Leap", "openSUSE Leap 15.5", "LOGO", "distributor-logo-Leap"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "os-release", c.file))
			require.NoError(t, err)
			r, err := ParseOSRelease(b)
			require.NoError(t, err)
			assert.Equal(t, c.id, r.ID)
			assert.Equal(t, c.like, r.IDLike)
			assert.Equal(t, c.version, r.VersionID)
			assert.Equal(t, c.name, r.Name)
			assert.Equal(t, c.pn, r.PrettyName)
			v, ok := r.Fields[c.extraKey]
			assert.True(t, ok, c.extraKey)
			assert.Equal(t, c.extraVal, v)
		})
	}
}

func TestParseOSReleaseSyntax(t *testing.T) {
	r, err := ParseOSRelease([]byte("# comment\n\nID=x\nNAME='single quoted'\nPRETTY_NAME=\"esc \\\"q\\\" \\$HOME \\\\ \\n\"\n"))
	require.NoError(t, err)
	assert.Equal(t, "single quoted", r.Name)
	assert.Equal(t, `esc "q" $HOME \ \n`, r.PrettyName)

	for _, bad := range []string{"ID=x\nJUNK\n", "ID=x\nNAME=\"open\n", "ID=two words\n", "NAME=x\n"} {
		_, err := ParseOSRelease([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestVersionCompare(t *testing.T) {
	assert.True(t, parseVersion("18.04").atLeast(18, 4))
	assert.True(t, parseVersion("22.04").atLeast(18, 4))
	assert.False(t, parseVersion("16.04").atLeast(18, 4))
	assert.False(t, parseVersion("18.03").atLeast(18, 4))
	assert.True(t, parseVersion("3.10.0-1160.el7.x86_64").atLeast(3, 10))
	assert.False(t, parseVersion("2.6.32-754.el6").atLeast(3, 10))
	assert.True(t, parseVersion("6.1.0-13-amd64").atLeast(3, 10))
	assert.False(t, parseVersion("").atLeast(1))
}

func TestDetect(t *testing.T) {
	cases := []struct {
		file, name, pm string
		tools          []string
		source         string // for the default URL
	}{
		{"debian-12", "debian", "apt-get", nil, SourceScript},
		{"ubuntu-22.04", "ubuntu", "apt-get", nil, SourceScript},
		{"centos-7", "centos", "yum", []string{"yum"}, SourceScript},
		{"rocky-9", "rocky", "dnf", []string{"dnf", "yum"}, SourceDockerRepo},
		{"almalinux-9", "almalinux", "dnf", []string{"dnf"}, SourceDockerRepo},
		{"ol-8", "ol", "dnf", []string{"dnf", "yum"}, SourceDockerRepo},
		{"alinux-3", "alinux", "dnf", []string{"dnf"}, SourceDistro},
		{"fedora-39", "fedora", "dnf", []string{"dnf"}, SourceScript},
		{"amzn-2023", "amzn", "dnf", []string{"dnf"}, SourceDistro},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			h := newFakeHost(t, c.file)
			for _, tool := range c.tools {
				h.tools[tool] = "/usr/bin/" + tool
			}
			p, rel, err := Detect(context.Background(), h)
			require.NoError(t, err)
			assert.Equal(t, c.name, p.Name())
			assert.Equal(t, c.name, rel.ID)
			assert.Equal(t, c.pm, p.PackageManager())
			assert.Equal(t, c.source, p.DockerSource(DefaultInstallURL))
			assert.Equal(t, SourceScript, p.DockerSource("https://mirror.example.test/install.sh"), "a custom URL is always run")
			assert.Equal(t, SourceNone, p.DockerSource("none"))
			assert.Len(t, h.calls, 1, "detection is one command")
		})
	}
}

func TestDetectRejects(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"opensuse-leap-15.5", `unsupported operating system ID "opensuse-leap" VERSION_ID "15.5" (ID_LIKE "suse opensuse"): supported IDs are alinux, almalinux, amzn, centos, debian, fedora, ol, rhel, rocky, ubuntu`},
		{"ubuntu-16.04", "Ubuntu 16.04 is not supported: Docker provisioning needs Ubuntu 18.04 or newer"},
	} {
		h := newFakeHost(t, c.file)
		_, _, err := Detect(context.Background(), h)
		require.Error(t, err)
		assert.Equal(t, c.want, err.Error())
	}
	h := newFakeHost(t, "debian-12")
	h.osRelease = "ID=amzn\nVERSION_ID=\"2018.03\"\n"
	_, _, err := Detect(context.Background(), h)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Amazon Linux 2018.03 is not supported")

	h.osRelease = "ID=amzn\nVERSION_ID=\"2\"\n"
	h.tools["yum"] = "/usr/bin/yum"
	p, _, err := Detect(context.Background(), h)
	require.NoError(t, err)
	assert.Equal(t, "yum", p.PackageManager(), "Amazon Linux 2 has yum only")
}
