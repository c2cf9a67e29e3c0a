package amazonec2

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// rsaKeyBits: RSA is what every client expects in a file named id_rsa,
// including stock docker-machine's SSH client.
const rsaKeyBits = 3072

// generateKey makes the machine's key pair; a variable so tests can reuse
// one key instead of paying for RSA generation in every create.
var generateKey = func() (privatePEM, authorizedKey []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("generating an SSH key: %w", err)
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the SSH public key: %w", err)
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return privatePEM, ssh.MarshalAuthorizedKey(pub), nil
}

// writeKeyFiles stores the private key (0600) and its .pub (0644).
func writeKeyFiles(path string, privatePEM, authorizedKey []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, privatePEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(path+".pub", authorizedKey, 0o644)
}

// copyKey copies --amazonec2-ssh-keypath (and its .pub when present) into
// the machine directory.
func copyKey(src, dst string) error {
	if src == dst {
		return nil
	}
	priv, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	pub, err := os.ReadFile(src + ".pub")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeKeyFiles(dst, priv, pub)
}

// readPublicKey reads and checks KEY.pub for import. EC2 imports RSA and
// ED25519 keys.
func readPublicKey(keyPath string) ([]byte, error) {
	data, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s.pub is not an OpenSSH public key: %w", keyPath, err)
	}
	if t := pub.Type(); t != ssh.KeyAlgoRSA && t != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("%s.pub is a %s key; EC2 key pairs take RSA or ED25519 keys", keyPath, t)
	}
	return ssh.MarshalAuthorizedKey(pub), nil
}
