package cloudsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

func describeRegions(c *ecs.Client) error {
	_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	return err
}

func TestThrottlingAsTheSDKSeesIt(t *testing.T) {
	sim := newSimWith(t, cloudsim.Faults{ThrottleRate: 0.001, ThrottleBurst: 2})
	require.NoError(t, describeRegions(sim.ECS))
	require.NoError(t, describeRegions(sim.ECS))
	se := requireAPIError(t, describeRegions(sim.ECS), "Throttling.User", 400)
	assert.Equal(t, "Request was denied due to user flow control.", se.Message())

	// Turning throttling off through the admin API takes effect at once.
	require.NoError(t, sim.SetFaults(cloudsim.Faults{}))
	require.NoError(t, describeRegions(sim.ECS))
}

func TestInjectedFailures(t *testing.T) {
	sim := newSim(t)
	require.NoError(t, sim.SetFaults(cloudsim.Faults{Failures: []cloudsim.Failure{
		{Action: "DescribeRegions", Nth: 2, Code: "ServiceUnavailable"},
		{Action: "AllocateEipAddress", Product: "vpc", Code: "InternalError", Times: 1},
		{Action: "DescribeZones", Probability: 1, Code: "InvalidParameter", Message: "injected", Status: 400},
	}}))

	require.NoError(t, describeRegions(sim.ECS), "the first call passes")
	se := requireAPIError(t, describeRegions(sim.ECS), "ServiceUnavailable", 503)
	assert.Equal(t, "The request has failed due to a temporary failure of the server.", se.Message())
	require.NoError(t, describeRegions(sim.ECS), "only the second call fails")

	alloc := vpc.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	_, err := sim.VPC.AllocateEipAddress(alloc)
	requireAPIError(t, err, "InternalError", 500)
	assert.Empty(t, sim.Resources().EIPs, "an injected failure changes nothing")
	// The ECS action of the same name does not match product vpc.
	ealloc := ecs.CreateAllocateEipAddressRequest()
	ealloc.RegionId = region
	eresp, err := sim.ECS.AllocateEipAddress(ealloc)
	ok(t, eresp, err)
	alloc = vpc.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	vresp, err := sim.VPC.AllocateEipAddress(alloc)
	ok(t, vresp, err)

	z := ecs.CreateDescribeZonesRequest()
	z.RegionId = region
	_, err = sim.ECS.DescribeZones(z)
	se = requireAPIError(t, err, "InvalidParameter", 400)
	assert.Equal(t, "injected", se.Message())

	log := sim.Calls(0)
	assert.Equal(t, 3, log.Counts["DescribeRegions"])
	assert.Equal(t, 3, log.Counts["AllocateEipAddress"])
	injected := 0
	for _, c := range log.Calls {
		if c.Injected {
			injected++
		}
	}
	assert.Equal(t, 3, injected)
}

func TestAFailureAfterTheCallHasItTakeEffect(t *testing.T) {
	sim, c := ec2Sim(t)
	require.NoError(t, sim.SetFaults(cloudsim.Faults{Failures: []cloudsim.Failure{
		{Action: "AllocateEipAddress", Product: "Vpc", Code: "InternalError", Times: 1, After: true},
		{Action: "CreateKeyPair", Product: "Ec2", Code: "InternalError", Times: 1, After: true},
	}}))

	alloc := vpc.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	_, err := sim.VPC.AllocateEipAddress(alloc)
	requireAPIError(t, err, "InternalError", 500)
	assert.Len(t, sim.Resources().EIPs, 1, "the call was carried out before the error was answered")

	in := &ec2.CreateKeyPairInput{KeyName: aws.String("lost-answer")}
	_, err = c.CreateKeyPair(t.Context(), in)
	ec2Code(t, err, "InternalError")
	// A retry meets the key the first attempt made: CreateKeyPair has no
	// ClientToken.
	_, err = c.CreateKeyPair(t.Context(), in)
	ec2Code(t, err, "InvalidKeyPair.Duplicate")
	assert.Len(t, sim.Resources().EC2.KeyPairs, 1)
	assert.Equal(t, "lost-answer", sim.Resources().EC2.KeyPairs[0].Name)

	var injected []string
	for _, call := range sim.Calls(0).Calls {
		if call.Injected {
			injected = append(injected, call.Action+" "+call.Code)
		}
	}
	assert.Equal(t, []string{"AllocateEipAddress InternalError", "CreateKeyPair InternalError"}, injected)
}

