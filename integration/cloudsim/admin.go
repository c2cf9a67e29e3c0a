package cloudsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The admin API (no signature; the server only listens on loopback):
//
//	GET  {admin}/resources      every resource, one array per type (Resources)
//	GET  {admin}/faults         the fault settings (Faults)
//	PUT  {admin}/faults         replace them; rule counters start over
//	GET  {admin}/calls[?since=N] the API calls after sequence N, and counts per action (CallLog)
//	POST {admin}/reset          back to a fresh cloud (hosts deleted, initial faults, empty call log)

// Resources lists everything the cloud holds. A fresh cloud has only the
// catalog (regions, zones, images, instance types) and the defaults: one VPC
// per region with its route table and system route entries, one VSwitch per
// zone. Every other array is empty.
type Resources struct {
	Regions        []string             `json:"regions"`
	Zones          []string             `json:"zones"`
	Images         []string             `json:"images"`
	InstanceTypes  []string             `json:"instance_types"`
	Instances      []InstanceResource   `json:"instances"`
	SecurityGroups []SecurityGroupRes   `json:"security_groups"`
	KeyPairs       []KeyPairResource    `json:"key_pairs"`
	EIPs           []EIPResource        `json:"eips"`
	PublicIPs      []PublicIPResource   `json:"public_ips"`
	VPCs           []VPCResource        `json:"vpcs"`
	VSwitches      []VSwitchResource    `json:"vswitches"`
	RouteTables    []RouteTableResource `json:"route_tables"`
	RouteEntries   []RouteEntryResource `json:"route_entries"`
	LoadBalancers  []LoadBalancerRes    `json:"load_balancers"`
	Listeners      []ListenerResource   `json:"listeners"`
	BackendServers []BackendServerRes   `json:"backend_servers"`
	Tags           []TagResource        `json:"tags"`
	Forwarders     []string             `json:"forwarders"`
	// EC2 is the EC2 side of the cloud.
	EC2 EC2Resources `json:"ec2"`
}

// EC2Resources lists the EC2 resources. A fresh cloud has, per region, the
// default VPC with its default security group and one default subnet per
// zone. Terminated instances (visible to DescribeInstances for an hour, as
// on EC2) and closed or cancelled spot requests hold nothing and are not
// listed.
type EC2Resources struct {
	Account        string              `json:"account"`
	VPCs           []EC2VPCResource    `json:"vpcs"`
	Subnets        []EC2SubnetResource `json:"subnets"`
	SecurityGroups []EC2GroupResource  `json:"security_groups"`
	KeyPairs       []EC2KeyResource    `json:"key_pairs"`
	Instances      []EC2InstanceRes    `json:"instances"`
	Volumes        []EC2VolumeResource `json:"volumes"`
	SpotRequests   []EC2SpotResource   `json:"spot_requests"`
	Tags           []TagResource       `json:"tags"`
}

type EC2VPCResource struct {
	ID        string `json:"id"`
	Region    string `json:"region"`
	CidrBlock string `json:"cidr_block"`
	IsDefault bool   `json:"is_default"`
}

type EC2SubnetResource struct {
	ID           string `json:"id"`
	Region       string `json:"region"`
	VpcID        string `json:"vpc_id"`
	Zone         string `json:"zone"`
	CidrBlock    string `json:"cidr_block"`
	DefaultForAz bool   `json:"default_for_az"`
}

type EC2GroupResource struct {
	ID     string   `json:"id"`
	Region string   `json:"region"`
	Name   string   `json:"name"`
	VpcID  string   `json:"vpc_id"`
	Rules  []string `json:"rules"` // "ingress tcp 22-22 0.0.0.0/0"
}

