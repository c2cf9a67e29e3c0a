package cloudsim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// state is everything the simulated cloud holds. One mutex in Server guards
// it; nothing in here blocks.
type state struct {
	defaultResourceGroup string

	vpcs           *table[*vpc]
	vswitches      *table[*vswitch]
	routeTables    *table[*routeTable]
	securityGroups *table[*securityGroup]
	keyPairs       *table[*keyPair] // keyed region + "/" + name
	instances      *table[*instance]
	eips           *table[*eip]
	loadBalancers  *table[*loadBalancer]
	// ec2 is the EC2 side, with its own regions.
	ec2 *ec2State
	// taggable is every table the tag actions reach, by kind.
	taggable     map[string]tagged
	clientTokens map[string]*tokenRecord

	// addresses hands out loopback addresses for public IPs, EIPs and SLBs.
	publicAddrs *addrPool
	slbAddrs    *addrPool
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type tokenRecord struct {
	fingerprint string
	answer      []byte
}

type vpc struct {
	meta
	Name, Description, CidrBlock             string
	IsDefault                                bool
	Status                                   string
	VRouterID, RouteTableID, ResourceGroupID string
}

type vswitch struct {
	meta
	addrBlock
	VpcID, ZoneID, Name, Description string
	IsDefault                        bool
	Status                           string
}

// addrBlock hands out the private addresses of a VSwitch or subnet.
type addrBlock struct {
	Cidr netip.Prefix
	used map[netip.Addr]bool
}

func newAddrBlock(p netip.Prefix) addrBlock { return addrBlock{Cidr: p, used: map[netip.Addr]bool{}} }

// Why an address cannot be taken.
var (
	errAddrUnusable = errors.New("not a usable address of the block")
	errAddrInUse    = errors.New("already in use")
	errAddrFull     = errors.New("no free address left")
)

type routeTable struct {
	meta
	VpcID, VRouterID string
	Entries          []*routeEntry
}

type routeEntry struct {
	ID, RouteTableID, Dest, NextHopType, NextHopID string
	Type                                           string // System or Custom
	Status                                         string // Pending, Available, Deleting
	Name, Description                              string
}

type securityGroup struct {
	meta
	Name, Description, VpcID, Type, ResourceGroupID string
	Rules                                           []*sgRule
}

type sgRule struct {
	ID, Direction, IpProtocol, PortRange                    string
	SourceCidrIp, DestCidrIp, SourceGroupID, DestGroupID    string
	SourcePortRange, Policy, NicType, Description, Priority string
	Created                                                 time.Time
}

type keyPair struct {
	meta                                          // ID is the name
	Name, Fingerprint, PublicKey, ResourceGroupID string
}

type disk struct {
	ID, Category, Device string
	Size                 int
}

type instance struct {
	meta
	ZoneID, Name, HostName, Description    string
	ImageID, InstanceType                  string
	VpcID, VSwitchID, PrivateIP            string
	vswitchIP                              string // the address taken in the VSwitch
	SecurityGroupIDs                       []string
	KeyPairName                            string
	password                               string // secret: never logged nor answered
	UserData                               string // base64, as given
	Status                                 string
	Started                                time.Time
	BandwidthOut, BandwidthIn              int
	InternetChargeType, InstanceChargeType string
	PublicIP                               string
	EIPID                                  string
	SystemDisk                             disk
	DataDisks                              []disk
	ResourceGroupID                        string
	DeletionProtection                     bool
	ENIID, MAC                             string
	// op counts lifecycle operations so a late transition goroutine of an
	// earlier operation never overwrites the state of a newer one.
	op int
}

type eip struct {
	meta
	IP, Bandwidth, InternetChargeType, ISP string
	Status, InstanceID, InstanceType       string
	Name, Description, ResourceGroupID     string
}

// Instance states as the API names them.
const (
	statusPending  = "Pending"
	statusStarting = "Starting"
	statusRunning  = "Running"
	statusStopping = "Stopping"
	statusStopped  = "Stopped"
)

func newState() *state {
	st := &state{
		defaultResourceGroup: "rg-acfm" + randomID(14),
		vpcs: newTable[*vpc]("vpc", func(region, id string) error {
			return newErrorf("InvalidVpcId.NotFound", "Specified VPC %q does not exist in region %s.", id, region)
		}),
		vswitches: newTable[*vswitch]("vswitch", func(_, id string) error {
			return newErrorf("InvalidVSwitchId.NotFound", "The VSwitchId %q provided does not exist in our records.", id)
		}),
		routeTables: newTable[*routeTable]("routetable", func(_, id string) error {
			return newErrorf("InvalidRouteTableId.NotFound", "The specified route table %q does not exist.", id)
		}),
		securityGroups: newTable[*securityGroup]("securitygroup", func(region, id string) error {
			return newErrorf("InvalidSecurityGroupId.NotFound", "The specified SecurityGroupId %q does not exist in region %s.", id, region)
		}),
		keyPairs: newTable[*keyPair]("keypair", func(_, name string) error {
			return newErrorf("InvalidKeyPairName.NotFound", "The specified KeyPairName %q does not exist in our records.", name)
		}),
		instances: newTable[*instance]("instance", func(_, id string) error {
			return newErrorf("InvalidInstanceId.NotFound", "The specified InstanceId %q does not exist.", id)
		}),
		eips: newTable[*eip]("eip", func(_, id string) error {
			return newErrorf("InvalidAllocationId.NotFound", "Specified allocation ID of EIP %q does not exist.", id)
		}),
		loadBalancers: newTable[*loadBalancer]("loadbalancer", func(region, id string) error {
			return newErrorf("InvalidLoadBalancerId.NotFound", "The specified load balancer %q does not exist in region %s.", id, region)
		}),
		clientTokens: map[string]*tokenRecord{},
		ec2:          newEC2State(),
		publicAddrs:  newAddrPool(netip.MustParsePrefix("127.100.0.0/16")),
		slbAddrs:     newAddrPool(netip.MustParsePrefix("127.101.0.0/16")),
	}
	st.keyPairs.keyOf = keyPairKey
	st.taggable = map[string]tagged{}
	for _, t := range []tagged{st.vpcs, st.vswitches, st.routeTables, st.securityGroups, st.keyPairs, st.instances, st.eips, st.loadBalancers} {
		st.taggable[t.kindName()] = t
	}
	st.addDependencies()
	now := time.Now().UTC()
	for _, r := range regions {
		v := st.addVpc(r.ID, "", "", netip.MustParsePrefix("172.16.0.0/12"), now)
		v.IsDefault = true
		for i, z := range r.Zones {
			cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i * 16), 0}), 20)
			sw := st.addVSwitch(v, z.ID, "", "", cidr, now)
			sw.IsDefault = true
		}
	}
	return st
}

