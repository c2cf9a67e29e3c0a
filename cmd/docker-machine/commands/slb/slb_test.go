package slb

import (
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/clitest"
	"github.com/fleetdock/machine/drivers/aliyunecs"
	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func init() { plugin.RegisterBuiltin("none", func() drivers.Driver { return none.NewDriver("", "") }) }

var cli = clitest.Runner(NewCmd)

// servicesEngine is a TLS Docker daemon (server certificate from the
// store's CA, client certificate required) answering /_ping and
// /services from a list the test changes.
type servicesEngine struct {
	mu       sync.Mutex
	services string // the JSON of GET /services
}

func (s *servicesEngine) set(services string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services = services
}

func startServicesEngine(t *testing.T, store string) (*servicesEngine, string) {
	t.Helper()
	eng := &servicesEngine{services: "[]"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", clitest.ServerTLS(t, store, "127.0.0.1"))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/_ping":
			w.Header().Set("API-Version", "1.41")
		case strings.HasSuffix(r.URL.Path, "/services"):
			eng.mu.Lock()
			defer eng.mu.Unlock()
			w.Write([]byte(eng.services))
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return eng, "tcp://" + ln.Addr().String()
}

// service is the Engine API's JSON of a service with published ports.
func service(name string, labels map[string]string, published ...int) string {
	var ports []map[string]any
	for _, p := range published {
		ports = append(ports, map[string]any{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": p, "PublishMode": "ingress"})
	}
	b, _ := json.Marshal(map[string]any{
		"ID":       "id-" + name,
		"Spec":     map[string]any{"Name": name, "Labels": labels, "Mode": map[string]any{"Replicated": map[string]any{"Replicas": 3}}},
		"Endpoint": map[string]any{"Ports": ports},
	})
	return string(b)
}

func TestSLBSyncFollowsTheServices(t *testing.T) {
	// The CLI binary has aliyunecs built in; the settings flags are parsed
	// by its create flags.
	plugin.RegisterBuiltin(aliyunecs.Name, func() drivers.Driver { return aliyunecs.NewDriver("", "") })
	store := clitest.NewStore(t)
	sim := cloudsimtest.Start(t, cloudsim.Config{Logger: slog.New(slog.DiscardHandler)})
	id, secret := sim.Credentials()
	t.Setenv("ECS_ACCESS_KEY_ID", id)
	t.Setenv("ECS_ACCESS_KEY_SECRET", secret)

	req := slb.CreateCreateLoadBalancerRequest()
	req.LoadBalancerName = "seed002"
	lbResp, err := sim.SLB.CreateLoadBalancer(req)
	require.NoError(t, err)
	lb := lbResp.LoadBalancerId
	// A listener made by hand, on a port a service will ask for too.
	hand := slb.CreateCreateLoadBalancerTCPListenerRequest()
	hand.LoadBalancerId = lb
	hand.ListenerPort = requests.NewInteger(9000)
	hand.BackendServerPort = requests.NewInteger(9000)
	hand.Bandwidth = requests.NewInteger(-1)
	hand.Description = "ops"
	_, err = sim.SLB.CreateLoadBalancerTCPListener(hand)
	require.NoError(t, err)

	// The manager: any machine whose engine answers; its SLB settings come
	// from the flags since it is not an aliyunecs machine.
	clitest.Bootstrap(t, store)
	eng, url := startServicesEngine(t, store)
	clitest.CreateNone(t, store, "mgr", url)
	eng.set("[" + service("web", nil, 30000) + "," + service("api", map[string]string{"fleetdock.slb.port": "9000"}, 30001) + "," + service("internal", nil) + "]")

	sync := func(extra ...string) clitest.Result {
		return cli(t, store, append([]string{"sync", "--slb-id", lb, "--manager", "mgr",
			"--aliyunecs-region", cloudsimtest.Region, "--aliyunecs-api-endpoint", sim.Endpoint()}, extra...)...)
	}
	listeners := func() map[int]string {
		req := slb.CreateDescribeLoadBalancerListenersRequest()
		req.LoadBalancerId = &[]string{lb}
		resp, err := sim.SLB.DescribeLoadBalancerListeners(req)
		require.NoError(t, err)
		out := map[int]string{}
		for _, l := range resp.Listeners {
			out[l.ListenerPort] = l.Description + " " + l.Status + " -> " + itoa(l.BackendServerPort)
		}
		return out
	}

	r := sync("--port", "web=8080")
	assert.Equal(t, 1, r.Code, "the conflict on 9000 fails the command: %s", r.Stdout)
	assert.Contains(t, r.Stderr, "port 9000 of load balancer "+lb+" is held by a listener docker-machine did not create")
	assert.Contains(t, r.Stdout, "created listener TCP 8080 -> 30000 (docker-machine/service/web)")
	assert.Equal(t, map[int]string{
		8080: "docker-machine/service/web running -> 30000",
		9000: "ops stopped -> 9000",
	}, listeners(), "the hand-made listener is untouched; ours is started")

	// The api service moves to a free port; web is unchanged.
	eng.set("[" + service("web", nil, 30000) + "," + service("api", map[string]string{"fleetdock.slb.port": "9001"}, 30001) + "]")
	r = sync("--port", "web=8080")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "listener TCP 8080 -> 30000 is up to date")
	assert.Contains(t, r.Stdout, "api -> tcp://")
	assert.Equal(t, map[int]string{
		8080: "docker-machine/service/web running -> 30000",
		9000: "ops stopped -> 9000",
		9001: "docker-machine/service/api running -> 30001",
	}, listeners())

	// A dry run of an unchanged swarm plans nothing.
	r = sync("--port", "web=8080", "--dry-run")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.NotContains(t, r.Stdout, "would: "+lb+": created")

	// web is removed: its listener goes, the others stay.
	eng.set("[" + service("api", map[string]string{"fleetdock.slb.port": "9001"}, 30001) + "]")
	r = sync()
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "deleted listener TCP 8080 -> 30000 (docker-machine/service/web)")
	assert.Equal(t, map[int]string{
		9000: "ops stopped -> 9000",
		9001: "docker-machine/service/api running -> 30001",
	}, listeners())

	r = cli(t, store, "ls", "--slb-id", lb, "--manager", "mgr", "--aliyunecs-region", cloudsimtest.Region, "--aliyunecs-api-endpoint", sim.Endpoint())
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "listener TCP 9001 -> 30001 running docker-machine/service/api")
}

func TestSLBSyncNeedsSettingsForOtherDrivers(t *testing.T) {
	store := clitest.NewStore(t)
	clitest.CreateNone(t, store, "mgr", "tcp://127.0.0.1:1")
	r := cli(t, store, "sync", "--slb-id", "lb-1", "--manager", "mgr")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `the none driver of manager "mgr" cannot manage load balancers: give --driver DRIVER`)

	r = cli(t, store, "sync", "--slb-id", "lb-1", "--manager", "mgr", "--port", "web")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `--port "web": use SERVICE=FRONT`)

	r = cli(t, store, "sync", "--manager", "mgr")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `"slb-id" not set`)
}

func TestParsePortFlags(t *testing.T) {
	got, err := parsePortFlags([]string{"web=8080", "api:9000=9443"})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"web": 8080, "api:9000": 9443}, got)
	for _, bad := range []string{"=80", "web=", "web=70000", "web=x"} {
		_, err := parsePortFlags([]string{bad})
		assert.Error(t, err, bad)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
