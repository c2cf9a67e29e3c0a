//go:build integration

package vboxsim

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/vmimage"
)

// TestQEMUBackendBootsTheTestImage boots the locally built cloud image in a
// real VM (TCG here: about a minute), reaches SSH as the seed's user through
// the NAT forward, and shuts it down with the power button.
func TestQEMUBackendBootsTheTestImage(t *testing.T) {
	img, err := vmimage.Ensure(t.Context())
	require.NoError(t, err)
	sim := Install(t, Config{Backend: BackendQEMU})
	dir := t.TempDir()
	base := filepath.Join(dir, "machines")
	require.NoError(t, os.MkdirAll(base, 0o755))
	iso, signer := seedFor(t, dir, "docker", "vbox-qemu1")

	// The driver's image path: convert the cloud image to VDI and grow it.
	disk := filepath.Join(base, "disk.vdi")
	mustSim(t, sim, "clonemedium", "disk", img.Path, disk, "--format", "VDI")
	mustSim(t, sim, "modifymedium", "disk", disk, "--resize", "4096")
	port := freePort(t)
	createMachine(t, sim, "q1", base, disk, iso, port)

	start := time.Now()
	mustSim(t, sim, "startvm", "q1", "--type", "headless")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	got := sshUntil(t.Context(), t, addr, "docker", signer, "hostname; sudo -n id -u", 5*time.Minute)
	t.Logf("QEMU boot to SSH as the seed's user: %s", time.Since(start).Round(time.Second))
	assert.Equal(t, []string{"vbox-qemu1", "0"}, strings.Fields(got))
	assert.Contains(t, mustSim(t, sim, "list", "runningvms"), `"q1" {`)
	// cloud-init grew the root file system to the disk grown by modifymedium.
	size := sshUntil(t.Context(), t, addr, "docker", signer, "df -B1M --output=size / | tail -n 1", time.Minute)
	mb, err := strconv.Atoi(strings.TrimSpace(size))
	require.NoError(t, err, size)
	assert.Greater(t, mb, 3500, "the root file system spans the 4096 MB disk")

	// A NAT rule added at run time becomes a QEMU host forward.
	port2 := freePort(t)
	mustSim(t, sim, "controlvm", "q1", "natpf1", "ssh2,tcp,127.0.0.1,"+strconv.Itoa(port2)+",,22")
	sshUntil(t.Context(), t, "127.0.0.1:"+strconv.Itoa(port2), "docker", signer, "true", 30*time.Second)
	mustSim(t, sim, "controlvm", "q1", "natpf1", "delete", "ssh2")
	_, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port2), time.Second)
	assert.Error(t, err, "a deleted rule stops forwarding")

	// savestate and startvm resume the same boot of the guest.
	bootID := sshUntil(t.Context(), t, addr, "docker", signer, "cat /proc/sys/kernel/random/boot_id", 30*time.Second)
	start = time.Now()
	mustSim(t, sim, "controlvm", "q1", "savestate")
	t.Logf("QEMU savestate: %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, mustSim(t, sim, "showvminfo", "q1", "--machinereadable"), `VMState="saved"`)
	start = time.Now()
	mustSim(t, sim, "startvm", "q1", "--type", "headless")
	again := sshUntil(t.Context(), t, addr, "docker", signer, "cat /proc/sys/kernel/random/boot_id", time.Minute)
	t.Logf("QEMU restore to SSH: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, bootID, again, "the guest resumed instead of booting again")

	start = time.Now()
	mustSim(t, sim, "controlvm", "q1", "acpipowerbutton")
	waitState(t, sim, "q1", "poweroff", 3*time.Minute)
	t.Logf("ACPI shutdown: %s", time.Since(start).Round(time.Second))
	console, err := os.ReadFile(filepath.Join(base, "q1", "Logs", "console.log"))
	require.NoError(t, err)
	assert.Contains(t, string(console), "reboot: Power down", "the guest shut itself down")

	mustSim(t, sim, "unregistervm", "q1", "--delete")
	assert.NoFileExists(t, disk)
	assert.NoDirExists(t, filepath.Join(base, "q1"))
	assert.Empty(t, sim.State(t).VMs)
}
