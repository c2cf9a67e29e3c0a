package virtualbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/machine/libmachine/state"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/drivers/internal/delay"
)

// generateKey makes the machine's key pair (RSA, as the stock driver's
// id_rsa, which every SSH client reads); a variable so tests reuse one.
var generateKey = func() (privatePEM, authorizedKey []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an SSH key: %w", err)
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return privatePEM, ssh.MarshalAuthorizedKey(pub), nil
}

// writeKey stores the machine's key in its directory and returns the
// authorized_keys line.
func (d *Driver) writeKey() (string, error) {
	priv, pub, err := generateKey()
	if err != nil {
		return "", err
	}
	p := d.GetSSHKeyPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, priv, 0o600); err != nil {
		return "", fmt.Errorf("writing the SSH key %s: %w", p, err)
	}
	if err := os.WriteFile(p+".pub", pub, 0o644); err != nil {
		return "", fmt.Errorf("writing the SSH key %s.pub: %w", p, err)
	}
	return string(pub), nil
}

// sshRun runs one command in the guest over the NAT forward. The host key
// is not checked: the forward on 127.0.0.1 leads to the VM this driver
// just started, and the core pins the key on its own first connection.
func (d *Driver) sshRun(ctx context.Context, cmd string) (string, error) {
	key, err := os.ReadFile(d.GetSSHKeyPath())
	if err != nil {
		return "", fmt.Errorf("reading the machine's SSH key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("parsing the machine's SSH key %s: %w", d.GetSSHKeyPath(), err)
	}
	cfg := &ssh.ClientConfig{
		User:            d.GetSSHUsername(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
	addr := net.JoinHostPort(loopback, strconv.Itoa(d.SSHPort))
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return "", err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Run(cmd); err != nil {
		return out.String(), err
	}
	return out.String(), nil
}

// waitFor polls check with growing, jittered intervals until it is done,
// fails, or the timeout passes; the last thing it saw goes into the error.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := pollInitial
	seen := ""
	logger().Debug("waiting", "for", what, "timeout", timeout)
	for {
		done, s, err := check(ctx)
		if s != "" {
			seen = s
		}
		if err != nil {
			if ctx.Err() == nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			break
		}
		if done {
			return nil
		}
		jittered := interval/2 + time.Duration(mrand.Int64N(int64(interval/2)+1))
		if delay.Sleep(ctx, jittered) != nil {
			break
		}
		interval = min(interval*3/2, pollMax)
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if seen != "" {
		seen = " (last: " + seen + ")"
	}
	return fmt.Errorf("timed out after %s waiting for %s%s", timeout, what, seen)
}

// waitForSSH waits until the guest accepts the machine's key. A VM that
// stops while booting ends the wait at once.
func (d *Driver) waitForSSH(ctx context.Context) error {
	return waitFor(ctx, fmt.Sprintf("SSH on %s:%d of machine %q", loopback, d.SSHPort, d.MachineName), bootTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := d.sshRun(ctx, "true")
		if err == nil {
			return true, "", nil
		}
		if st, serr := d.GetStateContext(ctx); serr == nil && (st == state.Stopped || st == state.Error) {
			return false, "", fmt.Errorf("the VM stopped while booting (state %s); its console log is %s", st, d.consoleLog())
		}
		return false, err.Error(), nil
	})
}

// discoverIP finds the guest's address on the host-only NIC by its MAC.
func (d *Driver) discoverIP(ctx context.Context) (string, error) {
	mac := d.HostOnlyMAC
	if mac == "" {
		// A stock machine: the MAC VirtualBox gave NIC 2.
		info, err := d.vmInfo(ctx)
		if err != nil {
			return "", err
		}
		mac = info["macaddress2"]
		if mac == "" {
			return "", fmt.Errorf("machine %q has no host-only NIC, so no address of its own", d.MachineName)
		}
	}
	want := colonMAC(mac)
	// Guest Additions (boot2docker has them) publish the address; cloud
	// images have none, so the guest is asked over SSH.
	if out, err := d.vbm(ctx, "guestproperty", "get", d.MachineName, "/VirtualBox/GuestInfo/Net/1/V4/IP"); err == nil {
		if v, ok := strings.CutPrefix(strings.TrimSpace(out), "Value:"); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v), nil
		}
	}
	var ip string
	err := waitFor(ctx, fmt.Sprintf("an address on the host-only NIC (%s) of machine %q", want, d.MachineName), addressTimeout, func(ctx context.Context) (bool, string, error) {
		out, err := d.sshRun(ctx, "ip addr show")
		if err != nil {
			return false, err.Error(), nil
		}
		ip = addressOfMAC(out, want)
		if ip == "" {
			return false, "no IPv4 address on " + want + " yet", nil
		}
		return true, "", nil
	})
	if err != nil {
		return "", err
	}
	return ip, nil
}

// addressOfMAC reads `ip addr show`: the first IPv4 address of the
// interface whose link/ether is mac.
func addressOfMAC(out, mac string) string {
	inIface := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			inIface = false
			continue
		}
		switch f[0] {
		case "link/ether":
			inIface = len(f) > 1 && strings.EqualFold(f[1], mac)
		case "inet":
			if inIface && len(f) > 1 {
				ip, _, _ := strings.Cut(f[1], "/")
				return ip
			}
		}
	}
	return ""
}
