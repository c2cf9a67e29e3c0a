package cloudsim

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loadBalancer is an SLB instance. Its Address is a loopback address from
// 127.101.0.0/16, whatever its AddressType: clients on this machine reach its
// listeners there.
type loadBalancer struct {
	meta
	Name, Address, AddressType, NetworkType            string
	VpcID, VSwitchID, Status, Spec, InternetChargeType string
	MasterZoneID, SlaveZoneID, ResourceGroupID         string
	Bandwidth                                          int
	backends                                           []*backendServer
	listeners                                          map[int]*listener

	s *Server
}

type backendServer struct {
	ServerID    string `json:"ServerId"`
	Weight      int    `json:"Weight"`
	Type        string `json:"Type"`
	Description string `json:"Description"`
}

// listener is the configuration of a listener; px is its data path while it
// runs.
type listener struct {
	lb                                      *loadBalancer
	Port, BackendPort, Bandwidth            int
	Protocol, Scheduler, Status             string
	Description                             string
	HealthCheck, HealthCheckType            string
	HealthCheckConnectPort                  int
	HealthCheckURI, HealthCheckDomain       string
	HealthCheckHttpCode, HealthCheckMethod  string
	HealthCheckInterval, HealthCheckTimeout int
	HealthyThreshold, UnhealthyThreshold    int
	PersistenceTimeout, EstablishedTimeout  int
	XForwardedFor, StickySession, Gzip      string
	IdleTimeout, RequestTimeout             int
	px                                      *proxy
}

func (s *Server) slbActions() map[string]handler {
	return map[string]handler{
		"DescribeRegions": s.slbDescribeRegions,
		"DescribeZones":   s.slbDescribeZones,

		"CreateLoadBalancer":            s.slbCreateLoadBalancer,
		"DeleteLoadBalancer":            s.slbDeleteLoadBalancer,
		"DescribeLoadBalancers":         s.slbDescribeLoadBalancers,
		"DescribeLoadBalancerAttribute": s.slbDescribeLoadBalancerAttribute,
		"SetLoadBalancerStatus":         s.slbSetLoadBalancerStatus,
		"SetLoadBalancerName":           s.slbSetLoadBalancerName,

		"AddBackendServers":    s.slbAddBackendServers,
		"RemoveBackendServers": s.slbRemoveBackendServers,
		"SetBackendServers":    s.slbSetBackendServers,
		"DescribeHealthStatus": s.slbDescribeHealthStatus,

		"CreateLoadBalancerTCPListener":             s.slbCreateListener("tcp"),
		"CreateLoadBalancerHTTPListener":            s.slbCreateListener("http"),
		"StartLoadBalancerListener":                 s.slbStartListener,
		"StopLoadBalancerListener":                  s.slbStopListener,
		"DeleteLoadBalancerListener":                s.slbDeleteListener,
		"DescribeLoadBalancerTCPListenerAttribute":  s.slbDescribeListenerAttribute("tcp"),
		"DescribeLoadBalancerHTTPListenerAttribute": s.slbDescribeListenerAttribute("http"),
		"DescribeLoadBalancerListeners":             s.slbDescribeLoadBalancerListeners,

		"TagResources":     s.tagResources,
		"UntagResources":   s.untagResources,
		"ListTagResources": s.listTagResources,
		"AddTags":          s.slbTagAction(slbAddTags),
		"RemoveTags":       s.slbTagAction(slbRemoveTags),
		"DescribeTags":     s.slbDescribeTags,
	}
}

func (s *Server) slbDescribeRegions(c *callCtx) (obj, error) {
	out := []obj{}
	for _, r := range regions {
		out = append(out, obj{"RegionId": r.ID, "LocalName": r.LocalName, "RegionEndpoint": c.regionEndpoint()})
	}
	return obj{"Regions": obj{"Region": out}}, nil
}

func (s *Server) slbDescribeZones(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for i, z := range r.Zones {
		slaves := []obj{}
		if len(r.Zones) > 1 {
			o := r.Zones[(i+1)%len(r.Zones)]
			slaves = append(slaves, obj{"ZoneId": o.ID, "LocalName": o.LocalName})
		}
		out = append(out, obj{"ZoneId": z.ID, "LocalName": z.LocalName, "SlaveZones": obj{"SlaveZone": slaves}})
	}
	return obj{"Zones": obj{"Zone": out}}, nil
}

