package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/rollback"
)

// PreCreateCheck finds VBoxManage and checks its version, the CPU's
// virtualization support, that no VM of the machine's name exists, and
// fetches the image (so a failed download leaves no machine behind).
func (d *Driver) PreCreateCheck() error {
	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	return d.PreCreateCheckContext(ctx)
}

// PreCreateCheckContext is PreCreateCheck on ctx.
func (d *Driver) PreCreateCheckContext(ctx context.Context) error {
	d.phases = nil
	if _, err := d.runner(ctx); err != nil {
		return err
	}
	if !d.NoVTXCheck {
		if err := checkVTX(); err != nil {
			return err
		}
	}
	out, err := d.vbm(ctx, "list", "vms")
	if err != nil {
		return err
	}
	for _, vm := range parseVMList(out) {
		if vm.Name == d.MachineName {
			return fmt.Errorf("VirtualBox already has a VM named %q: %w; remove it with 'VBoxManage unregistervm %s --delete' or choose another machine name", d.MachineName, errVMExists, d.MachineName)
		}
	}
	if d.Boot2DockerImportVM != "" && d.Boot2DockerURL == "" {
		return errors.New("--virtualbox-import-boot2docker-vm needs --virtualbox-boot2docker-url: boot2docker ISOs are no longer published, so give the one you have")
	}
	_, err = d.prepareImage(ctx)
	return err
}

// vtxFlags are the /proc/cpuinfo flags of Intel VT-x and AMD-V.
var vtxFlags = regexp.MustCompile(`(?m)^flags\s*:.*\b(vmx|svm)\b`)

// cpuinfo is a variable so tests can give any CPU.
var cpuinfo = func() ([]byte, error) { return os.ReadFile("/proc/cpuinfo") }

// checkVTX refuses to create a VM that VirtualBox could not start, as
// stock does. Only Linux can tell cheaply; elsewhere a missing VT-x shows
// when the VM starts, with the same advice.
func checkVTX() error {
	if runtime.GOOS != "linux" {
		return nil
	}
	data, err := cpuinfo()
	if err != nil {
		logger().Debug("cannot read /proc/cpuinfo; VT-x/AMD-V is checked when the VM starts", "err", err)
		return nil
	}
	if !vtxFlags.Match(data) {
		return errors.New("this computer doesn't have VT-X/AMD-v enabled: enable it in the BIOS/UEFI settings (VirtualBox needs it for 64-bit guests), or pass --virtualbox-no-vtx-check to try anyway")
	}
	return nil
}

// prepareImage fetches the guest image once per driver value.
func (d *Driver) prepareImage(ctx context.Context) (image, error) {
	if d.preparedImage.Path != "" {
		return d.preparedImage, nil
	}
	src, want := d.ImageURL, d.ImageChecksum
	if d.Guest == guestBoot2Docker {
		src = d.Boot2DockerURL
	}
	t := time.Now()
	img, err := d.fetchImage(ctx, src, want)
	d.phase("image fetch", t)
	if err != nil {
		return image{}, fmt.Errorf("preparing the image for machine %q: %w", d.MachineName, err)
	}
	d.log().Info("image ready", "file", img.Path, "cacheHit", img.CacheHit, "verified", img.Verified)
	d.preparedImage = img
	return img, nil
}

func (d *Driver) phase(name string, start time.Time) {
	d.phases = append(d.phases, Phase{Name: name, Duration: time.Since(start)})
}

// Phases reports how long each step of the last create took.
func (d *Driver) Phases() []Phase { return append([]Phase(nil), d.phases...) }

// Create makes the disk, seed, VM and network, starts the VM and waits for
// SSH. If any step fails, what it made is removed again; if that fails
// too, the error says what is left and rm finishes it.
func (d *Driver) Create() error { return d.CreateContext(context.Background()) }

// CreateContext is Create on ctx.
func (d *Driver) CreateContext(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	start := time.Now()
	if err := d.create(cctx); err != nil {
		// The create's own context may be what ended; cleanup gets its own.
		return rollback.Undo(ctx, removeTimeout, d.log(), d.MachineName, err,
			func(ctx context.Context) error { return d.teardown(ctx, true) })
	}
	d.log().Info("machine created", "took", time.Since(start).Round(time.Millisecond), "vboxmanageCalls", d.Calls(), "phases", d.phaseSummary())
	return nil
}

