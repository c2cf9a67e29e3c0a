package interrupt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/hostworld"
)

// World is a simulator (behind a Watch), a machine store and, for
// container-backed instances, an install-script server whose script never
// finishes, so provisioning stays in "Installing Docker" until stopped.
type World struct {
	Sim   *cloudsim.Server
	Watch *Watch
	CLI   string
	Store string
	// Env holds the simulator's credentials as the environment gives them
	// (which the store never keeps).
	Env []string
	// InstallURL is the hanging install script (container worlds only).
	InstallURL string

	installing  atomic.Int32 // runs of the install script that began
	stopInstall func()
}

// Options choose a World's instances.
type Options struct {
	CLI, Store string
	// Container runs instances as host containers (real SSH); otherwise
	// instances exist only in the API.
	Container bool
}

// NewWorld starts a simulator with default faults. Close it when done.
func NewWorld(ctx context.Context, o Options) (*World, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := cloudsim.Config{Logger: quiet}
	w := &World{CLI: o.CLI, Store: o.Store}
	if o.Container {
		img, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{})
		if err != nil {
			return nil, fmt.Errorf("preparing the host image: %w", err)
		}
		cfg.Backend = cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: img, Logger: quiet})
		cfg.PublicPorts = []int{22, 2376}
		if err := w.serveInstall(ctx); err != nil {
			return nil, err
		}
	}
	sim, err := cloudsim.Start(cfg)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("starting the cloud simulator: %w", err)
	}
	w.Sim = sim
	if w.Watch, err = NewWatch(sim.Endpoint()); err != nil {
		w.Close()
		return nil, err
	}
	id, secret := sim.Credentials()
	w.Env = []string{"ECS_ACCESS_KEY_ID=" + id, "ECS_ACCESS_KEY_SECRET=" + secret}
	return w, nil
}

// serveInstall serves, on the Docker bridge gateway (the address hosts
// reach), an install script that reports that it runs, then sleeps: its
// download passes the provisioner's URL check, its run keeps provisioning
// busy.
func (w *World) serveInstall(ctx context.Context) error {
	gw, err := hostworld.GatewayIP(ctx)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		return fmt.Errorf("serving the install script: %w", err)
	}
	base := "http://" + ln.Addr().String()
	script := fmt.Sprintf("#!/bin/sh\n# stands for an install that takes long\ncurl -fsS -o /dev/null %s/running\nsleep 600\n", base)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /install.sh", func(rw http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(rw, script) })
	mux.HandleFunc("GET /running", func(http.ResponseWriter, *http.Request) { w.installing.Add(1) })
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	w.InstallURL = base + "/install.sh"
	w.stopInstall = func() { _ = srv.Close() }
	return nil
}

// Close stops the simulator (deleting its hosts) and the servers.
func (w *World) Close() error {
	var errs []error
	if w.Watch != nil {
		errs = append(errs, w.Watch.Close())
	}
	if w.Sim != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		errs = append(errs, w.Sim.Close(ctx))
	}
	if w.stopInstall != nil {
		w.stopInstall()
	}
	return errors.Join(errs...)
}

// CreateArgs is `create -d aliyunecs` of name against the world, for Start.
func (w *World) CreateArgs(name string) []string {
	args := []string{"create", "-d", "aliyunecs", "--aliyunecs-api-endpoint", w.Watch.URL()}
	if w.InstallURL != "" {
		args = append(args, "--engine-install-url", w.InstallURL)
	}
	return append(args, name)
}

// Start runs the CLI on the world's store with args (no -s) and the
// credentials in the environment.
func (w *World) Start(args ...string) (*Proc, error) {
	return Start(w.CLI, w.Env, append([]string{"-s", w.Store}, args...)...)
}

// UserResources is what the cloud holds beyond its catalog and defaults,
// as JSON, for before/after comparisons.
func (w *World) UserResources() string {
	r := w.Sim.Resources()
	b, _ := json.MarshalIndent(map[string]any{
		"instances": r.Instances, "security_groups": r.SecurityGroups, "key_pairs": r.KeyPairs, "eips": r.EIPs,
		"public_ips": r.PublicIPs, "route_entries": r.RouteEntries, "load_balancers": r.LoadBalancers,
		"backend_servers": r.BackendServers, "tags": r.Tags, "forwarders": r.Forwarders,
		"vpcs": r.VPCs, "vswitches": r.VSwitches,
	}, "", " ")
	return string(b)
}

