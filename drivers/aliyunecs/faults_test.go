package aliyunecs

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// fullOptions make create call every action it can: SLB, EIP, route entry,
// data disk and an extra port.
func fullOptions(lb string) map[string]any {
	return map[string]any{
		"aliyunecs-slb-id":     lb,
		"aliyunecs-eip":        true,
		"aliyunecs-route-cidr": "172.18.9.0/24",
		"aliyunecs-disk-size":  20,
		"aliyunecs-open-port":  []string{"8080"},
	}
}

type callPoint struct {
	Action string
	Nth    int
}

// TestFaultMatrix records which API calls a create makes, then fails each
// of them in turn. After every failed create the cloud must hold nothing of
// that machine, without any further help; the rm the CLI runs next must
// then succeed and find nothing. The list comes from what create really
// called, so a new call cannot escape the matrix.
func TestFaultMatrix(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	opts := fullOptions(lb)

	calls := s.createCalls(t, opts)

	var points []callPoint
	seen := map[string]int{}
	for _, c := range calls {
		seen[c.Action]++
		points = append(points, callPoint{c.Action, seen[c.Action]})
	}
	actions := actionsOf(calls)
	t.Logf("create made %d calls of %d actions: %v", len(calls), len(actions), actions)
	for _, must := range []string{"DescribeRegions", "DescribeVSwitches", "DescribeImages", "DescribeLoadBalancerAttribute",
		"DescribeKeyPairs", "ImportKeyPair", "DescribeSecurityGroups", "CreateSecurityGroup", "AuthorizeSecurityGroup",
		"RunInstances", "DescribeInstances", "CreateRouteEntry", "AllocateEipAddress", "TagResources", "AssociateEipAddress",
		"AddBackendServers"} {
		require.Contains(t, actions, must, "the probe create should exercise %s", must)
	}

	before := s.snapshot()
	for i, p := range points {
		t.Run(fmt.Sprintf("%s#%d", p.Action, p.Nth), func(t *testing.T) {
			f := *fastFaults()
			f.Failures = []cloudsim.Failure{{Action: p.Action, Nth: p.Nth, Code: "Forbidden.RAM", Status: http.StatusForbidden,
				Message: "User not authorized to operate on the specified resource."}}
			s.setFaults(f)
			seq := s.lastSeq()
			d := newDriver(t, s, fmt.Sprintf("fm-%d", i), opts)
			err := d.PreCreateCheck()
			if err == nil {
				err = d.Create()
			}
			injected := false
			for _, c := range s.callsSince(seq) {
				injected = injected || c.Injected
			}
			s.setFaults(*fastFaults())
			if !injected {
				// Polls vary in number; this one was not reached.
				require.NoError(t, err)
				require.NoError(t, d.Remove())
				s.requireSameAs(before, "after rm")
				return
			}
			require.Error(t, err, "create must fail when %s fails", p.Action)
			assert.Contains(t, err.Error(), p.Action, "the error names the failed call")
			assert.Contains(t, err.Error(), "Forbidden.RAM")
			s.requireSameAs(before, "after the failed create itself")
			require.NoError(t, d.Remove(), "the CLI's rm after a failed create")
			s.requireSameAs(before, "after rm")
		})
	}
}

// When cleanup fails too, the error lists what is left and says how to
// finish; the IDs stay stored, and rm then removes everything.
func TestFailedCleanupIsFinishedByRemove(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	before := s.snapshot()

	f := *fastFaults()
	f.Failures = []cloudsim.Failure{
		{Action: "AddBackendServers", Code: "Forbidden.RAM", Status: http.StatusForbidden},
		{Action: "DeleteInstance", Code: "Forbidden.RAM", Status: http.StatusForbidden},
	}
	s.setFaults(f)
	d := newDriver(t, s, "stuck", fullOptions(lb))
	require.NoError(t, d.PreCreateCheck())
	err := d.Create()
	require.Error(t, err)
	msg := err.Error()
	assert.True(t, containsAll(msg, "AddBackendServers", "instance "+d.InstanceId, "docker-machine rm stuck"), msg)
	assert.True(t, containsAll(msg, "key pair stuck", "security group "+d.SecurityGroupId), "what could not go yet is listed: %s", msg)
	assert.NotEmpty(t, d.InstanceId, "the ID stays stored for rm")
	assert.Len(t, s.resources().Instances, 1)
	assert.Empty(t, s.resources().EIPs, "what could be removed was removed")

	// The store keeps the driver JSON; rm loads it in a fresh process.
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	s.setFaults(*fastFaults())
	loaded := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, loaded))
	require.NoError(t, loaded.Remove())
	s.requireSameAs(before, "after rm")
}

