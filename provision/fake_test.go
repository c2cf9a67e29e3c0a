package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/fleetdock/machine/libmachine/ssh"
)

// fakeHost is a Commander that plays a Linux host from its state: each
// command is matched by the "# fdm:TAG" line every script starts with, and
// answered from (and applied to) the state, so a second run sees what the
// first one wrote. Every call is recorded for golden transcripts.
type fakeHost struct {
	t         testing.TB
	osRelease string
	uid       int
	user      string
	sudoOK    bool
	kernel    string
	hostname  string
	systemd   bool
	availKiB  int64
	files     map[string]fakeFile
	tools     map[string]string
	units     map[string]*unitState
	// replies override the reply to a tag: exit status and stdout. Consumed
	// in order when more than one is queued.
	replies map[string][]fakeReply
	// hang makes commands with these tags block until their context ends,
	// like a remote command that never returns.
	hang map[string]bool
	// cloudInitExit is cloud-init's exit status when cloud-init is a tool.
	cloudInitExit int
	// lockBusy is how many package-manager runs find the lock held.
	lockBusy int
	// installed says what the Docker install creates.
	dockerd, dockerVersion string
	startsOnInstall        bool
	restarts               int
	disk                   *fakeDisk
	calls                  []fakeCall
}

type fakeFile struct {
	data []byte
	mode uint32
}

type fakeReply struct {
	exit   int
	stdout string
}

type fakeDisk struct {
	dev, fsType, ptType, uuid string
	mountedOn                 string
}

type fakeCall struct {
	cmd   string
	stdin []byte
	input bool
	exit  int
}

// newFakeHost is a fresh cloud host of the given os-release file.
func newFakeHost(t testing.TB, osFile string) *fakeHost {
	data, err := os.ReadFile(filepath.Join("testdata", "os-release", osFile))
	if err != nil {
		t.Fatalf("reading os-release fixture: %v", err)
	}
	h := &fakeHost{
		t: t, osRelease: string(data), uid: 0, user: "root", sudoOK: true,
		kernel: "5.15.0-91-generic", hostname: "localhost", systemd: true, availKiB: 20 << 20,
		files: map[string]fakeFile{
			"/etc/hostname": {[]byte("localhost\n"), 0o644},
			"/etc/hosts":    {[]byte("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"), 0o644},
			"/etc/fstab":    {[]byte("# /etc/fstab\nUUID=1111-2222 / ext4 errors=remount-ro 0 1\n"), 0o644},
		},
		tools:         map[string]string{"curl": "/usr/bin/curl", "systemctl": "/usr/bin/systemctl"},
		units:         map[string]*unitState{},
		replies:       map[string][]fakeReply{},
		dockerd:       "/usr/bin/dockerd",
		dockerVersion: "Docker version 24.0.7, build 311b9ff",
	}
	return h
}

var tagRE = regexp.MustCompile(`# fdm:([a-z-]+)([^\n]*)`)

func (h *fakeHost) Run(ctx context.Context, cmd string) (*ssh.Result, error) {
	return h.do(ctx, cmd, nil, false)
}

func (h *fakeHost) RunWithInput(ctx context.Context, cmd string, stdin io.Reader) (*ssh.Result, error) {
	b, err := io.ReadAll(stdin)
	if err != nil {
		return nil, err
	}
	return h.do(ctx, cmd, b, true)
}

// privileged tags must go through sudo for a non-root login.
var privilegedTags = map[string]bool{
	"cloud-init": true, "hostname": true, "write": true, "pkg-install": true, "install-docker": true,
	"docker-state": true, "apply": true, "docker-version": true, "diagnose": true, "disk-state": true,
	"disk-prepare": true, "engine-packages": true, "pkg-upgrade": true,
}

func (h *fakeHost) do(ctx context.Context, cmd string, stdin []byte, input bool) (*ssh.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := tagRE.FindStringSubmatch(cmd)
	res := &ssh.Result{}
	if m == nil {
		h.t.Errorf("fake host: command without a tag: %q", cmd)
		res.ExitStatus = 127
	} else {
		tag, args := m[1], strings.TrimSpace(m[2])
		if privilegedTags[tag] && h.uid != 0 && !strings.HasPrefix(cmd, "sudo -n ") {
			h.t.Errorf("fake host: privileged %s run without sudo as uid %d", tag, h.uid)
		}
		if h.hang[tag] {
			<-ctx.Done()
			h.calls = append(h.calls, fakeCall{cmd: cmd, stdin: stdin, input: input, exit: -1})
			return nil, ctx.Err()
		}
		if q := h.replies[tag]; len(q) > 0 {
			h.replies[tag] = q[1:]
			res.ExitStatus, res.Stdout = q[0].exit, []byte(q[0].stdout)
		} else {
			h.handle(tag, args, cmd, stdin, res)
		}
	}
	h.calls = append(h.calls, fakeCall{cmd: cmd, stdin: stdin, input: input, exit: res.ExitStatus})
	return res, nil
}

