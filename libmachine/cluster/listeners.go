package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetdock/machine/libmachine/capability"
)

// PortLabel on a swarm service sets the SLB front port of its published
// port: "8080" for a service with one published TCP port, or
// "PUBLISHED:FRONT[,PUBLISHED:FRONT...]".
const PortLabel = "fleetdock.slb.port"

// Listener descriptions mark what docker-machine created, so a sync never
// touches a listener someone else made. SLB descriptions allow letters,
// digits, '-', '/', '.' and '_' and at most 80 characters.
const (
	markerPrefix  = "docker-machine/"
	serviceMarker = markerPrefix + "service/"
	clusterMarker = markerPrefix + "cluster/"
	maxMarkerLen  = 80
)

// ServiceMarker is the description of the listener made for a service.
func ServiceMarker(service string) string { return marker(serviceMarker, service) }

// ClusterMarker is the description of a fixed listener of a cluster file.
func ClusterMarker(cluster string) string { return marker(clusterMarker, cluster) }

func marker(prefix, name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
	}
	s := prefix + b.String()
	if len(s) <= maxMarkerLen && b.String() == name {
		return s
	}
	// Long or rewritten names keep a hash of the original, so two
	// services never share a marker.
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:])[:8]
	keep := min(len(s), maxMarkerLen-len(h)-1)
	return s[:keep] + "." + h
}

// IsServiceListener reports whether a listener was made by a service sync.
func IsServiceListener(l Listener) bool { return strings.HasPrefix(l.Description, serviceMarker) }

// IsClusterListener reports whether a listener is a fixed listener of the
// named cluster.
func IsClusterListener(cluster string) func(Listener) bool {
	m := ClusterMarker(cluster)
	return func(l Listener) bool { return l.Description == m }
}

// Listener, Backend and LoadBalancerState are the load-balancing
// capability's types.
type (
	Listener          = capability.Listener
	Backend           = capability.Backend
	LoadBalancerState = capability.LoadBalancer
)

// LoadBalancers are the load-balancer operations the cluster needs: a
// driver's capability.LoadBalancing serves them. The cluster makes TCP
// listeners only.
type LoadBalancers = capability.ListenerManager

// Service is a swarm service as the listener sync sees it.
type Service struct {
	Name   string
	Labels map[string]string
	Ports  []PublishedPort
}

// PublishedPort is one published port of a service.
type PublishedPort struct {
	Protocol  string // tcp, udp, sctp
	Published int
	Target    int
	Mode      string // ingress or host
}

// ServiceListeners turns services into the listeners they need. Front
// port: the service's PortLabel, else ports[SERVICE:PUBLISHED] or
// ports[SERVICE], else the published port. Ports other than TCP are
// skipped with a note; two services wanting one front port is an error for
// the later one (by name), never a silent overwrite.
func ServiceListeners(services []Service, ports map[string]int) (want []Listener, notes []string, err error) {
	services = slices.Clone(services)
	slices.SortFunc(services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	taken := map[int]string{}
	var errs []error
	for _, s := range services {
		var tcp []PublishedPort
		for _, p := range s.Ports {
			if p.Published == 0 {
				continue
			}
			if p.Protocol != "" && p.Protocol != "tcp" {
				notes = append(notes, fmt.Sprintf("service %s: %s port %d is skipped; only TCP listeners are made", s.Name, p.Protocol, p.Published))
				continue
			}
			tcp = append(tcp, p)
		}
		if len(tcp) == 0 {
			continue
		}
		fronts, lerr := labelPorts(s, tcp)
		if lerr != nil {
			errs = append(errs, lerr)
			continue
		}
		for _, p := range tcp {
			front, ok := fronts[p.Published]
			if !ok {
				if v, ok2 := ports[fmt.Sprintf("%s:%d", s.Name, p.Published)]; ok2 {
					front, ok = v, true
				} else if v, ok2 := ports[s.Name]; ok2 && len(tcp) == 1 {
					front, ok = v, true
				}
			}
			if !ok {
				front = p.Published
			}
			if other, dup := taken[front]; dup {
				errs = append(errs, fmt.Errorf("services %s and %s both want SLB port %d; give one another port with the label %s", other, s.Name, front, PortLabel))
				continue
			}
			taken[front] = s.Name
			want = append(want, Listener{Port: front, BackendPort: p.Published, Protocol: "tcp", Status: "running", Description: ServiceMarker(s.Name)})
		}
	}
	slices.SortFunc(want, func(a, b Listener) int { return a.Port - b.Port })
	return want, notes, errors.Join(errs...)
}

// labelPorts reads the PortLabel of a service.
func labelPorts(s Service, tcp []PublishedPort) (map[int]int, error) {
	raw := strings.TrimSpace(s.Labels[PortLabel])
	out := map[int]int{}
	if raw == "" {
		return out, nil
	}
	bad := func() (map[int]int, error) {
		return nil, fmt.Errorf("service %s: label %s=%q: use FRONT for a service with one published port, or PUBLISHED:FRONT,... ", s.Name, PortLabel, raw)
	}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		pub, front, pair := strings.Cut(part, ":")
		if !pair {
			if len(tcp) != 1 || strings.Contains(raw, ",") {
				return bad()
			}
			front, pub = pub, strconv.Itoa(tcp[0].Published)
		}
		pp, err1 := strconv.Atoi(pub)
		fp, err2 := strconv.Atoi(front)
		if err1 != nil || err2 != nil || fp < 1 || fp > 65535 {
			return bad()
		}
		out[pp] = fp
	}
	return out, nil
}

