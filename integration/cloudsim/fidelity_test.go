package cloudsim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

// signedFor builds a signed call of any product, as an older SDK sends it:
// only the parameters given, no RegionId unless given.
func signedFor(sim *cloudsimtest.Sim, version, action string, extra map[string]string) url.Values {
	id, secret := sim.Credentials()
	v := url.Values{"Action": {action}, "Version": {version}, "Format": {"JSON"}}
	for k, val := range extra {
		v.Set(k, val)
	}
	cloudsim.SignValues(http.MethodGet, v, id, secret, nonce(), time.Now())
	return v
}

const (
	ecsVersion = "2014-05-26"
	slbVersion = "2014-05-15"
)

// TestRegionIdOptionalWhereTheReferenceSaysSo sends, without RegionId, the
// regional calls whose reference takes it as optional; each must succeed on
// the resource its ID names. Calls that require it still refuse.
func TestRegionIdOptionalWhereTheReferenceSaysSo(t *testing.T) {
	sim := newSim(t)
	inst := runInstance(t, sim, createGroup(t, sim), nil)
	alloc := ecs.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	eip, err := sim.ECS.AllocateEipAddress(alloc)
	ok(t, eip, err)

	a := send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "AssociateEipAddress", map[string]string{"AllocationId": eip.AllocationId, "InstanceId": inst}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	assert.Equal(t, inst, sim.Resources().EIPs[0].InstanceID)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "UnassociateEipAddress", map[string]string{"AllocationId": eip.AllocationId, "InstanceId": inst}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "ReleaseEipAddress", map[string]string{"AllocationId": eip.AllocationId}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	assert.Empty(t, sim.Resources().EIPs)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "ReleaseEipAddress", map[string]string{"AllocationId": eip.AllocationId}), false)
	requireErrorShape(t, a, "InvalidAllocationId.NotFound", http.StatusNotFound)

	router, table := defaultRouter(t, sim)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "DescribeRouteTables", map[string]string{"VRouterId": router}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	var rts ecs.DescribeRouteTablesResponse
	require.NoError(t, json.Unmarshal([]byte(a.text), &rts))
	require.Len(t, rts.RouteTables.RouteTable, 1)
	assert.Equal(t, table, rts.RouteTables.RouteTable[0].RouteTableId)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "DescribeRouteTables", map[string]string{"RouteTableId": table}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "DescribeRouteTables", nil), false)
	requireErrorShape(t, a, "MissingParameter", http.StatusBadRequest)

	lb := createLB(t, sim)
	a = send(t, sim, http.MethodGet, signedFor(sim, slbVersion, "DescribeLoadBalancerAttribute", map[string]string{"LoadBalancerId": lb}), false)
	require.Equal(t, http.StatusOK, a.status, a.text)
	assert.Equal(t, lb, a.body["LoadBalancerId"])
	assert.Equal(t, region, a.body["RegionId"])

	// Calls that the reference gives a required RegionId still refuse without one.
	a = send(t, sim, http.MethodGet, signedFor(sim, ecsVersion, "DescribeVpcs", nil), false)
	requireErrorShape(t, a, "MissingParameter", http.StatusBadRequest)
	a = send(t, sim, http.MethodGet, signedFor(sim, slbVersion, "DescribeLoadBalancers", nil), false)
	requireErrorShape(t, a, "MissingParameter", http.StatusBadRequest)
	// A RegionId given must still be a region, and the resource's own.
	a = send(t, sim, http.MethodGet, signedFor(sim, slbVersion, "DescribeLoadBalancerAttribute", map[string]string{"LoadBalancerId": lb, "RegionId": "cn-beijing"}), false)
	requireErrorShape(t, a, "InvalidLoadBalancerId.NotFound", http.StatusNotFound)
}

// TestDescribeVRouters: the deprecated ECS action and the VPC one list each
// VPC's router with its route table, filtered by VRouterId.
func TestDescribeVRouters(t *testing.T) {
	sim := newSim(t)
	vpcID := defaultVpc(t, sim)
	router, _ := defaultRouter(t, sim)

	ereq := ecs.CreateDescribeVRoutersRequest()
	ereq.RegionId = region
	eresp, err := sim.ECS.DescribeVRouters(ereq)
	ok(t, eresp, err)
	require.Equal(t, 1, eresp.TotalCount)
	got := eresp.VRouters.VRouter[0]
	assert.Equal(t, router, got.VRouterId)
	assert.Equal(t, vpcID, got.VpcId)
	assert.Equal(t, region, got.RegionId)
	require.Len(t, got.RouteTableIds.RouteTableId, 1)

	create := vpc.CreateCreateVpcRequest()
	create.RegionId = region
	create.CidrBlock = "192.168.0.0/16"
	cv, err := sim.VPC.CreateVpc(create)
	ok(t, cv, err)
	vreq := vpc.CreateDescribeVRoutersRequest()
	vreq.RegionId = region
	vreq.VRouterId = cv.VRouterId
	vresp, err := sim.VPC.DescribeVRouters(vreq)
	ok(t, vresp, err)
	require.Len(t, vresp.VRouters.VRouter, 1)
	assert.Equal(t, cv.VpcId, vresp.VRouters.VRouter[0].VpcId)
	assert.Equal(t, []string{cv.RouteTableId}, vresp.VRouters.VRouter[0].RouteTableIds.RouteTableId)

	// A fresh request: the SDK keeps the parameters of a sent one.
	vreq = vpc.CreateDescribeVRoutersRequest()
	vreq.RegionId = region
	vreq.PageSize = "1"
	vreq.PageNumber = "2"
	vresp, err = sim.VPC.DescribeVRouters(vreq)
	ok(t, vresp, err)
	assert.Equal(t, 2, vresp.TotalCount)
	assert.Len(t, vresp.VRouters.VRouter, 1)
	vreq = vpc.CreateDescribeVRoutersRequest()
	vreq.RegionId = region
	vreq.PageSize = "51"
	_, err = sim.VPC.DescribeVRouters(vreq)
	requireAPIError(t, err, "InvalidParameter", http.StatusBadRequest)
}

// backendAnswer is the documented answer of Add/Set/RemoveBackendServers,
// where Weight is a number. The SDK's struct says string and its decoder
// takes either; a strict decoder (older SDKs, other clients) does not.
type backendAnswer struct {
	RequestId      string
	LoadBalancerId string
	BackendServers struct {
		BackendServer []struct {
			ServerId    string
			Weight      int
			Type        string
			Description string
		}
	}
}

// okBackends checks a backend server answer strictly against backendAnswer.
func okBackends(t *testing.T, raw []byte, err error) backendAnswer {
	t.Helper()
	require.NoError(t, err)
	var a backendAnswer
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&a), "the answer does not match the documented shape:\n%s", raw)
	return a
}

func TestBackendServerWeightsAreNumbers(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, nil)
	lb := createLB(t, sim)
	for _, action := range []string{"AddBackendServers", "SetBackendServers", "RemoveBackendServers"} {
		a := send(t, sim, http.MethodGet, signedFor(sim, slbVersion, action, map[string]string{
			"RegionId": region, "LoadBalancerId": lb, "BackendServers": backends(inst, "70"),
		}), false)
		require.Equal(t, http.StatusOK, a.status, a.text)
		got := okBackends(t, []byte(a.text), nil)
		assert.Equal(t, lb, got.LoadBalancerId, action)
		if action != "RemoveBackendServers" {
			require.Len(t, got.BackendServers.BackendServer, 1, action)
			assert.Equal(t, 70, got.BackendServers.BackendServer[0].Weight, action)
		}
	}
}
