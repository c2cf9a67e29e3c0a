package cloudsim

import (
	"fmt"
	"strings"
)

// Leftovers lists, one line each, the resources r holds that base did not:
// what a run left behind, when base is the snapshot taken before it. Both
// clouds are covered, and every kind the admin listing has.
func (r Resources) Leftovers(base Resources) []string {
	before := map[string]bool{}
	for _, it := range base.held() {
		before[it.key] = true
	}
	var out []string
	for _, it := range r.held() {
		if !before[it.key] {
			out = append(out, it.text)
		}
	}
	return out
}

type heldResource struct{ key, text string }

// held is every resource of the listing but the catalog, keyed by kind and ID.
func (r Resources) held() []heldResource {
	var out []heldResource
	add := func(kind, id string, detail ...string) {
		text := kind + " " + id
		if d := strings.Join(nonEmpty(detail), ", "); d != "" {
			text += " (" + d + ")"
		}
		out = append(out, heldResource{key: kind + "\x00" + id, text: text})
	}
	for _, x := range r.Instances {
		add("instance", x.ID, x.Name, x.Status)
	}
	for _, x := range r.SecurityGroups {
		add("security group", x.ID, x.Name)
	}
	for _, x := range r.KeyPairs {
		add("key pair", x.Name, x.RegionID)
	}
	for _, x := range r.EIPs {
		add("EIP", x.ID, x.IP, x.Status)
	}
	for _, x := range r.PublicIPs {
		add("public IP", x.IP, x.InstanceID)
	}
	for _, x := range r.VPCs {
		add("VPC", x.ID, x.Name)
	}
	for _, x := range r.VSwitches {
		add("VSwitch", x.ID, x.CidrBlock)
	}
	for _, x := range r.RouteTables {
		add("route table", x.ID, x.VpcID)
	}
	for _, x := range r.RouteEntries {
		add("route entry", x.RouteTableID+" "+x.Destination, x.Type, x.NextHopID)
	}
	for _, x := range r.LoadBalancers {
		add("load balancer", x.ID, x.Name)
	}
	for _, x := range r.Listeners {
		add("listener", fmt.Sprintf("%s:%d", x.LoadBalancerID, x.Port), x.Protocol)
	}
	for _, x := range r.BackendServers {
		add("backend server", x.LoadBalancerID+" "+x.ServerID)
	}
	for _, x := range r.Tags {
		add("tag", x.ResourceType+" "+x.ResourceID+" "+x.Key)
	}
	for _, x := range r.Forwarders {
		add("forwarder", x)
	}
	e := r.EC2
	for _, x := range e.VPCs {
		add("EC2 VPC", x.ID, x.Region)
	}
	for _, x := range e.Subnets {
		add("EC2 subnet", x.ID, x.Zone)
	}
	for _, x := range e.SecurityGroups {
		add("EC2 security group", x.ID, x.Name)
	}
	for _, x := range e.KeyPairs {
		add("EC2 key pair", x.ID, x.Name)
	}
	for _, x := range e.Instances {
		add("EC2 instance", x.ID, x.State)
	}
	for _, x := range e.Volumes {
		add("EC2 volume", x.ID, x.InstanceID)
	}
	for _, x := range e.SpotRequests {
		add("EC2 spot request", x.ID, x.State)
	}
	for _, x := range e.Tags {
		add("EC2 tag", x.ResourceType+" "+x.ResourceID+" "+x.Key)
	}
	return out
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
