#!/bin/sh
# Docker install script served by the hostworld, in the role of a mirror's
# install script (the "curl -fsSL URL | sh" step of provisioning). It installs
# Debian's docker.io from the host's configured apt sources, enables and starts
# it, and fails loudly when any of that does not work.
set -eu

say() { echo "install.sh: $*"; }
fail() {
	echo "install.sh: ERROR: $*" >&2
	exit 1
}

if [ "$(id -u)" = 0 ]; then
	as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	as_root() { sudo -n "$@"; }
else
	fail "must run as root or as a user with passwordless sudo (ran as $(id -un))"
fi

[ -r /etc/os-release ] || fail "no /etc/os-release: cannot tell which system this is"
. /etc/os-release
case "${ID:-}:${ID_LIKE:-}" in
debian:* | *:*debian*) ;;
*) fail "only Debian-based systems are supported, this is '${ID:-unknown}'" ;;
esac

# Retries with a growing pause: apt may hold its locks for a while right after
# boot (unattended upgrades), and a mirror can fail for a moment.
retry() {
	attempt=1
	pause=2
	while ! "$@"; do
		if [ "$attempt" -ge 5 ]; then
			return 1
		fi
		say "'$*' failed (attempt $attempt), retrying in ${pause}s"
		sleep "$pause"
		attempt=$((attempt + 1))
		pause=$((pause * 2))
	done
}

apt_get() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -q \
		-o DPkg::Lock::Timeout=120 -o Acquire::Retries=3 "$@"
}

say "updating package lists"
retry apt_get update || fail "apt-get update failed: check the apt sources in /etc/apt and that the mirror is reachable"

say "installing docker.io"
retry apt_get install -y --no-install-recommends docker.io ||
	fail "apt-get install docker.io failed: see the apt output above"

if [ -d /run/systemd/system ]; then
	as_root systemctl enable docker.service >/dev/null 2>&1 || fail "systemctl enable docker failed"
	as_root systemctl start docker.service || fail "systemctl start docker failed: see 'journalctl -u docker'"
else
	as_root service docker start || fail "service docker start failed"
fi

say "waiting for the Docker daemon to answer"
attempt=1
pause=1
until as_root docker version >/dev/null 2>&1; do
	if [ "$attempt" -ge 7 ]; then
		fail "dockerd did not answer 'docker version' within about 45 seconds: see 'journalctl -u docker'"
	fi
	sleep "$pause"
	attempt=$((attempt + 1))
	pause=$((pause * 2))
	[ "$pause" -le 16 ] || pause=16
done

say "Docker $(as_root docker version --format '{{.Server.Version}}') is installed and running"
