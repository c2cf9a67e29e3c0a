package cloudsim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

func createLB(t *testing.T, sim *cloudsimtest.Sim) string {
	t.Helper()
	req := slb.CreateCreateLoadBalancerRequest()
	req.RegionId = region
	req.LoadBalancerName = "front"
	req.AddressType = "internet"
	resp, err := sim.SLB.CreateLoadBalancer(req)
	ok(t, resp, err)
	assert.True(t, strings.HasPrefix(resp.Address, "127.101."))
	return resp.LoadBalancerId
}

func backends(pairs ...string) string {
	var parts []string
	for i := 0; i+1 < len(pairs); i += 2 {
		parts = append(parts, fmt.Sprintf(`{"ServerId":%q,"Weight":%q,"Type":"ecs"}`, pairs[i], pairs[i+1]))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestSLBAPI(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	a := runInstance(t, sim, group, nil)
	b := runInstance(t, sim, group, nil)
	lb := createLB(t, sim)

	add := slb.CreateAddBackendServersRequest()
	add.RegionId = region
	add.LoadBalancerId = lb
	add.BackendServers = backends(a, "100", b, "50")
	ar, err := sim.SLB.AddBackendServers(add)
	okBackends(t, ar.GetHttpContentBytes(), err)
	require.Len(t, ar.BackendServers.BackendServer, 2)
	assert.Equal(t, "50", ar.BackendServers.BackendServer[1].Weight)

	badW := slb.CreateAddBackendServersRequest()
	badW.RegionId = region
	badW.LoadBalancerId = lb
	badW.BackendServers = backends(a, "101")
	_, err = sim.SLB.AddBackendServers(badW)
	requireAPIError(t, err, "InvalidWeight.Malformed", 400)
	badS := slb.CreateAddBackendServersRequest()
	badS.RegionId = region
	badS.LoadBalancerId = lb
	badS.BackendServers = backends("i-bpnothere", "10")
	_, err = sim.SLB.AddBackendServers(badS)
	requireAPIError(t, err, "InvalidServerId.NotFound", 404)

	set := slb.CreateSetBackendServersRequest()
	set.RegionId = region
	set.LoadBalancerId = lb
	set.BackendServers = backends(b, "80")
	sr, err := sim.SLB.SetBackendServers(set)
	okBackends(t, sr.GetHttpContentBytes(), err)

	tcp := slb.CreateCreateLoadBalancerTCPListenerRequest()
	tcp.RegionId = region
	tcp.LoadBalancerId = lb
	tcp.ListenerPort = "2376"
	tcp.BackendServerPort = "2376"
	tcp.Bandwidth = "-1"
	tcp.HealthCheckConnectPort = "22"
	tcp.HealthCheckInterval = "1"
	tcpResp, err := sim.SLB.CreateLoadBalancerTCPListener(tcp)
	ok(t, tcpResp, err)
	_, err = sim.SLB.CreateLoadBalancerTCPListener(tcp)
	requireAPIError(t, err, "ListenerAlreadyExists", 400)

	httpL := slb.CreateCreateLoadBalancerHTTPListenerRequest()
	httpL.RegionId = region
	httpL.LoadBalancerId = lb
	httpL.ListenerPort = "8080"
	httpL.BackendServerPort = "80"
	httpL.HealthCheck = "on"
	httpL.HealthCheckURI = "/healthz"
	httpL.StickySession = "off"
	httpResp, err := sim.SLB.CreateLoadBalancerHTTPListener(httpL)
	ok(t, httpResp, err)

	attr := slb.CreateDescribeLoadBalancerTCPListenerAttributeRequest()
	attr.RegionId = region
	attr.LoadBalancerId = lb
	attr.ListenerPort = "2376"
	at, err := sim.SLB.DescribeLoadBalancerTCPListenerAttribute(attr)
	ok(t, at, err)
	assert.Equal(t, "stopped", at.Status, "a new listener is stopped")
	assert.Equal(t, 2376, at.BackendServerPort)
	assert.Equal(t, 22, at.HealthCheckConnectPort)
	assert.Equal(t, 1, at.HealthCheckInterval, "the SDK sends healthCheckInterval in lower camel case")
	assert.Equal(t, "wrr", at.Scheduler)

	hattr := slb.CreateDescribeLoadBalancerHTTPListenerAttributeRequest()
	hattr.RegionId = region
	hattr.LoadBalancerId = lb
	hattr.ListenerPort = "8080"
	ht, err := sim.SLB.DescribeLoadBalancerHTTPListenerAttribute(hattr)
	ok(t, ht, err)
	assert.Equal(t, "/healthz", ht.HealthCheckURI)
	wrong := slb.CreateDescribeLoadBalancerHTTPListenerAttributeRequest()
	wrong.RegionId = region
	wrong.LoadBalancerId = lb
	wrong.ListenerPort = "2376"
	_, err = sim.SLB.DescribeLoadBalancerHTTPListenerAttribute(wrong)
	requireAPIError(t, err, "ListenerNotFound", 404)

	start := slb.CreateStartLoadBalancerListenerRequest()
	start.RegionId = region
	start.LoadBalancerId = lb
	start.ListenerPort = "2376"
	str, err := sim.SLB.StartLoadBalancerListener(start)
	ok(t, str, err)
	at, err = sim.SLB.DescribeLoadBalancerTCPListenerAttribute(slbTCPAttr(lb, "2376"))
	ok(t, at, err)
	assert.Equal(t, "running", at.Status)

	listeners := slb.CreateDescribeLoadBalancerListenersRequest()
	listeners.RegionId = region
	listeners.LoadBalancerId = &[]string{lb}
	lr, err := sim.SLB.DescribeLoadBalancerListeners(listeners)
	ok(t, lr, err)
	require.Len(t, lr.Listeners, 2)
	assert.Equal(t, "tcp", lr.Listeners[0].ListenerProtocol)
	assert.Equal(t, "http", lr.Listeners[1].ListenerProtocol)

	lba := slb.CreateDescribeLoadBalancerAttributeRequest()
	lba.RegionId = region
	lba.LoadBalancerId = lb
	lbr, err := sim.SLB.DescribeLoadBalancerAttribute(lba)
	ok(t, lbr, err)
	assert.Equal(t, []int{2376, 8080}, lbr.ListenerPorts.ListenerPort)
	require.Len(t, lbr.BackendServers.BackendServer, 2)
	assert.Equal(t, 80, lbr.BackendServers.BackendServer[1].Weight)

	health := slb.CreateDescribeHealthStatusRequest()
	health.RegionId = region
	health.LoadBalancerId = lb
	hr, err := sim.SLB.DescribeHealthStatus(health)
	ok(t, hr, err)
	require.Len(t, hr.BackendServers.BackendServer, 4, "two servers on two listeners")
	for _, s := range hr.BackendServers.BackendServer {
		if s.ListenerPort == 8080 {
			assert.Equal(t, "unavailable", s.ServerHealthStatus, "a stopped listener checks nothing")
		}
	}

	rm := slb.CreateRemoveBackendServersRequest()
	rm.RegionId = region
	rm.LoadBalancerId = lb
	rm.BackendServers = `["` + a + `"]`
	rmr, err := sim.SLB.RemoveBackendServers(rm)
	ok(t, rmr, err)
	require.Len(t, rmr.BackendServers.BackendServer, 1)
	assert.Equal(t, b, rmr.BackendServers.BackendServer[0].ServerId)

	for _, op := range []func() error{
		func() error {
			r := slb.CreateStopLoadBalancerListenerRequest()
			r.RegionId, r.LoadBalancerId, r.ListenerPort = region, lb, "2376"
			resp, err := sim.SLB.StopLoadBalancerListener(r)
			if err == nil {
				ok(t, resp, err)
			}
			return err
		},
		func() error {
			r := slb.CreateDeleteLoadBalancerListenerRequest()
			r.RegionId, r.LoadBalancerId, r.ListenerPort = region, lb, "2376"
			resp, err := sim.SLB.DeleteLoadBalancerListener(r)
			if err == nil {
				ok(t, resp, err)
			}
			return err
		},
	} {
		require.NoError(t, op())
	}
	_, err = sim.SLB.DescribeLoadBalancerTCPListenerAttribute(slbTCPAttr(lb, "2376"))
	requireAPIError(t, err, "ListenerNotFound", 404)

	// Deleting an instance takes it off the load balancer.
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = b
	del.Force = "true"
	dr, err := sim.ECS.DeleteInstance(del)
	ok(t, dr, err)
	assert.Empty(t, sim.Resources().BackendServers)

	dlb := slb.CreateDeleteLoadBalancerRequest()
	dlb.RegionId = region
	dlb.LoadBalancerId = lb
	dlr, err := sim.SLB.DeleteLoadBalancer(dlb)
	ok(t, dlr, err)
	_, err = sim.SLB.DeleteLoadBalancer(dlb)
	requireAPIError(t, err, "InvalidLoadBalancerId.NotFound", 404)
	res := sim.Resources()
	assert.Empty(t, res.LoadBalancers)
	assert.Empty(t, res.Listeners)
}

func slbTCPAttr(lb, port string) *slb.DescribeLoadBalancerTCPListenerAttributeRequest {
	r := slb.CreateDescribeLoadBalancerTCPListenerAttributeRequest()
	r.RegionId = region
	r.LoadBalancerId = lb
	r.ListenerPort = requests.Integer(port)
	return r
}

// webBackend is an InstanceBackend whose hosts are HTTP servers on loopback
// aliases, all on one port, each answering its instance ID: enough to see
// where an SLB sends traffic without any container.
type webBackend struct {
	port int
	mu   sync.Mutex
	free []string
	ips  map[string]string
	srvs map[string]*http.Server
}

func newWebBackend(t *testing.T, n int) *webBackend {
	t.Helper()
	// Random aliases in 127.77.0.0/16 keep parallel test binaries apart.
	base := rand.IntN(200) + 1
	var ips []string
	for i := range n {
		ips = append(ips, fmt.Sprintf("127.77.%d.%d", base, i+2))
	}
	// One port free on every alias.
	for range 20 {
		ln, err := net.Listen("tcp", ips[0]+":0")
		require.NoError(t, err)
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		free := true
		for _, ip := range ips {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return &webBackend{port: port, free: ips, ips: map[string]string{}, srvs: map[string]*http.Server{}}
		}
	}
	t.Fatal("no port free on all loopback aliases")
	return nil
}

func (b *webBackend) Name() string { return "web" }

func (b *webBackend) Create(_ context.Context, spec cloudsim.InstanceSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) == 0 {
		return errors.New("web backend: no address left")
	}
	b.ips[spec.ID], b.free = b.free[0], b.free[1:]
	return nil
}

func (b *webBackend) Start(_ context.Context, id string) (cloudsim.Addresses, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ip := b.ips[id]
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(b.port)))
	if err != nil {
		return cloudsim.Addresses{}, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, id)
	})}
	go srv.Serve(ln)
	b.srvs[id] = srv
	return cloudsim.Addresses{PrivateIP: ip}, nil
}

