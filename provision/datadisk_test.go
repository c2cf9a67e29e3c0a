package provision

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func diskHost(t *testing.T, d fakeDisk) *fakeHost {
	h := newFakeHost(t, "debian-12")
	h.disk = &d
	return h
}

func TestPrepareDataDiskFormatsAndMounts(t *testing.T) {
	h := diskHost(t, fakeDisk{dev: "/dev/vdb"})
	var lines []string
	require.NoError(t, PrepareDataDisk(context.Background(), h, DataDisk{Device: "/dev/disk/by-id/virtio-data"}, func(s string) { lines = append(lines, s) }))
	assert.Equal(t, []string{"Preparing the data disk..."}, lines)
	assert.Equal(t, []string{"whoami", "disk-state", "disk-prepare"}, h.tags())
	prep := h.calls[2].cmd
	assert.Contains(t, prep, "mkfs.ext4 -q -L docker-data '\\''/dev/vdb'\\''", "the resolved device is formatted, ext4 by default")
	assert.Contains(t, prep, "blkid -p -o value -s UUID")
	assert.Contains(t, prep, "mount /var/lib/docker", "mounted through its fstab line")
	assert.NotContains(t, prep, "systemctl stop docker", "Docker is not running yet")
	assert.Equal(t, "/var/lib/docker", h.disk.mountedOn)
	assert.Contains(t, string(h.files["/etc/fstab"].data), "UUID=5a1e0b42-9c4b-4f1e-8f43-0d7c1f2b3a4c /var/lib/docker ext4 defaults,nofail 0 2")

	// Idempotent: a second run reads and changes nothing.
	n := len(h.calls)
	require.NoError(t, PrepareDataDisk(context.Background(), h, DataDisk{Device: "/dev/vdb"}, nil))
	assert.Equal(t, []string{"whoami", "disk-state"}, (&fakeHost{calls: h.calls[n:]}).tags())
}

func TestPrepareDataDiskKeepsExistingFilesystem(t *testing.T) {
	h := diskHost(t, fakeDisk{dev: "/dev/vdb", fsType: "ext4", uuid: "0b7f0c1e-aaaa-bbbb-cccc-111122223333"})
	h.units[dockerService] = &unitState{enabled: "enabled", active: "active"}
	require.NoError(t, PrepareDataDisk(context.Background(), h, DataDisk{Device: "/dev/vdb", FS: "xfs"}, nil))
	prep := h.calls[len(h.calls)-1].cmd
	assert.NotContains(t, prep, "mkfs", "a device with a filesystem is never formatted")
	assert.Contains(t, prep, "UUID=%s /var/lib/docker ext4 defaults,nofail 0 2", "fstab line by UUID, with the existing filesystem's type")
	assert.Contains(t, prep, "\"$uuid\" >> /etc/fstab")
	stop := strings.Index(prep, "systemctl stop docker.service")
	mount := strings.Index(prep, "mount /var/lib/docker")
	start := strings.Index(prep, "systemctl start docker.service")
	assert.True(t, stop >= 0 && stop < mount && mount < start, "running Docker is stopped around the mount:\n%s", prep)
}

func TestPrepareDataDiskRefusals(t *testing.T) {
	cases := []struct {
		name string
		disk fakeDisk
		pre  func(h *fakeHost)
		want string
	}{
		{"partition table", fakeDisk{dev: "/dev/vdb", ptType: "gpt"}, nil, "holds a gpt partition table: refusing to format it"},
		{"other signature", fakeDisk{dev: "/dev/vdb", fsType: "LVM2_member"}, nil, "holds a LVM2_member signature: refusing to format it"},
		{"mounted elsewhere", fakeDisk{dev: "/dev/vdb", fsType: "ext4", uuid: "u", mountedOn: "/mnt/data"}, nil, "is mounted on /mnt/data"},
		{"fstab names another device", fakeDisk{dev: "/dev/vdb"}, func(h *fakeHost) {
			f := h.files["/etc/fstab"]
			f.data = append(f.data, []byte("UUID=other /var/lib/docker ext4 defaults 0 2\n")...)
			h.files["/etc/fstab"] = f
		}, "/etc/fstab already mounts UUID=other on /var/lib/docker"},
		{"mkfs missing", fakeDisk{dev: "/dev/vdb"}, nil, "mkfs.xfs is missing: install xfsprogs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := diskHost(t, c.disk)
			if c.pre != nil {
				c.pre(h)
			}
			fs := "ext4"
			if c.name == "mkfs missing" {
				fs = "xfs"
			}
			err := PrepareDataDisk(context.Background(), h, DataDisk{Device: "/dev/vdb", FS: fs}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			assert.NotContains(t, h.tags(), "disk-prepare", "a refusal changes nothing")
		})
	}
}
