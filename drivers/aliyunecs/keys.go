package aliyunecs

import (
	"bytes"
	"fmt"

	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/drivers/internal/sshkey"
)

// The machine's key pair is made and stored as every cloud driver does it.
// generateKey is a variable so tests can reuse one key instead of paying for
// RSA generation in every create. ECS key pairs take RSA, DSA and ECDSA keys
// but not ed25519.
var generateKey = sshkey.Generate

// readPublicKey reads and checks KEY.pub for --aliyunecs-ssh-keypath.
func readPublicKey(keyPath string) ([]byte, error) {
	_, data, err := sshkey.ReadPublic(keyPath, func(pub ssh.PublicKey) error {
		if pub.Type() == ssh.KeyAlgoED25519 {
			return fmt.Errorf("%s.pub is an ed25519 key, which ECS key pairs do not accept; use an RSA or ECDSA key", keyPath)
		}
		return nil
	})
	return bytes.TrimSpace(data), err
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
