package virtualbox

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// image is a guest image on the local disk.
type image struct {
	Path     string
	CacheHit bool // no download was needed
	Verified bool // its SHA-256 matched a published or given checksum
}

// cacheDir is the store's cache directory, shared by every machine.
func (d *Driver) cacheDir() string { return filepath.Join(d.StorePath, "cache") }

// localPath returns the file a file:// URL or plain path names, or "".
func localPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			p = "//" + u.Host + p // a UNC path on Windows
		}
		return filepath.FromSlash(p), nil
	case "":
		return raw, nil
	}
	return "", nil
}

// fetchImage makes the image at rawURL available locally. A local file is
// used in place. A remote one is kept in cache/ under its file name; a
// cached copy is used without any network request, so a pre-filled cache
// works offline. The SHA-256 is checked against want, else against the
// SHA256SUMS published beside the image.
func (d *Driver) fetchImage(ctx context.Context, rawURL, want string) (image, error) {
	local, err := localPath(rawURL)
	if err != nil {
		return image{}, err
	}
	if local != "" {
		return d.localImage(local, want)
	}
	u, _ := url.Parse(rawURL)
	name := path.Base(u.Path)
	cached := filepath.Join(d.cacheDir(), name)
	if _, err := os.Stat(cached); err == nil {
		return d.cachedImage(cached, want)
	}
	if err := os.MkdirAll(d.cacheDir(), 0o755); err != nil {
		return image{}, fmt.Errorf("creating the image cache %s: %w", d.cacheDir(), err)
	}
	published := false
	if want == "" {
		sum, err := publishedChecksum(ctx, rawURL, name)
		if err != nil {
			return image{}, err
		}
		if sum == "" {
			d.log().Warn("no SHA256SUMS is published beside the image, so it cannot be verified; pass --virtualbox-image-checksum to check it", "url", rawURL)
		}
		want, published = sum, sum != ""
	}
	got, err := download(ctx, rawURL, cached, want)
	if err != nil {
		return image{}, err
	}
	if err := writeSumRecord(cached, got); err != nil {
		return image{}, err
	}
	d.log().Info("image downloaded", "file", cached, "sha256", got, "verified", want != "", "fromSHA256SUMS", published)
	return image{Path: cached, Verified: want != ""}, nil
}

func (d *Driver) localImage(p, want string) (image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return image{}, fmt.Errorf("reading the image: %w", err)
	}
	if st.IsDir() {
		return image{}, fmt.Errorf("the image %s is a directory; give the image file", p)
	}
	if want == "" {
		// A SHA256SUMS next to a local image is honoured as for a remote one.
		if f, err := os.Open(filepath.Join(filepath.Dir(p), "SHA256SUMS")); err == nil {
			want = findSum(f, filepath.Base(p))
			f.Close()
		}
	}
	if want != "" {
		if err := verifyFile(p, want); err != nil {
			return image{}, err
		}
	}
	return image{Path: p, CacheHit: true, Verified: want != ""}, nil
}

// cachedImage checks a cached image against want, or against the sum
// recorded when it was downloaded. A record that still matches the file's
// size and time spares hashing it again.
func (d *Driver) cachedImage(p, want string) (image, error) {
	rec, recOK := readSumRecord(p)
	switch {
	case want == "" && recOK:
		return image{Path: p, CacheHit: true, Verified: true}, nil
	case want == "":
		d.log().Info("using the image found in the cache; no checksum is known for it, so it is not verified (pass --virtualbox-image-checksum to check it)", "file", p)
		return image{Path: p, CacheHit: true}, nil
	case recOK && rec == want:
		return image{Path: p, CacheHit: true, Verified: true}, nil
	}
	if err := verifyFile(p, want); err != nil {
		return image{}, fmt.Errorf("%w; remove %s to download it again", err, p)
	}
	if err := writeSumRecord(p, want); err != nil {
		return image{}, err
	}
	return image{Path: p, CacheHit: true, Verified: true}, nil
}

// sumRecord files hold "sha256 size mtime" of a verified cache entry.
func sumRecordPath(p string) string { return p + ".sha256" }

func writeSumRecord(p, sum string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	rec := fmt.Sprintf("%s %d %d\n", sum, st.Size(), st.ModTime().UnixNano())
	return writeFileAtomic(sumRecordPath(p), []byte(rec), 0o644)
}

func readSumRecord(p string) (string, bool) {
	data, err := os.ReadFile(sumRecordPath(p))
	if err != nil {
		return "", false
	}
	f := strings.Fields(string(data))
	st, err := os.Stat(p)
	if len(f) != 3 || err != nil {
		return "", false
	}
	size, _ := strconv.ParseInt(f[1], 10, 64)
	mtime, _ := strconv.ParseInt(f[2], 10, 64)
	if size != st.Size() || mtime != st.ModTime().UnixNano() {
		return "", false
	}
	return f[0], true
}

