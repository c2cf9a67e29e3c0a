// Package hostworld gives integration tests and the cloud simulator real
// Linux hosts that behave like freshly created cloud VMs: containers started
// from a locally built Debian 12 image with systemd, sshd and sudo, reachable
// from this machine by SSH on their bridge address.
//
// EnsureImage builds the image once per machine (debootstrap from the Debian
// mirror this machine's apt sources name; the tag hashes every input), Start
// runs a host and installs its credentials, and ServeInstallScript serves the
// Docker install script that provisioners pipe to sh. StartHosts wraps it all
// for tests, with cleanup. Everything is driven through the docker CLI.
//
// Every container Start makes carries the label fleetdock.hostworld=1, so
// RemoveAllLabelled (or "testhost down --all") can find leaked ones.
package hostworld