// A create interrupted after making its resources but before the CLI
// stored their IDs: rm works from the config saved before Create and finds
// everything by the machine's tag.
func TestRemoveFindsResourcesByTag(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	before := s.snapshot()

	d := newDriver(t, s, "interrupted", fullOptions(lb))
	require.NoError(t, d.PreCreateCheck())
	savedBeforeCreate, err := json.Marshal(d)
	require.NoError(t, err)
	require.NoError(t, d.Create())
	r := s.resources()
	require.Len(t, r.Instances, 1)
	require.Len(t, r.EIPs, 1)

	loaded := NewDriver("", "")
	require.NoError(t, json.Unmarshal(savedBeforeCreate, loaded))
	require.Empty(t, loaded.InstanceId)
	require.Empty(t, loaded.SecurityGroupId)
	require.Empty(t, loaded.EIPAllocationId)
	require.NoError(t, loaded.Remove())
	s.requireSameAs(before, "after rm from the pre-create config")
}

// Remove of an instance still Pending: the delete waits until ECS accepts
// it instead of failing.
func TestRemoveWhileInstanceIsPending(t *testing.T) {
	f := fastFaults()
	f.CreateTime = cloudsim.Duration(700 * time.Millisecond)
	s := startSim(t, f)
	before := s.snapshot()
	d := newDriver(t, s, "pending", nil)
	require.NoError(t, d.PreCreateCheck())
	a, err := d.api()
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, d.setupKey(ctx, a))
	require.NoError(t, d.setupSecurityGroup(ctx, a))
	require.NoError(t, d.runInstance(ctx, a))
	require.Equal(t, "Pending", s.resources().Instances[0].Status)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// With 30% of all calls throttled, create and rm still succeed.
func TestCreateSurvivesThrottling(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	before := s.snapshot()
	f := *fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "*", Probability: 0.3, Code: "Throttling.User"}}
	s.setFaults(f)
	seq := s.lastSeq()

	d := newDriver(t, s, "throttled", fullOptions(lb))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.NoError(t, d.Remove())
	calls := s.callsSince(seq)
	throttled := 0
	for _, c := range calls {
		if c.Code == "Throttling.User" {
			throttled++
		}
	}
	t.Logf("%d of %d calls were throttled", throttled, len(calls))
	assert.Greater(t, throttled, 0, "the fault must have bitten")
	s.setFaults(*fastFaults())
	s.requireSameAs(before, "after rm")

	// The rate limit of the simulated gateway, too.
	f = *fastFaults()
	f.ThrottleRate, f.ThrottleBurst = 15, 3
	s.setFaults(f)
	d = newDriver(t, s, "rate-limited", fullOptions(lb))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.NoError(t, d.Remove())
	s.setFaults(*fastFaults())
	s.requireSameAs(before, "after rm")
}

// lossyTransport delivers the first request of an action to the server but
// loses the answer, as a dropped connection would.
type lossyTransport struct {
	base   http.RoundTripper
	action string
	mu     sync.Mutex
	tokens []string
	lost   bool
}

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if r.URL.Query().Get("Action") != l.action {
		return resp, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = append(l.tokens, r.URL.Query().Get("ClientToken"))
	if err == nil && !l.lost {
		l.lost = true
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, io.ErrUnexpectedEOF
	}
	return resp, err
}

// The answer to RunInstances is lost after the instance was made: the retry
// carries the same ClientToken and gets the same instance, not a second one.
func TestRetriedRunInstancesMakesOneInstance(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	d := newDriver(t, s, "lossy", nil)
	a, err := d.api()
	require.NoError(t, err)
	lossy := &lossyTransport{base: a.binder.base, action: "RunInstances"}
	a.binder.base = lossy

	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.Len(t, lossy.tokens, 2, "one lost answer, one retry")
	assert.Equal(t, lossy.tokens[0], lossy.tokens[1], "the retry reuses the ClientToken")
	assert.Len(t, s.resources().Instances, 1)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// Errors from the network never carry the request URL, which holds the
// password and signature; non-retryable errors are not retried.
func TestErrorsKeepSecretsOut(t *testing.T) {
	s := startSim(t, fastFaults())
	const password = "Zz9!secretpw"
	d := newDriver(t, s, "secrets", map[string]any{"aliyunecs-ssh-password": password})
	require.NoError(t, d.PreCreateCheck())
	a, err := d.api()
	require.NoError(t, err)
	a.binder.base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.Contains(r.URL.RawQuery, "Password=") {
			return nil, &url.Error{Op: "Post", URL: r.URL.String(), Err: fmt.Errorf("connection reset by peer")}
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	_, secret := s.Credentials()
	err = d.Create()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), "Signature=")
	assert.Contains(t, err.Error(), "RunInstances")
	assert.Contains(t, err.Error(), "after 10 attempts", "a reset connection is retried, bounded")
	assert.Empty(t, s.snapshot().Instances)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createCalls are the API calls a clean create with opts makes, in order;
// the probe machine is removed again.
func (s *sim) createCalls(t *testing.T, opts map[string]any) []cloudsim.Call {
	t.Helper()
	seq := s.lastSeq()
	probe := newDriver(t, s, "probe", opts)
	require.NoError(t, probe.PreCreateCheck())
	require.NoError(t, probe.Create())
	calls := s.callsSince(seq)
	require.NoError(t, probe.Remove())
	return calls
}
