package virtualbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"go.yaml.in/yaml/v3"
)

// seedLabel is the volume label cloud-init's NoCloud datasource looks for.
const seedLabel = "cidata"

// seedConfig is what the guest learns from its NoCloud seed.
type seedConfig struct {
	Hostname    string
	InstanceID  string
	User        string
	PublicKey   string // authorized_keys line
	NATMAC      string // colon form
	HostOnlyMAC string // colon form; "" without a host-only NIC
	StaticIP    string // CIDR for the host-only NIC when there is no DHCP
	Shares      []share
}

// userData is the #cloud-config: the docker user with the machine's key
// and password-less sudo (what the provisioner needs), the hostname, and
// the shared folders mounted as the stock boot2docker automounter did.
func (c seedConfig) userData() ([]byte, error) {
	user := map[string]any{
		"name":                c.User,
		"gecos":               "Docker Machine",
		"groups":              []string{"sudo"},
		"sudo":                "ALL=(ALL) NOPASSWD:ALL",
		"shell":               "/bin/bash",
		"lock_passwd":         true,
		"ssh_authorized_keys": []string{strings.TrimSpace(c.PublicKey)},
	}
	cfg := map[string]any{
		"hostname":          c.Hostname,
		"preserve_hostname": false,
		"manage_etc_hosts":  true,
		"ssh_pwauth":        false,
		"disable_root":      true,
		"users":             []any{user},
	}
	if len(c.Shares) > 0 {
		var mounts [][]string
		for _, s := range c.Shares {
			// nofail: an image without the vboxsf module still boots.
			mounts = append(mounts, []string{s.Name, s.GuestPath, "vboxsf", "defaults,uid=1000,gid=1000,nofail,_netdev", "0", "0"})
		}
		cfg["mounts"] = mounts
	}
	body, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return append([]byte("#cloud-config\n"), body...), nil
}

func (c seedConfig) metaData() ([]byte, error) {
	return yaml.Marshal(map[string]string{"instance-id": c.InstanceID, "local-hostname": c.Hostname})
}

// networkConfig (version 2) brings up both NICs by MAC: cloud-init's
// fallback would configure only the first. The host-only NIC never takes
// the default route or DNS, so traffic keeps going out through NAT.
func (c seedConfig) networkConfig() ([]byte, error) {
	eths := map[string]any{
		"nat": map[string]any{"match": map[string]string{"macaddress": c.NATMAC}, "dhcp4": true},
	}
	if c.HostOnlyMAC != "" {
		ho := map[string]any{"match": map[string]string{"macaddress": c.HostOnlyMAC}}
		if c.StaticIP != "" {
			ho["dhcp4"] = false
			ho["addresses"] = []string{c.StaticIP}
		} else {
			ho["dhcp4"] = true
			ho["dhcp4-overrides"] = map[string]bool{"use-routes": false, "use-dns": false}
		}
		eths["hostonly"] = ho
	}
	return yaml.Marshal(map[string]any{"version": 2, "ethernets": eths})
}

// writeSeedISO writes the NoCloud seed to path (through a temporary file,
// so a crash never leaves a half-written seed).
func writeSeedISO(path string, c seedConfig) error {
	ud, err := c.userData()
	if err != nil {
		return err
	}
	md, err := c.metaData()
	if err != nil {
		return err
	}
	nc, err := c.networkConfig()
	if err != nil {
		return err
	}
	files := map[string][]byte{"user-data": ud, "meta-data": md, "network-config": nc}
	size := int64(1 << 20)
	for _, b := range files {
		size += int64(len(b)) + 2048
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := buildISO(tmp, size, files); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the cloud-init seed %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func buildISO(path string, size int64, files map[string][]byte) error {
	work, err := os.MkdirTemp(filepath.Dir(path), ".seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b, err := file.CreateFromPath(path, size)
	if err != nil {
		return err
	}
	defer b.Close()
	fs, err := iso9660.Create(b, size, 0, 2048, work)
	if err != nil {
		return err
	}
	for name, data := range files {
		f, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// Rock Ridge and Joliet keep the lower-case names with dashes that
	// cloud-init looks for.
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: true, VolumeIdentifier: seedLabel}); err != nil {
		return err
	}
	return padVolumeIDs(path)
}

// padVolumeIDs pads the volume identifiers with spaces, as ISO 9660
// prescribes; the writer pads with NULs, which readers that trim only
// spaces do not take for "cidata".
func padVolumeIDs(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	const sector, idOffset, idLen = 2048, 40, 32
	for n := int64(16); n < 32; n++ {
		vd := make([]byte, sector)
		if _, err := f.ReadAt(vd, n*sector); err != nil {
			return err
		}
		if string(vd[1:6]) != "CD001" || vd[0] == 255 {
			break
		}
		id := vd[idOffset : idOffset+idLen]
		switch vd[0] {
		case 1: // primary: d-characters
			for i := len(seedLabel); i < idLen; i++ {
				id[i] = ' '
			}
		case 2: // Joliet: UCS-2 big endian
			for i := 2 * len(seedLabel); i+1 < idLen; i += 2 {
				id[i], id[i+1] = 0, ' '
			}
		default:
			continue
		}
		if _, err := f.WriteAt(id, n*sector+idOffset); err != nil {
			return err
		}
	}
	return f.Sync()
}
