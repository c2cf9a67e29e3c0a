package hostworld

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

const (
	// labelKey marks every container the hostworld starts, so leaked ones
	// can always be found and removed.
	labelKey = "fleetdock.hostworld"
	// sudoUserLabel records the sudo user so FindHost can report it.
	sudoUserLabel = labelKey + ".sudo-user"
	instanceLabel = labelKey + ".instance"
	// bootTimeout bounds the wait for systemd and sshd after a start.
	bootTimeout = 90 * time.Second
	// stopTimeout is how long systemd gets to shut down before docker kills it.
	stopTimeout = 20
	// DefaultSudoUser is the second login created on every host.
	DefaultSudoUser = "admin"
)

// vmFlags make a container behave like a VM on this kind of machine: systemd
// as PID 1 with its own cgroups, nested Docker working (/var/lib/docker is a
// volume, not overlay). --privileged does not work here (CAP_SYS_RESOURCE is
// missing from the bounding set), hence the explicit capability list.
// SIGRTMIN+3 asks systemd for a clean shutdown (SIGTERM would make it
// re-execute itself and docker stop would end in a kill).
var vmFlags = []string{
	"--stop-signal", "SIGRTMIN+3",
	"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
	"--security-opt", "seccomp=unconfined",
	"--security-opt", "apparmor=unconfined",
	"--security-opt", "systempaths=unconfined",
	"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
	"--tmpfs", "/run", "--tmpfs", "/run/lock",
	"-v", "/var/lib/docker",
}

// HostOptions describes one VM-like host.
type HostOptions struct {
	// Name is the container name and the hostname. Required.
	Name string
	// Image defaults to EnsureImage(ctx, ImageOptions{}).
	Image string
	// RootPassword, if set, becomes root's password (SSH password login is on).
	RootPassword string
	// AuthorizedKeys are authorized_keys lines for root and the sudo user.
	AuthorizedKeys []string
	// SudoUser is a second login with passwordless sudo and the same keys;
	// default "admin". "root" means no second user.
	SudoUser string
	// Labels are added to the container next to fleetdock.hostworld=1.
	Labels map[string]string
	// Network is the docker network to attach to; default "bridge".
	Network string
}

// Host is a running VM-like container.
type Host struct {
	Name        string
	ContainerID string
	IP          string // address on Network, reachable from this machine
	SudoUser    string
	network     string
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
var userPattern = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// Start runs a host container, waits until systemd is up and sshd answers,
// installs the credentials and creates the sudo user. On any failure it
// removes the container it created.
func Start(ctx context.Context, opts HostOptions) (*Host, error) {
	if !namePattern.MatchString(opts.Name) {
		return nil, fmt.Errorf("host name %q is not usable as a hostname: use letters, digits and '-' (at most 63)", opts.Name)
	}
	if opts.SudoUser == "" {
		opts.SudoUser = DefaultSudoUser
	}
	if !userPattern.MatchString(opts.SudoUser) {
		return nil, fmt.Errorf("sudo user %q of host %s is not a valid user name", opts.SudoUser, opts.Name)
	}
	if opts.Network == "" {
		opts.Network = "bridge"
	}
	for _, k := range opts.AuthorizedKeys {
		if strings.ContainsAny(k, "\r\n") {
			return nil, fmt.Errorf("an authorized key for host %s spans several lines: pass one key per entry", opts.Name)
		}
	}
	// chpasswd splits its line at the first ':', so a password may hold
	// colons (ECS allows them); only a line break would end the line.
	if strings.ContainsAny(opts.RootPassword, "\r\n") {
		return nil, fmt.Errorf("the root password for host %s contains a line break, which chpasswd cannot take", opts.Name)
	}
	if opts.Image == "" {
		img, err := EnsureImage(ctx, ImageOptions{})
		if err != nil {
			return nil, err
		}
		opts.Image = img
	}

	start := time.Now()
	// A label unique to this call finds the container even when docker run
	// fails after creating it (or is cancelled before printing its id).
	instance := randomSuffix() + randomSuffix()
	args := []string{"run", "-d", "--hostname", opts.Name, "--name", opts.Name, "--network", opts.Network,
		"--label", labelKey + "=1", "--label", sudoUserLabel + "=" + opts.SudoUser,
		"--label", instanceLabel + "=" + instance}
	keys := make([]string, 0, len(opts.Labels))
	for k := range opts.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, "--label", k+"="+opts.Labels[k])
	}
	args = append(args, vmFlags...)
	args = append(args, opts.Image, "/sbin/init")
	cleanup := func(err error) error {
		// The caller's context may be what failed; cleanup gets its own.
		rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rmErr := RemoveAllLabelled(rmCtx, map[string]string{instanceLabel: instance}); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("also failed to remove its container: %w", rmErr))
		}
		return err
	}
	out, err := docker(ctx, nil, args...)
	if err != nil {
		if ce, ok := errors.AsType[*CommandError](err); ok && strings.Contains(ce.Stderr, "already in use") {
			return nil, fmt.Errorf("starting host %s: a container of that name exists; remove it with 'testhost down --name %s': %w",
				opts.Name, opts.Name, err)
		}
		return nil, cleanup(fmt.Errorf("starting host %s: %w", opts.Name, err))
	}
	h := &Host{Name: opts.Name, ContainerID: strings.TrimSpace(out), SudoUser: opts.SudoUser, network: opts.Network}
	if err := h.setUp(ctx, opts); err != nil {
		return nil, cleanup(err)
	}
	slog.InfoContext(ctx, "hostworld: host is up", "host", h.Name, "ip", h.IP, "took", time.Since(start).Round(time.Millisecond))
	return h, nil
}