// InstanceOf is the simulator's instance named name, if any.
func (w *World) InstanceOf(name string) (cloudsim.InstanceResource, bool) {
	for _, inst := range w.Sim.Resources().Instances {
		if inst.Name == name || inst.HostName == name {
			return inst, true
		}
	}
	return cloudsim.InstanceResource{}, false
}

// HasEntry reports whether the store still has a directory for name.
func (w *World) HasEntry(name string) bool {
	_, err := os.Stat(filepath.Join(w.Store, "machines", name))
	return err == nil
}

// Point is a moment of a create at which a signal is sent.
type Point struct {
	Name string
	// Container: the point needs instances with SSH.
	Container bool
	// Faults are the simulator settings that make the point last.
	Faults func() cloudsim.Faults
	// Reached waits until the create is at the point.
	Reached func(ctx context.Context, w *World, p *Proc, name string) error
}

// BootTime is how long instances boot at the "wait for Running" point;
// a bench may make it longer.
var BootTime = 8 * time.Second

// Points are the interrupt points of a create: (a) the pre-create check
// and (a') the driver's API calls, slowed by latency; (b) the wait for the
// instance to run; (c) provisioning over SSH.
var Points = []Point{
	{
		Name: "pre-create check",
		Faults: func() cloudsim.Faults {
			f := cloudsim.DefaultFaults()
			f.Latency = cloudsim.Duration(3 * time.Second)
			return f
		},
		Reached: func(ctx context.Context, w *World, p *Proc, _ string) error {
			if err := p.WaitOutput(ctx, "Running pre-create checks"); err != nil {
				return err
			}
			return w.Watch.WaitInFlight(ctx, "")
		},
	},
	{
		Name: "driver API calls",
		Faults: func() cloudsim.Faults {
			f := cloudsim.DefaultFaults()
			f.ActionLatency = map[string]cloudsim.Duration{"RunInstances": cloudsim.Duration(time.Minute)}
			return f
		},
		Reached: func(ctx context.Context, w *World, _ *Proc, _ string) error {
			return w.Watch.WaitInFlight(ctx, "RunInstances")
		},
	},
	{
		Name: "wait for Running",
		// ECS deletes no instance while it is Starting, so the rollback
		// waits out the rest of the boot: a boot of realistic length.
		Faults: func() cloudsim.Faults {
			f := cloudsim.DefaultFaults()
			f.BootTime = cloudsim.Duration(BootTime)
			return f
		},
		Reached: func(ctx context.Context, w *World, _ *Proc, name string) error {
			return until(ctx, "the instance to be booting", func() bool {
				inst, ok := w.InstanceOf(name)
				return ok && inst.Status == "Starting"
			})
		},
	},
	{
		Name:      "provisioning",
		Container: true,
		Faults:    cloudsim.DefaultFaults,
		Reached: func(ctx context.Context, w *World, p *Proc, _ string) error {
			if err := p.WaitOutput(ctx, "Installing Docker"); err != nil {
				return err
			}
			return until(ctx, "the install script to run on the host", func() bool { return w.installing.Load() > 0 })
		},
	},
}

// until polls cond with backoff until it holds or ctx ends.
func until(ctx context.Context, what string, cond func() bool) error {
	pause := 10 * time.Millisecond
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-time.After(pause):
		}
		pause = min(pause*2, 200*time.Millisecond)
	}
	return nil
}

// Result is one interrupted create.
type Result struct {
	Code int
	// ToExit is the time from the signal to the exit.
	ToExit time.Duration
	Output string
}

// Interrupt runs a create of name, waits (at most reach) until it is at
// point, sends one SIGINT and waits at most bound for the exit. The
// returned error is a create that never reached the point or outlived
// bound (it is then killed); Result then still holds the output.
func (w *World) Interrupt(ctx context.Context, pt Point, name string, reach, bound time.Duration) (Result, error) {
	if err := w.Sim.SetFaults(pt.Faults()); err != nil {
		return Result{}, err
	}
	w.installing.Store(0)
	p, err := w.Start(w.CreateArgs(name)...)
	if err != nil {
		return Result{}, err
	}
	defer p.Kill()
	rctx, cancel := context.WithTimeout(ctx, reach)
	defer cancel()
	if err := pt.Reached(rctx, w, p, name); err != nil {
		p.Kill()
		return Result{Output: p.Output()}, fmt.Errorf("the create of %s never reached %s: %w", name, pt.Name, err)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		return Result{Output: p.Output()}, err
	}
	code, d, err := p.Wait(bound)
	return Result{Code: code, ToExit: d, Output: p.Output()}, err
}