type EC2KeyResource struct {
	ID          string `json:"id"`
	Region      string `json:"region"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
}

type EC2InstanceRes struct {
	ID            string   `json:"id"`
	Region        string   `json:"region"`
	Zone          string   `json:"zone"`
	State         string   `json:"state"`
	ImageID       string   `json:"image_id"`
	InstanceType  string   `json:"instance_type"`
	SubnetID      string   `json:"subnet_id"`
	PrivateIP     string   `json:"private_ip"`
	PublicIP      string   `json:"public_ip,omitempty"`
	KeyName       string   `json:"key_name,omitempty"`
	GroupIDs      []string `json:"group_ids"`
	SpotRequestID string   `json:"spot_request_id,omitempty"`
}

type EC2VolumeResource struct {
	ID         string `json:"id"`
	Region     string `json:"region"`
	Type       string `json:"type"`
	Size       int    `json:"size"`
	Encrypted  bool   `json:"encrypted"`
	InstanceID string `json:"instance_id,omitempty"`
}

type EC2SpotResource struct {
	ID         string `json:"id"`
	Region     string `json:"region"`
	State      string `json:"state"`
	InstanceID string `json:"instance_id,omitempty"`
}

type InstanceResource struct {
	ID               string   `json:"id"`
	RegionID         string   `json:"region_id"`
	ZoneID           string   `json:"zone_id"`
	Name             string   `json:"name"`
	HostName         string   `json:"host_name"`
	Status           string   `json:"status"`
	ImageID          string   `json:"image_id"`
	InstanceType     string   `json:"instance_type"`
	VpcID            string   `json:"vpc_id"`
	VSwitchID        string   `json:"vswitch_id"`
	PrivateIP        string   `json:"private_ip"`
	PublicIP         string   `json:"public_ip,omitempty"`
	EIPID            string   `json:"eip_id,omitempty"`
	SecurityGroupIDs []string `json:"security_group_ids"`
	KeyPairName      string   `json:"key_pair_name,omitempty"`
}

type SecurityGroupRes struct {
	ID       string         `json:"id"`
	RegionID string         `json:"region_id"`
	Name     string         `json:"name"`
	VpcID    string         `json:"vpc_id"`
	Rules    []SecurityRule `json:"rules"`
}

type SecurityRule struct {
	ID         string `json:"id"`
	Direction  string `json:"direction"`
	IpProtocol string `json:"ip_protocol"`
	PortRange  string `json:"port_range"`
	Source     string `json:"source,omitempty"`
	Dest       string `json:"dest,omitempty"`
	Policy     string `json:"policy"`
}

type KeyPairResource struct {
	Name        string `json:"name"`
	RegionID    string `json:"region_id"`
	Fingerprint string `json:"fingerprint"`
}

type EIPResource struct {
	ID         string `json:"id"`
	RegionID   string `json:"region_id"`
	IP         string `json:"ip"`
	Status     string `json:"status"`
	InstanceID string `json:"instance_id,omitempty"`
}

type PublicIPResource struct {
	IP         string `json:"ip"`
	InstanceID string `json:"instance_id"`
}

type VPCResource struct {
	ID        string `json:"id"`
	RegionID  string `json:"region_id"`
	Name      string `json:"name"`
	CidrBlock string `json:"cidr_block"`
	IsDefault bool   `json:"is_default"`
	Status    string `json:"status"`
}

type VSwitchResource struct {
	ID        string `json:"id"`
	VpcID     string `json:"vpc_id"`
	ZoneID    string `json:"zone_id"`
	CidrBlock string `json:"cidr_block"`
	IsDefault bool   `json:"is_default"`
}

type RouteTableResource struct {
	ID    string `json:"id"`
	VpcID string `json:"vpc_id"`
}

type RouteEntryResource struct {
	ID           string `json:"id"`
	RouteTableID string `json:"route_table_id"`
	Destination  string `json:"destination"`
	Type         string `json:"type"`
	NextHopType  string `json:"next_hop_type"`
	NextHopID    string `json:"next_hop_id,omitempty"`
	Status       string `json:"status"`
}

type LoadBalancerRes struct {
	ID          string `json:"id"`
	RegionID    string `json:"region_id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	AddressType string `json:"address_type"`
	Status      string `json:"status"`
}

