// Package benchkit holds what the bench commands under integration/cmd
// share: finding the CLI under test, a cloud simulator whose instances are
// host containers, and the order statistics they print.
package benchkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/hostworld"
)

// CLI returns the absolute path of the docker-machine binary at path, or
// an error that says how to build it.
func CLI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		return "", fmt.Errorf("the CLI %s: %w (build it with `make build` or `go build -o DIR/docker-machine ./cmd/docker-machine`)", path, err)
	}
	return abs, nil
}

// Sim is a cloud simulator whose instances are VM-like host containers
// (SSH and Docker's TLS port forwarded from their public addresses).
type Sim struct {
	*cloudsim.Server
	Backend *cloudsim.ContainerBackend
	// Image is the host image the instances run.
	Image string
}

// StartSim builds or finds the host image (with Docker preinstalled when
// withDocker, so creates measure orchestration rather than installation)
// and starts a quiet simulator on it. Close it, also when interrupted:
// closing removes every host container it started.
func StartSim(ctx context.Context, withDocker bool) (*Sim, error) {
	img, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: withDocker})
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: img, Logger: quiet})
	srv, err := cloudsim.Start(cloudsim.Config{Backend: backend, PublicPorts: []int{22, 2376}, Logger: quiet})
	if err != nil {
		return nil, err
	}
	return &Sim{Server: srv, Backend: backend, Image: img}, nil
}

// Close stops the simulator and removes its host containers, with a
// deadline of its own so that it runs to the end after an interrupt.
func (s *Sim) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return s.Server.Close(ctx)
}

// Median is the middle of ds (the mean of the two middle values for an
// even count); 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of ds;
// 0 for none. With few samples the high percentiles are the maximum.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(float64(len(s)) * p / 100))
	return s[min(max(rank, 1), len(s))-1]
}