func (b *webBackend) Stop(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if srv := b.srvs[id]; srv != nil {
		srv.Close()
		delete(b.srvs, id)
	}
	return nil
}

func (b *webBackend) Delete(ctx context.Context, id string) error { return b.Stop(ctx, id) }

func (b *webBackend) Addresses(_ context.Context, id string) (cloudsim.Addresses, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return cloudsim.Addresses{PrivateIP: b.ips[id]}, nil
}

func (b *webBackend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, srv := range b.srvs {
		srv.Close()
	}
	return nil
}

// hits sends n requests through addr and counts the answers per instance.
func hits(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range n {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			out["error"]++
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			out[fmt.Sprintf("HTTP %d", resp.StatusCode)]++
			continue
		}
		out[string(body)]++
	}
	return out
}

func healthOf(t *testing.T, sim *cloudsimtest.Sim, lb string, port int) map[string]string {
	t.Helper()
	req := slb.CreateDescribeHealthStatusRequest()
	req.RegionId = region
	req.LoadBalancerId = lb
	req.ListenerPort = requests.NewInteger(port)
	resp, err := sim.SLB.DescribeHealthStatus(req)
	ok(t, resp, err)
	out := map[string]string{}
	for _, s := range resp.BackendServers.BackendServer {
		out[s.ServerId] = s.ServerHealthStatus
	}
	return out
}

