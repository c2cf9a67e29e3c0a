package virtualbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/fleetdock/machine/drivers/internal/delay"
)

// runner runs one VBoxManage command. The real one execs the binary; unit
// tests give the driver a scripted one.
type runner interface {
	run(ctx context.Context, stdin io.Reader, args ...string) (stdout string, err error)
}

// execRunner runs the VBoxManage binary at path.
type execRunner struct{ path string }

// errorLine is how VBoxManage reports a failure. It sometimes does so with
// exit status 0 (a missing host-only interface is only a "warning" line,
// but other commands print "error:" and still exit 0), so stderr decides,
// as it does for the stock driver.
var errorLine = regexp.MustCompile(`VBoxManage([.a-zA-Z]*): error:`)

// Transient failures VBoxManage reports while VBoxSVC is busy; the stock
// driver and vagrant retry them.
var transient = []string{"The object is not ready", "CO_E_SERVER_EXEC_FAILURE"}

const maxAttempts = 5

func (r execRunner) run(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	pause := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, stderr, err := r.once(ctx, stdin, args)
		if err == nil {
			return out, nil
		}
		// Only commands without input can be repeated.
		if stdin != nil || attempt == maxAttempts || !containsAny(stderr, transient) || ctx.Err() != nil {
			return out, err
		}
		logger().Debug("VBoxManage is busy; trying again", "command", args[0], "attempt", attempt)
		if err := delay.Sleep(ctx, pause); err != nil {
			return out, err
		}
		pause *= 2
	}
}

func (r execRunner) once(ctx context.Context, stdin io.Reader, args []string) (string, string, error) {
	cmd := exec.CommandContext(ctx, r.path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, stdin
	// A killed VBoxManage must not keep the pipes (and so the caller) open.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	logger().Debug("VBoxManage", "args", strings.Join(args, " "), "took", time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("VBoxManage %s: %w", args[0], ctx.Err())
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), &vboxError{Args: args, Stderr: stderr.String(), Stdout: stdout.String(), ExitCode: exit.ExitCode()}
	case err != nil:
		return "", "", fmt.Errorf("running %s: %w", r.path, err)
	case errorLine.MatchString(stderr.String()):
		return stdout.String(), stderr.String(), &vboxError{Args: args, Stderr: stderr.String(), Stdout: stdout.String()}
	}
	if w := strings.TrimSpace(stderr.String()); strings.Contains(w, "warning:") {
		logger().Debug("VBoxManage warned", "command", args[0], "warning", w)
	}
	return stdout.String(), stderr.String(), nil
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// findVBoxManage locates VBoxManage as the stock driver does: the install
// directories VirtualBox's installers export (VBOX_INSTALL_PATH,
// VBOX_MSI_INSTALL_PATH), then PATH, then the platform's default install
// location.
func findVBoxManage() (string, error) {
	name := "VBoxManage"
	if runtime.GOOS == "windows" {
		name = "VBoxManage.exe"
	}
	var tried []string
	for _, env := range []string{"VBOX_INSTALL_PATH", "VBOX_MSI_INSTALL_PATH"} {
		// The installers may leave a list with a trailing separator.
		for _, dir := range filepath.SplitList(os.Getenv(env)) {
			if dir == "" {
				continue
			}
			p := filepath.Join(dir, name)
			tried = append(tried, p+" ("+env+")")
			if isExecutable(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	tried = append(tried, name+" in PATH")
	for _, p := range defaultLocations() {
		tried = append(tried, p)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("VBoxManage not found (looked for %s): install VirtualBox from https://www.virtualbox.org, or set VBOX_INSTALL_PATH to the directory that holds VBoxManage", strings.Join(tried, ", "))
}

func defaultLocations() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"/Applications/VirtualBox.app/Contents/MacOS/VBoxManage", "/usr/local/bin/VBoxManage"}
	case "windows":
		return []string{`C:\Program Files\Oracle\VirtualBox\VBoxManage.exe`}
	}
	return []string{"/usr/bin/VBoxManage", "/usr/local/bin/VBoxManage"}
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return false
	}
	return runtime.GOOS == "windows" || st.Mode()&0o111 != 0
}

// version is a VirtualBox version.
type version struct{ Major, Minor, Patch int }

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

func (v version) atLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

var versionLine = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// parseVersion reads `VBoxManage --version`. The Linux wrapper script may
// print warnings first ("WARNING: The vboxdrv kernel module is not
// loaded..."), so the first line that looks like a version wins:
// "7.2.22_Debianr175245", "6.1.50r161033".
func parseVersion(out string) (version, error) {
	for _, line := range strings.Split(out, "\n") {
		m := versionLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		var v version
		v.Major, _ = strconv.Atoi(m[1])
		v.Minor, _ = strconv.Atoi(m[2])
		v.Patch, _ = strconv.Atoi(m[3])
		return v, nil
	}
	return version{}, fmt.Errorf("VBoxManage --version printed no version: %q", strings.TrimSpace(out))
}

// checkVersion refuses what the driver cannot drive. Stock refuses
// VirtualBox before 4.3 and warns before 5; this driver's disk commands
// (clonemedium, modifymedium --resize) arrived in 5.1.
func checkVersion(v version) error {
	if !v.atLeast(5, 1, 0) {
		return fmt.Errorf("VirtualBox %s is too old: the virtualbox driver needs VirtualBox 5.1 or later; upgrade from https://www.virtualbox.org", v)
	}
	return nil
}
