package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetdock/machine/integration/e2e/interrupt"
)

// The runner's timings (executors/docker/machine/consts.go): a second
// between attempts to get a machine, a minute for `stop`, three attempts
// per job. Its removal retries every 30 s until rm succeeds; the bench
// retries sooner and gives up after a bound, so a stuck removal shows as a
// failure and a leftover instead of a bench that never ends.
const (
	provisionRetryInterval = time.Second
	useAttempts            = 3
	stopTimeout            = time.Minute
	createTimeout          = 10 * time.Minute
	commandTimeout         = 3 * time.Minute
	// killAfter is how long a command has after its SIGINT to roll back.
	killAfter = 90 * time.Second
)

// soak is one scenario at one K: K workers, each running rounds jobs, each
// job getting a fresh machine the way the runner does and removing it
// after use (MaxBuilds = 1, the usual autoscaling setting).
type soak struct {
	cli    string
	docker string // the job's Docker client
	store  string
	env    []string // the CLI's environment
	create []string // create's options, after `create --driver D`
	driver string
	// removeRetry and removeAttempts bound the runner's removal loop.
	removeRetry    time.Duration
	removeAttempts int
	// cleanup is the context removals run on: an interrupt of the bench
	// stops new jobs, never a removal under way.
	cleanup context.Context
	// report is told about each failure as it happens.
	report func(step, name, cause, line string)

	mu          sync.Mutex
	createTimes []time.Duration
	failures    map[string]int // "step: cause"
	jobsOK      int
	jobsLost    int
	removals    sync.WaitGroup
}

// run runs k workers of rounds jobs and waits for every removal.
func (s *soak) run(ctx context.Context, k, rounds int) {
	var workers sync.WaitGroup
	for range k {
		workers.Go(func() {
			for range rounds {
				if ctx.Err() != nil {
					return
				}
				s.job(ctx)
			}
		})
	}
	workers.Wait()
	s.removals.Wait()
}

// job is retryUseMachine: up to three machines are tried; a machine that
// fails to be created or used is removed (in the background, as the runner
// does) and the next one is created after a second.
func (s *soak) job(ctx context.Context) {
	for attempt := 1; attempt <= useAttempts; attempt++ {
		if attempt > 1 && sleep(ctx, provisionRetryInterval) != nil {
			break
		}
		name := machineName()
		start := time.Now()
		args := append(append([]string{"create", "--driver", s.driver}, s.create...), name)
		out, err := s.dm(ctx, createTimeout, args...)
		if err != nil {
			s.fail("create", name, out, err)
			s.removeLater(name)
			continue
		}
		s.mu.Lock()
		s.createTimes = append(s.createTimes, time.Since(start))
		s.mu.Unlock()
		if err := s.use(ctx, name); err != nil {
			s.removeLater(name)
			continue
		}
		s.removeLater(name)
		s.mu.Lock()
		s.jobsOK++
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.jobsLost++
	s.mu.Unlock()
}

// use is what the runner does with a new machine before a build: the
// "can connect" check, the credentials (url and the certificates'
// directory), then the job's own Docker client talking to the host.
func (s *soak) use(ctx context.Context, name string) error {
	if out, err := s.dm(ctx, commandTimeout, "config", name); err != nil {
		s.fail("config", name, out, err)
		return err
	}
	url, err := s.get(ctx, "url", name)
	if err != nil {
		return err
	}
	certs, err := s.get(ctx, "inspect", name, "-f", "{{.HostOptions.AuthOptions.StorePath}}")
	if err != nil {
		return err
	}
	env := []string{"DOCKER_HOST=" + url, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}
	out, err := s.command(ctx, commandTimeout, env, s.docker, "version", "--format", "{{.Server.Version}}")
	if err == nil && strings.TrimSpace(out) == "" {
		err = errors.New("docker version printed no server version")
	}
	if err != nil {
		s.fail("docker version", name, out, err)
		return err
	}
	return nil
}

// get is the runner's way of reading a value: stdout trimmed, empty is an
// error.
func (s *soak) get(ctx context.Context, args ...string) (string, error) {
	out, err := s.dm(ctx, commandTimeout, args...)
	if err == nil && strings.TrimSpace(out) == "" {
		err = fmt.Errorf("%s printed nothing", args[0])
	}
	if err != nil {
		s.fail(args[0], args[1], out, err)
		return "", err
	}
	return strings.TrimSpace(out), nil
}

func (s *soak) removeLater(name string) {
	s.removals.Go(func() { s.remove(s.cleanup, name) })
}

// remove is the runner's removeMachine loop: skip a machine that does not
// exist (no config.json, or `inspect` fails), else `stop` (its failure only
// logged) and `rm -y`, again after a pause while rm fails.
func (s *soak) remove(ctx context.Context, name string) {
	for attempt := 1; ; attempt++ {
		if !s.exists(ctx, name) {
			return
		}
		if out, err := s.dm(ctx, stopTimeout, "stop", name); err != nil {
			s.fail("stop", name, out, err)
		}
		out, err := s.dm(ctx, commandTimeout, "rm", "-y", name)
		if err == nil {
			return
		}
		s.fail("rm", name, out, err)
		if attempt >= s.removeAttempts || sleep(ctx, s.removeRetry) != nil {
			s.fail("removal", name, fmt.Sprintf("gave up on %s after %d rm attempts", name, attempt), errors.New("gave up"))
			return
		}
	}
}

// exists is the runner's Exist: config.json is there and inspect exits 0.
func (s *soak) exists(ctx context.Context, name string) bool {
	if _, err := os.Stat(filepath.Join(s.store, "machines", name, "config.json")); err != nil {
		return false
	}
	_, err := s.dm(ctx, commandTimeout, "inspect", name)
	return err == nil
}

func (s *soak) fail(step, name, out string, err error) {
	text := out
	if strings.TrimSpace(text) == "" {
		text = err.Error()
	}
	cause := causeOf(text)
	s.mu.Lock()
	s.failures[step+": "+cause]++
	s.mu.Unlock()
	if s.report != nil {
		s.report(step, name, cause, lastLine(text))
	}
}

// dm runs the CLI as the runner does: the crash-report token first, the
// store from MACHINE_STORAGE_PATH.
func (s *soak) dm(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	return s.command(ctx, timeout, nil, s.cli, append([]string{"--bugsnag-api-token=no-report"}, args...)...)
}

// command runs name with args in its own process group, so a Ctrl-C at the
// terminal reaches the bench alone; the bench passes on one SIGINT when
// ctx ends or timeout passes (a create then rolls back) and kills the
// command if it is still there killAfter later.
func (s *soak) command(ctx context.Context, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(slices.Clone(s.env), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = killAfter
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
	}
	return out.String(), err
}

// machineName is newMachineName of the runner: runner-<token>-<template>
// with the template's %s a Unix time and 4 random bytes.
func machineName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("runner-fleetbch-soak-%d-%s", time.Now().Unix(), hex.EncodeToString(b))
}

// cliEnv is the environment of every command: the caller's, without any
// cloud, machine or Docker setting, the SDKs' metadata probes off, and the
// bench's store.
func cliEnv(store string, extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, p := range []string{"AWS_", "ALIBABA_CLOUD_", "ECS_", "MACHINE_", "DOCKER_"} {
			if strings.HasPrefix(kv, p) {
				return true
			}
		}
		return false
	})
	env = append(env, interrupt.BaseEnv()...)
	return append(append(env, "MACHINE_STORAGE_PATH="+store), extra...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