func (d *Driver) phaseSummary() string {
	var parts []string
	for _, p := range d.phases {
		parts = append(parts, fmt.Sprintf("%s=%s", p.Name, p.Duration.Round(time.Millisecond)))
	}
	return strings.Join(parts, " ")
}

func (d *Driver) machineDir() string { return d.ResolveStorePath(".") }
func (d *Driver) seedPath() string   { return d.ResolveStorePath("seed.iso") }
func (d *Driver) consoleLog() string { return d.ResolveStorePath("console.log") }
func (d *Driver) b2dISOPath() string { return d.ResolveStorePath("boot2docker.iso") }

// diskPath is disk.vdi for a cloud image, disk.vmdk (stock) for boot2docker.
func (d *Driver) diskPath() string {
	if d.Guest == guestCloudImage {
		return d.ResolveStorePath("disk.vdi")
	}
	return d.ResolveStorePath("disk.vmdk")
}

func (d *Driver) create(ctx context.Context) error {
	if d.Guest == "" {
		d.Guest = guestCloudImage
	}
	if d.MachineID == "" {
		d.MachineID = randomHex(8)
	}
	if err := os.MkdirAll(d.machineDir(), 0o700); err != nil {
		return err
	}
	if _, err := d.runner(ctx); err != nil {
		return err
	}
	img, err := d.prepareImage(ctx)
	if err != nil {
		return err
	}
	step := func(name string, f func() error) error {
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}

	var pub string
	if err := step("writing the SSH key", func() (err error) {
		if d.Boot2DockerImportVM != "" {
			pub, err = d.importB2DKey()
			return err
		}
		pub, err = d.writeKey()
		return err
	}); err != nil {
		return err
	}

	t := time.Now()
	if err := step("making the disk", func() error { return d.makeDisk(ctx, img, pub) }); err != nil {
		return err
	}
	d.phase("disk convert", t)

	t = time.Now()
	d.NATMAC, d.HostOnlyMAC = randomMAC(), randomMAC()
	if err := step("creating the VM", func() error { return d.createVM(ctx) }); err != nil {
		return err
	}
	nic2, err := d.setupNetwork(ctx)
	if err != nil {
		return fmt.Errorf("setting up the network: %w", err)
	}
	if d.Guest == guestCloudImage {
		if err := step("writing the cloud-init seed", func() error { return d.writeSeed(pub) }); err != nil {
			return err
		}
	} else if err := step("copying the boot2docker ISO", func() error { return copyFile(img.Path, d.b2dISOPath()) }); err != nil {
		return err
	}
	if err := step("attaching the disks", func() error { return d.attachStorage(ctx) }); err != nil {
		return err
	}
	if err := step("sharing folders", func() error { return d.setupShares(ctx) }); err != nil {
		return err
	}
	if err := step("configuring the network", func() error { return d.configureNICs(ctx, nic2) }); err != nil {
		return err
	}
	d.phase("VM setup", t)

	t = time.Now()
	if err := step("starting the VM", func() error { return d.startVM(ctx) }); err != nil {
		return err
	}
	if err := step("waiting for the VM to boot", func() error { return d.waitForSSH(ctx) }); err != nil {
		if hint := d.logDiagnosis(); hint != "" {
			return fmt.Errorf("%w; %s", err, hint)
		}
		return err
	}
	d.phase("VM start to SSH", t)
	if d.Network != networkNAT && d.IPAddress == "" {
		t = time.Now()
		ip, err := d.discoverIP(ctx)
		if err != nil {
			return err
		}
		d.IPAddress = ip
		d.phase("host-only address", t)
	}
	return nil
}

