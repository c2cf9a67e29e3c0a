package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetdock/machine/libmachine/capability"
)

// PrepareShared finds or makes the host-only adapter (or, on VirtualBox 7
// for macOS, the host-only network) of --virtualbox-hostonly-cidr with its
// DHCP server, so that creates started at once afterwards find it. With
// --virtualbox-network nat, or where auto falls back to NAT, there is
// nothing to share. A network made here is marked as docker-machine's, so
// the rm of whichever machine uses it last removes it.
func (d *Driver) PrepareShared(ctx context.Context) ([]capability.Resource, error) {
	if _, err := d.runner(ctx); err != nil {
		return nil, err
	}
	if _, err := d.setupNetwork(ctx); err != nil {
		err = fmt.Errorf("preparing the host-only network %s: %w", d.HostOnlyCIDR, err)
		if d.HostOnlyCreated {
			// No machine will own it: remove it unless a VM uses it.
			if rerr := d.removeNetwork(capability.CleanupContext(ctx)); rerr != nil {
				return nil, fmt.Errorf("%w; host-only network %s it made is left: remove it with VBoxManage (%w)", err, d.networkName(), rerr)
			}
		}
		return nil, err
	}
	switch {
	case d.Network == networkHostOnly:
		return []capability.Resource{{Kind: "host-only adapter", ID: d.HostOnlyInterface}}, nil
	case d.Network == networkHostOnlyNet:
		return []capability.Resource{{Kind: "host-only network", ID: d.HostOnlyNetwork}}, nil
	}
	return nil, nil
}

// VBoxManage has no "make it unless it exists": two creates that look for
// the adapter of a range at once would each make one, two adapters with
// the same address, each with a DHCP server. Every docker-machine process
// of this user therefore finds or makes (and removes) host-only networks
// under one file lock.

// hostNetworkLockPath is the lock file; a variable for tests.
var hostNetworkLockPath = defaultHostNetworkLockPath()

// networkLockTimeout bounds the wait for another process's network step,
// a handful of VBoxManage calls.
var networkLockTimeout = 2 * time.Minute

func defaultHostNetworkLockPath() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "docker-machine", "virtualbox-hostonly.lock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("docker-machine-virtualbox-hostonly-%d.lock", os.Getuid()))
}

// lockHostNetworks takes the lock, polling while another process holds it.
func lockHostNetworks(ctx context.Context) (unlock func(), err error) {
	path := hostNetworkLockPath
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("making the folder of the host-only network lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the host-only network lock: %w", err)
	}
	err = waitFor(ctx, "the host-only network lock "+path+" held by another docker-machine", networkLockTimeout, func(context.Context) (bool, string, error) {
		ok, err := tryLockFile(f)
		if err != nil {
			return false, "", err
		}
		return ok, "held", nil
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		if err := unlockFile(f); err != nil && !errors.Is(err, os.ErrClosed) {
			logger().Debug("releasing the host-only network lock", "err", err)
		}
		f.Close()
	}, nil
}
