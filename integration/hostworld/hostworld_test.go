package hostworld

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, root, rel, text string) {
	t.Helper()
	p := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
}

func TestMirrorFromDeb822(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/apt/sources.list.d/debian.sources", `Types: deb
# a snapshot comment inside the paragraph
URIs: http://mirror.example.test/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.test/debian-security
Suites: bookworm-security
Components: main
`)
	// Disabled and source-only paragraphs must not count.
	writeFile(t, root, "etc/apt/sources.list.d/aaa.sources", `Types: deb
URIs: http://disabled.example.test/debian
Suites: bookworm
Components: main
Enabled: no

Types: deb-src
URIs: http://src.example.test/debian
Suites: bookworm
Components: main
`)
	// Files that apt ignores are ignored here too.
	writeFile(t, root, "etc/apt/sources.list.d/other.sources.disabled", "Types: deb\nURIs: http://no.example.test/x\nSuites: bookworm\n")

	got, err := mirrorFrom(root)
	require.NoError(t, err)
	assert.Equal(t, "http://mirror.example.test/debian", got.URI)
	assert.Equal(t, []string{"bookworm", "bookworm-updates"}, got.Suites)
	assert.Equal(t, []string{"main", "contrib"}, got.Components)
	assert.Equal(t, "deb http://mirror.example.test/debian bookworm main contrib\n"+
		"deb http://mirror.example.test/debian bookworm-updates main contrib\n", got.sourcesList())
}

func TestMirrorFromOneLineFormat(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/apt/sources.list", `# comment
deb-src http://src.example.test/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example.test/debian bookworm main # trailing
deb http://one.example.test/debian bookworm-updates main
`)
	got, err := mirrorFrom(root)
	require.NoError(t, err)
	assert.Equal(t, "http://one.example.test/debian", got.URI)
	assert.Equal(t, []string{"bookworm", "bookworm-updates"}, got.Suites)
}

func TestMirrorFromNewerReleaseStillServesBookworm(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "etc/apt/sources.list.d/debian.sources",
		"Types: deb\nURIs: http://new.example.test/debian-security\nSuites: trixie-security\n\n"+
			"Types: deb\nURIs: http://new.example.test/debian\nSuites: trixie trixie-updates\nComponents: main\n")
	got, err := mirrorFrom(root)
	require.NoError(t, err)
	assert.Equal(t, "http://new.example.test/debian", got.URI)
	assert.Equal(t, []string{"bookworm"}, got.Suites)
}

func TestMirrorFromNoSources(t *testing.T) {
	_, err := mirrorFrom(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no Debian mirror found")
	assert.Contains(t, err.Error(), "sources.list")
}

func TestRecipeTagHashesEveryInput(t *testing.T) {
	src := aptEntry{URI: "http://m.example.test/debian", Suites: []string{"bookworm"}, Components: []string{"main"}}
	base := newRecipe(src, ImageOptions{})
	assert.Equal(t, base.tag(), newRecipe(src, ImageOptions{}).tag(), "same inputs, same tag")
	assert.Regexp(t, regexp.MustCompile(`^fleetdock/hostworld:bookworm-[0-9a-f]{16}$`), base.tag())

	withDocker := newRecipe(src, ImageOptions{WithDocker: true})
	assert.Contains(t, withDocker.packages, "docker.io")
	assert.Regexp(t, regexp.MustCompile(`^fleetdock/hostworld:bookworm-docker-[0-9a-f]{16}$`), withDocker.tag())

	other := src
	other.URI = "http://other.example.test/debian"
	updates := src
	updates.Suites = []string{"bookworm", "bookworm-updates"}
	morePkgs := base
	morePkgs.packages = append([]string{"vim"}, base.packages...)
	tags := map[string]string{
		"base": base.hash(), "docker": withDocker.hash(), "mirror": newRecipe(other, ImageOptions{}).hash(),
		"suites": newRecipe(updates, ImageOptions{}).hash(), "packages": morePkgs.hash(),
	}
	seen := map[string]string{}
	for input, h := range tags {
		if prev, dup := seen[h]; dup {
			t.Errorf("changing %s gave the same hash as %s", input, prev)
		}
		seen[h] = input
	}

	// The setup script is an input too.
	before := base.hash()
	saved := setupScript
	t.Cleanup(func() { setupScript = saved })
	setupScript += "\n# changed\n"
	assert.NotEqual(t, before, base.hash())
}

func TestLockFileExcludesSecondHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(t.Context(), path, "img")
	require.NoError(t, err)

	// A second opener (as another process would be) must not get the lock
	// while the first holds it.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = lockFile(ctx, path, "img")
	require.Error(t, err, "the lock was taken twice")

	unlock()
	unlock2, err := lockFile(t.Context(), path, "img")
	require.NoError(t, err, "the lock must be free once released")
	unlock2()
}

func TestCommandErrorKeepsStdinOut(t *testing.T) {
	_, err := run(t.Context(), strings.NewReader("s3cret-password"), "sh", "-c", "cat >/dev/null; echo boom >&2; exit 3")
	require.Error(t, err)
	ce, ok := errors.AsType[*CommandError](err)
	require.True(t, ok)
	assert.Equal(t, 3, ce.ExitCode)
	assert.Contains(t, err.Error(), "boom")
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestStartValidatesBeforeTouchingDocker(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts HostOptions
		want string
	}{
		{"underscore", HostOptions{Name: "bad_name"}, "not usable as a hostname"},
		{"empty", HostOptions{}, "not usable as a hostname"},
		{"long", HostOptions{Name: strings.Repeat("a", 64)}, "not usable as a hostname"},
		{"user", HostOptions{Name: "ok", SudoUser: "Bad User"}, "not a valid user name"},
		{"password", HostOptions{Name: "ok", RootPassword: "a\nb"}, "chpasswd"},
		{"key", HostOptions{Name: "ok", AuthorizedKeys: []string{"ssh-ed25519 AAAA\nx"}}, "several lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(t.Context(), tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "a\nb", "the password must not be echoed")
		})
	}
}

func TestHostNameFor(t *testing.T) {
	assert.Equal(t, "testfoo-sub-case-1", hostNameFor("TestFoo/sub_case#1"))
	assert.Equal(t, "host", hostNameFor("///"))
	long := hostNameFor(strings.Repeat("Abc/", 30))
	assert.LessOrEqual(t, len(long), 40)
	assert.Regexp(t, namePattern, long+"-abcdef-12")
}

func TestUnescapeMountPath(t *testing.T) {
	assert.Equal(t, "/tmp/a b/c", unescapeMountPath(`/tmp/a\040b/c`))
	assert.Equal(t, `/plain`, unescapeMountPath(`/plain`))
	assert.Equal(t, `/odd\9`, unescapeMountPath(`/odd\9`))
}

func TestServeInstallScript(t *testing.T) {
	url, stop, err := serveInstallScript(t.Context(), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(stop)

	resp, err := http.Get(url)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, installScript, string(body))
	assert.True(t, strings.HasPrefix(string(body), "#!/bin/sh"))
	assert.Contains(t, string(body), "docker.io")

	resp, err = http.Get(strings.TrimSuffix(url, "install.sh") + "other")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	stop()
	_, err = http.Get(url)
	assert.Error(t, err, "the server must be gone after stop")
}

// The embedded scripts are run by sh on hosts; a syntax error would only
// show up there, a minute into an integration test.
func TestScriptsParse(t *testing.T) {
	for name, text := range map[string]string{"install.sh": installScript, "setup-rootfs.sh": setupScript} {
		out, err := exec.Command("sh", "-n", "-c", text).CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
}

// Runs install.sh where it must refuse: as a user who is neither root nor a
// passwordless sudoer (faked with stand-ins for id and sudo, so the test
// never reaches apt-get whoever runs it). It must exit non-zero and say why.
func TestInstallScriptRefusesWithoutRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "id", "#!/bin/sh\ncase \"$1\" in -u) echo 1000;; -un) echo nobody;; esac\n")
	writeFile(t, dir, "sudo", "#!/bin/sh\nexit 1\n")
	require.NoError(t, os.Chmod(filepath.Join(dir, "id"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "sudo"), 0o755))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	out, err := exec.Command("sh", "-c", installScript).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "must run as root or as a user with passwordless sudo (ran as nobody)")
	assert.NotContains(t, string(out), "updating package lists")
}
