//go:build integration

package vboxsim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// seedFor writes a NoCloud seed ISO (with genisoimage, as the reference
// does) for user with a fresh key, and returns the ISO and the signer.
func seedFor(t testing.TB, dir, user, hostname string) (string, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	pub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	userData := fmt.Sprintf(`#cloud-config
hostname: %s
manage_etc_hosts: true
users:
  - name: %s
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/bash
    groups: [adm]
    ssh_authorized_keys:
      - %s
mounts:
  - [share1, /share1, vboxsf, "defaults,uid=1000,gid=1000,nofail,_netdev", "0", "0"]
`, hostname, user, pub)
	src := filepath.Join(dir, "seed-src")
	require.NoError(t, os.MkdirAll(src, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "user-data"), []byte(userData), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(src, "meta-data"), []byte("instance-id: iid-"+hostname+"\nlocal-hostname: "+hostname+"\n"), 0o644))
	iso := filepath.Join(dir, "seed.iso")
	out, err := exec.Command("genisoimage", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock",
		filepath.Join(src, "user-data"), filepath.Join(src, "meta-data")).CombinedOutput()
	require.NoError(t, err, "genisoimage (apt-get install genisoimage): %s", out)
	return iso, signer
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// sshUntil runs cmd over SSH at addr as user, retrying with backoff until
// it works or the deadline passes.
func sshUntil(ctx context.Context, t testing.TB, addr, user string, signer ssh.Signer, cmd string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	var last error
	for pause := 100 * time.Millisecond; ; pause = min(pause*3/2, 2*time.Second) {
		out, err := func() (string, error) {
			c, err := ssh.Dial("tcp", addr, cfg)
			if err != nil {
				return "", err
			}
			defer c.Close()
			s, err := c.NewSession()
			if err != nil {
				return "", err
			}
			defer s.Close()
			b, err := s.CombinedOutput(cmd)
			return string(b), err
		}()
		if err == nil {
			return out
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("no SSH as %s on %s within %s: %v", user, addr, timeout, last)
		case <-time.After(pause):
		}
	}
}

// waitState polls showvminfo until VMState is want.
func waitState(t testing.TB, sim *Sim, vm, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for pause := 100 * time.Millisecond; ; pause = min(pause*3/2, 2*time.Second) {
		out, errOut, code := sim.VBoxManage(t, "showvminfo", vm, "--machinereadable")
		require.Equal(t, 0, code, errOut)
		if strings.Contains(out, `VMState="`+want+`"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("machine %s did not reach state %s within %s", vm, want, timeout)
		}
		time.Sleep(pause)
	}
}

func mustSim(t testing.TB, sim *Sim, args ...string) string {
	t.Helper()
	start := time.Now()
	defer func() {
		if d := time.Since(start); d > time.Second {
			t.Logf("VBoxManage %s took %s", strings.Join(args[:min(2, len(args))], " "), d.Round(time.Millisecond))
		}
	}()
	out, errOut, code := sim.VBoxManage(t, args...)
	require.Equal(t, 0, code, "VBoxManage %s: %s", strings.Join(args, " "), errOut)
	return out
}

// createMachine runs a create sequence like the driver's: a VM with a
// disk, the seed ISO and an SSH NAT forward on port.
func createMachine(t testing.TB, sim *Sim, name, base, disk, seed string, port int) {
	t.Helper()
	mustSim(t, sim, "createvm", "--basefolder", base, "--name", name, "--ostype", "Ubuntu_64", "--register")
	mustSim(t, sim, "modifyvm", name, "--memory", "1024", "--cpus", "2", "--boot1", "disk", "--boot2", "dvd", "--acpi", "on",
		"--rtcuseutc", "on", "--nic1", "nat", "--nic-type1", "virtio", "--cable-connected1", "on")
	mustSim(t, sim, "storagectl", name, "--name", "SATA", "--add", "sata", "--portcount", "2")
	mustSim(t, sim, "storageattach", name, "--storagectl", "SATA", "--port", "0", "--device", "0", "--type", "hdd", "--medium", disk)
	mustSim(t, sim, "storageattach", name, "--storagectl", "SATA", "--port", "1", "--device", "0", "--type", "dvddrive", "--medium", seed)
	mustSim(t, sim, "modifyvm", name, "--natpf1", "ssh,tcp,127.0.0.1,"+strconv.Itoa(port)+",,22")
}