// addDependencies declares what refuses a delete: the resources that still
// refer to the one being deleted.
func (st *state) addDependencies() {
	st.vpcs.blockedBy(func(v *vpc) error {
		if sw, ok := st.vswitches.first(func(sw *vswitch) bool { return sw.VpcID == v.ID }); ok {
			return newErrorf("DependencyViolation.VSwitch", "Specified object has dependent resources: VPC %s still has VSwitch %s; delete the VSwitches first.", v.ID, sw.ID)
		}
		return nil
	})
	st.vpcs.blockedBy(func(v *vpc) error {
		if sg, ok := st.securityGroups.first(func(sg *securityGroup) bool { return sg.VpcID == v.ID }); ok {
			return newErrorf("DependencyViolation.SecurityGroup", "Specified object has dependent resources: VPC %s still has security group %s.", v.ID, sg.ID)
		}
		return nil
	})
	st.vpcs.blockedBy(func(v *vpc) error {
		if rt := st.routeTables.at(v.RouteTableID); rt != nil {
			for _, e := range rt.Entries {
				if e.Type == "Custom" {
					return newErrorf("DependencyViolation.RouteEntry", "Specified object has dependent resources: VPC %s still has the custom route entry %s (%s).", v.ID, e.ID, e.Dest)
				}
			}
		}
		return nil
	})
	st.vswitches.blockedBy(func(sw *vswitch) error {
		if inst, ok := st.instances.first(func(inst *instance) bool { return inst.VSwitchID == sw.ID }); ok {
			return newErrorf("DependencyViolation.Instance", "Specified object has dependent resources: VSwitch %s still has instance %s.", sw.ID, inst.ID)
		}
		return nil
	})
	st.vswitches.blockedBy(func(sw *vswitch) error {
		if lb, ok := st.loadBalancers.first(func(lb *loadBalancer) bool { return lb.VSwitchID == sw.ID }); ok {
			return newErrorf("DependencyViolation.Instance", "Specified object has dependent resources: VSwitch %s still has load balancer %s.", sw.ID, lb.ID)
		}
		return nil
	})
	st.securityGroups.blockedBy(func(sg *securityGroup) error {
		if n := st.groupMembers(sg.ID); n > 0 {
			return newErrorf("DependencyViolation", "There is still instance(s) in the specified security group: %d instance(s) use %s.", n, sg.ID)
		}
		return nil
	})
	st.securityGroups.blockedBy(func(sg *securityGroup) error {
		other, ok := st.securityGroups.first(func(o *securityGroup) bool {
			return o.ID != sg.ID && slices.ContainsFunc(o.Rules, func(r *sgRule) bool { return r.SourceGroupID == sg.ID || r.DestGroupID == sg.ID })
		})
		if ok {
			return newErrorf("DependencyViolation", "The specified security group has been authorized in another one (%s).", other.ID)
		}
		return nil
	})
	st.instances.blockedBy(func(inst *instance) error {
		for _, rt := range st.routeTables.all() {
			for _, e := range rt.Entries {
				if e.NextHopID == inst.ID {
					return newErrorf("DependencyViolation.RouteEntry", "Specified instance is used by route entry %s (%s) of route table %s; delete the route entry first.", e.ID, e.Dest, rt.ID)
				}
			}
		}
		return nil
	})
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns n random lower-case letters and digits.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// newID makes a resource ID the way the region's real IDs look:
// kind-<region prefix><18 characters>.
func newID(kind, regionID string) string {
	prefix := "xx"
	if r := findRegion(regionID); r != nil {
		prefix = r.idPrefix
	}
	return kind + "-" + prefix + randomID(18)
}

// apiTime formats a time the way most attributes carry it.
func apiTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// apiMinute formats a time to the minute, as instance and SLB times are.
func apiMinute(t time.Time) string { return t.UTC().Format("2006-01-02T15:04Z") }

func (st *state) addVpc(regionID, name, desc string, cidr netip.Prefix, now time.Time) *vpc {
	v := &vpc{
		meta: newMeta(newID("vpc", regionID), regionID, now), Name: name, Description: desc,
		CidrBlock: cidr.String(), Status: "Available",
		VRouterID: newID("vrt", regionID), ResourceGroupID: st.defaultResourceGroup,
	}
	rt := &routeTable{meta: newMeta(newID("vtb", regionID), regionID, now), VpcID: v.ID, VRouterID: v.VRouterID}
	rt.Entries = append(rt.Entries, &routeEntry{
		ID: newID("rte", regionID), RouteTableID: rt.ID, Dest: "100.64.0.0/10",
		NextHopType: "service", Type: "System", Status: "Available",
	})
	v.RouteTableID = rt.ID
	st.vpcs.put(v)
	st.routeTables.put(rt)
	return v
}

func (st *state) addVSwitch(v *vpc, zoneID, name, desc string, cidr netip.Prefix, now time.Time) *vswitch {
	sw := &vswitch{
		meta: newMeta(newID("vsw", v.RegionID), v.RegionID, now), VpcID: v.ID, ZoneID: zoneID,
		Name: name, Description: desc, addrBlock: newAddrBlock(cidr), Status: "Available",
	}
	st.vswitches.put(sw)
	if rt := st.routeTables.at(v.RouteTableID); rt != nil {
		rt.Entries = append(rt.Entries, &routeEntry{
			ID: newID("rte", v.RegionID), RouteTableID: rt.ID, Dest: cidr.String(),
			NextHopType: "local", Type: "System", Status: "Available",
		})
	}
	return sw
}

// removeVSwitchRoutes drops the system route of a deleted VSwitch.
func (st *state) removeVSwitchRoutes(sw *vswitch) {
	v := st.vpcs.at(sw.VpcID)
	if v == nil {
		return
	}
	if rt := st.routeTables.at(v.RouteTableID); rt != nil {
		rt.Entries = slices.DeleteFunc(rt.Entries, func(e *routeEntry) bool {
			return e.Type == "System" && e.NextHopType == "local" && e.Dest == sw.Cidr.String()
		})
	}
}

// reserved tells whether the block keeps an address for itself: the
// network address, the first three hosts and the last address, as real
// VSwitches and subnets do.
func (b *addrBlock) reserved(a netip.Addr) bool {
	first := b.Cidr.Masked().Addr()
	for i := 0; i < 4; i++ {
		if a == first {
			return true
		}
		first = first.Next()
	}
	last := lastAddr(b.Cidr)
	return a == last
}

// take takes want (if set) or the next free address of the block.
func (b *addrBlock) take(want string) (string, error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() || !b.Cidr.Contains(a) || b.reserved(a) {
			return "", errAddrUnusable
		}
		if b.used[a] {
			return "", errAddrInUse
		}
		b.used[a] = true
		return a.String(), nil
	}
	for a := b.Cidr.Masked().Addr(); b.Cidr.Contains(a); a = a.Next() {
		if !b.reserved(a) && !b.used[a] {
			b.used[a] = true
			return a.String(), nil
		}
	}
	return "", errAddrFull
}

