package cloudsim

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyPairNamePattern: 2-128 characters, starting with a letter; letters,
// digits, '.', '_', ':' and '-' after it.
var keyPairNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._:-]{1,127}$`)

func keyPairKey(region, name string) string { return region + "/" + name }

// fingerprintOf is the MD5 fingerprint of a public key's wire form, as the
// service shows it (hex pairs joined by ':').
func fingerprintOf(pub ssh.PublicKey) string {
	sum := md5.Sum(pub.Marshal())
	h := hex.EncodeToString(sum[:])
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func (s *Server) checkNewKeyPair(c *callCtx) (*regionInfo, string, []tag, error) {
	r, args, err := c.regionWith("KeyPairName")
	if err != nil {
		return nil, "", nil, err
	}
	name := args[0]
	if !keyPairNamePattern.MatchString(name) {
		return nil, "", nil, newErrorf("InvalidKeyPairName.Malformed", "The specified KeyPairName %q is not valid: 2-128 characters, starting with a letter.", name)
	}
	tags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, "", nil, err
	}
	return r, name, tags, nil
}

func (s *Server) addKeyPair(c *callCtx, r *regionInfo, name string, pub ssh.PublicKey, tags []tag) (*keyPair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.keyPairs.has(keyPairKey(r.ID, name)) {
		return nil, newErrorf("KeyPair.AlreadyExist", "The key pair %q already exist.", name)
	}
	kp := &keyPair{
		meta: newMeta(name, r.ID, time.Now().UTC()), Name: name, Fingerprint: fingerprintOf(pub),
		PublicKey:       strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))),
		ResourceGroupID: c.p.get("ResourceGroupId"),
	}
	kp.key = keyPairKey(r.ID, name)
	kp.Tags = tags
	if kp.ResourceGroupID == "" {
		kp.ResourceGroupID = s.st.defaultResourceGroup
	}
	s.st.keyPairs.put(kp)
	return kp, nil
}

func (s *Server) ecsImportKeyPair(c *callCtx) (obj, error) {
	r, name, tags, err := s.checkNewKeyPair(c)
	if err != nil {
		return nil, err
	}
	body, err := c.p.required("PublicKeyBody")
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(body))
	if err != nil {
		return nil, newErrorf("InvalidPublicKeyBody.Malformed", "The specified PublicKeyBody is not a valid OpenSSH public key: %v", err)
	}
	kp, err := s.addKeyPair(c, r, name, pub, tags)
	if err != nil {
		return nil, err
	}
	return obj{"KeyPairName": kp.Name, "KeyPairFingerPrint": kp.Fingerprint}, nil
}

func (s *Server) ecsCreateKeyPair(c *callCtx) (obj, error) {
	r, name, tags, err := s.checkNewKeyPair(c)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating an RSA key for key pair %s: %w", name, err)
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key of key pair %s: %w", name, err)
	}
	kp, err := s.addKeyPair(c, r, name, pub, tags)
	if err != nil {
		return nil, err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return obj{"KeyPairName": kp.Name, "KeyPairId": kp.ID, "KeyPairFingerPrint": kp.Fingerprint, "PrivateKeyBody": string(priv)}, nil
}

func (s *Server) ecsDescribeKeyPairs(c *callCtx) (obj, error) {
	// The filter reads its parameters after RegionId and the page arguments,
	// keeping the service's error order; it sets withPub before any view runs.
	var withPub bool
	filter := func(region string) ([]*keyPair, error) {
		filterTags, err := c.p.tagPairs("Tag")
		if err != nil {
			return nil, err
		}
		if withPub, err = c.p.boolean("IncludePublicKey", false); err != nil {
			return nil, err
		}
		name := c.p.get("KeyPairName")
		fp := c.p.get("KeyPairFingerPrint")
		return s.st.keyPairs.list(selector{region: region, tags: filterTags, order: byID}, func(kp *keyPair) bool {
			g := c.p.get("ResourceGroupId")
			return matchName(name, kp.Name) && (fp == "" || fp == kp.Fingerprint) && (g == "" || g == kp.ResourceGroupID)
		}), nil
	}
	return describePage(s, c, 10, 50, "KeyPairs", "KeyPair", filter, func(kp *keyPair) obj {
		v := obj{
			"KeyPairName": kp.Name, "KeyPairFingerPrint": kp.Fingerprint, "CreationTime": apiMinute(kp.Created),
			"ResourceGroupId": kp.ResourceGroupID, "Tags": obj{"Tag": tagViews(kp.Tags)},
		}
		if withPub {
			v["PublicKey"] = kp.PublicKey
		}
		return v
	})
}

func (s *Server) ecsDeleteKeyPairs(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	if _, err := c.p.required("KeyPairNames"); err != nil {
		return nil, err
	}
	names, err := c.p.jsonList("KeyPairNames")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 || len(names) > 100 {
		return nil, errInvalidf("KeyPairNames", "give 1 to 100 names")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Names that do not exist are skipped, as the service does; instances
	// keep their KeyPairName.
	for _, n := range names {
		if kp := s.st.keyPairs.at(keyPairKey(r.ID, n)); kp != nil {
			s.st.keyPairs.remove(kp)
		}
	}
	return obj{}, nil
}
