package aliyunecs

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
)

// backendServer is one element of the BackendServers JSON parameter.
type backendServer struct {
	ServerId string `json:"ServerId"`
	Weight   string `json:"Weight,omitempty"`
	Type     string `json:"Type,omitempty"`
}

// loadBalancer describes the SLB, or returns nil when it does not exist.
func (a *api) loadBalancer(ctx context.Context, id string) (*slb.DescribeLoadBalancerAttributeResponse, error) {
	req := slb.CreateDescribeLoadBalancerAttributeRequest()
	req.LoadBalancerId = id
	resp := slb.CreateDescribeLoadBalancerAttributeResponse()
	if err := a.call(ctx, &a.slb.Client, req, resp); err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return resp, nil
}

func hasBackend(lb *slb.DescribeLoadBalancerAttributeResponse, instanceID string) bool {
	return slices.ContainsFunc(lb.BackendServers.BackendServer, func(b slb.BackendServerInDescribeLoadBalancerAttribute) bool {
		return b.ServerId == instanceID
	})
}

// addBackend attaches the instance with the given weight. Adding a server
// that is already attached only updates its weight, so a retry is harmless.
func (a *api) addBackend(ctx context.Context, lbID, instanceID string, weight int) error {
	servers, _ := json.Marshal([]backendServer{{ServerId: instanceID, Weight: strconv.Itoa(weight), Type: "ecs"}})
	req := slb.CreateAddBackendServersRequest()
	req.LoadBalancerId = lbID
	req.BackendServers = string(servers)
	return a.call(ctx, &a.slb.Client, req, slb.CreateAddBackendServersResponse())
}

// removeBackend detaches the instance if the SLB still lists it.
func (a *api) removeBackend(ctx context.Context, lbID, instanceID string) error {
	lb, err := a.loadBalancer(ctx, lbID)
	if err != nil {
		return err
	}
	if lb == nil || !hasBackend(lb, instanceID) {
		return nil
	}
	servers, _ := json.Marshal([]backendServer{{ServerId: instanceID, Type: "ecs"}})
	req := slb.CreateRemoveBackendServersRequest()
	req.LoadBalancerId = lbID
	req.BackendServers = string(servers)
	err = a.call(ctx, &a.slb.Client, req, slb.CreateRemoveBackendServersResponse())
	if isNotFound(err) {
		return nil
	}
	return err
}