func (h *Host) setUp(ctx context.Context, opts HostOptions) error {
	if err := h.waitBooted(ctx); err != nil {
		return err
	}
	if opts.RootPassword != "" {
		// Through stdin: the password never appears on a command line.
		if _, err := h.execStdin(ctx, "root:"+opts.RootPassword+"\n", "chpasswd"); err != nil {
			return fmt.Errorf("setting the root password on host %s: %w", h.Name, err)
		}
	}
	keys := strings.Join(opts.AuthorizedKeys, "\n") + "\n"
	if _, err := h.execStdin(ctx, keys, "sh", "-c",
		"umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys"); err != nil {
		return fmt.Errorf("installing authorized keys for root on host %s: %w", h.Name, err)
	}
	if opts.SudoUser != "root" {
		// "*" as password hash: no password login, but not "locked", which
		// would make sshd refuse key logins too.
		script := `set -e
u="$1"
id -u "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo "$u"
usermod -p '*' "$u"
echo "$u ALL=(ALL) NOPASSWD:ALL" > "/etc/sudoers.d/90-hostworld-$u"
chmod 0440 "/etc/sudoers.d/90-hostworld-$u"
home=$(getent passwd "$u" | cut -d: -f6)
install -d -m 0700 -o "$u" -g "$u" "$home/.ssh"
install -m 0600 -o "$u" -g "$u" /root/.ssh/authorized_keys "$home/.ssh/authorized_keys"`
		if _, err := h.execStdin(ctx, "", "sh", "-c", script, "sh", opts.SudoUser); err != nil {
			return fmt.Errorf("creating sudo user %s on host %s: %w", opts.SudoUser, h.Name, err)
		}
	}
	return nil
}

// waitBooted waits until systemd reports running (or degraded: a unit
// failed, the system is up) and sshd greets on IP:22, then refreshes h.IP.
// Both waits share one deadline of bootTimeout.
func (h *Host) waitBooted(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	err := waitFor(ctx, "systemd to finish booting on host "+h.Name, bootTimeout, func(ctx context.Context) (bool, error) {
		st, err := h.inspect(ctx)
		if err != nil {
			if isNoSuch(err) {
				return false, poll.Permanent(fmt.Errorf("host %s: %w", h.Name, err))
			}
			return false, err
		}
		if !st.State.Running {
			logs, _ := docker(ctx, nil, "logs", "--tail", "30", h.ContainerID)
			return false, poll.Permanent(fmt.Errorf("the container of host %s exited (code %d) while booting; its last output:\n%s",
				h.Name, st.State.ExitCode, logs))
		}
		out, _ := docker(ctx, nil, "exec", h.ContainerID, "systemctl", "is-system-running")
		switch s := strings.TrimSpace(out); s {
		case "running", "degraded":
			return true, nil
		default:
			return false, fmt.Errorf("systemd state is %q", s)
		}
	})
	if err != nil {
		return fmt.Errorf("%w%s", err, h.bootDiagnostics(ctx))
	}
	if err := h.refreshIP(ctx); err != nil {
		return err
	}
	addr := net.JoinHostPort(h.IP, "22")
	return waitFor(ctx, "sshd on "+addr+" of host "+h.Name, bootTimeout, func(ctx context.Context) (bool, error) {
		return sshGreets(ctx, addr)
	})
}