func (b *addrBlock) releaseIP(ip string) {
	if a, err := netip.ParseAddr(ip); err == nil {
		delete(b.used, a)
	}
}

func (b *addrBlock) available() int64 {
	total := int64(1) << (32 - b.Cidr.Bits())
	return max(0, total-5-int64(len(b.used)))
}

// allocIP takes want (if set) or the next free address of the VSwitch.
func (sw *vswitch) allocIP(want string) (string, error) {
	ip, err := sw.take(want)
	switch {
	case errors.Is(err, errAddrUnusable):
		return "", newErrorf("InvalidPrivateIpAddress.Malformed", "The specified private IP %q is not a usable address of VSwitch %s (%s).", want, sw.ID, sw.Cidr)
	case errors.Is(err, errAddrInUse):
		return "", newErrorf("InvalidPrivateIpAddress.Duplicated", "The specified private IP address %s is already in use.", want)
	case err != nil:
		return "", newErrorf("QuotaExceeded.PrivateIpAddress", "Don't have enough private IPs in this switch %s.", sw.ID)
	}
	return ip, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << hostBits) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// prefixesOverlap tells whether two prefixes share an address.
func prefixesOverlap(a, b netip.Prefix) bool {
	return a.Contains(b.Masked().Addr()) || b.Contains(a.Masked().Addr())
}

// privateCIDR checks a VPC CIDR: inside 10/8, 172.16/12 or 192.168/16, mask
// /8 to /28.
func privateCIDR(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Masked() != p || p.Bits() < 8 || p.Bits() > 28 {
		return netip.Prefix{}, false
	}
	for _, r := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} {
		outer := netip.MustParsePrefix(r)
		if outer.Contains(p.Addr()) && p.Bits() >= outer.Bits() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// addrPool hands out single addresses of a loopback range. Linux routes all
// of 127.0.0.0/8 to lo, so any of them can be bound without setup.
type addrPool struct {
	prefix netip.Prefix
	next   netip.Addr
	used   map[netip.Addr]bool
}

// newAddrPool starts at a random place of the range, so simulators running
// side by side (parallel test binaries) rarely hand out the same address.
func newAddrPool(p netip.Prefix) *addrPool {
	b := p.Masked().Addr().As4()
	var r [4]byte
	_, _ = rand.Read(r[:])
	hostBits := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (uint32(r[0])<<24 | uint32(r[1])<<16 | uint32(r[2])<<8 | uint32(r[3])) & (1<<hostBits - 1)
	start := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return &addrPool{prefix: p, next: start, used: map[netip.Addr]bool{}}
}

func (p *addrPool) take() (string, error) {
	for range 1 << (32 - p.prefix.Bits()) {
		a := p.next
		p.next = a.Next()
		if !p.prefix.Contains(p.next) {
			p.next = p.prefix.Addr().Next()
		}
		b := a.As4()
		if b[3] == 0 || b[3] == 255 || p.used[a] {
			continue
		}
		p.used[a] = true
		return a.String(), nil
	}
	return "", fmt.Errorf("no free address left in %s", p.prefix)
}

func (p *addrPool) give(s string) {
	if a, err := netip.ParseAddr(s); err == nil {
		delete(p.used, a)
	}
}

// maxTags is how many tags an Alibaba Cloud resource may carry.
const maxTags = 20

// checkTag validates a tag the way the services do.
func checkTag(key, value string) error {
	if len(key) > 128 || strings.HasPrefix(strings.ToLower(key), "aliyun") || strings.HasPrefix(strings.ToLower(key), "acs:") ||
		strings.Contains(key, "http://") || strings.Contains(key, "https://") {
		return newErrorf("InvalidTagKey.Malformed", "The specified Tag.n.Key %q is not valid.", key)
	}
	if len(value) > 128 || strings.HasPrefix(strings.ToLower(value), "aliyun") || strings.HasPrefix(strings.ToLower(value), "acs:") ||
		strings.Contains(value, "http://") || strings.Contains(value, "https://") {
		return newErrorf("InvalidTagValue.Malformed", "The specified Tag.n.Value %q is not valid.", value)
	}
	return nil
}

// tagView is how ECS-style resources list their tags.
type tagView struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

func tagViews(ts []tag) []tagView {
	out := make([]tagView, 0, len(ts))
	for _, t := range ts {
		out = append(out, tagView{TagKey: t.Key, TagValue: t.Value})
	}
	return out
}

// sortedKeys returns map keys in order, for stable listings.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
