package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// dockerState is what one privileged read tells about Docker on the host.
type dockerState struct {
	dockerd    string
	docker     string
	version    string
	daemonJSON *string
	dropIn     *string
	// overriding lists other drop-ins that set ExecStart after ours.
	overriding []string
	certs      map[string]certState // by remote path
	units      map[string]unitState // docker.service, docker.socket
}

type certState struct {
	mode   string // octal, e.g. "600"
	sha256 string
}

type unitState struct{ enabled, active string }

const (
	dockerService = "docker.service"
	dockerSocket  = "docker.socket"
)

func stateScript() string {
	var b strings.Builder
	b.WriteString("# fdm:docker-state\n")
	b.WriteString(section("dockerd") + "command -v dockerd\n")
	b.WriteString(section("docker") + "command -v docker\n")
	b.WriteString(section("version") + "dockerd --version 2>/dev/null\n")
	b.WriteString(fileSection("daemon.json", RemoteDaemonJSON))
	b.WriteString(fileSection("drop-in", RemoteDropIn))
	// Drop-ins are applied in file-name order across these directories; one
	// sorting after ours that sets ExecStart replaces or breaks ours.
	b.WriteString(section("drop-ins") + "for f in /etc/systemd/system/docker.service.d/*.conf /run/systemd/system/docker.service.d/*.conf /usr/lib/systemd/system/docker.service.d/*.conf /lib/systemd/system/docker.service.d/*.conf; do [ -f \"$f\" ] && grep -qs '^[[:space:]]*ExecStart=' \"$f\" && echo \"$f\"; done\n")
	b.WriteString(section("certs"))
	b.WriteString("for f in " + RemoteCACert + " " + RemoteServerCert + " " + RemoteServerKey + "; do [ -f \"$f\" ] && echo \"$f $(stat -c %a \"$f\") $(sha256sum < \"$f\" | cut -d ' ' -f 1)\"; done\n")
	b.WriteString(section("units"))
	b.WriteString("for u in " + dockerService + " " + dockerSocket + "; do echo \"$u $(systemctl is-enabled \"$u\" 2>/dev/null || true) $(systemctl is-active \"$u\" 2>/dev/null || true)\"; done\n")
	return b.String()
}

func parseDockerState(out []byte) *dockerState {
	s := parseSections(out)
	st := &dockerState{
		dockerd: strings.TrimSpace(s["dockerd"]),
		docker:  strings.TrimSpace(s["docker"]),
		version: strings.TrimSpace(s["version"]),
		certs:   map[string]certState{},
		units:   map[string]unitState{},
	}
	if v, ok := s["daemon.json"]; ok {
		st.daemonJSON = &v
	}
	if v, ok := s["drop-in"]; ok {
		st.dropIn = &v
	}
	ours := path.Base(RemoteDropIn)
	for _, f := range strings.Fields(s["drop-ins"]) {
		if f != RemoteDropIn && path.Base(f) > ours {
			st.overriding = append(st.overriding, f)
		}
	}
	for _, line := range strings.Split(s["certs"], "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			st.certs[f[0]] = certState{mode: f[1], sha256: f[2]}
		}
	}
	for _, line := range strings.Split(s["units"], "\n") {
		f := strings.Fields(line)
		switch len(f) {
		case 3:
			st.units[f[0]] = unitState{enabled: f[1], active: f[2]}
		case 2: // is-enabled printed nothing: the unit does not exist
			st.units[f[0]] = unitState{active: f[1]}
		}
	}
	return st
}

func (s *session) readDockerState(ctx context.Context) (*dockerState, error) {
	res, err := s.r.check(ctx, "reading Docker's state", stateScript(), true, s.t.Command)
	if err != nil {
		return nil, err
	}
	return parseDockerState(res.Stdout), nil
}

func (s *session) daemonInput(dockerd string, daemonJSON *string) daemonInput {
	return daemonInput{
		Machine:    s.o.MachineName,
		Driver:     s.o.DriverName,
		Engine:     s.e,
		Port:       s.o.DockerPort,
		Dockerd:    dockerd,
		DaemonJSON: daemonJSON,
	}
}

