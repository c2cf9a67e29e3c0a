package aliyunecs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/docker/machine/libmachine/drivers"
)

// SLBListener is one listener of a Server Load Balancer.
type SLBListener struct {
	Port        int    // front port
	BackendPort int    // port on the backend servers
	Protocol    string // tcp, udp, http, https
	Status      string // running, stopped, starting, configuring, stopping
	Description string
}

// SLBBackend is a backend server with its health per listener port.
type SLBBackend struct {
	ServerID string
	Weight   int
	Health   map[int]string // normal, abnormal, unavailable
}

// SLBState describes a load balancer.
type SLBState struct {
	ID, Name, Address, Status string
	Backends                  []SLBBackend
}

// Health-check tuning of the TCP listeners made by LoadBalancerClient:
// a backend is taken out after two failed checks two seconds apart, so a
// stopped node stops getting traffic within seconds.
const (
	listenerCheckInterval = 2
	listenerThreshold     = 2
	listenerCheckTimeout  = 2
)

// LoadBalancerClient manages the listeners of load balancers with a
// driver's region, endpoint and credentials: what `docker-machine slb
// sync` and `cluster up` use. Backend servers stay the driver's business
// (--aliyunecs-slb-id at create, removed at rm).
type LoadBalancerClient struct {
	a *api
}

// LoadBalancers returns a listener client with this driver's settings:
// the region, --aliyunecs-api-endpoint (or the legacy SLB_ENDPOINT), and
// the credentials in the documented order.
func (d *Driver) LoadBalancers() (*LoadBalancerClient, error) {
	a, err := d.api()
	if err != nil {
		return nil, err
	}
	return &LoadBalancerClient{a: a}, nil
}

// NewLoadBalancerClient builds a listener client from driver flag values
// (the flags of `docker-machine create -d aliyunecs`, such as
// aliyunecs-region and aliyunecs-api-endpoint), without a machine.
func NewLoadBalancerClient(flags drivers.DriverOptions) (*LoadBalancerClient, error) {
	d := NewDriver("slb-client", "")
	if err := d.SetConfigFromFlags(flags); err != nil {
		return nil, err
	}
	return d.LoadBalancers()
}

// Describe reads the load balancer, its backends and their health.
func (c *LoadBalancerClient) Describe(ctx context.Context, lbID string) (SLBState, error) {
	lb, err := c.a.loadBalancer(ctx, lbID)
	if err != nil {
		return SLBState{}, fmt.Errorf("describing load balancer %s: %w", lbID, err)
	}
	if lb == nil {
		return SLBState{}, fmt.Errorf("load balancer %s does not exist in region %s; check its ID and the region", lbID, c.a.region)
	}
	st := SLBState{ID: lb.LoadBalancerId, Name: lb.LoadBalancerName, Address: lb.Address, Status: lb.LoadBalancerStatus}
	idx := map[string]int{}
	for _, b := range lb.BackendServers.BackendServer {
		idx[b.ServerId] = len(st.Backends)
		st.Backends = append(st.Backends, SLBBackend{ServerID: b.ServerId, Weight: b.Weight, Health: map[int]string{}})
	}
	req := slb.CreateDescribeHealthStatusRequest()
	req.LoadBalancerId = lbID
	resp := slb.CreateDescribeHealthStatusResponse()
	if err := c.a.call(ctx, &c.a.slb.Client, req, resp); err != nil {
		return st, fmt.Errorf("reading the backend health of load balancer %s: %w", lbID, err)
	}
	for _, h := range resp.BackendServers.BackendServer {
		if i, ok := idx[h.ServerId]; ok {
			st.Backends[i].Health[h.ListenerPort] = h.ServerHealthStatus
		}
	}
	return st, nil
}

// Listeners lists every listener of the load balancer, by port.
func (c *LoadBalancerClient) Listeners(ctx context.Context, lbID string) ([]SLBListener, error) {
	var out []SLBListener
	token := ""
	for {
		req := slb.CreateDescribeLoadBalancerListenersRequest()
		req.LoadBalancerId = &[]string{lbID}
		req.MaxResults = requests.NewInteger(100)
		req.NextToken = token
		resp := slb.CreateDescribeLoadBalancerListenersResponse()
		if err := c.a.call(ctx, &c.a.slb.Client, req, resp); err != nil {
			return nil, fmt.Errorf("listing the listeners of load balancer %s: %w", lbID, err)
		}
		for _, l := range resp.Listeners {
			if l.LoadBalancerId != "" && l.LoadBalancerId != lbID {
				continue
			}
			out = append(out, SLBListener{Port: l.ListenerPort, BackendPort: l.BackendServerPort,
				Protocol: strings.ToLower(l.ListenerProtocol), Status: l.Status, Description: l.Description})
		}
		if resp.NextToken == "" || resp.NextToken == token {
			break
		}
		token = resp.NextToken
	}
	slices.SortFunc(out, func(a, b SLBListener) int { return a.Port - b.Port })
	return out, nil
}

// CreateTCPListener makes a stopped TCP listener from l.Port to
// l.BackendPort with a TCP health check on the backend port. A listener
// already on the port with the same backend port and description counts
// as made, so a retried call that reached the service twice is harmless.
func (c *LoadBalancerClient) CreateTCPListener(ctx context.Context, lbID string, l SLBListener) error {
	req := slb.CreateCreateLoadBalancerTCPListenerRequest()
	req.LoadBalancerId = lbID
	req.ListenerPort = requests.NewInteger(l.Port)
	req.BackendServerPort = requests.NewInteger(l.BackendPort)
	req.Bandwidth = requests.NewInteger(-1)
	req.Scheduler = "wrr"
	req.Description = l.Description
	req.HealthCheckSwitch = "on"
	req.HealthCheckType = "tcp"
	req.HealthCheckConnectPort = requests.NewInteger(l.BackendPort)
	req.HealthCheckConnectTimeout = requests.NewInteger(listenerCheckTimeout)
	req.HealthCheckInterval = requests.NewInteger(listenerCheckInterval)
	req.HealthyThreshold = requests.NewInteger(listenerThreshold)
	req.UnhealthyThreshold = requests.NewInteger(listenerThreshold)
	err := c.a.call(ctx, &c.a.slb.Client, req, slb.CreateCreateLoadBalancerTCPListenerResponse())
	if err == nil {
		return nil
	}
	if errorCode(err) == "ListenerAlreadyExists" {
		have, lerr := c.Listeners(ctx, lbID)
		if lerr == nil && slices.ContainsFunc(have, func(h SLBListener) bool {
			return h.Port == l.Port && h.Protocol == "tcp" && h.BackendPort == l.BackendPort && h.Description == l.Description
		}) {
			return nil
		}
	}
	return fmt.Errorf("creating TCP listener %d -> %d on load balancer %s: %w", l.Port, l.BackendPort, lbID, err)
}

// StartListener starts the listener on port; a running one is left as is.
func (c *LoadBalancerClient) StartListener(ctx context.Context, lbID string, port int) error {
	req := slb.CreateStartLoadBalancerListenerRequest()
	req.LoadBalancerId = lbID
	req.ListenerPort = requests.NewInteger(port)
	if err := c.a.call(ctx, &c.a.slb.Client, req, slb.CreateStartLoadBalancerListenerResponse()); err != nil {
		return fmt.Errorf("starting listener %d of load balancer %s: %w", port, lbID, err)
	}
	return nil
}

// DeleteListener deletes the listener on port; one already gone counts as
// deleted.
func (c *LoadBalancerClient) DeleteListener(ctx context.Context, lbID string, port int) error {
	req := slb.CreateDeleteLoadBalancerListenerRequest()
	req.LoadBalancerId = lbID
	req.ListenerPort = requests.NewInteger(port)
	err := c.a.call(ctx, &c.a.slb.Client, req, slb.CreateDeleteLoadBalancerListenerResponse())
	if err == nil || errorCode(err) == "ListenerNotFound" {
		return nil
	}
	return fmt.Errorf("deleting listener %d of load balancer %s: %w", port, lbID, err)
}