// bootDiagnostics returns what systemd still waits for and what failed, for
// the error of a host that did not boot: Start removes the container, so
// this is the only chance to see it.
func (h *Host) bootDiagnostics(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	out, err := docker(ctx, nil, "exec", h.ContainerID, "sh", "-c",
		"echo '--- failed units:'; systemctl --failed --no-legend; echo '--- pending jobs:'; systemctl list-jobs --no-legend | head -20")
	if err != nil {
		return ""
	}
	return "\n" + strings.TrimSpace(out)
}

// sshGreets tells whether an SSH server answers on addr with its banner.
func sshGreets(ctx context.Context, addr string) (bool, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return false, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return false, fmt.Errorf("no SSH banner from %s: %w", addr, err)
	}
	if !strings.HasPrefix(line, "SSH-") {
		return false, fmt.Errorf("%s answered %q, not an SSH banner", addr, strings.TrimSpace(line))
	}
	return true, nil
}

type containerInfo struct {
	ID     string
	Config struct {
		Labels map[string]string
	}
	State struct {
		Running  bool
		ExitCode int
	}
	NetworkSettings struct {
		Networks map[string]struct{ IPAddress string }
	}
	Mounts []struct {
		Type string
		Name string
	}
}

func inspectContainer(ctx context.Context, ref string) (*containerInfo, error) {
	out, err := docker(ctx, nil, "container", "inspect", ref)
	if err != nil {
		return nil, err
	}
	var infos []containerInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil || len(infos) != 1 {
		return nil, fmt.Errorf("unexpected output of docker container inspect %s: %v", ref, err)
	}
	return &infos[0], nil
}

func (h *Host) inspect(ctx context.Context) (*containerInfo, error) {
	info, err := inspectContainer(ctx, h.ContainerID)
	if err != nil {
		return nil, fmt.Errorf("inspecting host %s: %w", h.Name, err)
	}
	return info, nil
}

func (h *Host) refreshIP(ctx context.Context) error {
	info, err := h.inspect(ctx)
	if err != nil {
		return err
	}
	ip := info.NetworkSettings.Networks[h.network].IPAddress
	if ip == "" {
		return fmt.Errorf("host %s has no IP address on docker network %q", h.Name, h.network)
	}
	h.IP = ip
	return nil
}

// Volumes names the anonymous volumes of the host (its /var/lib/docker).
func (h *Host) Volumes(ctx context.Context) ([]string, error) {
	info, err := h.inspect(ctx)
	if err != nil {
		return nil, err
	}
	var vols []string
	for _, m := range info.Mounts {
		if m.Type == "volume" {
			vols = append(vols, m.Name)
		}
	}
	return vols, nil
}

// Exec runs cmd with sh -c as root inside the host and returns its stdout.
// The error carries stderr and the command line, so keep secrets out of cmd
// (write them to a file on the host instead).
func (h *Host) Exec(ctx context.Context, cmd string) (string, error) {
	out, err := docker(ctx, nil, "exec", h.ContainerID, "sh", "-c", cmd)
	if err != nil {
		return out, fmt.Errorf("running a command on host %s: %w", h.Name, err)
	}
	return out, nil
}

// execStdin runs argv inside the host with stdin; used to pass secrets.
func (h *Host) execStdin(ctx context.Context, stdin string, argv ...string) (string, error) {
	args := append([]string{"exec", "-i", h.ContainerID}, argv...)
	return docker(ctx, strings.NewReader(stdin), args...)
}

