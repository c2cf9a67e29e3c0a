package provision

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// probeTools are the commands whose location the probe reports.
var probeTools = []string{"docker", "dockerd", "curl", "wget", "cloud-init", "systemctl", "apt-get", "dnf", "yum", "mkfs.ext4", "mkfs.xfs"}

// hostFacts is what one unprivileged read of the host tells.
type hostFacts struct {
	uid        int
	user       string
	sudoOK     bool
	osRelease  []byte
	kernel     string
	hostname   string
	etcHost    *string // /etc/hostname, nil when absent
	etcHosts   *string // /etc/hosts, nil when absent
	tools      map[string]string
	systemd    bool
	dfPath     string
	availKiB   int64 // -1 when unknown
	daemonJSON *string
	disk       diskFacts
}

type diskFacts struct {
	resolved string
	block    bool
	sectors  int64 // 512-byte sectors, from sysfs
}

func (f *hostFacts) has(tool string) bool { return f.tools[tool] != "" }

// probeScript reads everything the pre-flight checks need without root and
// without changing anything. spaceDir is where Docker will keep its data.
func probeScript(spaceDir, diskDev string) string {
	var b strings.Builder
	b.WriteString("# fdm:probe\n")
	b.WriteString(section("uid") + "id -u\n")
	b.WriteString(section("user") + "id -un\n")
	b.WriteString("if [ \"$(id -u)\" != 0 ] && sudo -n true >/dev/null 2>&1; then " + strings.TrimSuffix(section("sudo"), "\n") + "; echo ok; fi\n")
	b.WriteString("if [ -f /etc/os-release ]; then " + strings.TrimSuffix(section("os-release"), "\n") + "; cat /etc/os-release; elif [ -f /usr/lib/os-release ]; then " + strings.TrimSuffix(section("os-release"), "\n") + "; cat /usr/lib/os-release; fi\n")
	b.WriteString(section("kernel") + "uname -r\n")
	b.WriteString(section("hostname") + "cat /proc/sys/kernel/hostname\n")
	b.WriteString(fileSection("etc-hostname", "/etc/hostname"))
	b.WriteString(fileSection("etc-hosts", "/etc/hosts"))
	b.WriteString(section("tools") + "for t in " + strings.Join(probeTools, " ") + "; do p=$(command -v \"$t\" 2>/dev/null) && echo \"$t $p\"; done\n")
	b.WriteString("if [ -d /run/systemd/system ]; then " + strings.TrimSuffix(section("systemd"), "\n") + "; echo yes; fi\n")
	// df needs an existing directory: walk up from Docker's data dir.
	b.WriteString(section("df") + "d=" + shQuote(spaceDir) + "; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; echo \"$d\"; df -Pk \"$d\" | tail -n 1\n")
	b.WriteString("if [ -r /etc/docker/daemon.json ]; then " + strings.TrimSuffix(section("daemon.json"), "\n") + "; cat /etc/docker/daemon.json; fi\n")
	if diskDev != "" {
		b.WriteString(section("disk") + "d=$(readlink -f " + shQuote(diskDev) + "); echo \"$d\"; if [ -b \"$d\" ]; then echo block; cat \"/sys/class/block/$(basename \"$d\")/size\"; fi\n")
	}
	return b.String()
}

func parseFacts(out []byte) (*hostFacts, error) {
	s := parseSections(out)
	f := &hostFacts{tools: map[string]string{}, availKiB: -1}
	uid, err := strconv.Atoi(strings.TrimSpace(s["uid"]))
	if err != nil {
		return nil, fmt.Errorf("unexpected output from the host probe (no user id): %q", truncate(string(out), 200))
	}
	f.uid = uid
	f.user = strings.TrimSpace(s["user"])
	f.sudoOK = strings.TrimSpace(s["sudo"]) == "ok"
	if v, ok := s["os-release"]; ok {
		f.osRelease = []byte(v)
	}
	f.kernel = strings.TrimSpace(s["kernel"])
	f.hostname = strings.TrimSpace(s["hostname"])
	if v, ok := s["etc-hostname"]; ok {
		f.etcHost = &v
	}
	if v, ok := s["etc-hosts"]; ok {
		f.etcHosts = &v
	}
	for _, line := range strings.Split(s["tools"], "\n") {
		if name, path, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			f.tools[name] = path
		}
	}
	f.systemd = strings.TrimSpace(s["systemd"]) == "yes"
	if lines := strings.Split(strings.TrimSpace(s["df"]), "\n"); len(lines) == 2 {
		f.dfPath = lines[0]
		// POSIX df: FS 1024-blocks Used Available Capacity Mountpoint. Count
		// from the end: a filesystem name may contain spaces.
		fields := strings.Fields(lines[1])
		if len(fields) >= 6 {
			if n, err := strconv.ParseInt(fields[len(fields)-3], 10, 64); err == nil {
				f.availKiB = n
			}
		}
	}
	if v, ok := s["daemon.json"]; ok {
		f.daemonJSON = &v
	}
	if v, ok := s["disk"]; ok {
		lines := strings.Split(strings.TrimSpace(v), "\n")
		f.disk.resolved = lines[0]
		if len(lines) >= 2 && lines[1] == "block" {
			f.disk.block = true
		}
		if len(lines) >= 3 {
			f.disk.sectors, _ = strconv.ParseInt(strings.TrimSpace(lines[2]), 10, 64)
		}
	}
	return f, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// probe reads the host's facts in one command.
func probe(ctx context.Context, r *runner, spaceDir, diskDev string, t Timeouts) (*hostFacts, error) {
	res, err := r.run(ctx, "reading the host's facts", probeScript(spaceDir, diskDev), false, t.Command)
	if err != nil {
		return nil, err
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("reading the host's facts%s failed (exit status %d): %s", r.on(), res.ExitStatus, tail(res.Stderr, res.Stdout))
	}
	f, err := parseFacts(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("reading the host's facts%s: %w", r.on(), err)
	}
	r.root = f.uid == 0
	return f, nil
}
