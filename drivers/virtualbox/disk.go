package virtualbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/state"
)

const mib = 1 << 20

// makeDisk makes the VM's disk in the machine directory: the cloud image
// converted to a VDI and grown to --virtualbox-disk-size, or for
// boot2docker the stock "format-me" disk (or a copy of the imported VM's).
func (d *Driver) makeDisk(ctx context.Context, img image, pub string) error {
	dst := d.diskPath()
	// Marked first: a conversion that fails half way leaves a file (and
	// maybe a registered medium) for the cleanup to remove.
	d.DiskCreated = true
	switch {
	case d.Boot2DockerImportVM != "":
		return d.importB2DDisk(ctx, dst)
	case d.Guest == guestBoot2Docker:
		return d.makeB2DDisk(ctx, dst, pub)
	}
	format, err := detectFormat(img.Path)
	if err != nil {
		return err
	}
	want := int64(d.DiskSize) * mib
	var virtual int64
	switch format {
	case formatQcow2:
		q, err := openQcow2(img.Path)
		if err != nil {
			return err
		}
		defer q.Close()
		virtual = q.size
		if virtual > want {
			return fmt.Errorf("the image's disk is %d MB, more than --virtualbox-disk-size %d: give at least %d", virtual/mib, d.DiskSize, (virtual+mib-1)/mib)
		}
		if err := d.convertStream(ctx, q, virtual, dst); err != nil {
			return err
		}
	case formatRaw:
		st, err := os.Stat(img.Path)
		if err != nil {
			return err
		}
		virtual = st.Size()
		if virtual%512 != 0 {
			return fmt.Errorf("the image %s is %d bytes, not a whole number of 512-byte sectors, so it is not a raw disk image: check --virtualbox-image-url", img.Path, virtual)
		}
		if virtual > want {
			return fmt.Errorf("the image's disk is %d MB, more than --virtualbox-disk-size %d: give at least %d", virtual/mib, d.DiskSize, (virtual+mib-1)/mib)
		}
		if _, err := d.vbm(ctx, "convertfromraw", img.Path, dst, "--format", "VDI"); err != nil {
			return err
		}
	case formatVMDK, formatVDI:
		if _, err := d.vbm(ctx, "clonemedium", "disk", img.Path, dst, "--format", "VDI"); err != nil {
			return err
		}
		// The clone registered the cached source as a medium; leave the
		// media registry as it was.
		if _, err := d.vbm(ctx, "closemedium", "disk", img.Path); err != nil && !notFound(err) {
			d.log().Debug("could not close the image's medium", "err", err)
		}
	}
	if virtual == 0 || want > virtual {
		if _, err := d.vbm(ctx, "modifymedium", "disk", dst, "--resize", strconv.Itoa(d.DiskSize)); err != nil {
			return err
		}
	}
	return nil
}

// convertStream feeds the image's raw bytes to convertfromraw stdin.
func (d *Driver) convertStream(ctx context.Context, src io.WriterTo, size int64, dst string) error {
	pr, pw := io.Pipe()
	go func() {
		_, err := src.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	_, err := d.vbmInput(ctx, pr, "convertfromraw", "stdin", dst, strconv.FormatInt(size, 10), "--format", "VDI")
	// Unblock the reader goroutine if VBoxManage stopped early.
	pr.CloseWithError(errors.New("VBoxManage convertfromraw ended"))
	if err != nil {
		return fmt.Errorf("converting the image to %s: %w", dst, err)
	}
	return nil
}

// b2dMagic tells boot2docker to format the disk on first boot and keep the
// tar's files (the SSH key) in the docker user's home.
const b2dMagic = "boot2docker, please format-me"

func b2dDiskTar(pub string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		data string
		dir  bool
	}{
		{b2dMagic, 0o644, b2dMagic, false},
		{".ssh", 0o700, "", true},
		{".ssh/authorized_keys", 0o644, pub, false},
		{".ssh/authorized_keys2", 0o644, pub, false},
	}
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// makeB2DDisk is the stock boot2docker disk: the tar at the start of a
// disk of --virtualbox-disk-size, the rest zeros (VBoxManage on Windows
// needs every byte of the announced size).
func (d *Driver) makeB2DDisk(ctx context.Context, dst, pub string) error {
	tarball, err := b2dDiskTar(pub)
	if err != nil {
		return err
	}
	size := int64(d.DiskSize) * mib
	in := io.MultiReader(bytes.NewReader(tarball), io.LimitReader(zeros{}, size-int64(len(tarball))))
	if _, err := d.vbmInput(ctx, in, "convertfromraw", "stdin", dst, strconv.FormatInt(size, 10), "--format", "VMDK"); err != nil {
		return err
	}
	return nil
}

// importB2DDisk clones the disk of a VM from the old boot2docker CLI.
func (d *Driver) importB2DDisk(ctx context.Context, dst string) error {
	out, err := d.vbm(ctx, "showvminfo", d.Boot2DockerImportVM, "--machinereadable")
	if err != nil {
		return fmt.Errorf("--virtualbox-import-boot2docker-vm %s: %w", d.Boot2DockerImportVM, err)
	}
	info := parseVMInfo(out)
	if st := info.state(); st != state.Stopped {
		return fmt.Errorf("--virtualbox-import-boot2docker-vm %s is %s: stop it first ('VBoxManage controlvm %s acpipowerbutton')", d.Boot2DockerImportVM, st, d.Boot2DockerImportVM)
	}
	src := ""
	for k, v := range info {
		lv := strings.ToLower(v)
		if strings.HasPrefix(k, "SATA-") && !strings.Contains(k, "ImageUUID") && (strings.HasSuffix(lv, ".vmdk") || strings.HasSuffix(lv, ".vdi")) {
			src = v
			break
		}
	}
	if src == "" {
		return fmt.Errorf("--virtualbox-import-boot2docker-vm %s has no SATA hard disk to import", d.Boot2DockerImportVM)
	}
	_, err = d.vbm(ctx, "clonemedium", "disk", src, dst, "--format", "VMDK")
	return err
}

// importB2DKey uses the old boot2docker CLI's key, which the imported disk
// already authorizes.
func (d *Driver) importB2DKey() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	src := filepath.Join(home, ".ssh", "id_boot2docker")
	priv, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("--virtualbox-import-boot2docker-vm needs the boot2docker CLI's key: %w", err)
	}
	pub, err := os.ReadFile(src + ".pub")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(d.GetSSHKeyPath(), priv, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(d.GetSSHKeyPath()+".pub", pub, 0o644); err != nil {
		return "", err
	}
	return string(pub), nil
}
