package cloudsim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The EC2 side of the cloud: its own regions, and its resources kept in the
// same generic tables as the Alibaba Cloud ones.

type ec2Region struct {
	Name   string
	short  string // zone ID prefix: use1
	Zones  []string
	ZoneID []string
}

var ec2Regions = []ec2Region{
	{Name: "us-east-1", short: "use1", Zones: []string{"us-east-1a", "us-east-1b", "us-east-1c"}},
	{Name: "us-east-2", short: "use2", Zones: []string{"us-east-2a", "us-east-2b", "us-east-2c"}},
	{Name: "us-west-2", short: "usw2", Zones: []string{"us-west-2a", "us-west-2b", "us-west-2c"}},
	{Name: "eu-west-1", short: "euw1", Zones: []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
	{Name: "eu-central-1", short: "euc1", Zones: []string{"eu-central-1a", "eu-central-1b", "eu-central-1c"}},
	{Name: "ap-southeast-1", short: "apse1", Zones: []string{"ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"}},
}

func findEC2Region(name string) *ec2Region {
	for i := range ec2Regions {
		if ec2Regions[i].Name == name {
			return &ec2Regions[i]
		}
	}
	return nil
}

func (r *ec2Region) hasZone(z string) bool {
	for _, have := range r.Zones {
		if have == z {
			return true
		}
	}
	return false
}

// zoneID is the zone's ID (use1-az1), by its place in the region.
func (r *ec2Region) zoneID(z string) string {
	for i, have := range r.Zones {
		if have == z {
			return fmt.Sprintf("%s-az%d", r.short, i+1)
		}
	}
	return ""
}

// ec2InstanceTypes are the instance types RunInstances accepts.
var ec2InstanceTypes = map[string]struct{ vcpu, memMiB int }{
	"t2.micro": {1, 1024}, "t2.small": {1, 2048}, "t2.medium": {2, 4096},
	"t3.micro": {2, 1024}, "t3.small": {2, 2048}, "t3.medium": {2, 4096}, "t3.large": {2, 8192},
	"t3a.medium": {2, 4096}, "m5.large": {2, 8192}, "m5.xlarge": {4, 16384}, "c5.large": {2, 4096},
	"m6i.large": {2, 8192}, "m1.small": {1, 1740},
}

// ec2Image is a public image of the catalog. Every image boots the same
// host image in the container backend; the names are what clients look for.
type ec2Image struct {
	Name, Description, OwnerID, OwnerAlias string
	RootDevice, VolumeType                 string
	Created                                string
}

// Canonical's and Debian's owner IDs, as their public images carry them.
const (
	canonicalOwner = "099720109477"
	debianOwner    = "136693071363"
)

var ec2Images = []ec2Image{
	{Name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20251002", Description: "Canonical, Ubuntu, 24.04, amd64 noble image",
		OwnerID: canonicalOwner, RootDevice: "/dev/sda1", VolumeType: "gp3", Created: "2025-10-02T10:11:52.000Z"},
	{Name: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610", Description: "Canonical, Ubuntu, 24.04, amd64 noble image",
		OwnerID: canonicalOwner, RootDevice: "/dev/sda1", VolumeType: "gp3", Created: "2025-06-10T08:02:16.000Z"},
	{Name: "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250925", Description: "Canonical, Ubuntu, 22.04, amd64 jammy image",
		OwnerID: canonicalOwner, RootDevice: "/dev/sda1", VolumeType: "gp2", Created: "2025-09-25T06:40:03.000Z"},
	{Name: "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20250430", Description: "Canonical, Ubuntu, 20.04, amd64 focal image",
		OwnerID: canonicalOwner, RootDevice: "/dev/sda1", VolumeType: "gp2", Created: "2025-04-30T12:22:41.000Z"},
	{Name: "debian-12-amd64-20251006-2257", Description: "Debian 12 (20251006-2257)",
		OwnerID: debianOwner, OwnerAlias: "", RootDevice: "/dev/xvda", VolumeType: "gp2", Created: "2025-10-06T23:01:18.000Z"},
}

// imageID is the image's ID in a region: stable, different per region as
// real AMI IDs are.
func (img *ec2Image) imageID(region string) string {
	sum := sha256.Sum256([]byte(region + "/" + img.Name))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}

func (img *ec2Image) snapshotID(region string) string {
	sum := sha256.Sum256([]byte("snap/" + region + "/" + img.Name))
	return "snap-" + hex.EncodeToString(sum[:])[:17]
}

// imageSize is the root snapshot size in GiB.
const imageSize = 8

func findEC2Image(region, id string) *ec2Image {
	for i := range ec2Images {
		if ec2Images[i].imageID(region) == id {
			return &ec2Images[i]
		}
	}
	return nil
}

// ec2ID makes an ID the way current EC2 IDs look: prefix-17 hex digits.
func ec2ID(prefix string) string { return prefix + "-" + randomHex(17) }

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// EC2 instance states, with their codes.
const (
	ec2Pending      = "pending"
	ec2Running      = "running"
	ec2ShuttingDown = "shutting-down"
	ec2Terminated   = "terminated"
	ec2Stopping     = "stopping"
	ec2Stopped      = "stopped"
)

var ec2StateCodes = map[string]int{ec2Pending: 0, ec2Running: 16, ec2ShuttingDown: 32, ec2Terminated: 48, ec2Stopping: 64, ec2Stopped: 80}

type ec2Vpc struct {
	meta
	Cidr          netip.Prefix
	IsDefault     bool
	DhcpOptionsID string
}

type ec2Subnet struct {
	meta
	addrBlock
	VpcID, Zone  string
	DefaultForAz bool
	MapPublicIP  bool
}

type ec2Group struct {
	meta
	Name, Description, VpcID string
	Ingress, Egress          []*ec2Rule
}

// ec2Rule is one security group rule: one protocol and port range, one
// source or destination.
type ec2Rule struct {
	ID, Protocol        string
	From, To            int
	Cidr, CidrV6, Group string
	Description         string
}

type ec2KeyPair struct {
	meta                               // ID is key-...
	Name, Fingerprint, Type, PublicKey string
}

type ec2Instance struct {
	meta
	ImageID, Type, KeyName, Zone  string
	VpcID, SubnetID               string
	PrivateIP, subnetIP, PublicIP string
	GroupIDs                      []string
	State, StateReason            string
	ReservationID, ClientToken    string
	UserData                      string
	Launch                        time.Time
	ENIID, MAC, RootDevice        string
	VolumeIDs                     []string
	HTTPTokens, HTTPEndpoint      string
	HopLimit                      int
	MetadataTags                  string
	SpotRequestID, IamProfileArn  string
	Monitoring, EbsOptimized      bool
	publicOnStart                 bool // a public IP is given at every start
	terminatedAt                  time.Time
	op                            int
}

type ec2Volume struct {
	meta
	Zone, Type, SnapshotID string
	Size, Iops, Throughput int
	Encrypted              bool
	KmsKeyID               string
	InstanceID, Device     string
	DeleteOnTermination    bool
	AttachTime             time.Time
}

// ec2State is the EC2 part of the state.
type ec2State struct {
	account   string
	vpcs      *table[*ec2Vpc]
	subnets   *table[*ec2Subnet]
	groups    *table[*ec2Group]
	keyPairs  *table[*ec2KeyPair]
	instances *table[*ec2Instance]
	volumes   *table[*ec2Volume]
	spot      *table[*ec2SpotRequest]
	// tagged maps an ID prefix (i, sg, vpc, ...) to the table of that kind.
	tagged map[string]tagged
	// ebsEncryption is the account's EBS encryption by default, per region.
	ebsEncryption map[string]bool
	// tokens remembers RunInstances ClientTokens: the reservation they made.
	tokens map[string]ec2TokenRecord
}

type ec2TokenRecord struct {
	fingerprint   string
	reservationID string
	instanceIDs   []string
}

func ec2NotFound(code, what string) func(region, id string) error {
	return func(_, id string) error { return ec2Errorf(code, "The %s '%s' does not exist", what, id) }
}

func newEC2State() *ec2State {
	e := &ec2State{
		account:       fmt.Sprintf("%012d", randomNumber(1e12)),
		vpcs:          newTable[*ec2Vpc]("vpc", ec2NotFound("InvalidVpcID.NotFound", "vpc ID")),
		subnets:       newTable[*ec2Subnet]("subnet", ec2NotFound("InvalidSubnetID.NotFound", "subnet ID")),
		groups:        newTable[*ec2Group]("security-group", ec2NotFound("InvalidGroup.NotFound", "security group")),
		keyPairs:      newTable[*ec2KeyPair]("key-pair", ec2NotFound("InvalidKeyPair.NotFound", "key pair")),
		instances:     newTable[*ec2Instance]("instance", ec2NotFound("InvalidInstanceID.NotFound", "instance ID")),
		volumes:       newTable[*ec2Volume]("volume", ec2NotFound("InvalidVolume.NotFound", "volume")),
		spot:          newTable[*ec2SpotRequest]("spot-instances-request", ec2NotFound("InvalidSpotInstanceRequestID.NotFound", "spot instance request ID")),
		ebsEncryption: map[string]bool{},
		tokens:        map[string]ec2TokenRecord{},
	}
	e.tagged = map[string]tagged{"vpc": e.vpcs, "subnet": e.subnets, "sg": e.groups, "key": e.keyPairs, "i": e.instances, "vol": e.volumes, "sir": e.spot}
	e.addDependencies()
	now := time.Now().UTC()
	for _, r := range ec2Regions {
		v := e.addVpc(r.Name, netip.MustParsePrefix("172.31.0.0/16"), true, now)
		for i, z := range r.Zones {
			sn := &ec2Subnet{
				meta: newMeta(ec2ID("subnet"), r.Name, now), VpcID: v.ID, Zone: z, DefaultForAz: true, MapPublicIP: true,
				addrBlock: newAddrBlock(netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, byte(i * 16), 0}), 20)),
			}
			e.subnets.put(sn)
		}
	}
	return e
}

