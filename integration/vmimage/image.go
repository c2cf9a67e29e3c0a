package vmimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fleetdock/machine/integration/hostworld"
)

const (
	suite = "bookworm"
	// FileName is the image's name in the cache and on the server.
	FileName = "debian-12-cloud.qcow2"
	// diskSize is the virtual size; drivers grow it to the size asked for.
	diskSize = "3G"
	// recipeVersion changes when the Go side of the build changes in a way
	// the hashed inputs do not show.
	recipeVersion = "1"
	// buildTimeout bounds one build (debootstrap alone takes about 160 s).
	buildTimeout = 20 * time.Minute
)

// packages is what a cloud image offers: a kernel and initramfs to boot,
// systemd with dbus (without dbus an ACPI power button is ignored), sshd,
// sudo, and what provisioners use (curl, ca-certificates, iproute2, procps).
// cloud-init is installed afterwards with apt (see build.sh).
var packages = []string{
	"linux-image-amd64", "initramfs-tools", "zstd", "systemd-sysv", "udev", "dbus",
	"openssh-server", "iproute2", "sudo", "ca-certificates", "curl", "procps",
}

//go:embed build.sh
var buildScript string

// recipe is every input of a build; its hash names the cached image.
type recipe struct {
	mirror string
}

func (r recipe) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe=%s\nsuite=%s\npackages=%s\nmirror=%s\ndisk=%s\nscript=%s",
		recipeVersion, suite, strings.Join(packages, ","), r.mirror, diskSize, buildScript)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Image is a built image in the cache.
type Image struct {
	Path   string // the qcow2 file
	SHA256 string // hex digest of the file
}

// Ensure returns the cached image, building it first if this machine does
// not have it. Concurrent callers, in this process or others, wait for one
// build.
func Ensure(ctx context.Context) (*Image, error) {
	mirror, err := hostworld.Mirror()
	if err != nil {
		return nil, err
	}
	r := recipe{mirror: mirror}
	root, err := cacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, r.hash())
	path := filepath.Join(dir, FileName)
	if img, err := cached(path); err != nil || img != nil {
		return img, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the image cache directory: %w", err)
	}
	unlock, err := lock(ctx, filepath.Join(dir, "build.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if img, err := cached(path); err != nil || img != nil {
		return img, err
	}
	start := time.Now()
	slog.InfoContext(ctx, "vmimage: building the test VM image (debootstrap and GRUB, a few minutes)", "mirror", mirror, "dir", dir)
	if err := build(ctx, mirror, dir, path); err != nil {
		return nil, fmt.Errorf("building the test VM image: %w", err)
	}
	slog.InfoContext(ctx, "vmimage: image built", "path", path, "took", time.Since(start).Round(time.Second))
	return cached(path)
}

// cached returns the image at path with its digest, or nil if it is not
// built. The digest file is written last, so its presence marks a complete
// build.
func cached(path string) (*Image, error) {
	sum, err := os.ReadFile(path + ".sha256")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cached image's digest: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("the cached image %s is incomplete (remove its directory to rebuild): %w", path, err)
	}
	return &Image{Path: path, SHA256: strings.TrimSpace(string(sum))}, nil
}

func build(ctx context.Context, mirror, dir, path string) error {
	if os.Geteuid() != 0 {
		return errors.New("debootstrap, losetup and mount need root: run the integration tests as root")
	}
	for _, tool := range []string{"debootstrap", "sfdisk", "losetup", "blkid", "mkfs.ext4", "grub-install", "qemu-img"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: install debootstrap fdisk util-linux e2fsprogs grub-pc-bin grub2-common qemu-utils: %w", tool, err)
		}
	}
	if _, err := os.Stat("/usr/lib/grub/i386-pc"); err != nil {
		return fmt.Errorf("GRUB's BIOS modules are missing: install grub-pc-bin: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	work := filepath.Join(dir, "work")
	if err := removeWork(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fmt.Errorf("creating the build directory: %w", err)
	}
	defer func() {
		if err := removeWork(work); err != nil {
			slog.Warn("vmimage: could not remove the build directory", "dir", work, "err", err)
		}
	}()
	partial := path + ".partial"
	defer os.Remove(partial)

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "/bin/sh", "-s")
	cmd.Stdin = strings.NewReader(buildScript)
	cmd.Env = append(os.Environ(), "MIRROR="+mirror, "SUITE="+suite, "PACKAGES="+strings.Join(packages, ","),
		"WORK="+work, "OUT="+partial, "DISK_SIZE="+diskSize, "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout = &out
	cmd.Stderr = &out
	// SIGTERM lets the script's trap unmount and detach loop devices.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return fmt.Errorf("build.sh failed (is the mirror %s reachable?): %w\nits output ends with:\n%s", mirror, err, tail(out.String(), 4000))
	}
	sum, err := fileSHA256(partial)
	if err != nil {
		return err
	}
	if err := os.Rename(partial, path); err != nil {
		return fmt.Errorf("storing the built image: %w", err)
	}
	if err := os.WriteFile(path+".sha256", []byte(sum+"\n"), 0o644); err != nil {
		return fmt.Errorf("storing the built image's digest: %w", err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hashing the image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing the image: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// removeWork deletes a build directory, first unmounting whatever a killed
// build left mounted below it: deleting through a bind mount of /dev would
// reach into the machine's /dev.
func removeWork(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	var mounts []string
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("unmounting %s left by an earlier build: %w (unmount it by hand)", mounts[i], err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the build directory %s: %w", dir, err)
	}
	return nil
}

// cacheDir is where built images live: the user cache directory, or the
// temp directory if that is unusable.
func cacheDir() (string, error) {
	var candidates []string
	if d, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "fleetdock-vmimage"))
	}
	candidates = append(candidates, filepath.Join(os.TempDir(), "fleetdock-vmimage"))
	var errs []error
	for _, d := range candidates {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d, nil
		} else {
			errs = append(errs, err)
		}
	}
	return "", fmt.Errorf("no writable cache directory for the VM image (set XDG_CACHE_HOME): %w", errors.Join(errs...))
}

// lock takes an exclusive flock on path, polling so ctx can end the wait.
// The kernel drops the lock if the holder dies.
func lock(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the build lock %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for another build of the VM image (lock %s): %w", path, ctx.Err())
		case <-time.After(pause):
			pause = min(pause*3/2, 2*time.Second)
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
