package virtualbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"

	"github.com/fleetdock/machine/drivers/internal/mkflag"
)

// Defaults of the flags. All but the host-only range are the stock ones:
// the stock 192.168.99.1/24 lies outside 192.168.56.0/21, the only range
// VirtualBox 6.1.28 and later allow on Linux and macOS without
// /etc/vbox/networks.conf, so it fails there with E_ACCESSDENIED.
const (
	defaultCPU          = 1
	defaultMemory       = 1024
	defaultDiskSize     = 20000
	defaultNICType      = "82540EM"
	defaultHostOnlyCIDR = "192.168.59.1/24"
	defaultPromiscMode  = "deny"
	defaultUIType       = "headless"
	defaultSSHUser      = "docker"
	maxCPUs             = 32
)

// defaultImageURL is the current Ubuntu LTS cloud image for this host's
// architecture; SHA256SUMS is published beside it.
func defaultImageURL() string {
	arch := "amd64"
	if runtime.GOARCH == "arm64" {
		arch = "arm64"
	}
	return "https://cloud-images.ubuntu.com/releases/26.04/release/ubuntu-26.04-server-cloudimg-" + arch + ".img"
}

// GetCreateFlags lists the stock virtualbox flags with their names, env
// vars, defaults and meanings, followed by this driver's additions.
func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mkflag.Int("virtualbox-memory", "VIRTUALBOX_MEMORY_SIZE", defaultMemory, "Size of memory for host in MB"),
		mkflag.Int("virtualbox-cpu-count", "VIRTUALBOX_CPU_COUNT", defaultCPU, "number of CPUs for the machine (-1 to use the number of CPUs available)"),
		mkflag.Int("virtualbox-disk-size", "VIRTUALBOX_DISK_SIZE", defaultDiskSize, "Size of disk for host in MB"),
		mkflag.String("virtualbox-boot2docker-url", "VIRTUALBOX_BOOT2DOCKER_URL", "", "The URL of a boot2docker ISO to boot instead of the cloud image (http(s):// or file://)"),
		mkflag.String("virtualbox-import-boot2docker-vm", "VIRTUALBOX_BOOT2DOCKER_IMPORT_VM", "", "The name of a Boot2Docker VM to import"),
		mkflag.Bool("virtualbox-host-dns-resolver", "VIRTUALBOX_HOST_DNS_RESOLVER", "Use the host DNS resolver"),
		mkflag.String("virtualbox-nat-nictype", "VIRTUALBOX_NAT_NICTYPE", defaultNICType, "Specify the Network Adapter Type"),
		mkflag.String("virtualbox-hostonly-cidr", "VIRTUALBOX_HOSTONLY_CIDR", defaultHostOnlyCIDR, "Specify the Host Only CIDR (the host's address on it; VirtualBox 6.1.28+ allows 192.168.56.0/21 unless /etc/vbox/networks.conf says more)"),
		mkflag.String("virtualbox-hostonly-nictype", "VIRTUALBOX_HOSTONLY_NIC_TYPE", defaultNICType, "Specify the Host Only Network Adapter Type"),
		mkflag.String("virtualbox-hostonly-nicpromisc", "VIRTUALBOX_HOSTONLY_NIC_PROMISC", defaultPromiscMode, "Specify the Host Only Network Adapter Promiscuous Mode"),
		mkflag.String("virtualbox-ui-type", "VIRTUALBOX_UI_TYPE", defaultUIType, "Specify the UI Type: (gui|sdl|headless|separate)"),
		mkflag.Bool("virtualbox-hostonly-no-dhcp", "VIRTUALBOX_HOSTONLY_NO_DHCP", "Disable the Host Only DHCP Server (the guest then gets a fixed address on the host-only network)"),
		mkflag.Bool("virtualbox-no-share", "VIRTUALBOX_NO_SHARE", "Disable the mount of your home directory"),
		mkflag.Bool("virtualbox-no-dns-proxy", "VIRTUALBOX_NO_DNS_PROXY", "Disable proxying all DNS requests to the host"),
		mkflag.Bool("virtualbox-no-vtx-check", "VIRTUALBOX_NO_VTX_CHECK", "Disable checking for the availability of hardware virtualization before the vm is started"),
		mkflag.String("virtualbox-share-folder", "VIRTUALBOX_SHARE_FOLDER", "", "Mount the specified directory instead of the default home location. Format: dir:name"),
		// Additions.
		mkflag.Bool("virtualbox-dns-proxy", "VIRTUALBOX_DNS_PROXY", "Proxy all DNS requests to the host (the default; kept for older scripts, contradicts --virtualbox-no-dns-proxy)"),
		mkflag.String("virtualbox-image-url", "VIRTUALBOX_IMAGE_URL", defaultImageURL(), "cloud image to boot (qcow2, raw, VMDK or VDI; http(s):// or file://); cached in the store's cache directory"),
		mkflag.String("virtualbox-image-checksum", "VIRTUALBOX_IMAGE_CHECKSUM", "", "SHA-256 of the image (hex, or sha256:hex); without it, the SHA256SUMS file published beside the image is used when there is one"),
		mkflag.String("virtualbox-network", "VIRTUALBOX_NETWORK", networkAuto, "how the host reaches Docker: hostonly (adapter), hostonlynet (VirtualBox 7 on macOS), nat (port 2376 forwarded on 127.0.0.1), or auto"),
	}
}

