package cloudsim

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fleetdock/machine/integration/hostworld"
)

// Labels on every container a ContainerBackend starts, so a leaked one can be
// traced to its simulator run and instance.
const (
	labelRun      = "fleetdock.cloudsim.run"
	labelInstance = "fleetdock.cloudsim.instance"
)

// ContainerOptions configure a ContainerBackend.
type ContainerOptions struct {
	// Image is the host image; default hostworld.EnsureImage's.
	Image string
	// Logger receives the backend's logs; default slog.Default().
	Logger *slog.Logger
}

// ContainerBackend runs each instance as a VM-like host container of the
// hostworld (systemd, sshd; see integration/hostworld):
//
//   - the container is named cloudsim-<instance ID> and labelled with the
//     simulator run and the instance ID; its hostname is the instance's
//     HostName, set again after every boot;
//   - root takes the instance's Password and the key pair's public key; the
//     image's login user (InstanceSpec.SudoUser: ecs-user, or ubuntu on EC2) gets the same key;
//   - the private IP is the container's address on the Docker bridge;
//   - Stop/Start/Reboot stop and start the container (its disk survives),
//     Delete removes it with its volumes;
//   - UserData runs once, at the first boot, in the background as cloud-init
//     would (scripts starting with "#!"; other formats are logged and skipped).
//     The host fetches it once from a small HTTP server on the Docker bridge
//     gateway, so the data never shows on a command line.
type ContainerBackend struct {
	opts ContainerOptions
	log  *slog.Logger
	run  string

	prepMu sync.Mutex
	image  string
	ud     *userDataServer

	mu    sync.Mutex
	hosts map[string]*containerHost
}

type containerHost struct {
	mu           sync.Mutex // one operation at a time per instance
	spec         InstanceSpec
	host         *hostworld.Host
	userDataDone bool
	deleted      bool
}

// NewContainerBackend returns a backend that runs hostworld containers.
func NewContainerBackend(opts ContainerOptions) *ContainerBackend {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &ContainerBackend{opts: opts, log: opts.Logger, run: randomID(12), hosts: map[string]*containerHost{}}
}

func (b *ContainerBackend) Name() string { return "container" }

// RunLabel is the label key and value every container of this backend has.
func (b *ContainerBackend) RunLabel() (key, value string) { return labelRun, b.run }

// Prepare builds (or finds) the host image and starts the user data server,
// so the first instance boots without that wait. Start calls it when needed.
func (b *ContainerBackend) Prepare(ctx context.Context) error {
	b.prepMu.Lock()
	defer b.prepMu.Unlock()
	if b.image == "" {
		img := b.opts.Image
		if img == "" {
			var err error
			if img, err = hostworld.EnsureImage(ctx, hostworld.ImageOptions{}); err != nil {
				return fmt.Errorf("preparing the host image for cloudsim instances: %w", err)
			}
		}
		b.image = img
	}
	if b.ud == nil {
		ud, err := startUserDataServer(ctx, b.log)
		if err != nil {
			return err
		}
		b.ud = ud
	}
	return nil
}

func (b *ContainerBackend) entry(id string) (*containerHost, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hosts[id]
	if h == nil {
		return nil, fmt.Errorf("instance %s is unknown to the container backend", id)
	}
	return h, nil
}

func (b *ContainerBackend) Create(_ context.Context, spec InstanceSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hosts[spec.ID] = &containerHost{spec: spec}
	return nil
}

func containerName(id string) string { return "cloudsim-" + id }

