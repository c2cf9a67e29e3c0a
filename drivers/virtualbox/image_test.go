package virtualbox

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// imageServer serves an image and, unless sums is "", a SHA256SUMS beside
// it, on loopback, and counts the requests.
type imageServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	ranges   []string
	cutAt    int64 // close the first full download after this many bytes
}

func newImageServer(t *testing.T, name string, data []byte, sums string) *imageServer {
	s := &imageServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Path)
		s.ranges = append(s.ranges, r.Header.Get("Range"))
		cut := int64(0)
		if r.URL.Path == "/images/"+name {
			cut, s.cutAt = s.cutAt, 0
		}
		s.mu.Unlock()
		switch r.URL.Path {
		case "/images/SHA256SUMS":
			if sums == "" {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, sums)
		case "/images/" + name:
			if cut > 0 {
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				w.Write(data[:cut])
				return // the handler ends early: the client sees a short body
			}
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *imageServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestImageDownloadVerifiesCachesAndResumes(t *testing.T) {
	data := bytes.Repeat([]byte("cloud image "), 100000)
	name := "noble.img"
	srv := newImageServer(t, name, data, sum(data)+" *"+name+"\n"+strings.Repeat("0", 64)+" *other.img\n")
	srv.cutAt = int64(len(data) / 3)
	d := NewDriver("m1", t.TempDir())
	url := srv.URL + "/images/" + name

	_, err := d.fetchImage(t.Context(), url, "")
	require.Error(t, err, "the cut download fails")
	assert.Contains(t, err.Error(), "run create again to resume")
	cached := filepath.Join(d.StorePath, "cache", name)
	assert.NoFileExists(t, cached, "nothing half-written under the final name")
	part, err := os.Stat(cached + ".part")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)/3), part.Size())

	img, err := d.fetchImage(t.Context(), url, "")
	require.NoError(t, err)
	assert.True(t, img.Verified)
	assert.False(t, img.CacheHit)
	assert.Contains(t, srv.ranges, fmt.Sprintf("bytes=%d-", len(data)/3), "the second download resumed")
	got, _ := os.ReadFile(cached)
	assert.Equal(t, data, got)
	assert.NoFileExists(t, cached+".part")

	// Cached: no request at all, verified from the record.
	n := srv.count()
	img, err = d.fetchImage(t.Context(), url, "")
	require.NoError(t, err)
	assert.True(t, img.CacheHit && img.Verified)
	assert.Equal(t, n, srv.count(), "a cache hit makes no network request")

	// A checksum flag that does not match the cached file is refused.
	_, err = d.fetchImage(t.Context(), url, strings.Repeat("ab", 32))
	assert.ErrorContains(t, err, "is corrupt or not the expected one")
	assert.Equal(t, n, srv.count())
}

func TestImageChecksumMismatchDeletesDownload(t *testing.T) {
	data := []byte("a disk")
	srv := newImageServer(t, "x.img", data, strings.Repeat("1", 64)+"  x.img\n")
	d := NewDriver("m1", t.TempDir())
	_, err := d.fetchImage(t.Context(), srv.URL+"/images/x.img", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "expected "+strings.Repeat("1", 64))
	entries, _ := os.ReadDir(filepath.Join(d.StorePath, "cache"))
	assert.Empty(t, entries, "a corrupt download is not kept")

	// Without SHA256SUMS the image is used unverified, with a warning.
	srv2 := newImageServer(t, "y.img", data, "")
	img, err := d.fetchImage(t.Context(), srv2.URL+"/images/y.img", "")
	require.NoError(t, err)
	assert.False(t, img.Verified)
	img, err = d.fetchImage(t.Context(), srv2.URL+"/images/z.img", sum(data))
	assert.ErrorContains(t, err, "404")
}

// Offline: a pre-filled cache or a file:// image needs no network, even
// when the server is gone.
func TestImageOffline(t *testing.T) {
	data := []byte("pre-filled")
	d := NewDriver("m1", t.TempDir())
	require.NoError(t, os.MkdirAll(d.cacheDir(), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.cacheDir(), "img.qcow2"), data, 0o644))
	img, err := d.fetchImage(t.Context(), "http://127.0.0.1:1/nowhere/img.qcow2", "")
	require.NoError(t, err)
	assert.True(t, img.CacheHit)
	assert.False(t, img.Verified, "nothing to verify a pre-filled image against")
	img, err = d.fetchImage(t.Context(), "http://127.0.0.1:1/nowhere/img.qcow2", sum(data))
	require.NoError(t, err)
	assert.True(t, img.Verified)

	dir := t.TempDir()
	p := filepath.Join(dir, "local.img")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sum(data)+" *local.img\n"), 0o644))
	img, err = d.fetchImage(t.Context(), "file://"+p, "")
	require.NoError(t, err)
	assert.Equal(t, p, img.Path)
	assert.True(t, img.Verified, "SHA256SUMS beside a local image is honoured")
	require.NoError(t, os.WriteFile(p, []byte("changed"), 0o644))
	_, err = d.fetchImage(t.Context(), "file://"+p, "")
	assert.ErrorContains(t, err, "corrupt")
}