// SetConfigFromFlags reads and checks every option; it runs nothing.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	d.CPU = flags.Int("virtualbox-cpu-count")
	if d.CPU < 1 {
		if d.CPU != -1 {
			return fmt.Errorf("--virtualbox-cpu-count %d: use a number of CPUs, or -1 for all of this computer's", d.CPU)
		}
		d.CPU = runtime.NumCPU()
	}
	if d.CPU > maxCPUs {
		d.CPU = maxCPUs
	}
	d.Memory = flags.Int("virtualbox-memory")
	if d.Memory < 512 {
		return fmt.Errorf("--virtualbox-memory %d MB is too little for a Docker host: give at least 512", d.Memory)
	}
	d.DiskSize = flags.Int("virtualbox-disk-size")
	if d.DiskSize < 2000 {
		return fmt.Errorf("--virtualbox-disk-size %d MB is too small: give at least 2000 (the cloud image alone needs over 1 GB)", d.DiskSize)
	}
	d.Boot2DockerURL = strings.TrimSpace(flags.String("virtualbox-boot2docker-url"))
	d.Boot2DockerImportVM = strings.TrimSpace(flags.String("virtualbox-import-boot2docker-vm"))
	d.HostDNSResolver = flags.Bool("virtualbox-host-dns-resolver")
	d.NatNicType = orDefault(flags.String("virtualbox-nat-nictype"), defaultNICType)
	d.HostOnlyNicType = orDefault(flags.String("virtualbox-hostonly-nictype"), defaultNICType)
	for flag, v := range map[string]string{"nat-nictype": d.NatNicType, "hostonly-nictype": d.HostOnlyNicType} {
		if !validNICType(v) {
			return fmt.Errorf("--virtualbox-%s %q: use one of Am79C970A, Am79C973, 82540EM, 82543GC, 82545EM, virtio", flag, v)
		}
	}
	d.HostOnlyPromiscMode = orDefault(flags.String("virtualbox-hostonly-nicpromisc"), defaultPromiscMode)
	switch d.HostOnlyPromiscMode {
	case "deny", "allow-vms", "allow-all":
	default:
		return fmt.Errorf("--virtualbox-hostonly-nicpromisc %q: use deny, allow-vms or allow-all", d.HostOnlyPromiscMode)
	}
	d.UIType = orDefault(flags.String("virtualbox-ui-type"), defaultUIType)
	switch d.UIType {
	case "gui", "sdl", "headless", "separate":
	default:
		return fmt.Errorf("--virtualbox-ui-type %q: use gui, sdl, headless or separate", d.UIType)
	}
	d.HostOnlyNoDHCP = flags.Bool("virtualbox-hostonly-no-dhcp")
	d.NoShare = flags.Bool("virtualbox-no-share")
	d.DNSProxy = !flags.Bool("virtualbox-no-dns-proxy")
	if flags.Bool("virtualbox-dns-proxy") && !d.DNSProxy {
		return errors.New("--virtualbox-dns-proxy and --virtualbox-no-dns-proxy contradict each other: give one")
	}
	d.NoVTXCheck = flags.Bool("virtualbox-no-vtx-check")
	d.ShareFolder = strings.TrimSpace(flags.String("virtualbox-share-folder"))
	if d.ShareFolder != "" {
		if _, _, err := parseShareFolder(d.ShareFolder); err != nil {
			return err
		}
	}

	cidr := orDefault(flags.String("virtualbox-hostonly-cidr"), defaultHostOnlyCIDR)
	if _, err := parseHostOnlyCIDR(cidr); err != nil {
		return err
	}
	d.HostOnlyCIDR = cidr

	d.NetworkMode = orDefault(strings.ToLower(flags.String("virtualbox-network")), networkAuto)
	switch d.NetworkMode {
	case networkAuto, networkHostOnly, networkHostOnlyNet, networkNAT:
	default:
		return fmt.Errorf("--virtualbox-network %q: use auto, hostonly, hostonlynet or nat", d.NetworkMode)
	}

	d.ImageURL = orDefault(flags.String("virtualbox-image-url"), defaultImageURL())
	if err := checkImageURL(d.ImageURL, "--virtualbox-image-url"); err != nil {
		return err
	}
	if d.Boot2DockerURL != "" {
		if err := checkImageURL(d.Boot2DockerURL, "--virtualbox-boot2docker-url"); err != nil {
			return err
		}
	}
	sum, err := parseChecksum(flags.String("virtualbox-image-checksum"))
	if err != nil {
		return err
	}
	d.ImageChecksum = sum

	d.Guest = guestCloudImage
	if d.Boot2DockerURL != "" || d.Boot2DockerImportVM != "" {
		d.Guest = guestBoot2Docker
	}
	d.SSHUser = defaultSSHUser
	d.SetSwarmConfigFromFlags(flags)
	if d.MachineID == "" {
		d.MachineID = randomHex(8)
	}
	return nil
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}