type ListenerResource struct {
	LoadBalancerID string `json:"load_balancer_id"`
	Port           int    `json:"port"`
	Protocol       string `json:"protocol"`
	BackendPort    int    `json:"backend_port"`
	Status         string `json:"status"`
	// Serving tells whether the proxy is bound (running and the load
	// balancer active).
	Serving bool   `json:"serving"`
	Address string `json:"address"`
}

type BackendServerRes struct {
	LoadBalancerID string `json:"load_balancer_id"`
	ServerID       string `json:"server_id"`
	Weight         int    `json:"weight"`
}

type TagResource struct {
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
	Key          string `json:"key"`
	Value        string `json:"value"`
}

// Resources returns a snapshot of everything the cloud holds, in stable order.
func (s *Server) Resources() Resources {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	out := Resources{
		Regions: []string{}, Zones: []string{}, Images: []string{}, InstanceTypes: []string{},
		Instances: []InstanceResource{}, SecurityGroups: []SecurityGroupRes{}, KeyPairs: []KeyPairResource{},
		EIPs: []EIPResource{}, PublicIPs: []PublicIPResource{}, VPCs: []VPCResource{}, VSwitches: []VSwitchResource{},
		RouteTables: []RouteTableResource{}, RouteEntries: []RouteEntryResource{}, LoadBalancers: []LoadBalancerRes{},
		Listeners: []ListenerResource{}, BackendServers: []BackendServerRes{}, Tags: []TagResource{}, Forwarders: []string{},
	}
	for _, r := range regions {
		out.Regions = append(out.Regions, r.ID)
		for _, z := range r.Zones {
			out.Zones = append(out.Zones, z.ID)
		}
	}
	for _, img := range images {
		out.Images = append(out.Images, img.ID)
	}
	out.InstanceTypes = instanceTypeIDs()
	for _, inst := range st.instances.all() {
		id := inst.ID
		out.Instances = append(out.Instances, InstanceResource{
			ID: id, RegionID: inst.RegionID, ZoneID: inst.ZoneID, Name: inst.Name, HostName: inst.HostName,
			Status: inst.Status, ImageID: inst.ImageID, InstanceType: inst.InstanceType, VpcID: inst.VpcID,
			VSwitchID: inst.VSwitchID, PrivateIP: inst.PrivateIP, PublicIP: inst.PublicIP, EIPID: inst.EIPID,
			SecurityGroupIDs: slices.Clone(inst.SecurityGroupIDs), KeyPairName: inst.KeyPairName,
		})
		if inst.PublicIP != "" {
			out.PublicIPs = append(out.PublicIPs, PublicIPResource{IP: inst.PublicIP, InstanceID: id})
		}
	}
	for _, sg := range st.securityGroups.all() {
		res := SecurityGroupRes{ID: sg.ID, RegionID: sg.RegionID, Name: sg.Name, VpcID: sg.VpcID, Rules: []SecurityRule{}}
		for _, r := range sg.Rules {
			res.Rules = append(res.Rules, SecurityRule{
				ID: r.ID, Direction: r.Direction, IpProtocol: r.IpProtocol, PortRange: r.PortRange,
				Source: r.SourceCidrIp + r.SourceGroupID, Dest: r.DestCidrIp + r.DestGroupID, Policy: r.Policy,
			})
		}
		out.SecurityGroups = append(out.SecurityGroups, res)
	}
	for _, kp := range st.keyPairs.all() {
		out.KeyPairs = append(out.KeyPairs, KeyPairResource{Name: kp.Name, RegionID: kp.RegionID, Fingerprint: kp.Fingerprint})
	}
	for _, e := range st.eips.all() {
		out.EIPs = append(out.EIPs, EIPResource{ID: e.ID, RegionID: e.RegionID, IP: e.IP, Status: e.Status, InstanceID: e.InstanceID})
	}
	for _, v := range st.vpcs.all() {
		out.VPCs = append(out.VPCs, VPCResource{ID: v.ID, RegionID: v.RegionID, Name: v.Name, CidrBlock: v.CidrBlock, IsDefault: v.IsDefault, Status: v.Status})
	}
	for _, sw := range st.vswitches.all() {
		out.VSwitches = append(out.VSwitches, VSwitchResource{ID: sw.ID, VpcID: sw.VpcID, ZoneID: sw.ZoneID, CidrBlock: sw.Cidr.String(), IsDefault: sw.IsDefault})
	}
	for _, rt := range st.routeTables.all() {
		id := rt.ID
		out.RouteTables = append(out.RouteTables, RouteTableResource{ID: id, VpcID: rt.VpcID})
		for _, e := range rt.Entries {
			out.RouteEntries = append(out.RouteEntries, RouteEntryResource{
				ID: e.ID, RouteTableID: id, Destination: e.Dest, Type: e.Type, NextHopType: e.NextHopType,
				NextHopID: e.NextHopID, Status: e.Status,
			})
		}
	}
	for _, lb := range st.loadBalancers.all() {
		id := lb.ID
		out.LoadBalancers = append(out.LoadBalancers, LoadBalancerRes{ID: id, RegionID: lb.RegionID, Name: lb.Name, Address: lb.Address, AddressType: lb.AddressType, Status: lb.Status})
		for _, p := range lb.ports() {
			l := lb.listeners[p]
			out.Listeners = append(out.Listeners, ListenerResource{
				LoadBalancerID: id, Port: p, Protocol: l.Protocol, BackendPort: l.BackendPort, Status: l.Status,
				Serving: l.px != nil, Address: lb.Address,
			})
		}
		for _, b := range lb.backends {
			out.BackendServers = append(out.BackendServers, BackendServerRes{LoadBalancerID: id, ServerID: b.ServerID, Weight: b.Weight})
		}
	}
	for _, kind := range sortedKeys(st.taggable) {
		st.taggable[kind].each(func(m *meta) {
			for _, t := range m.Tags {
				out.Tags = append(out.Tags, TagResource{ResourceType: kind, ResourceID: m.ID, Key: t.Key, Value: t.Value})
			}
		})
	}
	out.Forwarders = sortedKeys(s.forwarders)
	out.EC2 = s.ec2Resources()
	return out
}