func sec(b *strings.Builder, name, body string) {
	b.WriteString("\n" + sectionMark + name + "\n" + body)
}

func (h *fakeHost) file(p string) (string, bool) {
	f, ok := h.files[p]
	return string(f.data), ok
}

func (h *fakeHost) handle(tag, args, cmd string, stdin []byte, res *ssh.Result) {
	var out strings.Builder
	switch tag {
	case "probe":
		sec(&out, "uid", fmt.Sprintf("%d\n", h.uid))
		sec(&out, "user", h.user+"\n")
		if h.uid != 0 && h.sudoOK {
			sec(&out, "sudo", "ok\n")
		}
		sec(&out, "os-release", h.osRelease)
		sec(&out, "kernel", h.kernel+"\n")
		sec(&out, "hostname", h.hostname+"\n")
		if v, ok := h.file("/etc/hostname"); ok {
			sec(&out, "etc-hostname", v)
		}
		if v, ok := h.file("/etc/hosts"); ok {
			sec(&out, "etc-hosts", v)
		}
		var tools []string
		for _, t := range probeTools {
			if p := h.tools[t]; p != "" {
				tools = append(tools, t+" "+p+"\n")
			}
		}
		sec(&out, "tools", strings.Join(tools, ""))
		if h.systemd {
			sec(&out, "systemd", "yes\n")
		}
		sec(&out, "df", fmt.Sprintf("/var/lib\n/dev/vda1 41152736 3000000 %d 10%% /\n", h.availKiB))
		if v, ok := h.file(RemoteDaemonJSON); ok {
			sec(&out, "daemon.json", v)
		}
		if h.disk != nil && strings.Contains(cmd, "readlink -f") {
			sec(&out, "disk", h.disk.dev+"\nblock\n41943040\n")
		}
	case "whoami":
		out.WriteString(fmt.Sprintf("%d\n", h.uid))
	case "cloud-init":
		res.ExitStatus = h.cloudInitExit
	case "url-check":
	case "hostname":
		h.files["/etc/hostname"] = fakeFile{stdin, 0o644}
		h.hostname = strings.TrimSpace(string(stdin))
	case "write":
		f := strings.Fields(args)
		var mode uint32
		fmt.Sscanf(f[1], "%o", &mode)
		h.files[f[0]] = fakeFile{stdin, mode}
	case "pkg-install", "install-docker", "pkg-upgrade":
		if h.lockBusy > 0 {
			h.lockBusy--
			res.ExitStatus = busyExit
			return
		}
		switch tag {
		case "pkg-install":
			for _, p := range []string{"curl", "xfsprogs", "e2fsprogs"} {
				if strings.Contains(cmd, " "+p) {
					h.tools[map[string]string{"curl": "curl", "xfsprogs": "mkfs.xfs", "e2fsprogs": "mkfs.ext4"}[p]] = "/usr/bin/" + p
				}
			}
		case "install-docker":
			h.tools["docker"] = "/usr/bin/docker"
			h.tools["dockerd"] = h.dockerd
			if h.startsOnInstall {
				h.units[dockerService] = &unitState{enabled: "enabled", active: "active"}
				h.units[dockerSocket] = &unitState{enabled: "enabled", active: "active"}
			} else {
				h.units[dockerService] = &unitState{enabled: "disabled", active: "inactive"}
				h.units[dockerSocket] = &unitState{enabled: "disabled", active: "inactive"}
			}
		case "pkg-upgrade":
			h.dockerVersion = "Docker version 25.0.3, build 4debf41"
		}
	case "docker-state":
		if p := h.tools["dockerd"]; p != "" {
			sec(&out, "dockerd", p+"\n")
			sec(&out, "version", h.dockerVersion+"\n")
		} else {
			sec(&out, "dockerd", "")
			sec(&out, "version", "")
		}
		sec(&out, "docker", h.tools["docker"]+"\n")
		if v, ok := h.file(RemoteDaemonJSON); ok {
			sec(&out, "daemon.json", v)
		}
		if v, ok := h.file(RemoteDropIn); ok {
			sec(&out, "drop-in", v)
		}
		var dropIns []string
		for p, f := range h.files {
			if strings.HasPrefix(p, "/etc/systemd/system/docker.service.d/") && strings.Contains(string(f.data), "ExecStart=") {
				dropIns = append(dropIns, p+"\n")
			}
		}
		sort.Strings(dropIns)
		sec(&out, "drop-ins", strings.Join(dropIns, ""))
		var certs []string
		for _, p := range []string{RemoteCACert, RemoteServerCert, RemoteServerKey} {
			if f, ok := h.files[p]; ok {
				s := sha256.Sum256(f.data)
				certs = append(certs, fmt.Sprintf("%s %o %s\n", p, f.mode, hex.EncodeToString(s[:])))
			}
		}
		sec(&out, "certs", strings.Join(certs, ""))
		var units []string
		for _, u := range []string{dockerService, dockerSocket} {
			if st := h.units[u]; st != nil {
				units = append(units, fmt.Sprintf("%s %s %s\n", u, st.enabled, st.active))
			} else {
				units = append(units, u+"  inactive\n")
			}
		}
		sec(&out, "units", strings.Join(units, ""))
	case "apply":
		for _, line := range strings.Split(cmd, "\n") {
			switch {
			case strings.HasPrefix(line, "systemctl disable "+dockerSocket):
				h.units[dockerSocket].enabled = "disabled"
			case strings.HasPrefix(line, "systemctl enable "+dockerService):
				h.units[dockerService].enabled = "enabled"
			case strings.Contains(line, "systemctl restart "+dockerService):
				h.restarts++
				h.units[dockerService].active = "active"
			}
		}
	case "docker-version":
		if st := h.units[dockerService]; st == nil || st.active != "active" {
			res.ExitStatus = 1
		}
	case "diagnose":
		out.WriteString("failed\ndockerd: failed to load listeners\n")
	case "engine-packages":
		out.WriteString("docker-ce\ndocker-ce-cli\n")
		sec(&out, "version", h.dockerVersion+"\n")
	case "disk-state":
		d := h.disk
		sec(&out, "dev", d.dev+"\n")
		sec(&out, "block", "yes\n")
		sec(&out, "type", d.fsType+"\n")
		sec(&out, "pttype", d.ptType+"\n")
		sec(&out, "uuid", d.uuid+"\n")
		mounts := "/dev/vda1 /\n"
		if d.mountedOn != "" {
			mounts += d.dev + " " + d.mountedOn + "\n"
		}
		sec(&out, "mounts", mounts)
		if v, ok := h.file("/etc/fstab"); ok {
			sec(&out, "fstab", v)
		}
		active := "inactive"
		if st := h.units[dockerService]; st != nil {
			active = st.active
		}
		sec(&out, "docker", active+"\n")
		sec(&out, "mkfs", "mkfs.ext4\n")
		if h.tools["mkfs.xfs"] != "" {
			out.WriteString("mkfs.xfs\n")
		}
	case "disk-prepare":
		d := h.disk
		if m := regexp.MustCompile(`mkfs\.(ext4|xfs) `).FindStringSubmatch(cmd); m != nil {
			d.fsType, d.uuid = m[1], "5a1e0b42-9c4b-4f1e-8f43-0d7c1f2b3a4c"
		}
		if strings.Contains(cmd, ">> /etc/fstab") {
			f := h.files["/etc/fstab"]
			f.data = append(append([]byte{}, f.data...), []byte(fmt.Sprintf("UUID=%s /var/lib/docker %s defaults,nofail 0 2\n", d.uuid, d.fsType))...)
			h.files["/etc/fstab"] = f
		}
		if strings.Contains(cmd, "mount /var/lib/docker") {
			d.mountedOn = "/var/lib/docker"
		}
	default:
		h.t.Errorf("fake host: unknown tag %q", tag)
		res.ExitStatus = 127
	}
	res.Stdout = []byte(out.String())
}

