#!/bin/sh
# Builds a cloud-style Debian disk image that boots from its own disk with
# GRUB and configures itself from a cloud-init NoCloud seed. Runs on the
# build machine as root. Inputs come from the environment:
#   MIRROR    the Debian mirror of this machine's apt sources
#   SUITE     the Debian release
#   PACKAGES  comma-separated packages for debootstrap --include
#   WORK      an empty scratch directory (removed by the caller)
#   OUT       where the finished qcow2 image goes
#   DISK_SIZE the virtual size of the disk (truncate syntax)
# This file is hashed into the image's cache key: any edit triggers a rebuild.
set -eu

ROOTFS="$WORK/rootfs"
MNT="$WORK/mnt"
RAW="$WORK/disk.raw"
L0=""
L1=""

cleanup() {
	set +e
	for m in "$MNT" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev/pts" "$ROOTFS/dev"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	[ -n "$L1" ] && losetup -d "$L1"
	[ -n "$L0" ] && losetup -d "$L0"
}
trap cleanup EXIT

mkdir -p "$ROOTFS" "$MNT"
echo "vmimage: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR"

echo "deb $MIRROR $SUITE main" >"$ROOTFS/etc/apt/sources.list"

# debootstrap --include cannot install cloud-init (a virtual dependency is
# left unconfigured), so it is installed with apt inside the rootfs, with
# cloud-guest-utils (growpart) so a disk grown by the driver grows the root
# file system at first boot, as on distribution cloud images.
mount -t proc proc "$ROOTFS/proc"
mount -t sysfs sys "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount -t devpts devpts "$ROOTFS/dev/pts"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	apt-get update -q
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends cloud-init cloud-guest-utils
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/*
umount "$ROOTFS/dev/pts" "$ROOTFS/dev" "$ROOTFS/sys" "$ROOTFS/proc"

# Only the NoCloud seed (a cidata ISO) configures the guest; no network probes.
cat >"$ROOTFS/etc/cloud/cloud.cfg.d/90-dpkg.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
CFG
# No locale is generated in this image, so cloud-init's default en_US.UTF-8
# would fail update-locale and leave cloud-init in error; C.UTF-8 is built in.
cat >"$ROOTFS/etc/cloud/cloud.cfg.d/91-locale.cfg" <<'CFG'
locale: C.UTF-8
CFG

# DHCP on every wired interface, whatever the virtual NIC is called.
cat >"$ROOTFS/etc/systemd/network/10-dhcp.network" <<'NET'
[Match]
Name=en* eth*

[Network]
DHCP=yes
NET
chroot "$ROOTFS" systemctl enable systemd-networkd.service

# Every guest makes its own machine id and SSH host keys on first boot.
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id" "$ROOTFS"/etc/ssh/ssh_host_*
chroot "$ROOTFS" systemctl enable ssh.service
rm -rf "$ROOTFS"/tmp/* "$ROOTFS"/var/log/*.log

echo "vmimage: writing the disk"
truncate -s "$DISK_SIZE" "$RAW"
echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$RAW"
# No partition device nodes appear on this kind of machine (losetup -P makes
# none), so the partition is mapped by its offset.
L0=$(losetup -f --show "$RAW")
L1=$(losetup -f --show -o 1048576 "$RAW")
mkfs.ext4 -q -L root "$L1"
UUID=$(blkid -s UUID -o value "$L1")
mount "$L1" "$MNT"
cp -a "$ROOTFS/." "$MNT/"
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" >"$MNT/etc/fstab"
grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="part_msdos ext2 search_fs_uuid" "$L0"
KERNEL=$(cd "$MNT/boot" && ls vmlinuz-* | sort -V | tail -n 1)
INITRD=$(cd "$MNT/boot" && ls initrd.img-* | sort -V | tail -n 1)
cat >"$MNT/boot/grub/grub.cfg" <<GRUB
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
search --no-floppy --fs-uuid --set=root $UUID
menuentry "Debian" {
	linux /boot/$KERNEL root=UUID=$UUID ro console=tty0 console=ttyS0,115200n8
	initrd /boot/$INITRD
}
GRUB
umount "$MNT"
losetup -d "$L1"; L1=""
losetup -d "$L0"; L0=""

echo "vmimage: converting to qcow2"
qemu-img convert -c -f raw -O qcow2 "$RAW" "$OUT"
