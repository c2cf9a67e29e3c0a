package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyMismatchError says the server presented a host key other than the
// one pinned for its address. It is never retried.
type HostKeyMismatchError struct {
	Addr            string
	KnownHostsPath  string
	WantFingerprint string // SHA256 fingerprint(s) pinned, comma separated
	GotFingerprint  string // SHA256 fingerprint the server presented
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("the SSH host key of %s has changed: %s pins %s but the server presented %s. "+
		"Either the machine was rebuilt or someone is intercepting the connection; "+
		"if the machine was rebuilt and you trust it, run: rm %s",
		e.Addr, e.KnownHostsPath, e.WantFingerprint, e.GotFingerprint, shellQuoteIfNeeded(e.KnownHostsPath))
}

// pinMu serialises read-check-write of known_hosts files in this process,
// so concurrent first connections to one host record one key.
var pinMu sync.Mutex

// hostKeyPolicy decides on the server's key during one handshake.
type hostKeyPolicy struct {
	path string // "" accepts any key
	addr string // host:port as dialled; knownhosts normalises it
}

// loadDB reads the known_hosts file; a missing file means nothing pinned.
func (p hostKeyPolicy) loadDB() (ssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &configError{fmt.Errorf("reading the SSH known hosts file %s: %w; fix or delete the file", p.path, err)}
	}
	return cb, nil
}

// probeKey is a key no server has: checking it against the file yields the
// keys pinned for an address without a real handshake.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("generating an ed25519 key: " + err.Error())
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic("wrapping an ed25519 key: " + err.Error())
	}
	return key
})

// pinned lists the keys recorded for the address.
func (p hostKeyPolicy) pinned(remote net.Addr) ([]ssh.PublicKey, error) {
	if p.path == "" {
		return nil, nil
	}
	db, err := p.loadDB()
	if err != nil || db == nil {
		return nil, err
	}
	var keyErr *knownhosts.KeyError
	if err := db(p.addr, remote, probeKey()); errors.As(err, &keyErr) {
		keys := make([]ssh.PublicKey, 0, len(keyErr.Want))
		for _, k := range keyErr.Want {
			keys = append(keys, k.Key)
		}
		return keys, nil
	}
	return nil, nil
}

// algorithms puts the pinned keys' algorithms first, then every other
// supported one. Without this the server may pick a different key type than
// the one pinned and look like a changed key; keeping the rest means a host
// that really lost its pinned key type still shows its actual key in the
// mismatch error instead of failing algorithm negotiation.
func hostKeyAlgorithms(pinned []ssh.PublicKey) []string {
	if len(pinned) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range pinned {
		if k.Type() == ssh.KeyAlgoRSA {
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
		}
		add(k.Type())
	}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		add(a)
	}
	return algos
}

func (p hostKeyPolicy) callback() ssh.HostKeyCallback {
	if p.path == "" {
		return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			slog.Debug("accepting SSH host key without pinning", "addr", p.addr, "fingerprint", ssh.FingerprintSHA256(key))
			return nil
		}
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		pinMu.Lock()
		defer pinMu.Unlock()
		db, err := p.loadDB()
		if err != nil {
			return err
		}
		if db != nil {
			err := db(p.addr, remote, key)
			var keyErr *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
				want := make([]string, 0, len(keyErr.Want))
				for _, k := range keyErr.Want {
					want = append(want, ssh.FingerprintSHA256(k.Key))
				}
				return &HostKeyMismatchError{
					Addr:            p.addr,
					KnownHostsPath:  p.path,
					WantFingerprint: strings.Join(want, ", "),
					GotFingerprint:  ssh.FingerprintSHA256(key),
				}
			case errors.As(err, &keyErr):
				// Unknown host: pin below.
			default:
				return fmt.Errorf("checking the SSH host key of %s against %s: %w", p.addr, p.path, err)
			}
		}
		if err := appendKnownHost(p.path, knownhosts.Line([]string{p.addr}, key)); err != nil {
			return fmt.Errorf("recording the SSH host key of %s in %s: %w", p.addr, p.path, err)
		}
		slog.Debug("pinned SSH host key", "addr", p.addr, "fingerprint", ssh.FingerprintSHA256(key), "file", p.path)
		return nil
	}
}

// appendKnownHost adds a line by writing a complete new file and renaming
// it over the old one, so a crash never leaves a half-written pin file.
func appendKnownHost(path, line string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var buf bytes.Buffer
	buf.Write(old)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		buf.WriteByte('\n')
	}
	buf.WriteString(line)
	buf.WriteByte('\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".known_hosts-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