// Stop shuts the host down the way a VM powers off: systemd stops its units.
func (h *Host) Stop(ctx context.Context) error {
	if _, err := docker(ctx, nil, "stop", "--time", fmt.Sprint(stopTimeout), h.ContainerID); err != nil {
		return fmt.Errorf("stopping host %s: %w", h.Name, err)
	}
	return nil
}

// StartAgain boots a stopped host and waits for it like Start does. The
// address may change, so h.IP is refreshed.
func (h *Host) StartAgain(ctx context.Context) error {
	if _, err := docker(ctx, nil, "start", h.ContainerID); err != nil {
		return fmt.Errorf("starting host %s again: %w", h.Name, err)
	}
	return h.waitBooted(ctx)
}

// Remove deletes the host's container and its anonymous volumes. Removing a
// host that is already gone is not an error.
func (h *Host) Remove(ctx context.Context) error {
	if err := removeContainers(ctx, h.ContainerID); err != nil {
		return fmt.Errorf("removing host %s: %w", h.Name, err)
	}
	return nil
}

func removeContainers(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := docker(ctx, nil, append([]string{"rm", "--force", "--volumes"}, refs...)...)
	if err != nil && !isNoSuch(err) {
		return err
	}
	return nil
}

// RemoveAllLabelled removes every hostworld container carrying all labels
// (all hostworld containers when labels is empty), with their volumes.
// Containers not started by the hostworld are never touched.
func RemoveAllLabelled(ctx context.Context, labels map[string]string) error {
	args := []string{"ps", "--all", "--quiet", "--no-trunc", "--filter", "label=" + labelKey + "=1"}
	for k, v := range labels {
		args = append(args, "--filter", "label="+k+"="+v)
	}
	out, err := docker(ctx, nil, args...)
	if err != nil {
		return engineError(err)
	}
	if err := removeContainers(ctx, strings.Fields(out)...); err != nil {
		return fmt.Errorf("removing hostworld containers: %w", err)
	}
	return nil
}

// ErrNoHost is returned by FindHost when no hostworld host has the name.
var ErrNoHost = errors.New("no such hostworld host")

// FindHost returns the hostworld host named name, running or stopped, so a
// process other than the one that started it can manage it.
func FindHost(ctx context.Context, name string) (*Host, error) {
	info, err := inspectContainer(ctx, name)
	if err != nil {
		if isNoSuch(err) {
			return nil, fmt.Errorf("host %s: %w", name, ErrNoHost)
		}
		return nil, engineError(err)
	}
	if info.Config.Labels[labelKey] != "1" {
		return nil, fmt.Errorf("container %s was not started by the hostworld (it has no %s=1 label): leaving it alone", name, labelKey)
	}
	h := &Host{Name: name, ContainerID: info.ID, SudoUser: info.Config.Labels[sudoUserLabel]}
	// Hosts sit on one network; take it and its address.
	for n, s := range info.NetworkSettings.Networks {
		h.network, h.IP = n, s.IPAddress
	}
	return h, nil
}

// GatewayIP returns the default bridge's gateway address (e.g. 172.17.0.1):
// the address of this machine that containers reach.
func GatewayIP(ctx context.Context) (string, error) {
	out, err := docker(ctx, nil, "network", "inspect", "bridge", "--format",
		`{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options "com.docker.network.bridge.name"}}`)
	if err != nil {
		return "", engineError(err)
	}
	gws, bridge, _ := strings.Cut(strings.TrimSpace(out), "|")
	for _, gw := range strings.Fields(gws) {
		if ip := net.ParseIP(gw); ip != nil && ip.To4() != nil {
			return gw, nil
		}
	}
	// The daemon chose the subnet itself and recorded no gateway: take the
	// bridge interface's address.
	if bridge == "" {
		bridge = "docker0"
	}
	iface, err := net.InterfaceByName(bridge)
	if err != nil {
		return "", fmt.Errorf("finding the docker bridge interface %s: %w", bridge, err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return "", fmt.Errorf("reading addresses of %s: %w", bridge, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", fmt.Errorf("the docker bridge %s has no IPv4 address", bridge)
}

// randomSuffix returns 6 random hex digits for names and labels.
func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