func validNICType(t string) bool {
	switch t {
	case "Am79C970A", "Am79C973", "Am79C960", "82540EM", "82543GC", "82545EM", "virtio":
		return true
	}
	return false
}

// hostOnlyRange is the host-only network a CIDR flag describes: the host's
// address on it and the prefix.
type hostOnlyRange struct {
	Host   netip.Addr
	Prefix netip.Prefix
}

// parseHostOnlyCIDR accepts what stock accepts: the host's address with a
// prefix length (192.168.59.1/24), which must not be the network address.
func parseHostOnlyCIDR(s string) (hostOnlyRange, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return hostOnlyRange{}, fmt.Errorf("--virtualbox-hostonly-cidr %q is not an IPv4 CIDR such as %s", s, defaultHostOnlyCIDR)
	}
	if p.Bits() > 29 || p.Bits() < 8 {
		return hostOnlyRange{}, fmt.Errorf("--virtualbox-hostonly-cidr %q: use a prefix length between /8 and /29", s)
	}
	r := hostOnlyRange{Host: p.Addr(), Prefix: p.Masked()}
	if r.Host == r.Prefix.Addr() || r.Host == r.broadcast() {
		return hostOnlyRange{}, fmt.Errorf("--virtualbox-hostonly-cidr %q is the network's own address; give the host's address on it, such as %s/%d",
			s, r.Prefix.Addr().Next(), p.Bits())
	}
	return r, nil
}

func (r hostOnlyRange) netmask() string {
	bits := r.Prefix.Bits()
	var b [4]byte
	for i := 0; i < bits; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(b).String()
}

func (r hostOnlyRange) broadcast() netip.Addr {
	b := r.Prefix.Addr().As4()
	host := 32 - r.Prefix.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// offset returns the network address plus n.
func (r hostOnlyRange) offset(n uint32) netip.Addr {
	b := r.Prefix.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (r hostOnlyRange) size() uint32 { return 1 << (32 - r.Prefix.Bits()) }

// dhcp is the DHCP server's own address and lease range: the upper half of
// the network (VirtualBox's own default for vboxnet0 is .100, .101-.254),
// leaving the lower half to the host and fixed addresses.
func (r hostOnlyRange) dhcp() (server, lower, upper netip.Addr) {
	half := r.size() / 2
	server = r.offset(half)
	if server == r.Host {
		server = r.offset(half + 1)
	}
	lower = server.Next()
	if lower == r.Host {
		lower = lower.Next()
	}
	upper = r.broadcast().Prev()
	if upper == r.Host {
		upper = upper.Prev()
	}
	return server, lower, upper
}

// parseShareFolder splits dir:name. On Windows the dir has a drive colon,
// so the last colon separates the name.
func parseShareFolder(s string) (dir, name string, err error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 || (len(s) > 2 && i == 1 && s[2] == '\\') {
		return "", "", fmt.Errorf("--virtualbox-share-folder %q: use dir:name, for example /srv/code:code", s)
	}
	dir, name = s[:i], s[i+1:]
	if !filepath.IsAbs(dir) {
		return "", "", fmt.Errorf("--virtualbox-share-folder %q: the directory must be an absolute path", s)
	}
	if strings.ContainsAny(name, " ,\"'") {
		return "", "", fmt.Errorf("--virtualbox-share-folder %q: the share name may not contain spaces, commas or quotes", s)
	}
	return dir, name, nil
}

func checkImageURL(raw, flag string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s %q is not a URL: %w", flag, raw, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.Path == "" || strings.HasSuffix(u.Path, "/") {
			return fmt.Errorf("%s %q must name a file, such as %s", flag, raw, defaultImageURL())
		}
	case "file":
		if u.Path == "" {
			return fmt.Errorf("%s %q: a file:// URL needs an absolute path, such as file:///srv/images/disk.img", flag, raw)
		}
	case "":
		// A plain path works too, as it did for the stock boot2docker URL.
		if !filepath.IsAbs(raw) {
			return fmt.Errorf("%s %q: give an http(s):// or file:// URL, or an absolute path", flag, raw)
		}
	default:
		return fmt.Errorf("%s %q: only http://, https:// and file:// are supported", flag, raw)
	}
	return nil
}

// parseChecksum accepts "hex" or "sha256:hex".
func parseChecksum(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	algo, sum, ok := strings.Cut(s, ":")
	if !ok {
		sum, algo = algo, "sha256"
	}
	if algo != "sha256" {
		return "", fmt.Errorf("--virtualbox-image-checksum %q: only sha256 is supported", s)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
		return "", fmt.Errorf("--virtualbox-image-checksum %q is not a SHA-256 (64 hex digits)", s)
	}
	return sum, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// homeShare is the stock default share: the user's home tree.
func homeShare() (dir, name string) {
	switch runtime.GOOS {
	case "darwin":
		return "/Users", "Users"
	case "windows":
		return `C:\Users`, "c/Users"
	}
	return "/home", "hosthome"
}