// ec2Resources lists the EC2 side; the caller holds s.mu.
func (s *Server) ec2Resources() EC2Resources {
	e := s.st.ec2
	out := EC2Resources{Account: e.account, VPCs: []EC2VPCResource{}, Subnets: []EC2SubnetResource{}, SecurityGroups: []EC2GroupResource{},
		KeyPairs: []EC2KeyResource{}, Instances: []EC2InstanceRes{}, Volumes: []EC2VolumeResource{}, SpotRequests: []EC2SpotResource{}, Tags: []TagResource{}}
	for _, v := range e.vpcs.all() {
		out.VPCs = append(out.VPCs, EC2VPCResource{ID: v.ID, Region: v.RegionID, CidrBlock: v.Cidr.String(), IsDefault: v.IsDefault})
	}
	for _, sn := range e.subnets.all() {
		out.Subnets = append(out.Subnets, EC2SubnetResource{ID: sn.ID, Region: sn.RegionID, VpcID: sn.VpcID, Zone: sn.Zone, CidrBlock: sn.Cidr.String(), DefaultForAz: sn.DefaultForAz})
	}
	for _, g := range e.groups.all() {
		res := EC2GroupResource{ID: g.ID, Region: g.RegionID, Name: g.Name, VpcID: g.VpcID, Rules: []string{}}
		for dir, rules := range map[string][]*ec2Rule{"egress": g.Egress, "ingress": g.Ingress} {
			for _, r := range rules {
				res.Rules = append(res.Rules, fmt.Sprintf("%s %s %d-%d %s", dir, r.Protocol, r.From, r.To, r.source()))
			}
		}
		slices.Sort(res.Rules)
		out.SecurityGroups = append(out.SecurityGroups, res)
	}
	for _, k := range e.keyPairs.all() {
		out.KeyPairs = append(out.KeyPairs, EC2KeyResource{ID: k.ID, Region: k.RegionID, Name: k.Name, Fingerprint: k.Fingerprint})
	}
	for _, inst := range e.instances.all() {
		if !inst.live() {
			continue
		}
		out.Instances = append(out.Instances, EC2InstanceRes{ID: inst.ID, Region: inst.RegionID, Zone: inst.Zone, State: inst.State,
			ImageID: inst.ImageID, InstanceType: inst.Type, SubnetID: inst.SubnetID, PrivateIP: inst.PrivateIP, PublicIP: inst.PublicIP,
			KeyName: inst.KeyName, GroupIDs: slices.Clone(inst.GroupIDs), SpotRequestID: inst.SpotRequestID})
	}
	for _, v := range e.volumes.all() {
		out.Volumes = append(out.Volumes, EC2VolumeResource{ID: v.ID, Region: v.RegionID, Type: v.Type, Size: v.Size, Encrypted: v.Encrypted, InstanceID: v.InstanceID})
	}
	for _, sr := range e.spot.all() {
		if sr.State == "open" || sr.State == "active" {
			out.SpotRequests = append(out.SpotRequests, EC2SpotResource{ID: sr.ID, Region: sr.RegionID, State: sr.State, InstanceID: sr.InstanceID})
		}
	}
	for _, prefix := range sortedKeys(e.tagged) {
		e.tagged[prefix].each(func(m *meta) {
			if inst := e.instances.at(m.ID); inst != nil && !inst.live() {
				return
			}
			if sr := e.spot.at(m.ID); sr != nil && sr.State != "open" && sr.State != "active" {
				return
			}
			for _, t := range m.Tags {
				out.Tags = append(out.Tags, TagResource{ResourceType: ec2ResourceTypes[prefix], ResourceID: m.ID, Key: t.Key, Value: t.Value})
			}
		})
	}
	return out
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, map[string]string{"error": msg})
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/admin"), "/")
	switch {
	case path == "/resources" && r.Method == http.MethodGet:
		writeAdminJSON(w, http.StatusOK, s.Resources())
	case path == "/faults" && r.Method == http.MethodGet:
		writeAdminJSON(w, http.StatusOK, s.Faults())
	case path == "/faults" && r.Method == http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			adminError(w, http.StatusBadRequest, "reading the fault settings: "+err.Error())
			return
		}
		var f Faults
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			adminError(w, http.StatusBadRequest, "the fault settings are not valid JSON for cloudsim.Faults: "+err.Error())
			return
		}
		if err := s.SetFaults(f); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeAdminJSON(w, http.StatusOK, s.Faults())
	case path == "/calls" && r.Method == http.MethodGet:
		var since int64
		if v := r.URL.Query().Get("since"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				adminError(w, http.StatusBadRequest, "since must be a call sequence number")
				return
			}
			since = n
		}
		writeAdminJSON(w, http.StatusOK, s.Calls(since))
	case path == "/reset" && r.Method == http.MethodPost:
		if err := s.Reset(r.Context()); err != nil {
			adminError(w, http.StatusInternalServerError, "reset left something behind: "+err.Error())
			return
		}
		writeAdminJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	case path == "/resources" || path == "/faults" || path == "/calls" || path == "/reset":
		adminError(w, http.StatusMethodNotAllowed, r.Method+" is not supported on /admin"+path)
	default:
		adminError(w, http.StatusNotFound, "no admin endpoint /admin"+path+": use resources, faults, calls or reset")
	}
}
