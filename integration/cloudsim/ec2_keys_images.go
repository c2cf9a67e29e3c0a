package cloudsim

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Key pairs. Fingerprints are computed as EC2 computes them: for an imported
// RSA key the MD5 of its DER public key (SubjectPublicKeyInfo), for a created
// RSA key the SHA-1 of its DER private key (PKCS#8), for ED25519 keys the
// base64 SHA-256 of the OpenSSH public key, as ssh-keygen -l shows it.

func colonHex(b []byte) string {
	h := hex.EncodeToString(b)
	parts := make([]string, 0, len(b))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func sshSHA256(pub ssh.PublicKey) string {
	sum := sha256.Sum256(pub.Marshal())
	return base64.StdEncoding.EncodeToString(sum[:])
}

// importedFingerprint is the fingerprint of an imported public key.
func importedFingerprint(pub ssh.PublicKey) (fingerprint, keyType string, err error) {
	switch pub.Type() {
	case ssh.KeyAlgoRSA:
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return "", "", fmt.Errorf("not an RSA key")
		}
		der, err := x509.MarshalPKIXPublicKey(ck.CryptoPublicKey())
		if err != nil {
			return "", "", err
		}
		sum := md5.Sum(der)
		return colonHex(sum[:]), "rsa", nil
	case ssh.KeyAlgoED25519:
		return sshSHA256(pub), "ed25519", nil
	}
	return "", "", fmt.Errorf("key type %s is not supported: use ssh-rsa or ssh-ed25519", pub.Type())
}