func (d *Driver) createVM(ctx context.Context) error {
	if _, err := d.vbm(ctx, "createvm", "--basefolder", d.machineDir(), "--name", d.MachineName, "--register"); err != nil {
		return err
	}
	d.VMCreated = true
	boot1, ostype := "dvd", "Linux26_64"
	if d.Guest == guestCloudImage {
		boot1, ostype = "disk", "Ubuntu_64"
		if runtime.GOARCH == "arm64" {
			ostype = "Ubuntu_arm64"
		}
	}
	args := []string{"modifyvm", d.MachineName,
		"--firmware", "bios", "--bioslogofadein", "off", "--bioslogofadeout", "off", "--bioslogodisplaytime", "0", "--biosbootmenu", "disabled",
		"--ostype", ostype, "--cpus", strconv.Itoa(d.CPU), "--memory", strconv.Itoa(d.Memory),
		"--acpi", "on", "--ioapic", "on", "--rtcuseutc", "on",
		"--natdnshostresolver1", onOff(d.HostDNSResolver), "--natdnsproxy1", onOff(d.DNSProxy),
		"--cpuhotplug", "off", "--pae", "on", "--hpet", "on", "--hwvirtex", "on", "--nestedpaging", "on",
		"--largepages", "on", "--vtxvpid", "on", "--accelerate3d", "off", "--boot1", boot1}
	if d.Guest == guestCloudImage {
		// Cloud images log to ttyS0 and stall at boot without a serial
		// port; the file doubles as the boot log for diagnosis.
		args = append(args, "--boot2", "none", "--boot3", "none", "--boot4", "none",
			"--uart1", "0x3F8", "4", "--uartmode1", "file", d.consoleLog())
	}
	_, err := d.vbm(ctx, args...)
	return err
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (d *Driver) writeSeed(pub string) error {
	cfg := seedConfig{
		Hostname: d.MachineName, InstanceID: "docker-machine-" + d.MachineID, User: d.GetSSHUsername(), PublicKey: pub,
		NATMAC: colonMAC(d.NATMAC),
	}
	if d.Network != networkNAT {
		cfg.HostOnlyMAC = colonMAC(d.HostOnlyMAC)
		if d.HostOnlyNoDHCP && d.Network == networkHostOnly {
			r, err := parseHostOnlyCIDR(d.HostOnlyCIDR)
			if err != nil {
				return err
			}
			cfg.StaticIP = fmt.Sprintf("%s/%d", d.IPAddress, r.Prefix.Bits())
		}
	}
	shares, err := d.shares()
	if err != nil {
		return err
	}
	cfg.Shares = shares
	return writeSeedISO(d.seedPath(), cfg)
}

func (d *Driver) attachStorage(ctx context.Context) error {
	if _, err := d.vbm(ctx, "storagectl", d.MachineName, "--name", "SATA", "--add", "sata", "--hostiocache", "on"); err != nil {
		return err
	}
	attach := func(port int, kind, medium string) error {
		_, err := d.vbm(ctx, "storageattach", d.MachineName, "--storagectl", "SATA", "--port", strconv.Itoa(port),
			"--device", "0", "--type", kind, "--medium", medium)
		return err
	}
	if d.Guest == guestCloudImage {
		if err := attach(0, "hdd", d.diskPath()); err != nil {
			return err
		}
		return attach(1, "dvddrive", d.seedPath())
	}
	if err := attach(0, "dvddrive", d.b2dISOPath()); err != nil {
		return err
	}
	return attach(1, "hdd", d.diskPath())
}

// configureNICs sets NIC 1 (NAT, with the SSH forward and, without a
// host-only network, the Docker forward) and NIC 2 in one modifyvm.
func (d *Driver) configureNICs(ctx context.Context, nic2 []string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	d.SSHPort = port
	args := []string{"modifyvm", d.MachineName, "--nic1", "nat", "--nictype1", d.NatNicType, "--cableconnected1", "on",
		"--macaddress1", d.NATMAC, "--natpf1", natRule("ssh", d.SSHPort, sshGuestPort)}
	if d.Network == networkNAT {
		args = append(args, "--natpf1", natRule("docker", d.DockerPort, dockerPort))
	}
	args = append(args, nic2...)
	_, err = d.vbm(ctx, args...)
	return err
}

func (d *Driver) startVM(ctx context.Context) error {
	_, err := d.vbm(ctx, "startvm", d.MachineName, "--type", d.UIType)
	return err
}

// logDiagnosis reads VBox.log for the VT-x failures VirtualBox reports
// only there, as stock's vtx check does.
func (d *Driver) logDiagnosis() string {
	data, err := os.ReadFile(filepath.Join(d.machineDir(), d.MachineName, "Logs", "VBox.log"))
	if err != nil {
		return ""
	}
	e := &vboxError{Args: []string{"startvm"}, Stderr: string(data)}
	if diag, ok := e.diagnose(); ok {
		return diag.hint
	}
	return ""
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return writeFileAtomic(dst, data, 0o644)
}

// stateOf is GetState without the not-found wording, for internal polls.
func (d *Driver) stateOf(ctx context.Context) (state.State, error) {
	out, err := d.vbm(ctx, "showvminfo", d.MachineName, "--machinereadable")
	if err != nil {
		return state.Error, err
	}
	return parseVMInfo(out).state(), nil
}