// writes returns the paths written, in order.
func (h *fakeHost) writes() []string {
	var ws []string
	for _, c := range h.calls {
		if m := tagRE.FindStringSubmatch(c.cmd); m != nil && (m[1] == "write" || m[1] == "hostname") {
			f := strings.Fields(m[2])
			if len(f) == 0 {
				ws = append(ws, "/etc/hostname")
				continue
			}
			ws = append(ws, f[0])
		}
	}
	return ws
}

func (h *fakeHost) tags() []string {
	var ts []string
	for _, c := range h.calls {
		if m := tagRE.FindStringSubmatch(c.cmd); m != nil {
			ts = append(ts, m[1])
		}
	}
	return ts
}

// transcript renders the calls for golden files. Inputs holding PEM blocks
// are summarised by size and hash; other inputs are shown in full.
func (h *fakeHost) transcript(from int) string {
	var b strings.Builder
	for i, c := range h.calls[from:] {
		fmt.Fprintf(&b, "### command %d, exit %d\n$ %s\n", i+1, c.exit, c.cmd)
		if c.input {
			if strings.Contains(string(c.stdin), "-----BEGIN") {
				s := sha256.Sum256(c.stdin)
				fmt.Fprintf(&b, "<stdin: %d bytes of PEM, sha256 %s>\n", len(c.stdin), hex.EncodeToString(s[:8]))
			} else {
				b.WriteString("<stdin>\n")
				for _, l := range strings.SplitAfter(string(c.stdin), "\n") {
					if l != "" {
						b.WriteString("| " + strings.TrimSuffix(l, "\n") + "\n")
					}
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
