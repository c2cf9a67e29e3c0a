package ssh

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Upload writes data to remotePath with the given mode. The bytes travel on
// the command's stdin, never on its command line, land in a temporary file
// next to the target, are checked for length and then renamed into place,
// so readers never see a partial file.
func (c *Client) Upload(ctx context.Context, remotePath string, data []byte, mode os.FileMode) error {
	return c.upload(ctx, remotePath, bytes.NewReader(data), int64(len(data)), mode)
}

func (c *Client) upload(ctx context.Context, dst string, r io.Reader, size int64, mode os.FileMode) error {
	if dst == "" {
		return fmt.Errorf("uploading to %s: no remote path given", c.addr)
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	q := quoteRemotePath(dst)
	tmp := quoteRemotePath(dst + ".upload-" + hex.EncodeToString(suffix))
	// umask 077 keeps the bytes private until chmod sets the final mode.
	script := strings.Join([]string{
		"if [ -d " + q + " ]; then echo 'the upload target is a directory:' " + q + " >&2; exit 1; fi",
		"umask 077",
		"cat > " + tmp + " || { rm -f " + tmp + "; exit 1; }",
		"n=$(($(wc -c < " + tmp + ")))",
		"if [ \"$n\" -ne " + strconv.FormatInt(size, 10) + " ]; then rm -f " + tmp + "; echo \"received $n of " + strconv.FormatInt(size, 10) + " bytes\" >&2; exit 1; fi",
		"chmod " + unixMode(mode) + " " + tmp + " && mv -f " + tmp + " " + q + " || { rm -f " + tmp + "; exit 1; }",
	}, "\n")
	return c.feed(ctx, script, r, "uploading "+dst, "write "+dst)
}

// feed runs script with input and fails unless it exits 0. doing names the
// whole operation in the error ("uploading F"), step the part the script
// does ("write F").
func (c *Client) feed(ctx context.Context, script string, input io.Reader, doing, step string) error {
	res, err := c.RunWithInput(ctx, script, input)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if err := res.Err(step); err != nil {
		return fmt.Errorf("%s to %s: %w", doing, c.addr, err)
	}
	return nil
}

// remote path kinds reported by stat.
const (
	kindMissing = "n"
	kindFile    = "f"
	kindDir     = "d"
)

// remoteStat says whether p is a directory, another existing file (with its
// octal mode when stat(1) can tell), or missing.
func (c *Client) remoteStat(ctx context.Context, p string) (kind string, mode os.FileMode, err error) {
	script := "p=" + quoteRemotePath(p) + `; if [ -d "$p" ]; then echo d; elif [ -e "$p" ]; then echo "f $(stat -c %a "$p" 2>/dev/null)"; else echo n; fi`
	out, err := c.Output(ctx, script)
	if err != nil {
		return "", 0, fmt.Errorf("checking %s on %s: %w", p, c.addr, err)
	}
	fields := strings.Fields(out)
	if len(fields) == 0 {
		return "", 0, fmt.Errorf("checking %s on %s: the remote shell printed nothing", p, c.addr)
	}
	mode = 0o644
	if len(fields) > 1 {
		if m, err := strconv.ParseUint(fields[1], 8, 32); err == nil {
			mode = os.FileMode(m).Perm()
		}
	}
	return fields[0], mode, nil
}

// CopyTo copies a local file, or with recursive a directory tree, to the
// machine. Like scp, copying onto an existing remote directory puts the
// item inside it. Files go through cat; trees through tar, which the
// machine must have. Symbolic links inside a tree are copied as links.
func (c *Client) CopyTo(ctx context.Context, localPath, remotePath string, recursive bool) error {
	info, err := os.Stat(localPath)
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", localPath, c.addr, err)
	}
	if info.IsDir() && !recursive {
		return fmt.Errorf("copying %s to %s: it is a directory; copy it recursively (scp -r)", localPath, c.addr)
	}
	kind, _, err := c.remoteStat(ctx, remotePath)
	if err != nil {
		return err
	}
	target := remotePath
	if kind == kindDir {
		target = path.Join(remotePath, localBase(localPath))
	}
	if !info.IsDir() {
		f, err := os.Open(localPath)
		if err != nil {
			return fmt.Errorf("copying %s to %s: %w", localPath, c.addr, err)
		}
		defer f.Close()
		// Send the size seen now; a file that changes meanwhile fails the
		// remote length check instead of arriving half-old, half-new.
		return c.upload(ctx, target, io.LimitReader(f, info.Size()), info.Size(), info.Mode())
	}
	if kind == kindFile {
		return fmt.Errorf("copying directory %s to %s: %s exists there and is not a directory", localPath, c.addr, remotePath)
	}
	src, err := filepath.EvalSymlinks(localPath)
	if err != nil {
		return fmt.Errorf("copying %s to %s: %w", localPath, c.addr, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTree(pw, src)) }()
	defer pr.Close() // unblocks the writer if the remote stopped reading

	// Like scp -r, a missing target is created but its parent must exist.
	script := "t=" + quoteRemotePath(target) + `; { [ -d "$t" ] || mkdir "$t"; } && tar -C "$t" -xf -`
	return c.feed(ctx, script, pr, "copying directory "+localPath, "unpack into "+target)
}

// localBase names what a local path is called at the destination; "." and
// ".." are named after the directory they mean.
func localBase(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return filepath.Base(p)
}

