package provision

import (
	"context"
	"log/slog"
	"time"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

// DefaultDockerPort is the TLS port used when Options.DockerPort is zero.
const DefaultDockerPort = 2376

// DefaultMinFreeBytes is the free space Docker's data directory needs.
const DefaultMinFreeBytes = 2 << 30

// Remote paths of the daemon's TLS material and configuration.
const (
	RemoteCACert     = "/etc/docker/ca.pem"
	RemoteServerCert = "/etc/docker/server.pem"
	RemoteServerKey  = "/etc/docker/server-key.pem"
	RemoteDaemonJSON = "/etc/docker/daemon.json"
	RemoteDropIn     = "/etc/systemd/system/docker.service.d/10-machine.conf"
	dockerDataDir    = "/var/lib/docker"
)

// DataDisk is a block device to hold /var/lib/docker.
type DataDisk struct {
	// Device is the block device, e.g. /dev/vdb or a /dev/disk/by-id link.
	Device string
	// FS is "ext4" (the default when empty) or "xfs"; used only when the
	// device has no filesystem yet.
	FS string
}

// Timeouts bound every wait. Zero fields take the defaults shown.
type Timeouts struct {
	Command     time.Duration // one ordinary command: 2m
	CloudInit   time.Duration // cloud-init status --wait: 10m
	PackageLock time.Duration // waiting for another package manager to finish: 10m
	Install     time.Duration // installing or upgrading Docker and packages: 20m
	Format      time.Duration // formatting the data disk: 10m
	Restart     time.Duration // systemctl restart docker: 3m
	Docker      time.Duration // until CheckDocker succeeds: 3m
	URLCheck    time.Duration // reaching the install URL from the host: 30s
	// PollInitial and PollMax shape the backoff between checks: 500ms
	// doubling up to 10s.
	PollInitial time.Duration
	PollMax     time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Command, 2*time.Minute)
	def(&t.CloudInit, 10*time.Minute)
	def(&t.PackageLock, 10*time.Minute)
	def(&t.Install, 20*time.Minute)
	def(&t.Format, 10*time.Minute)
	def(&t.Restart, 3*time.Minute)
	def(&t.Docker, 3*time.Minute)
	def(&t.URLCheck, 30*time.Second)
	def(&t.PollInitial, 500*time.Millisecond)
	def(&t.PollMax, 10*time.Second)
	return t
}

// Options say what the host should become.
type Options struct {
	MachineName string
	DriverName  string // added as the label provider=DRIVER
	Engine      *hostopts.Engine
	DockerPort  int // TLS port from the machine URL; DefaultDockerPort when 0

	// PEM material for the daemon. The CA's private key is never needed
	// here and must never be sent to a host.
	CACert, ServerCert, ServerKey []byte

	// DataDisk, when set, is formatted if blank and mounted on
	// /var/lib/docker through /etc/fstab before Docker first starts.
	DataDisk *DataDisk

	// CheckDocker performs the caller's TLS handshake with the Docker API
	// using the client certificate; Provision polls it until it returns nil.
	// When nil, Provision instead polls "docker version" on the host over
	// the unix socket, which proves the daemon runs but not that TLS works.
	CheckDocker func(ctx context.Context) error

	// Progress receives one line per step ("Installing Docker..."); may be nil.
	Progress func(step string)

	// MinFreeBytes is the free space required under Docker's data
	// directory; DefaultMinFreeBytes when 0, no check when negative.
	MinFreeBytes int64

	Timeouts Timeouts
	Logger   *slog.Logger // slog.Default() when nil
}

// StepTiming is how long one step took.
type StepTiming struct {
	Name     string
	Duration time.Duration
}

// Report says what a run did.
type Report struct {
	OS    string // os-release ID
	Steps []StepTiming
	// Changed is true when the daemon's configuration or certificates
	// changed, which is the only reason Docker is restarted.
	Changed bool
	// Installed is true when Docker was installed by this run; Upgraded
	// when Upgrade changed the engine's version.
	Installed, Upgraded bool
	// Restarted is true when Docker was (re)started by this run.
	Restarted bool
	// EngineVersion is "dockerd --version" after the run.
	EngineVersion string
	// Warnings are settings that were not applied, with the reason.
	Warnings []string
	// Commands counts the remote commands run.
	Commands int
}
