package virtualbox

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// share is one shared folder: the host directory, its VirtualBox share
// name, and where the guest mounts it. The guest path is "/" + name, where
// boot2docker's automounter (VirtualBox's MountPrefix and MountDir "/")
// put it for the stock driver: /hosthome on Linux, /Users on macOS,
// /c/Users on Windows.
type share struct {
	Name, HostPath, GuestPath string
}

// shares lists the folders to share: none with --virtualbox-no-share,
// --virtualbox-share-folder's, or the home tree when it exists.
func (d *Driver) shares() ([]share, error) {
	if d.NoShare {
		return nil, nil
	}
	dir, name := homeShare()
	if d.ShareFolder != "" {
		var err error
		if dir, name, err = parseShareFolder(d.ShareFolder); err != nil {
			return nil, err
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("--virtualbox-share-folder: %w", err)
		}
	} else if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return []share{{Name: name, HostPath: dir, GuestPath: "/" + name}}, nil
}

func (d *Driver) setupShares(ctx context.Context) error {
	shares, err := d.shares()
	if err != nil || len(shares) == 0 {
		return err
	}
	if d.Guest == guestBoot2Docker {
		// boot2docker's Guest Additions mount shares under these.
		for _, p := range []string{"MountPrefix", "MountDir"} {
			if _, err := d.vbm(ctx, "guestproperty", "set", d.MachineName, "/VirtualBox/GuestAdd/SharedFolders/"+p, "/"); err != nil {
				return err
			}
		}
	}
	for _, s := range shares {
		if _, err := d.vbm(ctx, "sharedfolder", "add", d.MachineName, "--name", s.Name, "--hostpath", s.HostPath, "--automount"); err != nil {
			return err
		}
		if _, err := d.vbm(ctx, "setextradata", d.MachineName, "VBoxInternal2/SharedFoldersEnableSymlinksCreate/"+s.Name, "1"); err != nil {
			return err
		}
	}
	return nil
}