// writeTree streams the tree under root as a tar archive whose entries are
// relative ("./", "./a", ...), owned by uid 0 so that a root extractor makes
// them root's and anyone else makes them their own, as scp would.
func writeTree(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := "./"
		if rel != "." {
			name = "./" + filepath.ToSlash(rel)
		}
		link := ""
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is not a regular file, directory or symbolic link (%s); it cannot be copied", p, info.Mode().Type())
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = name
		if info.IsDir() && !strings.HasSuffix(name, "/") {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatGNU // long names that GNU tar and busybox both read
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, io.LimitReader(f, hdr.Size)); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// CopyFrom copies a remote file, or with recursive a directory tree, to
// localPath. Like scp, copying into an existing local directory puts the
// item inside it. The local file appears whole or not at all.
func (c *Client) CopyFrom(ctx context.Context, remotePath, localPath string, recursive bool) error {
	kind, mode, err := c.remoteStat(ctx, remotePath)
	if err != nil {
		return err
	}
	switch {
	case kind == kindMissing:
		return fmt.Errorf("copying %s from %s: no such file or directory there", remotePath, c.addr)
	case kind == kindDir && !recursive:
		return fmt.Errorf("copying %s from %s: it is a directory; copy it recursively (scp -r)", remotePath, c.addr)
	}
	target := localPath
	if st, err := os.Stat(localPath); err == nil && st.IsDir() {
		base := path.Base(remotePath)
		switch base {
		case ".", "..", "/", "~":
			// No name to give it: merge into the directory.
		default:
			target = filepath.Join(localPath, base)
		}
	}
	if kind == kindDir {
		return c.copyTreeFrom(ctx, remotePath, target)
	}

	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".download-*")
	if err != nil {
		return fmt.Errorf("copying %s from %s: %w", remotePath, c.addr, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	var stderr bytes.Buffer
	status, err := c.exec(ctx, "cat "+quoteRemotePath(remotePath), nil, tmp, &stderr)
	if err == nil && status != 0 {
		err = (&Result{Stderr: stderr.Bytes(), ExitStatus: status}).Err("cat " + remotePath)
	}
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		return fmt.Errorf("copying %s from %s to %s: %w", remotePath, c.addr, target, err)
	}
	return nil
}

func (c *Client) copyTreeFrom(ctx context.Context, remoteDir, target string) error {
	fail := func(err error) error {
		return fmt.Errorf("copying directory %s from %s to %s: %w", remoteDir, c.addr, target, err)
	}
	st, err := os.Stat(target)
	switch {
	case err == nil && !st.IsDir():
		return fail(errors.New("the destination exists and is not a directory"))
	case errors.Is(err, fs.ErrNotExist):
		// Like scp -r, the parent must exist; the archive's root entry
		// sets the final mode.
		if err := os.Mkdir(target, 0o700); err != nil {
			return fail(err)
		}
	case err != nil:
		return fail(err)
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return fail(err)
	}
	defer root.Close()

	// Stop the remote tar if extraction fails; otherwise it would block on
	// a full channel forever.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	type outcome struct {
		status int
		err    error
	}
	done := make(chan outcome, 1)
	go func() {
		status, err := c.exec(rctx, "tar -C "+quoteRemotePath(remoteDir)+" -cf - .", nil, pw, &stderr)
		pw.CloseWithError(err)
		done <- outcome{status, err}
	}()
	xerr := extractTree(root, pr)
	if xerr != nil {
		cancel()
		pr.CloseWithError(xerr)
	} else {
		io.Copy(io.Discard, pr) // the zero blocks after the end marker
	}
	res := <-done
	switch {
	case xerr != nil:
		return fail(xerr)
	case res.err != nil:
		return fail(res.err)
	case res.status != 0:
		return fail((&Result{Stderr: stderr.Bytes(), ExitStatus: res.status}).Err("tar -cf - " + remoteDir))
	}
	return nil
}

// extractTree unpacks an archive under root. os.Root keeps every write
// inside it, whatever names or symbolic links the archive holds.
func extractTree(root *os.Root, r io.Reader) error {
	type dirMode struct {
		name string
		mode fs.FileMode
	}
	var dirs []dirMode
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		perm := hdr.FileInfo().Mode().Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := root.Mkdir(name, 0o700); err != nil {
					if st, serr := root.Lstat(name); serr != nil || !st.IsDir() {
						return err
					}
				}
			}
			// Final modes go on last, so read-only directories still fill.
			dirs = append(dirs, dirMode{name, perm})
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = root.Chmod(name, perm)
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", name, err)
			}
		case tar.TypeSymlink:
			if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			old, err := entryName(hdr.Linkname)
			if err != nil {
				return err
			}
			if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := root.Link(old, name); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s is a special file (tar type %q); only files, directories and links can be copied", hdr.Name, hdr.Typeflag)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chmod(dirs[i].name, dirs[i].mode); err != nil {
			return err
		}
	}
	return nil
}

// entryName cleans an archive name to a path relative to the extraction
// root, refusing absolute names and climbs out of it.
func entryName(n string) (string, error) {
	clean := path.Clean("/" + n)
	if path.IsAbs(n) || strings.HasPrefix(path.Clean(n), "../") || path.Clean(n) == ".." {
		return "", fmt.Errorf("the archive entry %q points outside the destination", n)
	}
	if clean == "/" {
		return ".", nil
	}
	return filepath.FromSlash(clean[1:]), nil
}
