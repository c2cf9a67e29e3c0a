package hostworld

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// ImageOptions selects the host image.
type ImageOptions struct {
	// WithDocker adds Debian's docker.io, enabled at boot. It skips the
	// install step, so use it only where install speed is not under test.
	WithDocker bool
}

const (
	imageRepo = "fleetdock/hostworld"
	variant   = "minbase"
	// recipeVersion changes when the Go side of the build changes in a way
	// the hashed inputs below do not show.
	recipeVersion = "1"
	// buildWait bounds how long a caller waits for another process's build.
	buildWait = 20 * time.Minute
)

// basePackages is what a minimal cloud VM image offers a provisioner:
// systemd as init, sshd, sudo, curl for install scripts, ip and ss (iproute2)
// and ps for the provisioner's checks.
var basePackages = []string{
	"systemd", "systemd-sysv", "dbus", "openssh-server", "sudo",
	"curl", "ca-certificates", "iproute2", "procps",
}

// importChanges make the imported rootfs boot like a VM: systemd as PID 1,
// told it runs in a container. The image label differs from the container
// label: containers inherit image labels, and labelKey must mark only
// containers that Start made.
var importChanges = []string{
	`CMD ["/sbin/init"]`,
	"ENV container=docker",
	"LABEL " + labelKey + ".image=1",
}

//go:embed setup-rootfs.sh
var setupScript string

// recipe is every input of an image build; its hash names the image.
type recipe struct {
	packages   []string
	sources    aptEntry
	withDocker bool
}

func newRecipe(src aptEntry, opts ImageOptions) recipe {
	pkgs := slices.Clone(basePackages)
	if opts.WithDocker {
		pkgs = append(pkgs, "docker.io")
	}
	slices.Sort(pkgs)
	return recipe{packages: pkgs, sources: src, withDocker: opts.WithDocker}
}

func (r recipe) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe=%s\nsuite=%s\nvariant=%s\npackages=%s\nmirror=%s\nsources=%s\nwith-docker=%t\nchanges=%s\nsetup=%s",
		recipeVersion, suite, variant, strings.Join(r.packages, ","), r.sources.URI, r.sources.sourcesList(),
		r.withDocker, strings.Join(importChanges, "\n"), setupScript)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (r recipe) tag() string {
	kind := suite
	if r.withDocker {
		kind += "-docker"
	}
	return fmt.Sprintf("%s:%s-%s", imageRepo, kind, r.hash())
}

// EnsureImage returns the tag of the Debian 12 host image, building it first
// if this machine does not have it yet. The tag is a hash of every build
// input, so a warm call only asks Docker whether the tag exists. Concurrent
// callers, in this process or others, wait for a single build.
func EnsureImage(ctx context.Context, opts ImageOptions) (string, error) {
	src, err := mirrorFrom("/")
	if err != nil {
		return "", err
	}
	r := newRecipe(src, opts)
	tag := r.tag()
	if ok, err := imageExists(ctx, tag); err != nil {
		return "", err
	} else if ok {
		return tag, nil
	}

	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, r.hash()+".lock"), tag)
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have finished the build while we waited.
	if ok, err := imageExists(ctx, tag); err != nil {
		return "", err
	} else if ok {
		return tag, nil
	}
	start := time.Now()
	slog.InfoContext(ctx, "hostworld: building host image (debootstrap, about a minute)", "image", tag, "mirror", src.URI)
	if err := build(ctx, r, tag, filepath.Join(dir, "build-"+r.hash())); err != nil {
		return "", fmt.Errorf("building host image %s: %w", tag, err)
	}
	slog.InfoContext(ctx, "hostworld: host image built", "image", tag, "took", time.Since(start).Round(time.Second))
	return tag, nil
}

func imageExists(ctx context.Context, tag string) (bool, error) {
	_, err := docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", tag)
	if err == nil {
		return true, nil
	}
	if isNoSuch(err) {
		return false, nil
	}
	return false, engineError(err)
}

// engineError words a failed docker call for the person running the tests.
func engineError(err error) error {
	return fmt.Errorf("cannot use the Docker engine (start dockerd: make test does it): %w", err)
}