// writeQcow2 makes a qcow2 (version 2, 64 KiB clusters) of 4 clusters
// minus 1 KiB: a plain cluster, an unallocated one, a deflate-compressed
// one, and a partial last cluster.
func writeQcow2(t *testing.T, guest []byte) string {
	t.Helper()
	const cb, cs = 16, 1 << 16
	require.Equal(t, 4*cs-1024, len(guest))
	var f bytes.Buffer
	f.Write(make([]byte, 4*cs)) // header, L1, L2, data cluster 0
	be := binary.BigEndian
	h := f.Bytes()
	copy(h, "QFI\xfb")
	be.PutUint32(h[4:], 2)
	be.PutUint32(h[20:], cb)
	be.PutUint64(h[24:], uint64(len(guest)))
	be.PutUint32(h[36:], 1)
	be.PutUint64(h[40:], cs) // L1 at cluster 1
	be.PutUint64(h[cs:], 2*cs|1<<63)
	l2 := h[2*cs:]
	copy(h[3*cs:], guest[:cs])
	be.PutUint64(l2[0:], 3*cs|1<<63)
	// cluster 1 unallocated: zeros in guest
	var comp bytes.Buffer
	zw, _ := flate.NewWriter(&comp, flate.BestCompression)
	zw.Write(guest[2*cs : 3*cs])
	zw.Close()
	off := int64(f.Len()) + 100 // not sector aligned
	f.Write(make([]byte, 100))
	f.Write(comp.Bytes())
	sectors := (off%512 + int64(comp.Len()) + 511) / 512
	x := uint(62 - (cb - 8))
	be.PutUint64(f.Bytes()[2*cs+16:], 1<<62|uint64(sectors-1)<<x|uint64(off))
	f.Write(make([]byte, cs-f.Len()%cs)) // plain clusters are cluster-aligned
	last := int64(f.Len())
	f.Write(guest[3*cs:])
	f.Write(make([]byte, 1024))
	be.PutUint64(f.Bytes()[2*cs+24:], uint64(last)|1<<63)
	p := filepath.Join(t.TempDir(), "img.qcow2")
	require.NoError(t, os.WriteFile(p, f.Bytes(), 0o644))
	return p
}

func TestQcow2Reader(t *testing.T) {
	const cs = 1 << 16
	guest := make([]byte, 4*cs-1024)
	for i := range guest[:cs] {
		guest[i] = byte(i)
	}
	copy(guest[2*cs:], bytes.Repeat([]byte("compressed "), cs/11))
	for i := 3 * cs; i < len(guest); i++ {
		guest[i] = 0xA5
	}
	p := writeQcow2(t, guest)
	format, err := detectFormat(p)
	require.NoError(t, err)
	assert.Equal(t, formatQcow2, format)
	q, err := openQcow2(p)
	require.NoError(t, err)
	defer q.Close()
	var out bytes.Buffer
	n, err := q.WriteTo(&out)
	require.NoError(t, err)
	assert.Equal(t, int64(len(guest)), n)
	if !bytes.Equal(guest, out.Bytes()) {
		for i := range guest {
			if guest[i] != out.Bytes()[i] {
				t.Fatalf("the raw disk differs from the guest data at byte %d (cluster %d)", i, i/cs)
			}
		}
	}
}

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	vdi := make([]byte, 512)
	binary.LittleEndian.PutUint32(vdi[64:], 0xbeda107f)
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"a.vmdk": {[]byte("KDMV\x01\x00\x00\x00"), formatVMDK},
		"b.vmdk": {[]byte("# Disk DescriptorFile\nversion=1\n"), formatVMDK},
		"c.vdi":  {vdi, formatVDI},
		"d.raw":  {make([]byte, 1024), formatRaw},
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, c.data, 0o644))
		got, err := detectFormat(p)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, name)
	}
	p := filepath.Join(dir, "e.img.xz")
	require.NoError(t, os.WriteFile(p, []byte("\xfd7zXZ\x00\x00"), 0o644))
	_, err := detectFormat(p)
	assert.ErrorContains(t, err, "decompress it first")
}

// The seed is an ISO 9660 volume labelled cidata whose files say what
// cloud-init must apply.
func TestSeedISO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "seed.iso")
	cfg := seedConfig{Hostname: "m1", InstanceID: "docker-machine-abc", User: "docker", PublicKey: "ssh-rsa AAAA key\n",
		NATMAC: "08:00:27:00:00:01", HostOnlyMAC: "08:00:27:00:00:02", Shares: []share{{"hosthome", "/home", "/hosthome"}}}
	require.NoError(t, writeSeedISO(p, cfg))

	b, err := file.OpenFromPath(p, true)
	require.NoError(t, err)
	st, _ := os.Stat(p)
	fs, err := iso9660.Read(b, st.Size(), 0, 2048)
	require.NoError(t, err)
	assert.Equal(t, "cidata                          ", fs.Label(), "padded with spaces as ISO 9660 says")
	read := func(name string) map[string]any {
		f, err := fs.OpenFile("/"+name, os.O_RDONLY)
		require.NoError(t, err, name)
		data, err := io.ReadAll(f)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(data, &m), string(data))
		if name == "user-data" {
			assert.True(t, strings.HasPrefix(string(data), "#cloud-config\n"))
		}
		return m
	}
	ud := read("user-data")
	assert.Equal(t, "m1", ud["hostname"])
	user := ud["users"].([]any)[0].(map[string]any)
	assert.Equal(t, "docker", user["name"])
	assert.Equal(t, "ALL=(ALL) NOPASSWD:ALL", user["sudo"])
	assert.Equal(t, []any{"ssh-rsa AAAA key"}, user["ssh_authorized_keys"])
	assert.Equal(t, []any{[]any{"hosthome", "/hosthome", "vboxsf", "defaults,uid=1000,gid=1000,nofail,_netdev", "0", "0"}}, ud["mounts"])
	md := read("meta-data")
	assert.Equal(t, map[string]any{"instance-id": "docker-machine-abc", "local-hostname": "m1"}, md)
	nc := read("network-config")
	eth := nc["ethernets"].(map[string]any)
	assert.Equal(t, "08:00:27:00:00:02", eth["hostonly"].(map[string]any)["match"].(map[string]any)["macaddress"])
	assert.NoFileExists(t, p+".tmp")
}
