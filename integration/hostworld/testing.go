package hostworld

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartHosts starts n hosts for a test, in parallel, and removes them when
// the test ends, whether it passed or not. Host i (from 1) is named
// "<opts.Name>-<i>"; opts.Name defaults to a name made from the test's name
// and a random part, so parallel tests and test binaries never collide.
// It fails the test at once if the Docker engine cannot be used.
func StartHosts(t testing.TB, n int, opts HostOptions) []*Host {
	t.Helper()
	ctx := t.Context()
	RequireDocker(t)

	run := randomSuffix()
	if opts.Name == "" {
		opts.Name = hostNameFor(t.Name()) + "-" + run
	}
	// Every host of this call carries the run label, so the cleanup also
	// catches a container whose Start was cut short.
	opts.Labels = maps.Clone(opts.Labels)
	if opts.Labels == nil {
		opts.Labels = map[string]string{}
	}
	opts.Labels[labelKey+".run"] = run
	opts.Labels[labelKey+".test"] = t.Name()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := RemoveAllLabelled(cctx, map[string]string{labelKey + ".run": run}); err != nil {
			t.Errorf("cleaning up the hosts of %s: %v", t.Name(), err)
		}
	})

	if opts.Image == "" {
		img, err := EnsureImage(ctx, ImageOptions{})
		if err != nil {
			t.Fatalf("preparing the host image: %v", err)
		}
		opts.Image = img
	}

	hosts := make([]*Host, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := opts
		o.Name = fmt.Sprintf("%s-%d", opts.Name, i+1)
		wg.Go(func() { hosts[i], errs[i] = Start(ctx, o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("starting %d test hosts: %v", n, err)
	}
	return hosts
}

// RequireDocker fails the test unless the Docker engine answers.
func RequireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if _, err := docker(ctx, nil, "version", "--format", "{{.Server.Version}}"); err != nil {
		t.Fatalf("the Docker engine is not reachable, and these tests need it (start dockerd: make test does it): %v", err)
	}
}

// hostNameFor turns a test name into a hostname part: lower case letters,
// digits and '-', short enough to leave room for the suffixes.
func hostNameFor(testName string) string {
	var b strings.Builder
	dash := true
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "-")
	}
	if s == "" {
		s = "host"
	}
	return s
}
