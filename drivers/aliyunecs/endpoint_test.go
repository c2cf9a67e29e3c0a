package aliyunecs

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostRecorder answers no request: it notes the host each was sent to.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (r *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.mu.Unlock()
	return nil, errors.New("offline")
}

// firstHost is the host client sent req to.
func firstHost(t *testing.T, rec *hostRecorder, client *sdk.Client, req requests.AcsRequest, resp responses.AcsResponse) string {
	t.Helper()
	rec.mu.Lock()
	rec.hosts = nil
	rec.mu.Unlock()
	_ = client.DoAction(req, resp)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.hosts, "%s was not sent", req.GetActionName())
	return rec.hosts[0]
}

// Without an endpoint flag or variable, each product's calls go to the host
// its generated SDK client would use: the product's regional endpoint
// table, then the SDK's naming rule.
func TestDefaultEndpointsAreTheSDKs(t *testing.T) {
	provider := credentials.NewStaticAKCredentialsProvider("LTAIexample", "secret-example")
	for _, region := range []string{"cn-hangzhou", "cn-beijing", "cn-wuhan", "cn-shanghai-finance-1", "us-west-1", "eu-central-1", "ap-southeast-5", "me-central-1"} {
		ours := &hostRecorder{}
		a, err := newAPI(clientConfig{region: region, provider: provider, source: credsFlag})
		require.NoError(t, err)
		a.binder.base = ours
		assert.False(t, a.customEndpoint())

		theirs := &hostRecorder{}
		config := func() *sdk.Config { c := sdk.NewConfig(); c.Scheme = "HTTPS"; c.Transport = theirs; return c }
		e, err := ecs.NewClientWithOptions(region, config(), provider)
		require.NoError(t, err)
		v, err := vpc.NewClientWithOptions(region, config(), provider)
		require.NoError(t, err)
		s, err := slb.NewClientWithOptions(region, config(), provider)
		require.NoError(t, err)

		for _, c := range []struct {
			product      string
			ours, theirs *sdk.Client
			req          func() (requests.AcsRequest, responses.AcsResponse)
		}{
			{"ECS", &a.ecs.Client, &e.Client, func() (requests.AcsRequest, responses.AcsResponse) {
				return ecs.CreateDescribeInstancesRequest(), ecs.CreateDescribeInstancesResponse()
			}},
			{"VPC", &a.vpc.Client, &v.Client, func() (requests.AcsRequest, responses.AcsResponse) {
				return vpc.CreateDescribeVpcsRequest(), vpc.CreateDescribeVpcsResponse()
			}},
			{"SLB", &a.slb.Client, &s.Client, func() (requests.AcsRequest, responses.AcsResponse) {
				return slb.CreateDescribeLoadBalancersRequest(), slb.CreateDescribeLoadBalancersResponse()
			}},
		} {
			req, resp := c.req()
			want := firstHost(t, theirs, c.theirs, req, resp)
			req, resp = c.req()
			got := firstHost(t, ours, c.ours, req, resp)
			assert.Equal(t, want, got, "%s in %s", c.product, region)
		}
	}
}