func TestSLBForwardsByWeightAndHealth(t *testing.T) {
	web := newWebBackend(t, 2)
	sim := cloudsimtest.Start(t, cloudsim.Config{Backend: web, Faults: &cloudsim.Faults{}, Logger: quiet})
	group := createGroup(t, sim)
	a := runInstance(t, sim, group, nil)
	b := runInstance(t, sim, group, nil)
	lbID := createLB(t, sim)
	var address string
	for _, lb := range sim.Resources().LoadBalancers {
		address = lb.Address
	}

	add := slb.CreateAddBackendServersRequest()
	add.RegionId = region
	add.LoadBalancerId = lbID
	add.BackendServers = backends(a, "100", b, "100")
	ar, err := sim.SLB.AddBackendServers(add)
	okBackends(t, ar.GetHttpContentBytes(), err)

	for _, proto := range []string{"tcp", "http"} {
		t.Run(proto, func(t *testing.T) {
			port := 9000
			if proto == "http" {
				port = 9001
			}
			if proto == "tcp" {
				req := slb.CreateCreateLoadBalancerTCPListenerRequest()
				req.RegionId, req.LoadBalancerId = region, lbID
				req.ListenerPort, req.BackendServerPort = requests.NewInteger(port), requests.NewInteger(web.port)
				req.HealthCheckInterval, req.HealthyThreshold, req.UnhealthyThreshold = "1", "2", "2"
				req.HealthCheckConnectTimeout = "1"
				resp, err := sim.SLB.CreateLoadBalancerTCPListener(req)
				ok(t, resp, err)
			} else {
				req := slb.CreateCreateLoadBalancerHTTPListenerRequest()
				req.RegionId, req.LoadBalancerId = region, lbID
				req.ListenerPort, req.BackendServerPort = requests.NewInteger(port), requests.NewInteger(web.port)
				req.HealthCheck, req.StickySession = "on", "off"
				req.HealthCheckInterval, req.HealthyThreshold, req.UnhealthyThreshold = "1", "2", "2"
				req.HealthCheckTimeout = "1"
				resp, err := sim.SLB.CreateLoadBalancerHTTPListener(req)
				ok(t, resp, err)
			}
			start := slb.CreateStartLoadBalancerListenerRequest()
			start.RegionId, start.LoadBalancerId, start.ListenerPort = region, lbID, requests.NewInteger(port)
			sr, err := sim.SLB.StartLoadBalancerListener(start)
			ok(t, sr, err)
			addr := net.JoinHostPort(address, strconv.Itoa(port))

			eventually(t, "both servers healthy", 15*time.Second, func() (bool, error) {
				h := healthOf(t, sim, lbID, port)
				return h[a] == "normal" && h[b] == "normal", nil
			})
			got := hits(t, addr, 20)
			assert.Equal(t, map[string]int{a: 10, b: 10}, got, "equal weights share the traffic evenly")

			// Weight 0 takes a server out of rotation.
			set := slb.CreateSetBackendServersRequest()
			set.RegionId, set.LoadBalancerId = region, lbID
			set.BackendServers = backends(b, "0")
			setr, err := sim.SLB.SetBackendServers(set)
			okBackends(t, setr.GetHttpContentBytes(), err)
			assert.Equal(t, map[string]int{a: 6}, hits(t, addr, 6))
			set = slb.CreateSetBackendServersRequest()
			set.RegionId, set.LoadBalancerId = region, lbID
			set.BackendServers = backends(b, "100")
			setr, err = sim.SLB.SetBackendServers(set)
			okBackends(t, setr.GetHttpContentBytes(), err)

			// Stopping an instance: once the health check notices, all
			// traffic goes to the other.
			stop := ecs.CreateStopInstanceRequest()
			stop.InstanceId = a
			stopr, err := sim.ECS.StopInstance(stop)
			ok(t, stopr, err)
			waitStatus(t, sim, a, "Stopped")
			eventually(t, "the stopped server to turn abnormal", 15*time.Second, func() (bool, error) {
				return healthOf(t, sim, lbID, port)[a] == "abnormal", nil
			})
			assert.Equal(t, map[string]int{b: 8}, hits(t, addr, 8))

			// And it comes back after a start.
			startI := ecs.CreateStartInstanceRequest()
			startI.InstanceId = a
			startr, err := sim.ECS.StartInstance(startI)
			ok(t, startr, err)
			waitStatus(t, sim, a, "Running")
			eventually(t, "the restarted server to be normal again", 15*time.Second, func() (bool, error) {
				return healthOf(t, sim, lbID, port)[a] == "normal", nil
			})
			assert.Len(t, hits(t, addr, 4), 2)

			stopL := slb.CreateStopLoadBalancerListenerRequest()
			stopL.RegionId, stopL.LoadBalancerId, stopL.ListenerPort = region, lbID, requests.NewInteger(port)
			stopLr, err := sim.SLB.StopLoadBalancerListener(stopL)
			ok(t, stopLr, err)
			_, err = net.DialTimeout("tcp", addr, time.Second)
			assert.Error(t, err, "a stopped listener is not bound")
		})
	}
}
