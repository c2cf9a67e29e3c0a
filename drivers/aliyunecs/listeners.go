package aliyunecs

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"

	"github.com/fleetdock/machine/libmachine/capability"
)

// The capabilities the driver offers the core.
var (
	_ capability.LoadBalancing    = (*Driver)(nil)
	_ capability.AddressReporter  = (*Driver)(nil)
	_ capability.DataDisker       = (*Driver)(nil)
	_ capability.Cancellable      = (*Driver)(nil)
	_ capability.ResourceReporter = (*Driver)(nil)
)

// The create flags that attach a machine to a load balancer.
const (
	flagSLBID     = "aliyunecs-slb-id"
	flagSLBWeight = "aliyunecs-slb-weight"
)

// Health-check tuning of the TCP listeners the driver makes: a backend is
// taken out after two failed checks two seconds apart, so a stopped node
// stops getting traffic within seconds.
const (
	listenerCheckInterval = 2
	listenerThreshold     = 2
	listenerCheckTimeout  = 2
)

// BackendOptions make a new machine a backend of lbID: the create attaches
// it (--aliyunecs-slb-id, --aliyunecs-slb-weight) and rm detaches it.
func (d *Driver) BackendOptions(lbID string, weight int) (map[string]string, error) {
	if !strings.HasPrefix(lbID, "lb-") {
		return nil, fmt.Errorf("%q is not a Server Load Balancer ID (lb-...)", lbID)
	}
	opts := map[string]string{flagSLBID: lbID}
	if weight > 0 {
		opts[flagSLBWeight] = strconv.Itoa(weight)
	}
	return opts, nil
}

// lbAPI is the API client for load-balancer calls, with this driver's
// region, endpoint and credentials.
func (d *Driver) lbAPI() (*api, error) { return d.api() }

// DescribeLoadBalancer reads the load balancer, its backends and their health.
func (d *Driver) DescribeLoadBalancer(ctx context.Context, lbID string) (capability.LoadBalancer, error) {
	a, err := d.lbAPI()
	if err != nil {
		return capability.LoadBalancer{}, err
	}
	lb, err := a.loadBalancer(ctx, lbID)
	if err != nil {
		return capability.LoadBalancer{}, fmt.Errorf("describing load balancer %s: %w", lbID, err)
	}
	if lb == nil {
		return capability.LoadBalancer{}, fmt.Errorf("load balancer %s does not exist in region %s; check its ID and the region", lbID, a.region)
	}
	st := capability.LoadBalancer{ID: lb.LoadBalancerId, Name: lb.LoadBalancerName, Address: lb.Address, Status: lb.LoadBalancerStatus}
	idx := map[string]int{}
	for _, b := range lb.BackendServers.BackendServer {
		idx[b.ServerId] = len(st.Backends)
		st.Backends = append(st.Backends, capability.Backend{ServerID: b.ServerId, Weight: b.Weight, Health: map[int]string{}})
	}
	req := slb.CreateDescribeHealthStatusRequest()
	req.LoadBalancerId = lbID
	resp := slb.CreateDescribeHealthStatusResponse()
	if err := a.call(ctx, &a.slb.Client, req, resp); err != nil {
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
func (d *Driver) Listeners(ctx context.Context, lbID string) ([]capability.Listener, error) {
	a, err := d.lbAPI()
	if err != nil {
		return nil, err
	}
	var out []capability.Listener
	token := ""
	for {
		req := slb.CreateDescribeLoadBalancerListenersRequest()
		req.LoadBalancerId = &[]string{lbID}
		req.MaxResults = requests.NewInteger(100)
		req.NextToken = token
		resp := slb.CreateDescribeLoadBalancerListenersResponse()
		if err := a.call(ctx, &a.slb.Client, req, resp); err != nil {
			return nil, fmt.Errorf("listing the listeners of load balancer %s: %w", lbID, err)
		}
		for _, l := range resp.Listeners {
			if l.LoadBalancerId != "" && l.LoadBalancerId != lbID {
				continue
			}
			out = append(out, capability.Listener{Port: l.ListenerPort, BackendPort: l.BackendServerPort,
				Protocol: strings.ToLower(l.ListenerProtocol), Status: l.Status, Description: l.Description})
		}
		if resp.NextToken == "" || resp.NextToken == token {
			break
		}
		token = resp.NextToken
	}
	slices.SortFunc(out, func(x, y capability.Listener) int { return x.Port - y.Port })
	return out, nil
}

// CreateListener makes a stopped TCP listener from l.Port to l.BackendPort
// with a TCP health check on the backend port. A listener already on the
// port with the same backend port and description counts as made, so a
// retried call that reached the service twice is harmless.
func (d *Driver) CreateListener(ctx context.Context, lbID string, l capability.Listener) error {
	if l.Protocol != "" && l.Protocol != "tcp" {
		return fmt.Errorf("listener %d on load balancer %s: only TCP listeners are supported, not %s", l.Port, lbID, l.Protocol)
	}
	a, err := d.lbAPI()
	if err != nil {
		return err
	}
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
	err = a.call(ctx, &a.slb.Client, req, slb.CreateCreateLoadBalancerTCPListenerResponse())
	if err == nil {
		return nil
	}
	if errorCode(err) == "ListenerAlreadyExists" {
		have, lerr := d.Listeners(ctx, lbID)
		if lerr == nil && slices.ContainsFunc(have, func(h capability.Listener) bool {
			return h.Port == l.Port && h.Protocol == "tcp" && h.BackendPort == l.BackendPort && h.Description == l.Description
		}) {
			return nil
		}
	}
	return fmt.Errorf("creating TCP listener %d -> %d on load balancer %s: %w", l.Port, l.BackendPort, lbID, err)
}

// StartListener starts the listener on port; a running one is left as is.
func (d *Driver) StartListener(ctx context.Context, lbID string, port int) error {
	a, err := d.lbAPI()
	if err != nil {
		return err
	}
	req := slb.CreateStartLoadBalancerListenerRequest()
	req.LoadBalancerId = lbID
	req.ListenerPort = requests.NewInteger(port)
	if err := a.call(ctx, &a.slb.Client, req, slb.CreateStartLoadBalancerListenerResponse()); err != nil {
		return fmt.Errorf("starting listener %d of load balancer %s: %w", port, lbID, err)
	}
	return nil
}

// DeleteListener deletes the listener on port; one already gone counts as
// deleted.
func (d *Driver) DeleteListener(ctx context.Context, lbID string, port int) error {
	a, err := d.lbAPI()
	if err != nil {
		return err
	}
	req := slb.CreateDeleteLoadBalancerListenerRequest()
	req.LoadBalancerId = lbID
	req.ListenerPort = requests.NewInteger(port)
	err = a.call(ctx, &a.slb.Client, req, slb.CreateDeleteLoadBalancerListenerResponse())
	if err == nil || errorCode(err) == "ListenerNotFound" {
		return nil
	}
	return fmt.Errorf("deleting listener %d of load balancer %s: %w", port, lbID, err)
}
