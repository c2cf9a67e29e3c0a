package amazonec2

import (
	"fmt"

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
	pub, _, err := sshkey.ReadPublic(keyPath, func(pub ssh.PublicKey) error {
		if t := pub.Type(); t != ssh.KeyAlgoRSA && t != ssh.KeyAlgoED25519 {
			return fmt.Errorf("%s.pub is a %s key; EC2 key pairs take RSA or ED25519 keys", keyPath, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ssh.MarshalAuthorizedKey(pub), nil
}
