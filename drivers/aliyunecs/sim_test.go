package aliyunecs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// TestMain shortens every wait of the driver: the simulator's transitions
// take milliseconds here, and the tests check behaviour, not patience.
func TestMain(m *testing.M) {
	pollInitial = 20 * time.Millisecond
	pollMax = 150 * time.Millisecond
	retryBaseDelay = 5 * time.Millisecond
	retryMaxDelay = 80 * time.Millisecond
	// One real key for all creates: RSA generation would dominate the run.
	real := generateKey
	var once sync.Once
	var priv, pub []byte
	var err error
	generateKey = func() ([]byte, []byte, error) {
		once.Do(func() { priv, pub, err = real() })
		return priv, pub, err
	}
	// Credentials must come from the tests only, never from the machine.
	for _, k := range []string{"ECS_ACCESS_KEY_ID", "ECS_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_ID",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN", "ECS_ENDPOINT", "VPC_ENDPOINT", "SLB_ENDPOINT"} {
		os.Unsetenv(k)
	}
	// Tests that check logs install their own handler.
	slog.SetDefault(quietLogger())
	os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
	// No credentials file of the machine either (HOME stays, for the go
	// tool's build cache).
	dir, _ := os.MkdirTemp("", "aliyunecs-creds-")
	os.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", dir+"/none")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastFaults are quick but real transitions: instances still pass through
// Pending and Starting, route entries and EIPs through their pending states.
func fastFaults() *cloudsim.Faults {
	return &cloudsim.Faults{
		CreateTime:  cloudsim.Duration(60 * time.Millisecond),
		BootTime:    cloudsim.Duration(120 * time.Millisecond),
		StopTime:    cloudsim.Duration(120 * time.Millisecond),
		NetworkTime: cloudsim.Duration(60 * time.Millisecond),
	}
}

type sim struct {
	*cloudsim.Server
	t *testing.T
}

// startSim runs an in-process simulator with the none backend.
func startSim(t *testing.T, faults *cloudsim.Faults) *sim {
	t.Helper()
	s, err := cloudsim.Start(cloudsim.Config{Faults: faults, Logger: quietLogger()})
	require.NoError(t, err, "starting the simulator")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return &sim{Server: s, t: t}
}

func (s *sim) admin(method, path string, body any, out any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.AdminURL()+path, r)
	require.NoError(s.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "admin %s %s: %s", method, path, data)
	if out != nil {
		require.NoError(s.t, json.Unmarshal(data, out))
	}
}

// resources is GET {admin}/resources.
func (s *sim) resources() cloudsim.Resources {
	var r cloudsim.Resources
	s.admin(http.MethodGet, "/resources", nil, &r)
	return r
}

// setFaults is PUT {admin}/faults.
func (s *sim) setFaults(f cloudsim.Faults) {
	s.admin(http.MethodPut, "/faults", f, nil)
}

// callsSince is GET {admin}/calls?since=N.
func (s *sim) callsSince(seq int64) []cloudsim.Call {
	var log cloudsim.CallLog
	s.admin(http.MethodGet, fmt.Sprintf("/calls?since=%d", seq), nil, &log)
	return log.Calls
}

func (s *sim) lastSeq() int64 {
	calls := s.callsSince(0)
	if len(calls) == 0 {
		return 0
	}
	return calls[len(calls)-1].Seq
}

// countActions counts calls per action.
func countActions(calls []cloudsim.Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Action]++
	}
	return out
}

// userResources is the part of the cloud a machine can leave behind: all
// but the catalog and the defaults every region starts with.
type userResources struct {
	Instances      []cloudsim.InstanceResource
	SecurityGroups []cloudsim.SecurityGroupRes
	KeyPairs       []cloudsim.KeyPairResource
	EIPs           []cloudsim.EIPResource
	PublicIPs      []cloudsim.PublicIPResource
	RouteEntries   []cloudsim.RouteEntryResource
	LoadBalancers  []cloudsim.LoadBalancerRes
	Listeners      []cloudsim.ListenerResource
	BackendServers []cloudsim.BackendServerRes
	Tags           []cloudsim.TagResource
	Forwarders     []string
	VPCs           []cloudsim.VPCResource
	VSwitches      []cloudsim.VSwitchResource
}

func (s *sim) snapshot() userResources {
	r := s.resources()
	return userResources{r.Instances, r.SecurityGroups, r.KeyPairs, r.EIPs, r.PublicIPs, r.RouteEntries,
		r.LoadBalancers, r.Listeners, r.BackendServers, r.Tags, r.Forwarders, r.VPCs, r.VSwitches}
}

// requireNoLeak compares the cloud with a snapshot taken before a create.
func (s *sim) requireSameAs(before userResources, msg string, args ...any) {
	s.t.Helper()
	after := s.snapshot()
	if !equalJSON(before, after) {
		b, _ := json.MarshalIndent(before, "", " ")
		a, _ := json.MarshalIndent(after, "", " ")
		s.t.Fatalf("%s: the cloud differs from before\nbefore: %s\nafter: %s", fmt.Sprintf(msg, args...), b, a)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// flagValues returns every flag at its default, the way the CLI seeds
// RPCFlags, with the simulator's endpoint and keys.
func flagValues(d *Driver, s *sim) map[string]any {
	v := map[string]any{}
	for _, f := range d.GetCreateFlags() {
		switch f := f.(type) {
		case mcnflag.StringFlag:
			v[f.Name] = f.Value
		case mcnflag.IntFlag:
			v[f.Name] = f.Value
		case mcnflag.BoolFlag:
			v[f.Name] = false
		case mcnflag.StringSliceFlag:
			v[f.Name] = f.Value
		}
	}
	v["swarm-master"] = false
	v["swarm-host"] = ""
	v["swarm-discovery"] = ""
	if s != nil {
		id, secret := s.Credentials()
		v["aliyunecs-api-endpoint"] = s.Endpoint()
		v["aliyunecs-access-key-id"] = id
		v["aliyunecs-access-key-secret"] = secret
	}
	return v
}

// newDriver configures a driver for machine name against the simulator.
func newDriver(t *testing.T, s *sim, name string, extra map[string]any) *Driver {
	t.Helper()
	d := NewDriver(name, t.TempDir())
	v := flagValues(d, s)
	for k, x := range extra {
		v[k] = x
	}
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))
	return d
}

// createSLB makes a load balancer through the SDK, as a user would before
// pointing machines at it.
func (s *sim) createSLB(region string) string {
	s.t.Helper()
	d := newDriver(s.t, s, "slb-maker", map[string]any{"aliyunecs-region": region})
	a, err := d.api()
	require.NoError(s.t, err)
	req := slb.CreateCreateLoadBalancerRequest()
	req.LoadBalancerName = "test-lb"
	req.AddressType = "internet"
	resp := slb.CreateCreateLoadBalancerResponse()
	require.NoError(s.t, a.call(context.Background(), &a.slb.Client, req, resp))
	require.NotEmpty(s.t, resp.LoadBalancerId)
	return resp.LoadBalancerId
}

// tagsOf lists the simulator's tags of one resource.
func tagsOf(r cloudsim.Resources, id string) map[string]string {
	out := map[string]string{}
	for _, t := range r.Tags {
		if t.ResourceID == id {
			out[t.Key] = t.Value
		}
	}
	return out
}

// actionsOf lists the distinct actions in call order.
func actionsOf(calls []cloudsim.Call) []string {
	var out []string
	for _, c := range calls {
		if !slices.Contains(out, c.Action) {
			out = append(out, c.Action)
		}
	}
	return out
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
