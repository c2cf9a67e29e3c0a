package provision

import (
	"context"
	"fmt"
	"strings"
)

// Upgrade upgrades the Docker engine through the path it was installed by:
// the package manager when Docker came from packages (get.docker.com, the
// distribution or Docker's repository all install packages), otherwise by
// running the install URL again. The daemon configuration is then checked
// like in Provision, Docker is restarted so the new engine runs, and the TLS
// check is polled. Report.Upgraded says whether the engine's version changed.
func Upgrade(ctx context.Context, c Commander, opts Options) (*Report, error) {
	return run(ctx, c, opts, func(s *session) error { return s.upgrade(ctx) })
}

func (s *session) upgrade(ctx context.Context) error {
	if !s.facts.has("docker") {
		return fmt.Errorf("Docker is not installed on machine %q, so it cannot be upgraded: run 'docker-machine provision %s' first", s.o.MachineName, s.o.MachineName)
	}
	var before string
	err := s.step("Upgrading Docker", func() error {
		script := "# fdm:engine-packages\n" + s.p.installedScript(s.p.enginePackages()) + "\n" + section("version") + "dockerd --version 2>/dev/null; true"
		res, err := s.r.check(ctx, "listing Docker's packages", script, true, s.t.Command)
		if err != nil {
			return err
		}
		secs := parseSections([]byte("\n" + sectionMark + "packages\n" + string(res.Stdout)))
		before = strings.TrimSpace(secs["version"])
		pkgs := strings.Fields(secs["packages"])
		if len(pkgs) > 0 {
			_, err := s.pkgRun(ctx, "upgrading "+strings.Join(pkgs, ", "), "# fdm:pkg-upgrade\n", s.p.upgradeScript(pkgs), s.t.Install)
			return err
		}
		if s.source == SourceNone {
			return fmt.Errorf("Docker on machine %q was not installed from packages and the install URL is \"none\": upgrade it by hand, or give an install URL", s.o.MachineName)
		}
		if u := s.checkedURL(); u != "" {
			if err := s.checkURL(ctx, u); err != nil {
				return err
			}
		}
		return s.installDocker(ctx)
	})
	if err != nil {
		return err
	}
	if err := s.configureAndStart(ctx, true); err != nil {
		return err
	}
	s.rep.Upgraded = s.rep.EngineVersion != before
	return nil
}
