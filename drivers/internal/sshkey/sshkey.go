// Package sshkey makes and stores the SSH key pair a cloud driver gives a
// machine it creates, the same way for every driver.
package sshkey

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

// Bits is the RSA key size. RSA is what every client expects in a file
// named id_rsa, stock docker-machine's SSH client included, and every
// cloud's key-pair import takes it.
const Bits = 3072

// Generate makes an RSA key: the private key in PEM and the public key as an
// authorized_keys line.
func Generate() (privatePEM, authorizedKey []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, Bits)
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

// WriteFiles stores the private key at path (0600) and the public key at
// path.pub (0644), making path's directory when needed.
func WriteFiles(path string, privatePEM, authorizedKey []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, privatePEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(path+".pub", authorizedKey, 0o644)
}

// Copy stores the user's key at src as the machine's key at dst, with the
// modes WriteFiles gives; src.pub is copied when it exists. Copying a key
// onto itself does nothing.
func Copy(src, dst string) error {
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
	return WriteFiles(dst, priv, pub)
}

// Setup puts the machine's key at keyPath and returns the public key to
// import into the cloud. With given (the value of --flag), the user's key
// is copied and its public key read by readPublic; without it, generate
// makes a new pair, stored at keyPath. When the cloud already has the key
// pair (existing), only the copy is made and the public key is nil.
func Setup(flag, given, keyPath string, existing bool, readPublic func(string) ([]byte, error), generate func() (privatePEM, authorizedKey []byte, err error)) ([]byte, error) {
	if given != "" {
		if err := Copy(given, keyPath); err != nil {
			return nil, fmt.Errorf("copying --%s %s into the machine directory: %w", flag, given, err)
		}
	}
	switch {
	case existing:
		return nil, nil
	case given != "":
		return readPublic(given)
	}
	priv, pub, err := generate()
	if err != nil {
		return nil, err
	}
	if err := WriteFiles(keyPath, priv, pub); err != nil {
		return nil, fmt.Errorf("writing the SSH key to %s: %w", keyPath, err)
	}
	return pub, nil
}

// ReadPublic reads keyPath.pub, the public half of a key the user gave, and
// checks it is an OpenSSH public key of a type the cloud takes: accept
// says why it does not. It returns the parsed key and the file's text.
func ReadPublic(keyPath string, accept func(ssh.PublicKey) error) (ssh.PublicKey, []byte, error) {
	data, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		return nil, nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s.pub is not an OpenSSH public key: %w", keyPath, err)
	}
	if err := accept(pub); err != nil {
		return nil, nil, err
	}
	return pub, data, nil
}
