package vboxsim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQEMUArgs(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk,1.img")
	require.NoError(t, os.WriteFile(disk, make([]byte, 512), 0o644))
	vm := newVM("q1", "0dd0fa6b-6070-410c-8877-75f6aa8c8511", filepath.Join(dir, "q1", "q1.vbox"), "Ubuntu_64")
	vm.Memory, vm.CPUs = 2048, 2
	vm.Boot = [4]string{"dvd", "dvd", "disk", "none"}
	vm.NICs[0].Type, vm.NICs[0].MAC = "virtio", "080027AABBCC"
	vm.NICs[0].NATRules = []NATRule{{Name: "docker", Proto: "tcp", HostIP: "127.0.0.1", HostPort: 42376, GuestPort: 2376},
		{Name: "ssh", Proto: "tcp", HostPort: 40022, GuestPort: 22}}
	vm.NICs[1].Attachment, vm.NICs[1].HostOnlyIf = "hostonly", "vboxnet0"
	vm.Ctls = []*Controller{{Name: "SATA", PortCount: 2, Devices: 1, Attached: []*Attachment{
		{Port: 0, Type: "hdd", Medium: disk}, {Port: 1, Type: "dvddrive", Medium: "/x/seed.iso"}}}}

	args, err := qemuArgs(vm, &Config{Accel: "tcg"}, "/run/d", "/run/logs")
	require.NoError(t, err)
	line := strings.Join(args, " ")
	for _, want := range []string{
		"-m 2048 -smp 2", "-accel tcg,thread=multi -cpu max",
		"-boot order=dc", // VirtualBox allows dvd twice, QEMU does not
		"-drive file=" + strings.ReplaceAll(disk, ",", ",,") + ",format=raw,if=virtio,index=0",
		"-drive file=/x/seed.iso,format=raw,media=cdrom,readonly=on,if=ide",
		// An empty host IP stays on loopback.
		"-netdev user,id=n0,hostfwd=tcp:127.0.0.1:42376-:2376,hostfwd=tcp:127.0.0.1:40022-:22",
		"-device virtio-net-pci,netdev=n0,mac=08:00:27:aa:bb:cc",
		"-serial file:/run/logs/console.log", "-pidfile /run/d/qemu.pid -daemonize",
	} {
		assert.Contains(t, line, want)
	}
	assert.NotContains(t, line, "id=n1", "a host-only adapter has no QEMU counterpart")

	args, err = qemuArgs(vm, &Config{Accel: "kvm"}, "/run/d", "/run/logs")
	require.NoError(t, err)
	assert.Contains(t, strings.Join(args, " "), "-accel kvm -cpu host")
}