func (s *Server) slbCreateLoadBalancer(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	addrType, err := c.p.oneOf("AddressType", "internet", "internet", "intranet")
	if err != nil {
		return nil, err
	}
	ict, err := c.p.oneOf("InternetChargeType", "paybytraffic", "paybytraffic", "paybybandwidth")
	if err != nil {
		return nil, err
	}
	bw, err := c.p.integer("Bandwidth", 5120, 1, 5120)
	if err != nil {
		return nil, err
	}
	name := c.p.get("LoadBalancerName")
	if err := checkResourceName("LoadBalancerName", name); err != nil {
		return nil, err
	}
	tags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	if master := c.p.get("MasterZoneId"); master != "" && r.zone(master) == nil {
		return nil, newErrorf("InvalidParameter", "The specified MasterZoneId %q is not a zone of %s.", master, r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lb := &loadBalancer{
		meta: newMeta(newID("lb", r.ID), r.ID, time.Now().UTC()), Name: name, AddressType: addrType, NetworkType: "classic",
		Status: "active", Spec: c.p.get("LoadBalancerSpec"), InternetChargeType: ict, Bandwidth: bw,
		MasterZoneID: c.p.get("MasterZoneId"), SlaveZoneID: c.p.get("SlaveZoneId"),
		ResourceGroupID: c.p.get("ResourceGroupId"), listeners: map[int]*listener{}, s: s,
	}
	if lb.Name == "" {
		lb.Name = "auto_named_slb"
	}
	if lb.ResourceGroupID == "" {
		lb.ResourceGroupID = s.st.defaultResourceGroup
	}
	if swID := c.p.get("VSwitchId"); swID != "" {
		sw, err := s.st.vswitches.find(r.ID, swID)
		if err != nil {
			return nil, err
		}
		if v := c.p.get("VpcId"); v != "" && v != sw.VpcID {
			return nil, newErrorf("InvalidParameter", "VSwitch %s is not in VPC %s.", sw.ID, v)
		}
		lb.NetworkType, lb.VSwitchID, lb.VpcID = "vpc", sw.ID, sw.VpcID
		if lb.MasterZoneID == "" {
			lb.MasterZoneID = sw.ZoneID
		}
	} else if addrType == "intranet" && c.p.get("VpcId") != "" {
		return nil, errMissing("VSwitchId")
	}
	if lb.MasterZoneID == "" {
		lb.MasterZoneID = r.Zones[0].ID
		if len(r.Zones) > 1 && lb.SlaveZoneID == "" {
			lb.SlaveZoneID = r.Zones[1].ID
		}
	}
	addr, err := s.st.slbAddrs.take()
	if err != nil {
		return nil, newErrorf("InsufficientCapacity", "There is insufficient capacity available for the requested load balancer: %v", err)
	}
	lb.Address = addr
	lb.Tags = tags
	s.st.loadBalancers.put(lb)
	return obj{
		"LoadBalancerId": lb.ID, "LoadBalancerName": lb.Name, "Address": lb.Address, "NetworkType": lb.NetworkType,
		"VpcId": lb.VpcID, "VSwitchId": lb.VSwitchID, "AddressIPVersion": "ipv4", "ResourceGroupId": lb.ResourceGroupID,
		"OrderId": 0,
	}, nil
}

// lbCall reads RegionId and LoadBalancerId; it returns with s.mu held.
func (s *Server) lbCall(c *callCtx) (*loadBalancer, error) {
	return regionalCall(s, c, "LoadBalancerId", lbsOf)
}

func (s *Server) slbDeleteLoadBalancer(c *callCtx) (obj, error) {
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for _, l := range lb.listeners {
		l.stop()
	}
	s.st.loadBalancers.remove(lb)
	s.st.slbAddrs.give(lb.Address)
	return obj{}, nil
}

func (s *Server) lbView(lb *loadBalancer) obj {
	return obj{
		"LoadBalancerId": lb.ID, "LoadBalancerName": lb.Name, "LoadBalancerStatus": lb.Status, "Address": lb.Address,
		"AddressType": lb.AddressType, "RegionId": lb.RegionID, "RegionIdAlias": lb.RegionID, "VSwitchId": lb.VSwitchID,
		"VpcId": lb.VpcID, "NetworkType": lb.NetworkType, "MasterZoneId": lb.MasterZoneID, "SlaveZoneId": lb.SlaveZoneID,
		"InternetChargeType": lb.InternetChargeType, "InternetChargeTypeAlias": lb.InternetChargeType,
		"CreateTime": apiMinute(lb.Created), "CreateTimeStamp": lb.Created.UnixMilli(), "PayType": "PayOnDemand",
		"ResourceGroupId": lb.ResourceGroupID, "AddressIPVersion": "ipv4", "Bandwidth": lb.Bandwidth,
		"LoadBalancerSpec": lb.Spec, "DeleteProtection": "off", "ModificationProtectionStatus": "",
		"ModificationProtectionReason": "", "BusinessStatus": "Normal", "InstanceChargeType": "PayBySpec",
		"Tags": obj{"Tag": tagViews(lb.Tags)},
	}
}

func (s *Server) slbDescribeLoadBalancers(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(50, 100)
	if err != nil {
		return nil, err
	}
	ids, err := c.p.idList("LoadBalancerId")
	if err != nil {
		return nil, err
	}
	names, err := c.p.idList("LoadBalancerName")
	if err != nil {
		return nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	legacyTags, err := slbTagsParam(c, false)
	if err != nil {
		return nil, err
	}
	filterTags = append(filterTags, legacyTags...)
	eq := func(param, have string) bool { v := c.p.get(param); return v == "" || strings.EqualFold(v, have) }
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.st.loadBalancers.list(selector{region: r.ID, ids: ids, tags: filterTags}, func(lb *loadBalancer) bool {
		if len(names) > 0 && !slices.Contains(names, lb.Name) {
			return false
		}
		if !eq("AddressType", lb.AddressType) || !eq("NetworkType", lb.NetworkType) || !eq("VpcId", lb.VpcID) ||
			!eq("VSwitchId", lb.VSwitchID) || !eq("Address", lb.Address) || !eq("LoadBalancerStatus", lb.Status) ||
			!eq("MasterZoneId", lb.MasterZoneID) || !eq("ResourceGroupId", lb.ResourceGroupID) ||
			!eq("InternetChargeType", lb.InternetChargeType) {
			return false
		}
		srv := c.p.get("ServerId")
		return srv == "" || slices.ContainsFunc(lb.backends, func(b *backendServer) bool { return b.ServerID == srv })
	})
	return obj{"TotalCount": len(list), "PageNumber": number, "PageSize": size, "LoadBalancers": obj{"LoadBalancer": views(page(list, number, size), s.lbView)}}, nil
}

func (lb *loadBalancer) ports() []int {
	out := make([]int, 0, len(lb.listeners))
	for p := range lb.listeners {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (s *Server) slbDescribeLoadBalancerAttribute(c *callCtx) (obj, error) {
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	v := s.lbView(lb)
	delete(v, "InternetChargeTypeAlias") // only DescribeLoadBalancers has it
	ports := lb.ports()
	var pp, ppOld []obj
	for _, port := range ports {
		l := lb.listeners[port]
		pp = append(pp, obj{"ListenerPort": port, "ListenerProtocol": l.Protocol, "Description": l.Description, "ListenerForward": "off", "ForwardPort": 0})
		ppOld = append(ppOld, obj{"ListenerPort": port, "ListenerProtocal": l.Protocol})
	}
	backends := []obj{}
	for _, b := range lb.backends {
		ip, vpcID := "", ""
		if inst := s.st.instances.at(b.ServerID); inst != nil {
			ip, vpcID = inst.PrivateIP, inst.VpcID
		}
		backends = append(backends, obj{"ServerId": b.ServerID, "Weight": b.Weight, "Type": b.Type, "Description": b.Description, "ServerIp": ip, "VpcId": vpcID})
	}
	v["ListenerPorts"] = obj{"ListenerPort": ports}
	v["ListenerPortsAndProtocol"] = obj{"ListenerPortAndProtocol": nonNil(pp)}
	v["ListenerPortsAndProtocal"] = obj{"ListenerPortAndProtocal": nonNil(ppOld)}
	v["BackendServers"] = obj{"BackendServer": backends}
	v["Labels"] = obj{"Label": []string{}}
	v["SupportPrivateLink"] = false
	v["EndTime"], v["EndTimeStamp"], v["AutoReleaseTime"] = "2999-09-08T16:00:00Z", int64(32493801600000), int64(0)
	v["RenewalStatus"], v["RenewalDuration"], v["RenewalCycUnit"] = "", 0, ""
	v["HasReservedInfo"] = "false"
	return v, nil
}

func (s *Server) slbSetLoadBalancerStatus(c *callCtx) (obj, error) {
	status, err := c.p.required("LoadBalancerStatus")
	if err != nil {
		return nil, err
	}
	if status != "active" && status != "inactive" {
		return nil, errInvalidf("LoadBalancerStatus", "use active or inactive")
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if lb.Status == status {
		return obj{}, nil
	}
	lb.Status = status
	for _, l := range lb.listeners {
		if l.Status != "running" {
			continue
		}
		if status == "inactive" {
			l.stopProxy()
		} else if err := l.startProxy(); err != nil {
			return nil, err
		}
	}
	return obj{}, nil
}

func (s *Server) slbSetLoadBalancerName(c *callCtx) (obj, error) {
	name, err := c.p.required("LoadBalancerName")
	if err != nil {
		return nil, err
	}
	if err := checkResourceName("LoadBalancerName", name); err != nil {
		return nil, err
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	lb.Name = name
	return obj{}, nil
}

// Backend servers.

// parseBackendServers reads BackendServers: a JSON list of objects
// (ServerId, Weight as string or number, Type, Description) or, as the old
// API allowed for removal, of server IDs.
func parseBackendServers(c *callCtx) ([]backendServer, error) {
	raw, err := c.p.required("BackendServers")
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return nil, newError("BackendServersMalformed", "The specified parameter BackendServers is not a JSON list such as [{\"ServerId\":\"i-x\",\"Weight\":\"100\"}].")
	}
	if len(items) > 20 {
		return nil, newError("TooManyBackendServers", "The total number of input real servers exceeds max supported number: 20")
	}
	var out []backendServer
	for _, it := range items {
		var id string
		if json.Unmarshal(it, &id) == nil {
			out = append(out, backendServer{ServerID: id, Weight: 100, Type: "ecs"})
			continue
		}
		var m struct {
			ServerID    string          `json:"ServerId"`
			Weight      json.RawMessage `json:"Weight"`
			Type        string          `json:"Type"`
			Description string          `json:"Description"`
		}
		if err := json.Unmarshal(it, &m); err != nil || m.ServerID == "" {
			return nil, newError("BackendServersMalformed", "Every entry of BackendServers needs a ServerId.")
		}
		b := backendServer{ServerID: m.ServerID, Weight: -1, Type: m.Type, Description: m.Description}
		if b.Type == "" {
			b.Type = "ecs"
		}
		if b.Type != "ecs" {
			return nil, newErrorf("InvalidParameter", "The specified BackendServers is invalid: Type %q is not supported here, use ecs.", b.Type)
		}
		if len(m.Weight) > 0 {
			w := strings.Trim(string(m.Weight), `"`)
			n, err := strconv.Atoi(w)
			if err != nil || n < 0 || n > 100 {
				return nil, newErrorf("InvalidWeight.Malformed", "A specified weight %s is not valid: use 0 to 100.", string(m.Weight))
			}
			b.Weight = n
		}
		out = append(out, b)
	}
	return out, nil
}

// backendList is the BackendServers answer of Add/Remove/SetBackendServers;
// Weight is a number, as the service answers it.
func backendList(bs []*backendServer) []obj {
	out := []obj{}
	for _, b := range bs {
		out = append(out, obj{"ServerId": b.ServerID, "Weight": b.Weight, "Type": b.Type, "Description": b.Description})
	}
	return out
}

// refreshTargetsLocked gives the running proxies the current servers.
func (lb *loadBalancer) refreshTargetsLocked() {
	for _, l := range lb.listeners {
		if l.px != nil {
			l.px.setTargets(lb.targets())
		}
	}
}

func (lb *loadBalancer) targets() []target {
	out := make([]target, 0, len(lb.backends))
	for _, b := range lb.backends {
		out = append(out, target{id: b.ServerID, weight: b.Weight})
	}
	return out
}

// backendCall reads BackendServers, then RegionId and LoadBalancerId; it
// returns with s.mu held.
func (s *Server) backendCall(c *callCtx) ([]backendServer, *loadBalancer, error) {
	in, err := parseBackendServers(c)
	if err != nil {
		return nil, nil, err
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, nil, err
	}
	return in, lb, nil
}

func (s *Server) slbAddBackendServers(c *callCtx) (obj, error) {
	in, lb, err := s.backendCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for _, b := range in {
		inst := s.st.instances.at(b.ServerID)
		if inst == nil || inst.RegionID != lb.RegionID {
			return nil, newErrorf("InvalidServerId.NotFound", "The specified ServerId %q does not exist.", b.ServerID)
		}
		if lb.VpcID != "" && inst.VpcID != lb.VpcID {
			return nil, newErrorf("InvalidBackendServers.Inconsistent", "Instance %s is in VPC %s, load balancer %s in VPC %s.", inst.ID, inst.VpcID, lb.ID, lb.VpcID)
		}
	}
	for _, b := range in {
		if b.Weight < 0 {
			b.Weight = 100
		}
		if i := slices.IndexFunc(lb.backends, func(have *backendServer) bool { return have.ServerID == b.ServerID }); i >= 0 {
			lb.backends[i].Weight, lb.backends[i].Description = b.Weight, b.Description
			continue
		}
		nb := b
		lb.backends = append(lb.backends, &nb)
	}
	lb.refreshTargetsLocked()
	return obj{"LoadBalancerId": lb.ID, "BackendServers": obj{"BackendServer": backendList(lb.backends)}}, nil
}

func (s *Server) slbRemoveBackendServers(c *callCtx) (obj, error) {
	in, lb, err := s.backendCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	lb.backends = slices.DeleteFunc(lb.backends, func(have *backendServer) bool {
		return slices.ContainsFunc(in, func(b backendServer) bool { return b.ServerID == have.ServerID })
	})
	lb.refreshTargetsLocked()
	return obj{"LoadBalancerId": lb.ID, "BackendServers": obj{"BackendServer": backendList(lb.backends)}}, nil
}

func (s *Server) slbSetBackendServers(c *callCtx) (obj, error) {
	in, lb, err := s.backendCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	for _, b := range in {
		if !slices.ContainsFunc(lb.backends, func(have *backendServer) bool { return have.ServerID == b.ServerID }) {
			return nil, newErrorf("InvalidParameter", "The specified BackendServers is invalid: %s is not a backend server of %s; add it with AddBackendServers.", b.ServerID, lb.ID)
		}
	}
	var changed []*backendServer
	for _, b := range in {
		i := slices.IndexFunc(lb.backends, func(have *backendServer) bool { return have.ServerID == b.ServerID })
		if b.Weight >= 0 {
			lb.backends[i].Weight = b.Weight
		}
		if b.Description != "" {
			lb.backends[i].Description = b.Description
		}
		changed = append(changed, lb.backends[i])
	}
	lb.refreshTargetsLocked()
	return obj{"LoadBalancerId": lb.ID, "BackendServers": obj{"BackendServer": backendList(changed)}}, nil
}

func (s *Server) slbDescribeHealthStatus(c *callCtx) (obj, error) {
	port, err := c.p.integer("ListenerPort", 0, 1, 65535)
	if err != nil {
		return nil, err
	}
	proto := strings.ToLower(c.p.get("ListenerProtocol"))
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if port != 0 && lb.listeners[port] == nil {
		return nil, newErrorf("ListenerNotFound", "You have not created a listener for port %d of load balancer %s.", port, lb.ID)
	}
	out := []obj{}
	for _, lp := range lb.ports() {
		l := lb.listeners[lp]
		if (port != 0 && lp != port) || (proto != "" && proto != l.Protocol) {
			continue
		}
		for _, b := range lb.backends {
			status := healthUnavailable
			if l.px != nil {
				status = l.px.health(b.ServerID)
			}
			ip, vpcID := "", ""
			if inst := s.st.instances.at(b.ServerID); inst != nil {
				ip, vpcID = inst.PrivateIP, inst.VpcID
			}
			out = append(out, obj{
				"ServerId": b.ServerID, "ServerIp": ip, "Port": l.BackendPort, "ListenerPort": lp, "Protocol": l.Protocol,
				"ServerHealthStatus": status, "Weight": strconv.Itoa(b.Weight), "Type": b.Type, "VpcId": vpcID, "EniHost": "",
			})
		}
	}
	return obj{"BackendServers": obj{"BackendServer": out}}, nil
}

// Listeners.

func (s *Server) slbCreateListener(protocol string) handler {
	return func(c *callCtx) (obj, error) {
		l := &listener{Protocol: protocol, Status: "stopped"}
		var err error
		if l.Port, err = c.p.integer("ListenerPort", 0, 1, 65535); err != nil {
			return nil, err
		}
		if l.Port == 0 {
			return nil, errMissing("ListenerPort")
		}
		if c.p.has("VServerGroupId") || c.p.has("MasterSlaveServerGroupId") {
			return nil, newError("UnsupportedOperation", "The simulator's listeners forward to the load balancer's default backend servers only; VServer groups are not supported.")
		}
		if l.BackendPort, err = c.p.integer("BackendServerPort", 0, 1, 65535); err != nil {
			return nil, err
		}
		if l.BackendPort == 0 {
			return nil, errMissing("BackendServerPort")
		}
		if l.Bandwidth, err = c.p.integer("Bandwidth", -1, -1, 5120); err != nil {
			return nil, err
		}
		if l.Scheduler, err = c.p.oneOf("Scheduler", "wrr", "wrr", "wlc", "rr", "sch", "tch", "qch"); err != nil {
			return nil, err
		}
		l.Description = c.p.get("Description")
		if l.HealthCheckInterval, err = c.p.integer("HealthCheckInterval", 2, 1, 50); err != nil {
			return nil, err
		}
		if l.HealthyThreshold, err = c.p.integer("HealthyThreshold", 3, 2, 10); err != nil {
			return nil, err
		}
		if l.UnhealthyThreshold, err = c.p.integer("UnhealthyThreshold", 3, 2, 10); err != nil {
			return nil, err
		}
		if l.HealthCheckConnectPort, err = c.p.integer("HealthCheckConnectPort", 0, 1, 65535); err != nil {
			return nil, err
		}
		l.HealthCheckDomain = c.p.get("HealthCheckDomain")
		l.HealthCheckHttpCode = c.p.get("HealthCheckHttpCode")
		if l.HealthCheckHttpCode == "" {
			l.HealthCheckHttpCode = "http_2xx"
		}
		for _, code := range strings.Split(l.HealthCheckHttpCode, ",") {
			if !slices.Contains([]string{"http_2xx", "http_3xx", "http_4xx", "http_5xx"}, code) {
				return nil, errInvalidf("HealthCheckHttpCode", "%q is not one of http_2xx, http_3xx, http_4xx, http_5xx", code)
			}
		}
		if l.HealthCheckMethod, err = c.p.oneOf("HealthCheckMethod", "head", "head", "get"); err != nil {
			return nil, err
		}
		if protocol == "tcp" {
			if l.HealthCheckType, err = c.p.oneOf("HealthCheckType", "tcp", "tcp", "http"); err != nil {
				return nil, err
			}
			l.HealthCheck = "on"
			if v := c.p.get("HealthCheckSwitch"); v == "off" {
				l.HealthCheck = "off"
			}
			if l.HealthCheckTimeout, err = c.p.integer("HealthCheckConnectTimeout", 5, 1, 300); err != nil {
				return nil, err
			}
			if l.PersistenceTimeout, err = c.p.integer("PersistenceTimeout", 0, 0, 3600); err != nil {
				return nil, err
			}
			if l.EstablishedTimeout, err = c.p.integer("EstablishedTimeout", 900, 10, 900); err != nil {
				return nil, err
			}
		} else {
			l.HealthCheckType = "http"
			if l.HealthCheck, err = c.p.oneOf("HealthCheck", "on", "on", "off"); err != nil {
				return nil, err
			}
			if l.HealthCheckTimeout, err = c.p.integer("HealthCheckTimeout", 5, 1, 300); err != nil {
				return nil, err
			}
			if l.XForwardedFor, err = c.p.oneOf("XForwardedFor", "on", "on", "off"); err != nil {
				return nil, err
			}
			if l.StickySession, err = c.p.oneOf("StickySession", "off", "on", "off"); err != nil {
				return nil, err
			}
			if l.Gzip, err = c.p.oneOf("Gzip", "on", "on", "off"); err != nil {
				return nil, err
			}
			if l.IdleTimeout, err = c.p.integer("IdleTimeout", 15, 1, 60); err != nil {
				return nil, err
			}
			if l.RequestTimeout, err = c.p.integer("RequestTimeout", 60, 1, 180); err != nil {
				return nil, err
			}
		}
		l.HealthCheckURI = c.p.get("HealthCheckURI")
		if l.HealthCheckType == "http" && l.HealthCheckURI == "" {
			l.HealthCheckURI = "/"
		}
		if l.HealthCheckURI != "" && !strings.HasPrefix(l.HealthCheckURI, "/") {
			return nil, errInvalidf("HealthCheckURI", "it must start with /")
		}
		lb, err := s.lbCall(c)
		if err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		if _, ok := lb.listeners[l.Port]; ok {
			return nil, newErrorf("ListenerAlreadyExists", "A listener with the specified port %d already exists on load balancer %s.", l.Port, lb.ID)
		}
		l.lb = lb
		lb.listeners[l.Port] = l
		return obj{}, nil
	}
}

// listenerCall reads the listener port (and protocol, when given); it
// returns with s.mu held.
func (s *Server) listenerCall(c *callCtx, protocol string) (*listener, error) {
	port, err := c.p.integer("ListenerPort", 0, 1, 65535)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		return nil, errMissing("ListenerPort")
	}
	if protocol == "" {
		protocol = strings.ToLower(c.p.get("ListenerProtocol"))
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	l := lb.listeners[port]
	if l == nil || (protocol != "" && protocol != l.Protocol) {
		s.mu.Unlock()
		return nil, newErrorf("ListenerNotFound", "You have not created a %s listener for port %d of load balancer %s.", strings.ToUpper(protocol), port, lb.ID)
	}
	return l, nil
}

func (l *listener) healthConfig() healthConfig {
	codes := strings.Split(l.HealthCheckHttpCode, ",")
	return healthConfig{
		enabled: l.HealthCheck == "on", httpCheck: l.HealthCheckType == "http", port: l.HealthCheckConnectPort,
		interval: time.Duration(l.HealthCheckInterval) * time.Second, timeout: time.Duration(l.HealthCheckTimeout) * time.Second,
		healthy: l.HealthyThreshold, unhealthy: l.UnhealthyThreshold, uri: l.HealthCheckURI, domain: l.HealthCheckDomain,
		method: l.HealthCheckMethod, codes: codes,
	}
}

// startProxy binds the listener's data path. The caller holds s.mu.
func (l *listener) startProxy() error {
	if l.px != nil {
		return nil
	}
	s := l.lb.s
	addr := net.JoinHostPort(l.lb.Address, strconv.Itoa(l.Port))
	px, err := startProxy(s.log, proxyConfig{
		addr: addr, protocol: l.Protocol, backendPort: l.BackendPort, scheduler: l.Scheduler,
		hc: l.healthConfig(), xff: l.XForwardedFor == "on", targets: l.lb.targets(),
		resolve: func(id string) string {
			v, _ := s.ips.Load(id)
			ip, _ := v.(string)
			return ip
		},
	})
	if err != nil {
		// A real SLB does not fail here; the simulator can, when another
		// process holds the address. Say so instead of a bare InternalError.
		return newErrorf("InternalError", "The listener %s:%d of %s could not be bound on this machine: %v", l.lb.Address, l.Port, l.lb.ID, err)
	}
	l.px = px
	return nil
}

func (l *listener) stopProxy() {
	if l.px != nil {
		l.px.stop()
		l.px = nil
	}
}

// stop ends the listener's data path and marks it stopped.
func (l *listener) stop() {
	l.stopProxy()
	l.Status = "stopped"
}

func (s *Server) slbStartListener(c *callCtx) (obj, error) {
	l, err := s.listenerCall(c, "")
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if l.Status == "running" {
		return obj{}, nil
	}
	if l.lb.Status == "active" {
		if err := l.startProxy(); err != nil {
			return nil, err
		}
	}
	l.Status = "running"
	return obj{}, nil
}

func (s *Server) slbStopListener(c *callCtx) (obj, error) {
	l, err := s.listenerCall(c, "")
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	l.stop()
	return obj{}, nil
}

func (s *Server) slbDeleteListener(c *callCtx) (obj, error) {
	l, err := s.listenerCall(c, "")
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	l.stop()
	delete(l.lb.listeners, l.Port)
	return obj{}, nil
}

// healthFields are the health check attributes both protocols show; the
// timeout is named per protocol (HealthCheckConnectTimeout for TCP).
func (l *listener) healthFields(timeoutName string) obj {
	return obj{
		"HealthCheck": l.HealthCheck, "HealthCheckType": l.HealthCheckType, "HealthCheckConnectPort": l.HealthCheckConnectPort,
		timeoutName: l.HealthCheckTimeout, "HealthCheckInterval": l.HealthCheckInterval,
		"HealthyThreshold": l.HealthyThreshold, "UnhealthyThreshold": l.UnhealthyThreshold, "HealthCheckURI": l.HealthCheckURI,
		"HealthCheckDomain": l.HealthCheckDomain, "HealthCheckHttpCode": l.HealthCheckHttpCode, "HealthCheckMethod": l.HealthCheckMethod,
		"MaxConnection": 0,
	}
}

// tcpConfig and httpConfig are the protocol parts of a listener's attributes.
func (l *listener) tcpConfig() obj {
	v := l.healthFields("HealthCheckConnectTimeout")
	v["PersistenceTimeout"], v["EstablishedTimeout"], v["ConnectionDrain"] = l.PersistenceTimeout, l.EstablishedTimeout, "off"
	v["ConnectionDrainTimeout"], v["MasterSlaveServerGroupId"] = 0, ""
	return v
}

func (l *listener) httpConfig() obj {
	v := l.healthFields("HealthCheckTimeout")
	v["XForwardedFor"], v["StickySession"], v["StickySessionType"], v["Cookie"] = l.XForwardedFor, l.StickySession, "", ""
	v["CookieTimeout"], v["Gzip"], v["IdleTimeout"], v["RequestTimeout"] = 0, l.Gzip, l.IdleTimeout, l.RequestTimeout
	v["ListenerForward"], v["ForwardPort"], v["HealthCheckHttpVersion"] = "off", 0, "http1.0"
	for _, k := range []string{"XForwardedFor_SLBIP", "XForwardedFor_SLBID", "XForwardedFor_proto", "XForwardedFor_SLBPORT", "XForwardedFor_ClientSrcPort"} {
		v[k] = "off"
	}
	return v
}

func (s *Server) slbDescribeListenerAttribute(protocol string) handler {
	return func(c *callCtx) (obj, error) {
		l, err := s.listenerCall(c, protocol)
		if err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		var v obj
		if protocol == "tcp" {
			v = l.tcpConfig()
		} else {
			v = l.httpConfig()
		}
		v["LoadBalancerId"], v["ListenerPort"], v["BackendServerPort"] = l.lb.ID, l.Port, l.BackendPort
		v["Bandwidth"], v["Scheduler"], v["Status"], v["Description"] = l.Bandwidth, l.Scheduler, l.Status, l.Description
		v["VServerGroupId"], v["AclStatus"], v["AclType"], v["AclId"] = "", "off", "", ""
		v["AclIds"] = obj{"AclId": []string{}}
		v["Tags"] = obj{"Tag": []tagView{}}
		return v, nil
	}
}

func (s *Server) slbDescribeLoadBalancerListeners(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	ids := c.p.list("LoadBalancerId")
	proto := strings.ToLower(c.p.get("ListenerProtocol"))
	port, err := c.p.integer("ListenerPort", 0, 1, 65535)
	if err != nil {
		return nil, err
	}
	maxResults, err := c.p.integer("MaxResults", 20, 1, 100)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*listener
	for _, lb := range s.st.loadBalancers.list(selector{region: r.ID, ids: ids, order: byID}, nil) {
		for _, lp := range lb.ports() {
			l := lb.listeners[lp]
			if (proto != "" && proto != l.Protocol) || (port != 0 && port != lp) {
				continue
			}
			if d := c.p.get("Description"); d != "" && d != l.Description {
				continue
			}
			list = append(list, l)
		}
	}
	part, next, err := tokenPage(list, c.p.get("NextToken"), maxResults)
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, l := range part {
		v := obj{
			"LoadBalancerId": l.lb.ID, "ListenerPort": l.Port, "ListenerProtocol": l.Protocol, "Status": l.Status,
			"BackendServerPort": l.BackendPort, "Bandwidth": l.Bandwidth, "Scheduler": l.Scheduler,
			"Description": l.Description, "AclStatus": "off", "AclType": "", "AclId": "", "AclIds": []string{},
			"VServerGroupId": "", "Tags": []tagView{},
		}
		if l.Protocol == "tcp" {
			cfg := l.tcpConfig()
			cfg["HealthCheckSwitch"] = l.HealthCheck
			cfg["PortRanges"] = []obj{}
			v["TCPListenerConfig"] = cfg
		} else {
			v["HTTPListenerConfig"] = l.httpConfig()
		}
		out = append(out, v)
	}
	return obj{"Listeners": out, "TotalCount": len(list), "MaxResults": maxResults, "NextToken": next}, nil
}