func TestLatencyMakesTheSDKTimeOut(t *testing.T) {
	sim := newSimWith(t, cloudsim.Faults{ActionLatency: map[string]cloudsim.Duration{"DescribeRegions": cloudsim.Duration(time.Minute)}})
	req := ecs.CreateDescribeRegionsRequest()
	req.SetReadTimeout(200 * time.Millisecond)
	_, err := sim.ECS.DescribeRegions(req)
	require.Error(t, err, "an answer delayed past the client's read timeout never arrives")
	assert.Contains(t, err.Error(), "Timeout")
	// Other actions are not delayed.
	z := ecs.CreateDescribeZonesRequest()
	z.RegionId = region
	z.SetReadTimeout(10 * time.Second)
	zr, err := sim.ECS.DescribeZones(z)
	ok(t, zr, err)
}

func TestAdminAPI(t *testing.T) {
	sim := newSim(t)
	get := func(path string, into any) int {
		resp, err := http.Get(sim.AdminURL() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		if into != nil {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
		}
		return resp.StatusCode
	}

	// An empty cloud: empty arrays, except the catalog and the defaults.
	var raw map[string]json.RawMessage
	require.Equal(t, 200, get("/resources", &raw))
	for _, key := range []string{"instances", "security_groups", "key_pairs", "eips", "public_ips", "load_balancers",
		"listeners", "backend_servers", "tags", "forwarders"} {
		assert.Equal(t, "[]", string(raw[key]), key)
	}
	var res cloudsim.Resources
	require.Equal(t, 200, get("/resources", &res))
	assert.Len(t, res.VPCs, len(res.Regions), "one default VPC per region")
	assert.Len(t, res.VSwitches, len(res.Zones), "one default VSwitch per zone")
	assert.Len(t, res.RouteTables, len(res.Regions))
	for _, e := range res.RouteEntries {
		assert.Equal(t, "System", e.Type)
	}

	group := createGroup(t, sim)
	runInstance(t, sim, group, nil)
	require.Equal(t, 200, get("/resources", &res))
	assert.Len(t, res.Instances, 1)
	assert.Len(t, res.SecurityGroups, 1)

	put := func(body string) (int, string) {
		req, err := http.NewRequest(http.MethodPut, sim.AdminURL()+"/faults", strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	code, body := put(`{"boot_time":"2s","throttle_rate":5,"failures":[{"action":"RunInstances","nth":1,"code":"Throttling.User"}]}`)
	require.Equal(t, 200, code, body)
	var f cloudsim.Faults
	require.Equal(t, 200, get("/faults", &f))
	assert.Equal(t, 2*time.Second, f.BootTime.D())
	assert.Equal(t, 5.0, f.ThrottleRate)
	require.Len(t, f.Failures, 1)
	code, body = put(`{"boot_time":"soon"}`)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "soon")
	code, _ = put(`{"failures":[{"action":"X","probability":2}]}`)
	assert.Equal(t, 400, code)
	code, _ = put(`{"no_such_setting":1}`)
	assert.Equal(t, 400, code)

	var calls cloudsim.CallLog
	require.Equal(t, 200, get("/calls", &calls))
	assert.Positive(t, calls.Counts["RunInstances"])
	assert.Positive(t, calls.Counts["CreateSecurityGroup"])
	last := calls.Calls[len(calls.Calls)-1].Seq
	require.Equal(t, 200, get("/calls?since="+jsonInt(last), &calls))
	assert.Empty(t, calls.Calls)

	resp, err := http.Post(sim.AdminURL()+"/reset", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var after cloudsim.Resources
	require.Equal(t, 200, get("/resources", &after))
	assert.Empty(t, after.Instances)
	assert.Empty(t, after.SecurityGroups)
	var initial cloudsim.Faults
	require.Equal(t, 200, get("/faults", &initial))
	assert.Empty(t, initial.Failures, "reset restores the initial faults")
	var fresh cloudsim.CallLog
	require.Equal(t, 200, get("/calls", &fresh))
	assert.Empty(t, fresh.Counts)

	assert.Equal(t, 404, get("/nothing", nil))
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
