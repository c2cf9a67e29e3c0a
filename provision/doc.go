// Package provision turns a freshly booted Linux host into a TLS-secured
// Docker host over SSH.
//
// It detects the distribution from /etc/os-release, waits for cloud-init and
// for the package manager, checks the host before changing anything, installs
// Docker when it is missing, writes the daemon's TLS material and a systemd
// drop-in, merges an existing /etc/docker/daemon.json instead of overwriting
// it, restarts Docker only when its configuration changed, and finally polls
// the caller's TLS check until the Docker API answers.
//
// All remote work goes through a Commander (a connected SSH client). Every
// file is sent on a command's standard input, never on its command line, and
// the CA private key is never an input to this package at all.
//
// Provisioning converges: it reads the host's state once, computes the
// desired files locally and writes only what differs, so a second run on an
// unchanged host writes nothing and does not restart Docker.
package provision