type wantFile struct {
	path string
	mode uint32
	data []byte
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// configureAndStart computes the daemon's configuration, writes what
// differs, (re)starts Docker when needed and waits for the TLS check.
// forceRestart is Upgrade's: the new engine must be the one running.
func (s *session) configureAndStart(ctx context.Context, forceRestart bool) error {
	var (
		st          *dockerState
		writeDropIn bool
	)
	err := s.step("Configuring Docker", func() error {
		var err error
		st, err = s.readDockerState(ctx)
		if err != nil {
			return err
		}
		if st.dockerd == "" || st.docker == "" {
			return fmt.Errorf("Docker is not installed on machine %q (dockerd or docker not found); if an install ran, its output above says why", s.o.MachineName)
		}
		if len(st.overriding) > 0 {
			return fmt.Errorf("%s on machine %q also set ExecStart and would replace the machine's TLS configuration in %s: remove them (or rename them to sort before %s), then provision again", strings.Join(st.overriding, ", "), s.o.MachineName, RemoteDropIn, path.Base(RemoteDropIn))
		}
		plan, err := planDaemon(s.daemonInput(st.dockerd, st.daemonJSON))
		if err != nil {
			return fmt.Errorf("machine %q: %w", s.o.MachineName, err)
		}
		s.rep.Warnings = append(s.rep.Warnings, plan.Warnings...)
		for _, w := range plan.Warnings {
			s.r.log.Warn("engine option not applied", "machine", s.o.MachineName, "reason", w)
		}
		var files []wantFile
		for _, c := range []wantFile{
			{RemoteCACert, 0o644, s.o.CACert},
			{RemoteServerCert, 0o644, s.o.ServerCert},
			{RemoteServerKey, 0o600, s.o.ServerKey},
		} {
			cur, ok := st.certs[c.path]
			if !ok || cur.sha256 != sha(c.data) || cur.mode != strconv.FormatUint(uint64(c.mode), 8) {
				files = append(files, c)
			}
		}
		if plan.WriteJSON {
			files = append(files, wantFile{RemoteDaemonJSON, 0o644, plan.JSON})
		}
		if st.dropIn == nil || *st.dropIn != string(plan.DropIn) {
			files = append(files, wantFile{RemoteDropIn, 0o644, plan.DropIn})
			writeDropIn = true
		}
		for _, f := range files {
			if err := s.writeFile(ctx, f.path, f.mode, f.data, false); err != nil {
				return err
			}
		}
		s.rep.Changed = len(files) > 0
		return nil
	})
	if err != nil {
		return err
	}
	s.rep.EngineVersion = st.version

	svc, sock := st.units[dockerService], st.units[dockerSocket]
	var cmds []string
	if writeDropIn {
		cmds = append(cmds, "systemctl daemon-reload")
	}
	// Only boot-time activation is turned off: docker.service still
	// Requires= the socket, so masking it would make every start fail, and
	// stopping it would stop Docker. With no fd:// listener, the socket's
	// path is Docker's own and vanishes when Docker stops.
	if sock.enabled == "enabled" {
		cmds = append(cmds, "systemctl disable "+dockerSocket)
	}
	if svc.enabled != "enabled" {
		cmds = append(cmds, "systemctl enable "+dockerService)
	}
	restart := s.rep.Changed || forceRestart || svc.active != "active"
	if restart {
		// reset-failed clears systemd's start rate limit (docker.service
		// allows 3 starts a minute): install, provision and upgrade in
		// quick succession would otherwise be refused "too often".
		cmds = append(cmds, "systemctl reset-failed "+dockerService+" 2>/dev/null || true",
			fmt.Sprintf("timeout %d systemctl restart %s", int(s.t.Restart/time.Second), dockerService))
	}
	if len(cmds) > 0 {
		name := "Enabling Docker"
		if restart {
			name = "Restarting Docker"
		}
		err := s.step(name, func() error {
			script := "# fdm:apply\nset -e\n" + strings.Join(cmds, "\n")
			res, err := s.r.run(ctx, strings.ToLower(name[:1])+name[1:], script, true, s.t.Restart+time.Minute)
			if err != nil {
				return err
			}
			if res.ExitStatus != 0 {
				return fmt.Errorf("%s on machine %q failed (exit status %d): %s%s", strings.ToLower(name), s.o.MachineName, res.ExitStatus, tail(res.Stderr, res.Stdout), s.diagnose(ctx))
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.rep.Restarted = restart
	}
	return s.step("Waiting for Docker", func() error { return s.waitDocker(ctx) })
}

// waitDocker polls the caller's TLS check until it succeeds or times out.
func (s *session) waitDocker(ctx context.Context) error {
	check := s.o.CheckDocker
	what := fmt.Sprintf("the Docker API over TLS on port %d", s.o.DockerPort)
	if check == nil {
		what = "the Docker daemon"
		check = func(ctx context.Context) error {
			res, err := s.r.run(ctx, "asking the Docker daemon for its version", "# fdm:docker-version\ndocker version --format '{{.Server.Version}}'", true, s.t.Command)
			if err != nil {
				return err
			}
			if res.ExitStatus != 0 {
				return fmt.Errorf("docker version: %s", tail(res.Stderr, res.Stdout))
			}
			return nil
		}
	}
	err := poll.Until(ctx, s.waitOptions(what+s.r.on(), s.t.Docker), func(ctx context.Context) (bool, error) {
		// Every failure is retried: right after a restart the port refuses
		// connections, and a slow host may need several tries.
		if err := check(ctx); err != nil {
			return false, err
		}
		return true, nil
	})
	if err != nil && ctx.Err() != nil {
		// Interrupted: no diagnosis, and no advice for a machine that
		// the caller is about to roll back.
		return err
	}
	if err != nil {
		return fmt.Errorf("%w%s\nCheck that TCP port %d is open in the machine's firewall or security group, then run 'docker-machine provision %s'", err, s.diagnose(ctx), s.o.DockerPort, s.o.MachineName)
	}
	return nil
}

// diagnose returns the daemon's state and last log lines, for errors. It
// has a short deadline of its own and is skipped once ctx has ended: an
// interrupted command stops at once.
func (s *session) diagnose(ctx context.Context) string {
	if ctx.Err() != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	res, err := s.r.run(ctx, "reading Docker's log", "# fdm:diagnose\nsystemctl is-active docker.service; journalctl -u docker.service --no-pager -n 20 -o cat 2>/dev/null | tail -n 20", true, diagnoseTimeout)
	if err != nil || len(strings.TrimSpace(string(res.Stdout))) == 0 {
		return ""
	}
	return "\nDocker's state and last log lines on the host:\n" + indent(strings.TrimSpace(string(res.Stdout)))
}

// diagnoseTimeout bounds the read of Docker's log after a failure.
const diagnoseTimeout = 10 * time.Second

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}