func verifyFile(p, want string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", p, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("the image %s is corrupt or not the expected one: its SHA-256 is %s, expected %s", p, got, want)
	}
	return nil
}

// publishedChecksum reads SHA256SUMS from the image's directory; "" when
// none is published there.
func publishedChecksum(ctx context.Context, rawURL, name string) (string, error) {
	u, _ := url.Parse(rawURL)
	u.Path = path.Join(path.Dir(u.Path), "SHA256SUMS")
	u.RawQuery = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching the image's checksums %s: %w (for offline use put the image in the cache or pass a file:// URL)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden {
		return "", nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching the image's checksums %s: %s", u, resp.Status)
	}
	sum := findSum(io.LimitReader(resp.Body, 4<<20), name)
	if sum == "" {
		return "", fmt.Errorf("%s lists no checksum for %s; pass --virtualbox-image-checksum", u, name)
	}
	return sum, nil
}

// findSum reads "hex  name" or "hex *name" lines.
func findSum(r io.Reader, name string) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && strings.TrimPrefix(f[1], "*") == name && len(f[0]) == 64 {
			if _, err := hex.DecodeString(f[0]); err == nil {
				return strings.ToLower(f[0])
			}
		}
	}
	return ""
}

// download fetches rawURL to dst through a temporary file that is renamed
// into place only when complete and verified. An interrupted download
// leaves dst.part, which the next one resumes with a Range request.
// It returns the file's SHA-256.
func download(ctx context.Context, rawURL, dst, want string) (string, error) {
	partial := dst + ".part"
	// Claim the partial download, so two creates never write one file.
	mine := fmt.Sprintf("%s.%s.part", dst, randomHex(4))
	if err := os.Rename(partial, mine); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	f, err := os.OpenFile(mine, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", mine, err)
	}
	done := false
	defer func() {
		f.Close()
		if !done {
			// Keep what arrived for the next attempt.
			_ = os.Rename(mine, partial)
		}
	}()
	h := sha256.New()
	have, err := io.Copy(h, f)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w (for offline use put the image in %s or pass a file:// URL)", rawURL, err, filepath.Dir(dst))
	}
	defer resp.Body.Close()
	total := resp.ContentLength
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if total >= 0 {
			total += have
		}
	case http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			resp.Body.Close()
			req.Header.Del("Range")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				return "", fmt.Errorf("downloading %s: %w", rawURL, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return "", fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
			}
			total = resp.ContentLength
		}
		// The server sends the whole file: start over.
		if err := f.Truncate(0); err != nil {
			return "", err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		h.Reset()
		have = 0
	default:
		return "", fmt.Errorf("downloading %s: %s; check --virtualbox-image-url", rawURL, resp.Status)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return "", err
	}
	p := newProgress(path.Base(dst), have, total)
	_, err = io.Copy(io.MultiWriter(f, h, p), resp.Body)
	p.finish(err == nil)
	if err != nil {
		return "", fmt.Errorf("downloading %s: %w (run create again to resume)", rawURL, err)
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		done = true
		f.Close()
		_ = os.Remove(mine)
		return "", fmt.Errorf("the downloaded image %s has SHA-256 %s, expected %s: the download is corrupt or the image changed (the file was deleted; run create again, or check --virtualbox-image-checksum)", rawURL, got, want)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(mine, dst); err != nil {
		return "", err
	}
	done = true
	return got, nil
}

// progress reports a download: a self-updating line on a terminal,
// otherwise a log line every 10%, which the CLI shows for a plugin.
type progress struct {
	name        string
	done, total int64
	tty         bool
	lastPct     int
	lastDraw    time.Time
}

var stderrIsTerminal = func() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

func newProgress(name string, have, total int64) *progress {
	p := &progress{name: name, done: have, total: total, tty: stderrIsTerminal(), lastPct: -1}
	logger().Info("downloading the image", "file", name, "bytes", total, "resumingAt", have)
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.total <= 0 {
		return len(b), nil
	}
	pct := int(p.done * 100 / p.total)
	if p.tty {
		if time.Since(p.lastDraw) > 200*time.Millisecond || pct == 100 {
			fmt.Fprintf(os.Stderr, "\rDownloading %s: %3d%% (%d / %d MB)", p.name, pct, p.done>>20, p.total>>20)
			p.lastDraw = time.Now()
		}
	} else if pct/10 != p.lastPct/10 {
		logger().Info(fmt.Sprintf("downloading %s: %d%%", p.name, pct/10*10))
	}
	p.lastPct = pct
	return len(b), nil
}

func (p *progress) finish(ok bool) {
	if p.tty {
		fmt.Fprintln(os.Stderr)
	}
}

// writeFileAtomic writes through a temporary file and a rename.
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.%s.tmp", p, randomHex(4))
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