func (s *Server) addEC2KeyPair(c *ec2Call, name, fingerprint, keyType, public string) (*ec2KeyPair, error) {
	specs, err := tagSpecs(c.p, "key-pair")
	if err != nil {
		return nil, err
	}
	e := s.st.ec2
	if _, dup := e.keyPairs.first(func(k *ec2KeyPair) bool { return k.RegionID == c.region.Name && k.Name == name }); dup {
		return nil, ec2Errorf("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	kp := &ec2KeyPair{meta: newMeta(ec2ID("key"), c.region.Name, time.Now().UTC()), Name: name, Fingerprint: fingerprint, Type: keyType, PublicKey: public}
	if err := withTags(&kp.meta, specs["key-pair"]); err != nil {
		return nil, err
	}
	e.keyPairs.put(kp)
	return kp, nil
}

func checkKeyName(c *ec2Call) (string, error) {
	name, err := c.p.ec2Required("KeyName")
	if err != nil {
		return "", err
	}
	if len(name) > 255 {
		return "", ec2Invalid("Key names are at most 255 characters.")
	}
	return name, nil
}

func (s *Server) ec2ImportKeyPair(c *ec2Call) ([]xnode, error) {
	name, err := checkKeyName(c)
	if err != nil {
		return nil, err
	}
	material, err := c.p.ec2Required("PublicKeyMaterial")
	if err != nil {
		return nil, err
	}
	// The SDKs base64 the material on the wire; the key inside is OpenSSH.
	raw, err := base64.StdEncoding.DecodeString(material)
	if err != nil {
		return nil, ec2Errorf("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format (PublicKeyMaterial must be base64-encoded).")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(raw)
	if err != nil {
		return nil, ec2Errorf("InvalidKeyPair.Format", "Key is not in valid OpenSSH public key format")
	}
	fp, typ, err := importedFingerprint(pub)
	if err != nil {
		return nil, ec2Errorf("InvalidKeyPair.Format", "%v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kp, err := s.addEC2KeyPair(c, name, fp, typ, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
	if err != nil {
		return nil, err
	}
	return []xnode{leaf("keyFingerprint", kp.Fingerprint), leaf("keyName", kp.Name), leaf("keyPairId", kp.ID), tagSet(kp.Tags)}, nil
}

func (s *Server) ec2CreateKeyPair(c *ec2Call) ([]xnode, error) {
	name, err := checkKeyName(c)
	if err != nil {
		return nil, err
	}
	typ := c.p.get("KeyType")
	if typ == "" {
		typ = "rsa"
	}
	format := c.p.get("KeyFormat")
	if format == "" {
		format = "pem"
	}
	if format != "pem" {
		return nil, ec2Invalid("Value (%s) for parameter keyFormat is invalid: the simulator writes pem keys only.", format)
	}
	var material, fp string
	var pub ssh.PublicKey
	switch typ {
	case "rsa":
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generating an RSA key for key pair %s: %w", name, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		sum := sha1.Sum(der)
		fp = colonHex(sum[:])
		material = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
		if pub, err = ssh.NewPublicKey(&key.PublicKey); err != nil {
			return nil, err
		}
	case "ed25519":
		pk, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generating an ED25519 key for key pair %s: %w", name, err)
		}
		block, err := ssh.MarshalPrivateKey(sk, "")
		if err != nil {
			return nil, err
		}
		material = string(pem.EncodeToMemory(block))
		if pub, err = ssh.NewPublicKey(pk); err != nil {
			return nil, err
		}
		fp = sshSHA256(pub)
	default:
		return nil, ec2Invalid("Value (%s) for parameter keyType is invalid. Valid values: rsa, ed25519.", typ)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kp, err := s.addEC2KeyPair(c, name, fp, typ, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))))
	if err != nil {
		return nil, err
	}
	return []xnode{leaf("keyName", kp.Name), leaf("keyFingerprint", kp.Fingerprint), leaf("keyMaterial", material), leaf("keyPairId", kp.ID), tagSet(kp.Tags)}, nil
}

func (s *Server) ec2DescribeKeyPairs(c *ec2Call) ([]xnode, error) {
	names := c.p.list("KeyName")
	withPub, err := c.p.ec2Bool("IncludePublicKey", false)
	if err != nil {
		return nil, err
	}
	return describe(s, c, describeSpec[*ec2KeyPair]{
		table: func(e *ec2State) *table[*ec2KeyPair] { return e.keyPairs }, idParam: "KeyPairId", idPrefix: "key", malformed: "InvalidKeyPair.NotFound",
		set: "keySet",
		fields: fields[*ec2KeyPair]{
			"key-name": func(k *ec2KeyPair) []string { return one(k.Name) }, "key-pair-id": func(k *ec2KeyPair) []string { return one(k.ID) },
			"fingerprint": func(k *ec2KeyPair) []string { return one(k.Fingerprint) }, "key-type": func(k *ec2KeyPair) []string { return one(k.Type) },
		},
		check: func(e *ec2State) error {
			for _, n := range names {
				if _, ok := e.keyPairs.first(func(k *ec2KeyPair) bool { return k.RegionID == c.region.Name && k.Name == n }); !ok {
					return ec2Errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", n)
				}
			}
			return nil
		},
		also: func(k *ec2KeyPair) bool { return len(names) == 0 || containsStr(names, k.Name) },
		view: func(k *ec2KeyPair) xnode {
			kids := []xnode{leaf("keyPairId", k.ID), leaf("keyType", k.Type), tagSet(k.Tags), leaf("createTime", k.Created),
				leaf("keyName", k.Name), leaf("keyFingerprint", k.Fingerprint)}
			if withPub {
				kids = append(kids, leaf("publicKey", k.PublicKey))
			}
			return item(kids...)
		},
	})
}

// ec2DeleteKeyPair succeeds for a key pair that does not exist, as EC2 does.
func (s *Server) ec2DeleteKeyPair(c *ec2Call) ([]xnode, error) {
	name, id := c.p.get("KeyName"), c.p.get("KeyPairId")
	if name == "" && id == "" {
		return nil, ec2Missing("KeyName")
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.ec2
	kp, ok := e.keyPairs.first(func(k *ec2KeyPair) bool {
		return k.RegionID == c.region.Name && ((id != "" && k.ID == id) || (id == "" && k.Name == name))
	})
	answer := []xnode{leaf("return", true)}
	if ok {
		e.keyPairs.remove(kp)
		answer = append(answer, leaf("keyPairId", kp.ID))
	}
	return answer, nil
}

// Images.

func (s *Server) ec2ImageView(region string, img *ec2Image) xnode {
	owner := []xnode{leaf("imageOwnerId", img.OwnerID)}
	if img.OwnerAlias != "" {
		owner = append(owner, leaf("imageOwnerAlias", img.OwnerAlias))
	}
	kids := []xnode{
		leaf("imageId", img.imageID(region)), leaf("imageLocation", img.OwnerID+"/"+img.Name), leaf("imageState", "available"),
	}
	kids = append(kids, owner...)
	return item(append(kids,
		leaf("creationDate", img.Created), leaf("isPublic", true), leaf("architecture", "x86_64"), leaf("imageType", "machine"),
		leaf("sriovNetSupport", "simple"), leaf("name", img.Name), leaf("description", img.Description), leaf("rootDeviceType", "ebs"),
		leaf("rootDeviceName", img.RootDevice),
		set("blockDeviceMapping", []xnode{
			item(leaf("deviceName", img.RootDevice), elem("ebs", leaf("snapshotId", img.snapshotID(region)), leaf("volumeSize", imageSize),
				leaf("deleteOnTermination", true), leaf("volumeType", img.VolumeType), leaf("encrypted", false))),
			item(leaf("deviceName", "/dev/sdb"), leaf("virtualName", "ephemeral0")),
		}),
		leaf("virtualizationType", "hvm"), leaf("hypervisor", "xen"), leaf("enaSupport", true),
		leaf("platformDetails", "Linux/UNIX"), leaf("usageOperation", "RunInstances"), leaf("bootMode", "uefi-preferred"),
		leaf("deprecationTime", "2027-10-02T10:11:52.000Z"),
	)...)
}

func (s *Server) ec2DescribeImages(c *ec2Call) ([]xnode, error) {
	ids, err := c.ids("ImageId", "ami", "InvalidAMIID.Malformed")
	if err != nil {
		return nil, err
	}
	owners := c.p.list("Owner")
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	region := c.region.Name
	for _, id := range ids {
		if findEC2Image(region, id) == nil {
			return nil, ec2Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	fieldsOf := func(img *ec2Image) map[string][]string {
		return map[string][]string{
			"name": one(img.Name), "image-id": one(img.imageID(region)), "owner-id": one(img.OwnerID), "owner-alias": one(img.OwnerAlias),
			"architecture": one("x86_64"), "state": one("available"), "root-device-type": one("ebs"), "virtualization-type": one("hvm"),
			"is-public": one("true"), "image-type": one("machine"), "description": one(img.Description), "hypervisor": one("xen"),
			"root-device-name": one(img.RootDevice), "block-device-mapping.volume-type": one(img.VolumeType), "platform-details": one("Linux/UNIX"),
			"ena-support": one("true"),
		}
	}
	known := fieldsOf(&ec2Images[0])
	for _, f := range filters {
		if _, ok := known[f.name]; !ok {
			return nil, ec2Invalid("The filter '%s' is invalid", f.name)
		}
	}
	var items []xnode
	for i := range ec2Images {
		img := &ec2Images[i]
		if len(ids) > 0 && !containsStr(ids, img.imageID(region)) {
			continue
		}
		// Owner takes account IDs and the aliases self, amazon and
		// aws-marketplace; the catalog's images are nobody's own.
		if len(owners) > 0 && !containsStr(owners, img.OwnerID) && !(img.OwnerAlias != "" && containsStr(owners, img.OwnerAlias)) {
			continue
		}
		if !filterStatic(filters, fieldsOf(img)) {
			continue
		}
		items = append(items, s.ec2ImageView(region, img))
	}
	return pagedSet(c, "imagesSet", items, 5, 1000)
}