func (b *ContainerBackend) Start(ctx context.Context, id string) (Addresses, error) {
	h, err := b.entry(id)
	if err != nil {
		return Addresses{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deleted {
		return Addresses{}, fmt.Errorf("instance %s was deleted while it was starting", id)
	}
	if err := b.Prepare(ctx); err != nil {
		return Addresses{}, err
	}
	b.prepMu.Lock()
	image, ud := b.image, b.ud
	b.prepMu.Unlock()
	if h.host == nil {
		host, err := hostworld.Start(ctx, hostworld.HostOptions{
			Name: containerName(id), Image: image, RootPassword: h.spec.Password,
			AuthorizedKeys: h.spec.AuthorizedKeys, SudoUser: cmp.Or(h.spec.SudoUser, "ecs-user"),
			Labels: map[string]string{labelRun: b.run, labelInstance: id},
		})
		if err != nil {
			return Addresses{}, fmt.Errorf("starting the host of instance %s: %w", id, err)
		}
		h.host = host
	} else if err := h.host.StartAgain(ctx); err != nil {
		return Addresses{}, fmt.Errorf("starting the host of instance %s again: %w", id, err)
	}
	if err := setHostName(ctx, h.host, h.spec.HostName); err != nil {
		return Addresses{}, err
	}
	if !h.userDataDone && len(h.spec.UserData) > 0 && ud != nil {
		// Once, even if it fails: cloud-init does not retry user data either.
		h.userDataDone = true
		b.runUserData(ctx, h, ud)
	}
	return Addresses{PrivateIP: h.host.IP}, nil
}

// setHostName makes the host answer to its instance's HostName (Docker
// resets the hostname and /etc/hosts at every container start).
func setHostName(ctx context.Context, host *hostworld.Host, name string) error {
	if !hostNamePattern.MatchString(name) {
		return fmt.Errorf("host name %q is not a valid hostname", name)
	}
	script := fmt.Sprintf(`hostname %[1]s 2>/dev/null || printf '%%s' %[1]s > /proc/sys/kernel/hostname
printf '%%s\n' %[1]s > /etc/hostname
grep -q '[[:space:]]%[1]s$' /etc/hosts || printf '127.0.1.1\t%%s\n' %[1]s >> /etc/hosts`, name)
	if _, err := host.Exec(ctx, script); err != nil {
		return fmt.Errorf("setting the hostname of instance host %s: %w", host.Name, err)
	}
	return nil
}

// runUserData has the host fetch its user data once and run it in the
// background; output goes to /var/log/cloudsim-user-data.log in the host.
func (b *ContainerBackend) runUserData(ctx context.Context, h *containerHost, ud *userDataServer) {
	if !bytes.HasPrefix(h.spec.UserData, []byte("#!")) {
		if _, err := h.host.Exec(ctx, "echo 'cloudsim: user data is not a script (it does not start with #!); not run' > /var/log/cloudsim-user-data.log"); err != nil {
			b.log.Warn("cloudsim: noting skipped user data failed", "instance", h.spec.ID, "err", err)
		}
		return
	}
	url := ud.offer(h.spec.UserData)
	script := `set -e
mkdir -p /var/lib/cloudsim
curl -fsS -o /var/lib/cloudsim/user-data '` + url + `'
chmod 0700 /var/lib/cloudsim/user-data
setsid /var/lib/cloudsim/user-data > /var/log/cloudsim-user-data.log 2>&1 < /dev/null &`
	if _, err := h.host.Exec(ctx, script); err != nil {
		b.log.Warn("cloudsim: running the user data of an instance failed", "instance", h.spec.ID, "err", err)
	}
}

func (b *ContainerBackend) Stop(ctx context.Context, id string) error {
	h, err := b.entry(id)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.host == nil {
		return nil
	}
	return h.host.Stop(ctx)
}

func (b *ContainerBackend) Delete(ctx context.Context, id string) error {
	b.mu.Lock()
	h := b.hosts[id]
	delete(b.hosts, id)
	b.mu.Unlock()
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleted = true
	if h.host == nil {
		return nil
	}
	// The removal must happen even when the caller's context ends.
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	return h.host.Remove(rmCtx)
}

func (b *ContainerBackend) Addresses(_ context.Context, id string) (Addresses, error) {
	h, err := b.entry(id)
	if err != nil {
		return Addresses{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.host == nil {
		return Addresses{PrivateIP: h.spec.PrivateIP}, nil
	}
	return Addresses{PrivateIP: h.host.IP}, nil
}

// Close removes every container this backend started (including any a
// cancelled start left) and stops the user data server.
func (b *ContainerBackend) Close(ctx context.Context) error {
	b.mu.Lock()
	ids := make([]string, 0, len(b.hosts))
	for id := range b.hosts {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := b.Delete(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := hostworld.RemoveAllLabelled(rmCtx, map[string]string{labelRun: b.run}); err != nil {
		errs = append(errs, fmt.Errorf("removing the containers of cloudsim run %s: %w", b.run, err))
	}
	b.prepMu.Lock()
	if b.ud != nil {
		b.ud.close()
		b.ud = nil
	}
	b.prepMu.Unlock()
	return errors.Join(errs...)
}

// userDataServer hands each host its user data once, over HTTP on the
// Docker bridge gateway (the only address of this machine containers reach),
// under a random one-time path.
type userDataServer struct {
	ln    net.Listener
	srv   *http.Server
	base  string
	mu    sync.Mutex
	blobs map[string][]byte
}

func startUserDataServer(ctx context.Context, log *slog.Logger) (*userDataServer, error) {
	gw, err := hostworld.GatewayIP(ctx)
	if err != nil {
		return nil, fmt.Errorf("finding the Docker bridge gateway for the user data server: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		return nil, fmt.Errorf("binding the user data server on the Docker bridge gateway %s: %w", gw, err)
	}
	u := &userDataServer{ln: ln, base: "http://" + ln.Addr().String() + "/user-data/", blobs: map[string][]byte{}}
	u.srv = &http.Server{Handler: http.HandlerFunc(u.serve), ReadHeaderTimeout: 30 * time.Second}
	go func() {
		if err := u.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("cloudsim: user data server stopped", "err", err)
		}
	}()
	return u, nil
}

func (u *userDataServer) offer(data []byte) string {
	token := randomID(32)
	u.mu.Lock()
	u.blobs[token] = data
	u.mu.Unlock()
	return u.base + token
}

func (u *userDataServer) serve(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.URL.Path, "/user-data/")
	u.mu.Lock()
	data, ok := u.blobs[token]
	delete(u.blobs, token)
	u.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(data)
}

func (u *userDataServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = u.srv.Shutdown(ctx)
}
