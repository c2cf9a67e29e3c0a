package virtualbox

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// Images come as qcow2 (Ubuntu's cloud images: compressed clusters), raw,
// VMDK or VDI. VirtualBox reads the last three itself; qcow2 is read here,
// in Go, and streamed as raw bytes into `VBoxManage convertfromraw stdin`,
// so no qemu-img (which VirtualBox users on macOS and Windows rarely have)
// and no temporary raw copy of the whole disk are needed.

// Image formats.
const (
	formatRaw   = "raw"
	formatQcow2 = "qcow2"
	formatVMDK  = "vmdk"
	formatVDI   = "vdi"
)

// detectFormat looks at the first bytes of an image.
func detectFormat(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("reading the image %s: %w", p, err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")):
		return formatQcow2, nil
	case bytes.HasPrefix(head, []byte("KDMV")), bytes.HasPrefix(head, []byte("# Disk DescriptorFile")):
		return formatVMDK, nil
	case len(head) >= 68 && binary.LittleEndian.Uint32(head[64:68]) == 0xbeda107f:
		return formatVDI, nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}), bytes.HasPrefix(head, []byte("\xfd7zXZ")), bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "", fmt.Errorf("the image %s is compressed (gzip, xz or zstd): decompress it first and pass the disk image itself", p)
	}
	return formatRaw, nil
}

// qcow2 is an open qcow2 image.
type qcow2 struct {
	f           *os.File
	size        int64 // virtual size in bytes
	clusterBits uint32
	l1          []uint64
	zstd        bool
}

const (
	qcowOffsetMask     = 0x00fffffffffffe00
	qcowCompressedFlag = 1 << 62
	qcowZeroFlag       = 1
)

func openQcow2(p string) (*qcow2, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	q, err := readQcow2Header(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading qcow2 image %s: %w", p, err)
	}
	return q, nil
}

func readQcow2Header(f *os.File) (*qcow2, error) {
	h := make([]byte, 112)
	n, err := f.ReadAt(h, 0)
	if n < 72 {
		return nil, fmt.Errorf("header too short: %w", err)
	}
	be := binary.BigEndian
	ver := be.Uint32(h[4:8])
	if ver != 2 && ver != 3 {
		return nil, fmt.Errorf("qcow2 version %d is not supported", ver)
	}
	if be.Uint64(h[8:16]) != 0 {
		return nil, errors.New("it has a backing file; convert it to a standalone image first (qemu-img convert -O qcow2)")
	}
	q := &qcow2{f: f, clusterBits: be.Uint32(h[20:24]), size: int64(be.Uint64(h[24:32]))}
	if q.clusterBits < 9 || q.clusterBits > 21 {
		return nil, fmt.Errorf("cluster size 2^%d is not valid", q.clusterBits)
	}
	if be.Uint32(h[32:36]) != 0 {
		return nil, errors.New("it is encrypted")
	}
	if ver == 3 {
		incompatible := be.Uint64(h[72:80])
		headerLen := be.Uint32(h[100:104])
		if incompatible&(1<<1) != 0 {
			return nil, errors.New("it is marked corrupt")
		}
		if incompatible&(1<<2) != 0 {
			return nil, errors.New("it keeps its data in an external file")
		}
		if incompatible&(1<<4) != 0 {
			return nil, errors.New("it uses extended L2 entries (subclusters)")
		}
		if incompatible&^uint64(1|1<<3) != 0 {
			return nil, fmt.Errorf("it uses unknown incompatible features %#x", incompatible)
		}
		if incompatible&(1<<3) != 0 && headerLen > 104 {
			switch h[104] {
			case 0:
			case 1:
				q.zstd = true
			default:
				return nil, fmt.Errorf("compression type %d is not supported", h[104])
			}
		}
	}
	l1Size := be.Uint32(h[36:40])
	l1Offset := int64(be.Uint64(h[40:48]))
	if int64(l1Size) > (q.size>>q.clusterBits)/int64(1<<(q.clusterBits-3))+2 || l1Size > 1<<24 {
		return nil, fmt.Errorf("L1 table of %d entries does not fit a %d-byte disk", l1Size, q.size)
	}
	raw := make([]byte, 8*int(l1Size))
	if _, err := f.ReadAt(raw, l1Offset); err != nil {
		return nil, fmt.Errorf("reading the L1 table: %w", err)
	}
	q.l1 = make([]uint64, l1Size)
	for i := range q.l1 {
		q.l1[i] = be.Uint64(raw[8*i:])
	}
	return q, nil
}

func (q *qcow2) Close() error { return q.f.Close() }

// WriteTo writes the virtual disk, byte for byte, to w.
func (q *qcow2) WriteTo(w io.Writer) (int64, error) {
	cluster := int64(1) << q.clusterBits
	perL2 := cluster / 8
	zero := make([]byte, cluster)
	buf := make([]byte, cluster)
	l2 := make([]byte, cluster)
	var written int64
	emit := func(b []byte) error {
		if rest := q.size - written; int64(len(b)) > rest {
			b = b[:rest]
		}
		n, err := w.Write(b)
		written += int64(n)
		return err
	}
	for i := 0; written < q.size; i++ {
		var l2Offset int64
		if i < len(q.l1) {
			l2Offset = int64(q.l1[i] & qcowOffsetMask)
		}
		if l2Offset == 0 {
			for j := int64(0); j < perL2 && written < q.size; j++ {
				if err := emit(zero); err != nil {
					return written, err
				}
			}
			continue
		}
		if _, err := q.f.ReadAt(l2, l2Offset); err != nil {
			return written, fmt.Errorf("reading an L2 table at %d: %w", l2Offset, err)
		}
		for j := int64(0); j < perL2 && written < q.size; j++ {
			entry := binary.BigEndian.Uint64(l2[8*j:])
			data, err := q.cluster(entry, buf, zero)
			if err != nil {
				return written, fmt.Errorf("cluster at %d: %w", written, err)
			}
			if err := emit(data); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// cluster returns the guest data an L2 entry points to.
func (q *qcow2) cluster(entry uint64, buf, zero []byte) ([]byte, error) {
	if entry&qcowCompressedFlag != 0 {
		x := 62 - (q.clusterBits - 8)
		offset := int64(entry & (1<<x - 1))
		sectors := int64((entry>>x)&(1<<(q.clusterBits-8)-1)) + 1
		length := sectors*512 - offset%512
		comp := make([]byte, length)
		n, err := q.f.ReadAt(comp, offset)
		if n == 0 && err != nil {
			return nil, err
		}
		comp = comp[:n] // the last compressed cluster may end with the file
		var r io.Reader
		if q.zstd {
			zr, err := zstd.NewReader(bytes.NewReader(comp))
			if err != nil {
				return nil, err
			}
			defer zr.Close()
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(comp))
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("decompressing: %w", err)
		}
		return buf, nil
	}
	offset := int64(entry & qcowOffsetMask)
	if entry&qcowZeroFlag != 0 || offset == 0 {
		return zero, nil
	}
	n, err := q.f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	clear(buf[n:])
	return buf, nil
}
