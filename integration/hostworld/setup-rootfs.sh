#!/bin/sh
# Runs inside the freshly bootstrapped rootfs (via chroot) to make it behave
# like a cloud VM image. Inputs come from the environment:
#   APT_SOURCES  the sources.list lines to install (same mirror as the build)
#   WITH_DOCKER  "1" when docker.io was bootstrapped into the image
# This file is hashed into the image tag: any edit triggers a rebuild.
set -eu

# SSH: root may log in with a key or a password, like a fresh cloud instance
# whose key pair or password was set by the cloud.
cat >/etc/ssh/sshd_config.d/10-hostworld.conf <<'EOF'
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
UseDNS no
EOF

# Host keys must differ per host, so they are made on first boot, not here.
rm -f /etc/ssh/ssh_host_*
cat >/etc/systemd/system/hostworld-ssh-keygen.service <<'EOF'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
systemctl enable hostworld-ssh-keygen.service ssh.service

# Every host gets its own machine id on first boot.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id

printf '%s\n' "$APT_SOURCES" >/etc/apt/sources.list
rm -f /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources

# No cloud-init: the hostworld sets credentials itself; keep it off even if
# someone installs it later.
mkdir -p /etc/cloud
: >/etc/cloud/cloud-init.disabled

if [ "${WITH_DOCKER:-0}" = 1 ]; then
	systemctl enable docker.service containerd.service
fi

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /root/.bash_history
