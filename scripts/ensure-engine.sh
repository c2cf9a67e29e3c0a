#!/usr/bin/env bash
# Installs and starts what the integration tests and the demo need on a
# fresh Debian machine: Docker's engine (Debian's docker.io), debootstrap for
# the host image, OpenSSH for the SSH tests, QEMU and the disk tools for the
# VirtualBox stand-in's real VMs. Safe to run again.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
# The VBoxManage stand-in's QEMU backend and the cloud-style test image;
# their recommends (desktop integration) are not needed.
vm=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || vm+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || vm+=(qemu-utils)
command -v genisoimage >/dev/null 2>&1 || vm+=(genisoimage)
command -v sfdisk >/dev/null 2>&1 || vm+=(fdisk)
command -v grub-install >/dev/null 2>&1 || vm+=(grub2-common)
[ -d /usr/lib/grub/i386-pc ] || vm+=(grub-pc-bin)
command -v mkfs.ext4 >/dev/null 2>&1 || vm+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || vm+=(util-linux)
if [ ${#need[@]} -gt 0 ] || [ ${#vm[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "Installing ${need[*]} ${vm[*]}..."
  $sudo_cmd apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ ${#vm[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${vm[@]}" >/dev/null
  fi
fi

if ! docker info >/dev/null 2>&1; then
  echo "Starting dockerd..."
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  # In a session of its own: the daemon outlives the shell, job or terminal
  # that started it (a process group that ends takes its members with it).
  $sudo_cmd sh -c 'setsid nohup dockerd >>/var/log/dockerd.log 2>&1 </dev/null &'
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi
