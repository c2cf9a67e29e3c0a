package aliyunecs

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
)

// The driver's load-balancing capability, with only flag settings and no
// machine: what `slb sync` and `cluster up` use.
func TestLoadBalancingCapability(t *testing.T) {
	ctx := context.Background()
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-beijing")
	c := NewDriver("x", "")
	v := flagValues(NewDriver("x", ""), s)
	v["aliyunecs-region"] = "cn-beijing"
	require.NoError(t, c.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))

	opts, err := c.BackendOptions(lb, 0)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"aliyunecs-slb-id": lb}, opts)
	opts, err = c.BackendOptions(lb, 50)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"aliyunecs-slb-id": lb, "aliyunecs-slb-weight": "50"}, opts)
	_, err = c.BackendOptions("my-lb", 0)
	assert.ErrorContains(t, err, "not a Server Load Balancer ID")

	st, err := c.DescribeLoadBalancer(ctx, lb)
	require.NoError(t, err)
	assert.Equal(t, lb, st.ID)
	assert.Equal(t, "active", st.Status)
	require.NotEmpty(t, st.Address)

	l := capability.Listener{Port: 18080, BackendPort: 30000, Description: "docker-machine/service/web"}
	require.NoError(t, c.CreateListener(ctx, lb, l))
	require.NoError(t, c.CreateListener(ctx, lb, l), "the same listener again counts as made")
	other := l
	other.Description = "someone else's"
	assert.ErrorContains(t, c.CreateListener(ctx, lb, other), "ListenerAlreadyExists", "a different listener on the port is not taken for ours")

	ls, err := c.Listeners(ctx, lb)
	require.NoError(t, err)
	assert.Equal(t, []capability.Listener{{Port: 18080, BackendPort: 30000, Protocol: "tcp", Status: "stopped", Description: "docker-machine/service/web"}}, ls)

	require.NoError(t, c.StartListener(ctx, lb, 18080))
	ls, err = c.Listeners(ctx, lb)
	require.NoError(t, err)
	assert.Equal(t, "running", ls[0].Status)
	// A started listener is bound on the SLB's address.
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(st.Address, strconv.Itoa(18080)), 5*time.Second)
	require.NoError(t, err, "the started listener accepts connections")
	conn.Close()

	req := slb.CreateDescribeLoadBalancerTCPListenerAttributeRequest()
	req.LoadBalancerId = lb
	req.ListenerPort = requests.NewInteger(18080)
	attr := slb.CreateDescribeLoadBalancerTCPListenerAttributeResponse()
	a, err := c.api()
	require.NoError(t, err)
	require.NoError(t, a.call(ctx, &a.slb.Client, req, attr))
	assert.Equal(t, "on", attr.HealthCheck)
	assert.Equal(t, "tcp", attr.HealthCheckType)
	assert.Equal(t, 30000, attr.HealthCheckConnectPort, "the health check probes the backend port")
	assert.Equal(t, listenerThreshold, attr.UnhealthyThreshold)

	require.NoError(t, c.DeleteListener(ctx, lb, 18080))
	require.NoError(t, c.DeleteListener(ctx, lb, 18080), "a listener already gone counts as deleted")
	ls, err = c.Listeners(ctx, lb)
	require.NoError(t, err)
	assert.Empty(t, ls)

	_, err = c.DescribeLoadBalancer(ctx, "lb-missing")
	assert.ErrorContains(t, err, "load balancer lb-missing does not exist in region cn-beijing")
}
