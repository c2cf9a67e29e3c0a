// Package vmimage builds and serves a cloud-style disk image for tests that
// boot real virtual machines: Debian 12 with its kernel, systemd, sshd, sudo
// and cloud-init (NoCloud datasource only), GRUB on its own disk, so it
// boots like a distribution's cloud image and takes its user, key and
// hostname from a cidata seed ISO.
//
// Ensure builds the image once per machine (debootstrap from the Debian
// mirror this machine's apt sources name, as root) and caches it under a
// name that hashes every input, so a warm call only checks that the file
// exists. Serve publishes it on loopback as an image URL with a SHA256SUMS
// file beside it, the way cloud images are published:
//
//	img, err := vmimage.Ensure(ctx)
//	srv, err := vmimage.Serve(img)
//	defer srv.Close()
//	// srv.ImageURL() is http://127.0.0.1:PORT/debian-12-cloud.qcow2
//	// srv.ChecksumURL() is the SHA256SUMS beside it
//
// or, in a test, srv := vmimage.ServeForTest(t).
//
// The disk's virtual size is 3 GB; cloud-init grows the root partition
// and file system to a disk the driver made larger. "go run ./integration/vmimage/cmd/vmimage" builds it ahead
// of the tests ("-serve" also serves it).
//
// The build needs debootstrap, fdisk (sfdisk), util-linux (losetup,
// mountpoint, blkid), e2fsprogs, grub-pc-bin, grub2-common and qemu-utils.
package vmimage
