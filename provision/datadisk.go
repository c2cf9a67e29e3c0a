package provision

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// diskState is what the host says about the data disk.
type diskState struct {
	dev, fsType, ptType, uuid string
	block                     bool
	mounts                    [][2]string // source, target
	fstab                     string
	dockerActive              bool
	mkfs                      map[string]bool
}

func diskStateScript(dev string) string {
	var b strings.Builder
	b.WriteString("# fdm:disk-state\n")
	b.WriteString("d=$(readlink -f " + shQuote(dev) + ")\n")
	b.WriteString(section("dev") + "echo \"$d\"\n")
	b.WriteString(section("block") + "[ -b \"$d\" ] && echo yes\n")
	// -p probes the device itself rather than blkid's cache.
	b.WriteString(section("type") + "blkid -p -o value -s TYPE \"$d\"\n")
	b.WriteString(section("pttype") + "blkid -p -o value -s PTTYPE \"$d\"\n")
	b.WriteString(section("uuid") + "blkid -p -o value -s UUID \"$d\"\n")
	b.WriteString(section("mounts") + "awk '{ print $1, $2 }' /proc/self/mounts\n")
	b.WriteString(fileSection("fstab", "/etc/fstab"))
	b.WriteString(section("docker") + "systemctl is-active docker.service 2>/dev/null\n")
	b.WriteString(section("mkfs") + "for t in mkfs.ext4 mkfs.xfs; do command -v \"$t\" >/dev/null && echo \"$t\"; done\n")
	b.WriteString("true\n")
	return b.String()
}

func parseDiskState(out []byte) diskState {
	s := parseSections(out)
	st := diskState{
		dev:          strings.TrimSpace(s["dev"]),
		block:        strings.TrimSpace(s["block"]) == "yes",
		fsType:       strings.TrimSpace(s["type"]),
		ptType:       strings.TrimSpace(s["pttype"]),
		uuid:         strings.TrimSpace(s["uuid"]),
		fstab:        s["fstab"],
		dockerActive: strings.TrimSpace(s["docker"]) == "active",
		mkfs:         map[string]bool{},
	}
	for _, l := range strings.Split(s["mounts"], "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			st.mounts = append(st.mounts, [2]string{f[0], f[1]})
		}
	}
	for _, t := range strings.Fields(s["mkfs"]) {
		st.mkfs[t] = true
	}
	return st
}

// fstabEntry finds the fstab line mounting target: its source field.
func fstabEntry(fstab, target string) (string, bool) {
	for _, l := range strings.Split(fstab, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") && f[1] == target {
			return f[0], true
		}
	}
	return "", false
}

// PrepareDataDisk formats d.Device when it holds no filesystem and mounts it
// on /var/lib/docker through an /etc/fstab line by UUID. It is idempotent:
// a device already mounted there with its fstab line changes nothing. It
// never formats a device that holds a filesystem or a partition table, and
// never touches an fstab line for /var/lib/docker that names another
// device: both are errors. If Docker is running it is stopped for the mount
// and started again (its old data under /var/lib/docker is hidden, not moved).
func PrepareDataDisk(ctx context.Context, c Commander, d DataDisk, progress func(string)) error {
	r := &runner{c: c, log: slog.Default()}
	res, err := r.check(ctx, "checking the login user", "# fdm:whoami\nid -u", false, 2*time.Minute)
	if err != nil {
		return err
	}
	r.root = strings.TrimSpace(string(res.Stdout)) == "0"
	if progress != nil {
		progress("Preparing the data disk...")
	}
	return prepareDataDisk(ctx, r, d, Timeouts{}.withDefaults())
}

func prepareDataDisk(ctx context.Context, r *runner, d DataDisk, t Timeouts) error {
	fs := d.FS
	if fs == "" {
		fs = "ext4"
	}
	if fs != "ext4" && fs != "xfs" {
		return fmt.Errorf("data disk filesystem %q must be ext4 or xfs", d.FS)
	}
	res, err := r.check(ctx, "reading the data disk's state", diskStateScript(d.Device), true, t.Command)
	if err != nil {
		return err
	}
	st := parseDiskState(res.Stdout)
	if !st.block {
		return fmt.Errorf("data disk %s%s is not a block device: check the device name", d.Device, r.on())
	}
	mountedHere := false
	for _, m := range st.mounts {
		switch {
		case m[1] == dockerDataDir && m[0] == st.dev:
			mountedHere = true
		case m[1] == dockerDataDir:
			return fmt.Errorf("%s%s already has %s mounted on it, not data disk %s: unmount it or drop the data disk option", dockerDataDir, r.on(), m[0], d.Device)
		case m[0] == st.dev:
			return fmt.Errorf("data disk %s%s is mounted on %s: unmount it first, or choose another device", d.Device, r.on(), m[1])
		}
	}
	format := false
	switch {
	case st.fsType == "" && st.ptType != "":
		return fmt.Errorf("data disk %s%s holds a %s partition table: refusing to format it; wipe it (wipefs -a %s) if its data is not needed", d.Device, r.on(), st.ptType, d.Device)
	case st.fsType == "":
		format = true
		if !st.mkfs["mkfs."+fs] {
			return fmt.Errorf("mkfs.%s is missing%s: install %s, then try again", fs, r.on(), map[string]string{"ext4": "e2fsprogs", "xfs": "xfsprogs"}[fs])
		}
	case st.fsType == "ext4" || st.fsType == "xfs":
		// An existing filesystem is used as it is, even when another type
		// was asked for: formatting it would destroy data.
		fs = st.fsType
	default:
		return fmt.Errorf("data disk %s%s holds a %s signature: refusing to format it; wipe it (wipefs -a %s) if its data is not needed", d.Device, r.on(), st.fsType, d.Device)
	}
	src, hasEntry := fstabEntry(st.fstab, dockerDataDir)
	if hasEntry && (format || src != "UUID="+st.uuid) {
		return fmt.Errorf("/etc/fstab%s already mounts %s on %s: remove that line or drop the data disk option", r.on(), src, dockerDataDir)
	}
	if mountedHere && hasEntry {
		return nil
	}

	var b strings.Builder
	b.WriteString("# fdm:disk-prepare\nset -e\n")
	dev := shQuote(st.dev)
	if format {
		switch fs {
		case "xfs":
			fmt.Fprintf(&b, "timeout %d mkfs.xfs -q -L docker-data %s\n", int(t.Format/time.Second), dev)
		default:
			fmt.Fprintf(&b, "timeout %d mkfs.ext4 -q -L docker-data %s\n", int(t.Format/time.Second), dev)
		}
	}
	if !hasEntry {
		// nofail: a missing disk must not stop the host from booting.
		fmt.Fprintf(&b, "uuid=$(blkid -p -o value -s UUID %s)\n[ -n \"$uuid\" ]\n", dev)
		fmt.Fprintf(&b, "printf 'UUID=%%s %s %s defaults,nofail 0 2\\n' \"$uuid\" >> /etc/fstab\n", dockerDataDir, fs)
		b.WriteString("systemctl daemon-reload\n")
	}
	if !mountedHere {
		if st.dockerActive {
			b.WriteString("systemctl stop docker.service\n")
		}
		fmt.Fprintf(&b, "mkdir -p %s\nmount %s\n", dockerDataDir, dockerDataDir)
		if st.dockerActive {
			b.WriteString("systemctl start docker.service\n")
		}
	}
	timeout := t.Command
	if format {
		timeout += t.Format
	}
	res, err = r.run(ctx, "preparing the data disk", b.String(), true, timeout)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("preparing data disk %s%s failed (exit status %d): %s", d.Device, r.on(), res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
	return nil
}
