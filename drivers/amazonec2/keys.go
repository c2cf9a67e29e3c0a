package amazonec2

import (
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/drivers/internal/sshkey"
)

// generateKey makes the machine's key pair as every cloud driver does; a
// variable so tests can reuse one key instead of paying for
// RSA generation in every create.
var generateKey = sshkey.Generate

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