// addVpc makes a VPC with its default security group.
func (e *ec2State) addVpc(region string, cidr netip.Prefix, isDefault bool, now time.Time) *ec2Vpc {
	v := &ec2Vpc{meta: newMeta(ec2ID("vpc"), region, now), Cidr: cidr, IsDefault: isDefault, DhcpOptionsID: "dopt-" + randomHex(17)}
	e.vpcs.put(v)
	g := &ec2Group{meta: newMeta(ec2ID("sg"), region, now), Name: "default", Description: "default VPC security group", VpcID: v.ID}
	g.Egress = []*ec2Rule{{ID: ec2ID("sgr"), Protocol: "-1", From: -1, To: -1, Cidr: "0.0.0.0/0"}}
	e.groups.put(g)
	g.Ingress = []*ec2Rule{{ID: ec2ID("sgr"), Protocol: "-1", From: -1, To: -1, Group: g.ID}}
	return v
}

// live tells whether an instance still holds what it uses.
func (inst *ec2Instance) live() bool { return inst.State != ec2Terminated }

func (e *ec2State) addDependencies() {
	e.vpcs.blockedBy(func(v *ec2Vpc) error {
		if sn, ok := e.subnets.first(func(sn *ec2Subnet) bool { return sn.VpcID == v.ID }); ok {
			return ec2Errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted: subnet %s.", v.ID, sn.ID)
		}
		if g, ok := e.groups.first(func(g *ec2Group) bool { return g.VpcID == v.ID && g.Name != "default" }); ok {
			return ec2Errorf("DependencyViolation", "The vpc '%s' has dependencies and cannot be deleted: security group %s.", v.ID, g.ID)
		}
		return nil
	})
	e.subnets.blockedBy(func(sn *ec2Subnet) error {
		if inst, ok := e.instances.first(func(i *ec2Instance) bool { return i.live() && i.SubnetID == sn.ID }); ok {
			return ec2Errorf("DependencyViolation", "The subnet '%s' has dependencies and cannot be deleted: instance %s.", sn.ID, inst.ID)
		}
		return nil
	})
	e.groups.blockedBy(func(g *ec2Group) error {
		if g.Name == "default" {
			return ec2Errorf("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", g.ID)
		}
		return nil
	})
	e.groups.blockedBy(func(g *ec2Group) error {
		if inst, ok := e.instances.first(func(i *ec2Instance) bool { return i.live() && containsStr(i.GroupIDs, g.ID) }); ok {
			return ec2Errorf("DependencyViolation", "resource %s has a dependent object (instance %s)", g.ID, inst.ID)
		}
		return nil
	})
	e.groups.blockedBy(func(g *ec2Group) error {
		other, ok := e.groups.first(func(o *ec2Group) bool {
			if o.ID == g.ID {
				return false
			}
			for _, r := range append(append([]*ec2Rule{}, o.Ingress...), o.Egress...) {
				if r.Group == g.ID {
					return true
				}
			}
			return false
		})
		if ok {
			return ec2Errorf("DependencyViolation", "resource %s has a dependent object (a rule of security group %s)", g.ID, other.ID)
		}
		return nil
	})
	e.volumes.blockedBy(func(v *ec2Volume) error {
		if v.InstanceID != "" {
			return ec2Errorf("VolumeInUse", "Volume %s is currently attached to %s", v.ID, v.InstanceID)
		}
		return nil
	})
}

func containsStr(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func randomNumber(n int64) int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	v := int64(0)
	for _, x := range b {
		v = v<<8 | int64(x)
	}
	if v < 0 {
		v = -v
	}
	return v%(n-n/10) + n/10
}

// defaultVpc is the region's default VPC.
func (e *ec2State) defaultVpc(region string) *ec2Vpc {
	v, _ := e.vpcs.first(func(v *ec2Vpc) bool { return v.RegionID == region && v.IsDefault })
	return v
}

// tagTarget finds the resource an ID names, by its prefix.
func (e *ec2State) tagTarget(region, id string) *meta {
	prefix, _, _ := strings.Cut(id, "-")
	if t := e.tagged[prefix]; t != nil {
		return t.lookup(region, id)
	}
	return nil
}

// awsSecret returns the secret (and session token, for temporary
// credentials) of an access key the EC2 endpoint accepts.
func (s *Server) awsSecret(accessKey string) (secret, token string, ok bool) {
	if accessKey == s.cfg.AWSAccessKeyID {
		return s.cfg.AWSSecretAccessKey, "", true
	}
	return s.imds.lookup(accessKey, time.Now())
}