// cacheDir is where lock files and build directories live: the user cache
// directory ($XDG_CACHE_HOME), or the temp directory if that is unusable.
func cacheDir() (string, error) {
	var candidates []string
	if d, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "fleetdock-hostworld"))
	}
	candidates = append(candidates, filepath.Join(os.TempDir(), "fleetdock-hostworld"))
	var errs []error
	for _, d := range candidates {
		err := os.MkdirAll(d, 0o755)
		if err == nil {
			return d, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no writable cache directory for host image builds (set XDG_CACHE_HOME): %w", errors.Join(errs...))
}

// lockFile takes an exclusive flock on path, polling so ctx can end the wait.
// The kernel drops the lock if the holder dies, so a killed build never
// blocks the next one.
func lockFile(ctx context.Context, path, tag string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock %s: %w", path, err)
	}
	logged := false
	err = waitFor(ctx, "another process to finish building "+tag, buildWait, func(context.Context) (bool, error) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return false, poll.Permanent(fmt.Errorf("locking %s: %w", path, err))
		}
		if !logged {
			slog.InfoContext(ctx, "hostworld: waiting for another build of the host image", "image", tag, "lock", path)
			logged = true
		}
		return false, err
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// build bootstraps the rootfs in workdir, configures it and imports it as tag.
func build(ctx context.Context, r recipe, tag, workdir string) error {
	if os.Geteuid() != 0 {
		return errors.New("debootstrap needs root: run the integration tests as root")
	}
	for _, tool := range []string{"debootstrap", "chroot", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: install it (apt-get install -y debootstrap coreutils tar): %w", tool, err)
		}
	}
	// A build killed earlier may have left its workdir, mounts included.
	if err := removeTree(workdir); err != nil {
		return err
	}
	rootfs := filepath.Join(workdir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("creating build directory: %w", err)
	}
	defer func() {
		if err := removeTree(workdir); err != nil {
			slog.Warn("hostworld: could not remove build directory", "dir", workdir, "err", err)
		}
	}()

	if _, err := run(ctx, nil, "debootstrap", "--variant="+variant, "--include="+strings.Join(r.packages, ","),
		suite, rootfs, r.sources.URI); err != nil {
		log, _ := os.ReadFile(filepath.Join(rootfs, "debootstrap/debootstrap.log"))
		return fmt.Errorf("debootstrap from %s failed (is the mirror reachable?): %w\ndebootstrap.log ends with:\n%s",
			r.sources.URI, err, tail(string(log), 3000))
	}

	withDocker := "0"
	if r.withDocker {
		withDocker = "1"
	}
	if _, err := run(ctx, strings.NewReader(setupScript), "chroot", rootfs, "/usr/bin/env", "-i",
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "APT_SOURCES="+r.sources.sourcesList(), "WITH_DOCKER="+withDocker,
		"/bin/sh", "-s"); err != nil {
		return fmt.Errorf("configuring the rootfs (setup-rootfs.sh): %w", err)
	}

	return importRootfs(ctx, rootfs, tag)
}

// importRootfs streams the rootfs as a tarball into docker import.
func importRootfs(ctx context.Context, rootfs, tag string) error {
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", "-", ".")
	var tarErr strings.Builder
	tarCmd.Stderr = &tarErr
	out, err := tarCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("packing the rootfs: %w", err)
	}
	if err := tarCmd.Start(); err != nil {
		return fmt.Errorf("packing the rootfs: %w", err)
	}
	args := []string{"import"}
	for _, c := range importChanges {
		args = append(args, "--change", c)
	}
	args = append(args, "-", tag)
	_, importErr := docker(ctx, out, args...)
	if importErr != nil {
		// Unblock tar if docker stopped reading.
		_ = tarCmd.Process.Kill()
	}
	tarWait := tarCmd.Wait()
	if importErr != nil {
		return fmt.Errorf("docker import: %w", importErr)
	}
	if tarWait != nil {
		return fmt.Errorf("packing the rootfs with tar: %w: %s", tarWait, tail(tarErr.String(), 2000))
	}
	return nil
}

// removeTree unmounts whatever is mounted below dir (debootstrap mounts /proc
// and /dev into the target and a killed run leaves them) and then deletes
// dir. Deleting without unmounting would reach into the host's /dev.
func removeTree(dir string) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	// Deepest first, so nested mounts come off before their parents.
	slices.SortFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmounting %s left by an earlier build: %w (unmount it by hand)", m, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing build directory %s: %w", dir, err)
	}
	return nil
}

func mountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountPath(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, sc.Err()
}

// unescapeMountPath decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