// StaticListeners are the fixed listeners of a load balancer entry.
func StaticListeners(cluster string, lb LoadBalancer) []Listener {
	var out []Listener
	for _, l := range lb.Listeners {
		out = append(out, Listener{Port: l.Port, BackendPort: l.BackendPort, Protocol: "tcp", Status: "running", Description: ClusterMarker(cluster)})
	}
	return out
}

// Conflict is a wanted listener whose port holds a listener docker-machine
// did not create.
type Conflict struct {
	Want, Have Listener
}

// ListenerPlan is what a sync changes on one SLB.
type ListenerPlan struct {
	Create    []Listener // made, then started
	Replace   []Listener // ours, configured otherwise: deleted and made again
	Start     []Listener // ours, right, but stopped
	Keep      []Listener // ours and running as wanted
	Delete    []Listener // ours, no longer wanted
	Conflicts []Conflict
}

// Changes counts what the plan would change.
func (p ListenerPlan) Changes() int {
	return len(p.Create) + len(p.Replace) + len(p.Start) + len(p.Delete)
}

// PlanListeners decides a sync. owned tells which existing listeners the
// sync may change or delete; every other listener is left alone, and a
// wanted port it holds is a conflict.
func PlanListeners(current, want []Listener, owned func(Listener) bool) ListenerPlan {
	var plan ListenerPlan
	byPort := map[int]Listener{}
	for _, c := range current {
		byPort[c.Port] = c
	}
	wanted := map[int]bool{}
	for _, w := range want {
		wanted[w.Port] = true
		c, exists := byPort[w.Port]
		switch {
		case !exists:
			plan.Create = append(plan.Create, w)
		case !owned(c):
			plan.Conflicts = append(plan.Conflicts, Conflict{Want: w, Have: c})
		case c.Protocol != w.Protocol || c.BackendPort != w.BackendPort || c.Description != w.Description:
			plan.Replace = append(plan.Replace, w)
		case c.Status != "running":
			plan.Start = append(plan.Start, w)
		default:
			plan.Keep = append(plan.Keep, w)
		}
	}
	for _, c := range current {
		if !wanted[c.Port] && owned(c) {
			plan.Delete = append(plan.Delete, c)
		}
	}
	return plan
}

// SyncReport is the outcome of a sync of one SLB.
type SyncReport struct {
	LoadBalancer string
	Plan         ListenerPlan
	Notes        []string
}

// SyncListeners makes the SLB's listeners owned by the sync match want:
// deletes first (they may free a port), then replacements, creations and
// starts. It carries on past a failed listener and returns every error.
func SyncListeners(ctx context.Context, lbs LoadBalancers, lbID string, want []Listener, owned func(Listener) bool) (SyncReport, error) {
	rep := SyncReport{LoadBalancer: lbID}
	current, err := lbs.Listeners(ctx, lbID)
	if err != nil {
		return rep, fmt.Errorf("listing the listeners of load balancer %s: %w", lbID, err)
	}
	plan := PlanListeners(current, want, owned)
	rep.Plan = plan
	var errs []error
	for _, l := range plan.Delete {
		if err := lbs.DeleteListener(ctx, lbID, l.Port); err != nil {
			errs = append(errs, fmt.Errorf("deleting listener %d of %s (its service is gone): %w", l.Port, lbID, err))
		}
	}
	create := func(l Listener, verb string) {
		if err := lbs.CreateListener(ctx, lbID, l); err != nil {
			errs = append(errs, fmt.Errorf("%s listener %s on %s: %w", verb, l, lbID, err))
			return
		}
		if err := lbs.StartListener(ctx, lbID, l.Port); err != nil {
			errs = append(errs, fmt.Errorf("starting listener %d of %s: %w", l.Port, lbID, err))
		}
	}
	for _, l := range plan.Replace {
		if err := lbs.DeleteListener(ctx, lbID, l.Port); err != nil {
			errs = append(errs, fmt.Errorf("replacing listener %d of %s: %w", l.Port, lbID, err))
			continue
		}
		create(l, "re-creating")
	}
	for _, l := range plan.Create {
		create(l, "creating")
	}
	for _, l := range plan.Start {
		if err := lbs.StartListener(ctx, lbID, l.Port); err != nil {
			errs = append(errs, fmt.Errorf("starting listener %d of %s: %w", l.Port, lbID, err))
		}
	}
	for _, c := range plan.Conflicts {
		errs = append(errs, fmt.Errorf("port %d of load balancer %s is held by a listener docker-machine did not create (%s, description %q); it is left alone: choose another front port (label %s or service_ports)",
			c.Want.Port, lbID, c.Have, c.Have.Description, PortLabel))
	}
	return rep, errors.Join(errs...)
}

// DeleteOwnedListeners removes every listener owned reports, for down.
func DeleteOwnedListeners(ctx context.Context, lbs LoadBalancers, lbID string, owned func(Listener) bool) ([]Listener, error) {
	current, err := lbs.Listeners(ctx, lbID)
	if err != nil {
		return nil, fmt.Errorf("listing the listeners of load balancer %s: %w", lbID, err)
	}
	var deleted []Listener
	var errs []error
	for _, l := range current {
		if !owned(l) {
			continue
		}
		if err := lbs.DeleteListener(ctx, lbID, l.Port); err != nil {
			errs = append(errs, fmt.Errorf("deleting listener %d of %s: %w", l.Port, lbID, err))
			continue
		}
		deleted = append(deleted, l)
	}
	return deleted, errors.Join(errs...)
}
