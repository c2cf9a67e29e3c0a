package aliyunecs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
)

// rsaKeyBits: ImportKeyPair takes RSA, DSA and ECDSA keys but not ed25519,
// and RSA is what tools expect in a file named id_rsa.
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

// readPublicKey reads and checks KEY.pub for --aliyunecs-ssh-keypath.
func readPublicKey(keyPath string) (string, error) {
	data, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		return "", err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return "", fmt.Errorf("%s.pub is not an OpenSSH public key: %w", keyPath, err)
	}
	if pub.Type() == ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("%s.pub is an ed25519 key, which ECS key pairs do not accept; use an RSA or ECDSA key", keyPath)
	}
	return strings.TrimSpace(string(data)), nil
}

// resourceName makes the machine name acceptable where ECS wants a name
// that starts with a letter and is 2 to 128 characters long.
func resourceName(machine string) string {
	name := machine
	if name == "" || !isLetter(rune(name[0])) || len(name) < 2 {
		name = "docker-machine-" + name
	}
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }
