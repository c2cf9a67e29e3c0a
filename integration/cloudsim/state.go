package cloudsim

import (
	"crypto/rand"
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

	vpcs           map[string]*vpc
	vswitches      map[string]*vswitch
	routeTables    map[string]*routeTable
	securityGroups map[string]*securityGroup
	keyPairs       map[string]*keyPair // region + "/" + name
	instances      map[string]*instance
	eips           map[string]*eip
	loadBalancers  map[string]*loadBalancer
	tags           map[resourceRef][]tag
	clientTokens   map[string]*tokenRecord

	// addresses hands out loopback addresses for public IPs, EIPs and SLBs.
	publicAddrs *addrPool
	slbAddrs    *addrPool
}

// resourceRef names a taggable resource.
type resourceRef struct {
	Kind string // instance, securitygroup, keypair, vpc, vswitch, routetable, eip, loadbalancer
	ID   string
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
	ID, RegionID, Name, Description, CidrBlock string
	IsDefault                                  bool
	Status                                     string
	Created                                    time.Time
	VRouterID, RouteTableID, ResourceGroupID   string
}

type vswitch struct {
	ID, VpcID, RegionID, ZoneID, Name, Description string
	Cidr                                           netip.Prefix
	IsDefault                                      bool
	Status                                         string
	Created                                        time.Time
	used                                           map[netip.Addr]bool
}

type routeTable struct {
	ID, VpcID, VRouterID, RegionID string
	Created                        time.Time
	Entries                        []*routeEntry
}

type routeEntry struct {
	ID, RouteTableID, Dest, NextHopType, NextHopID string
	Type                                           string // System or Custom
	Status                                         string // Pending, Available, Deleting
	Name, Description                              string
}

type securityGroup struct {
	ID, RegionID, Name, Description, VpcID, Type, ResourceGroupID string
	Created                                                       time.Time
	Rules                                                         []*sgRule
}

type sgRule struct {
	ID, Direction, IpProtocol, PortRange                    string
	SourceCidrIp, DestCidrIp, SourceGroupID, DestGroupID    string
	SourcePortRange, Policy, NicType, Description, Priority string
	Created                                                 time.Time
}

type keyPair struct {
	Name, ID, RegionID, Fingerprint, PublicKey, ResourceGroupID string
	Created                                                     time.Time
}

type disk struct {
	ID, Category, Device string
	Size                 int
}

type instance struct {
	ID, RegionID, ZoneID, Name, HostName, Description string
	ImageID, InstanceType                             string
	VpcID, VSwitchID, PrivateIP                       string
	vswitchIP                                         string // the address taken in the VSwitch
	SecurityGroupIDs                                  []string
	KeyPairName                                       string
	password                                          string // secret: never logged nor answered
	UserData                                          string // base64, as given
	Status                                            string
	Created, Started                                  time.Time
	BandwidthOut, BandwidthIn                         int
	InternetChargeType, InstanceChargeType            string
	PublicIP                                          string
	EIPID                                             string
	SystemDisk                                        disk
	DataDisks                                         []disk
	ResourceGroupID                                   string
	DeletionProtection                                bool
	ENIID, MAC                                        string
	// op counts lifecycle operations so a late transition goroutine of an
	// earlier operation never overwrites the state of a newer one.
	op int
}

type eip struct {
	ID, IP, RegionID, Bandwidth, InternetChargeType, ISP string
	Status, InstanceID, InstanceType, Name, Description  string
	ResourceGroupID                                      string
	Created                                              time.Time
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
		vpcs:                 map[string]*vpc{},
		vswitches:            map[string]*vswitch{},
		routeTables:          map[string]*routeTable{},
		securityGroups:       map[string]*securityGroup{},
		keyPairs:             map[string]*keyPair{},
		instances:            map[string]*instance{},
		eips:                 map[string]*eip{},
		loadBalancers:        map[string]*loadBalancer{},
		tags:                 map[resourceRef][]tag{},
		clientTokens:         map[string]*tokenRecord{},
		publicAddrs:          newAddrPool(netip.MustParsePrefix("127.100.0.0/16")),
		slbAddrs:             newAddrPool(netip.MustParsePrefix("127.101.0.0/16")),
	}
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
		ID: newID("vpc", regionID), RegionID: regionID, Name: name, Description: desc,
		CidrBlock: cidr.String(), Status: "Available", Created: now,
		VRouterID: newID("vrt", regionID), ResourceGroupID: st.defaultResourceGroup,
	}
	rt := &routeTable{ID: newID("vtb", regionID), VpcID: v.ID, VRouterID: v.VRouterID, RegionID: regionID, Created: now}
	rt.Entries = append(rt.Entries, &routeEntry{
		ID: newID("rte", regionID), RouteTableID: rt.ID, Dest: "100.64.0.0/10",
		NextHopType: "service", Type: "System", Status: "Available",
	})
	v.RouteTableID = rt.ID
	st.vpcs[v.ID] = v
	st.routeTables[rt.ID] = rt
	return v
}

func (st *state) addVSwitch(v *vpc, zoneID, name, desc string, cidr netip.Prefix, now time.Time) *vswitch {
	sw := &vswitch{
		ID: newID("vsw", v.RegionID), VpcID: v.ID, RegionID: v.RegionID, ZoneID: zoneID,
		Name: name, Description: desc, Cidr: cidr, Status: "Available", Created: now,
		used: map[netip.Addr]bool{},
	}
	st.vswitches[sw.ID] = sw
	if rt := st.routeTables[v.RouteTableID]; rt != nil {
		rt.Entries = append(rt.Entries, &routeEntry{
			ID: newID("rte", v.RegionID), RouteTableID: rt.ID, Dest: cidr.String(),
			NextHopType: "local", Type: "System", Status: "Available",
		})
	}
	return sw
}

// removeVSwitchRoutes drops the system route of a deleted VSwitch.
func (st *state) removeVSwitchRoutes(sw *vswitch) {
	v := st.vpcs[sw.VpcID]
	if v == nil {
		return
	}
	if rt := st.routeTables[v.RouteTableID]; rt != nil {
		rt.Entries = slices.DeleteFunc(rt.Entries, func(e *routeEntry) bool {
			return e.Type == "System" && e.NextHopType == "local" && e.Dest == sw.Cidr.String()
		})
	}
}

// reserved tells whether the VSwitch keeps an address for itself: the
// network address, the first three hosts and the last address, as the real
// VSwitches do.
func (sw *vswitch) reserved(a netip.Addr) bool {
	first := sw.Cidr.Masked().Addr()
	for i := 0; i < 4; i++ {
		if a == first {
			return true
		}
		first = first.Next()
	}
	last := lastAddr(sw.Cidr)
	return a == last
}

// allocIP takes want (if set) or the next free address of the VSwitch.
func (sw *vswitch) allocIP(want string) (string, error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() || !sw.Cidr.Contains(a) || sw.reserved(a) {
			return "", newErrorf("InvalidPrivateIpAddress.Malformed", "The specified private IP %q is not a usable address of VSwitch %s (%s).", want, sw.ID, sw.Cidr)
		}
		if sw.used[a] {
			return "", newErrorf("InvalidPrivateIpAddress.Duplicated", "The specified private IP address %s is already in use.", want)
		}
		sw.used[a] = true
		return a.String(), nil
	}
	for a := sw.Cidr.Masked().Addr(); sw.Cidr.Contains(a); a = a.Next() {
		if !sw.reserved(a) && !sw.used[a] {
			sw.used[a] = true
			return a.String(), nil
		}
	}
	return "", newErrorf("QuotaExceeded.PrivateIpAddress", "Don't have enough private IPs in this switch %s.", sw.ID)
}

func (sw *vswitch) releaseIP(ip string) {
	if a, err := netip.ParseAddr(ip); err == nil {
		delete(sw.used, a)
	}
}

func (sw *vswitch) available() int64 {
	total := int64(1) << (32 - sw.Cidr.Bits())
	return max(0, total-5-int64(len(sw.used)))
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

// tagsOf returns the tags of a resource.
func (st *state) tagsOf(kind, id string) []tag { return st.tags[resourceRef{kind, id}] }

// setTags adds or overwrites tags of a resource.
func (st *state) setTags(kind, id string, tags []tag) error {
	ref := resourceRef{kind, id}
	cur := st.tags[ref]
	for _, t := range tags {
		if i := slices.IndexFunc(cur, func(c tag) bool { return c.Key == t.Key }); i >= 0 {
			cur[i].Value = t.Value
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > 20 {
		return newErrorf("InvalidTagCount", "Resource %s would have %d tags; at most 20 are allowed.", id, len(cur))
	}
	st.tags[ref] = cur
	return nil
}

func (st *state) removeTags(kind, id string, keys []string, all bool) {
	ref := resourceRef{kind, id}
	if all {
		delete(st.tags, ref)
		return
	}
	cur := slices.DeleteFunc(st.tags[ref], func(t tag) bool { return slices.Contains(keys, t.Key) })
	if len(cur) == 0 {
		delete(st.tags, ref)
		return
	}
	st.tags[ref] = cur
}

// dropResource forgets the tags of a deleted resource.
func (st *state) dropResource(kind, id string) { delete(st.tags, resourceRef{kind, id}) }

// matchTags tells whether a resource carries every tag of the filter (a
// filter tag with an empty value matches any value).
func (st *state) matchTags(kind, id string, filter []tag) bool {
	have := st.tags[resourceRef{kind, id}]
	for _, f := range filter {
		if !slices.ContainsFunc(have, func(t tag) bool { return tagMatches(f, t) }) {
			return false
		}
	}
	return true
}

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
