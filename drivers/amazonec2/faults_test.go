package amazonec2

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// fullOptions make create call every action it can: an extra port, a
// swarm master's port, a user data file, encryption from the account's
// default and the default AMI lookup.
func fullOptions(t *testing.T) map[string]any {
	return map[string]any{
		"amazonec2-open-port": []string{"8080"},
		"amazonec2-userdata":  writeFile(t, "user-data", "#cloud-config\n"),
		"swarm-master":        true,
	}
}

type callPoint struct {
	Action string
	Nth    int
}

// tolerated are calls whose refusal create works around on purpose.
var tolerated = map[string]bool{
	// Without the right to read the account's default, AWS still applies it.
	"GetEbsEncryptionByDefault": true,
}

// TestFaultMatrix records which API calls a create makes, then fails each
// of them in turn. After every failed create the cloud must hold nothing of
// that machine, without any further help; the rm the CLI runs next must
// then succeed and find nothing. The list comes from what create really
// called, so a new call cannot escape the matrix.
func TestFaultMatrix(t *testing.T) {
	s := startSim(t, fastFaults())
	opts := fullOptions(t)

	seq := s.lastSeq()
	probe := newDriver(t, s, "probe", opts)
	require.NoError(t, probe.PreCreateCheck())
	require.NoError(t, probe.Create())
	calls := s.callsSince(seq)
	require.NoError(t, probe.Remove())

	var points []callPoint
	seen := map[string]int{}
	for _, c := range calls {
		seen[c.Action]++
		points = append(points, callPoint{c.Action, seen[c.Action]})
	}
	actions := actionsOf(calls)
	t.Logf("create made %d calls of %d actions: %v", len(calls), len(actions), actions)
	for _, must := range []string{"DescribeAccountAttributes", "DescribeSubnets", "DescribeImages", "GetEbsEncryptionByDefault",
		"ImportKeyPair", "DescribeSecurityGroups", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RunInstances", "DescribeInstances"} {
		require.Contains(t, actions, must, "the probe create should exercise %s", must)
	}

	before := s.snapshot()
	for i, p := range points {
		t.Run(fmt.Sprintf("%s#%d", p.Action, p.Nth), func(t *testing.T) {
			f := *fastFaults()
			f.Failures = []cloudsim.Failure{{Action: p.Action, Nth: p.Nth, Code: "UnauthorizedOperation", Status: http.StatusForbidden,
				Message: "You are not authorized to perform this operation."}}
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
			if !injected || tolerated[p.Action] {
				// Polls vary in number; this one was not reached.
				require.NoError(t, err)
				require.NoError(t, d.Remove())
				s.requireSameAs(before, "after rm")
				return
			}
			require.Error(t, err, "create must fail when %s fails", p.Action)
			assert.Contains(t, err.Error(), p.Action, "the error names the failed call")
			assert.Contains(t, err.Error(), "UnauthorizedOperation")
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
	before := s.snapshot()

	f := *fastFaults()
	f.Failures = []cloudsim.Failure{
		{Action: "DescribeInstances", Code: "UnauthorizedOperation", Status: http.StatusForbidden},
		{Action: "TerminateInstances", Code: "UnauthorizedOperation", Status: http.StatusForbidden},
	}
	s.setFaults(f)
	d := newDriver(t, s, "stuck", nil)
	require.NoError(t, d.PreCreateCheck())
	err := d.Create()
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{"DescribeInstances", "instance " + d.InstanceId, "security group " + d.SecurityGroupIds[0], "docker-machine rm -f stuck"} {
		assert.Contains(t, msg, want)
	}
	assert.NotEmpty(t, d.InstanceId, "the ID stays stored for rm")
	assert.Empty(t, d.KeyName, "what could be removed was removed")

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
	for _, spot := range []bool{false, true} {
		t.Run(fmt.Sprintf("spot=%v", spot), func(t *testing.T) {
			s := startSim(t, fastFaults())
			before := s.snapshot()
			d := newDriver(t, s, "interrupted", map[string]any{"amazonec2-request-spot-instance": spot})
			require.NoError(t, d.PreCreateCheck())
			savedBeforeCreate, err := json.Marshal(d)
			require.NoError(t, err)
			require.NoError(t, d.Create())
			if spot {
				require.NotEmpty(t, d.SpotInstanceRequestId)
			}

			loaded := NewDriver("", "")
			require.NoError(t, json.Unmarshal(savedBeforeCreate, loaded))
			require.Empty(t, loaded.InstanceId)
			require.Empty(t, loaded.KeyName)
			require.Empty(t, loaded.SecurityGroupIds)
			require.NoError(t, loaded.Remove())
			s.requireSameAs(before, "after rm from the pre-create config")
		})
	}
}

// The spot path: a one-time spot instance through RunInstances' market
// options, tagged with its request, removed with it.
func TestSpotInstance(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	seq := s.lastSeq()
	d := newDriver(t, s, "spot", map[string]any{"amazonec2-request-spot-instance": true, "amazonec2-spot-price": "0.04"})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.NotEmpty(t, d.SpotInstanceRequestId)
	a, err := d.api(t.Context())
	require.NoError(t, err)
	inst, err := a.instance(t.Context(), d.InstanceId)
	require.NoError(t, err)
	assert.EqualValues(t, "spot", inst.InstanceLifecycle)
	assert.Equal(t, d.SpotInstanceRequestId, deref(inst.SpotInstanceRequestId))
	require.NoError(t, d.Remove())
	assert.Contains(t, actionsOf(s.callsSince(seq)), "CancelSpotInstanceRequests")
	s.requireSameAs(before, "after rm")
}

// With 30% of all calls throttled, create and rm still succeed.
func TestCreateSurvivesThrottling(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	f := *fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "*", Probability: 0.3, Code: "RequestLimitExceeded"}}
	s.setFaults(f)
	seq := s.lastSeq()

	// Ten retries make a call fail for good once in 6 million: the test
	// checks the driver, not luck.
	d := newDriver(t, s, "throttled", map[string]any{"amazonec2-retries": 10, "amazonec2-open-port": []string{"8080"}})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.NoError(t, d.Remove())
	calls := s.callsSince(seq)
	throttled := 0
	for _, c := range calls {
		if c.Code == "RequestLimitExceeded" {
			throttled++
		}
	}
	t.Logf("%d of %d calls were throttled", throttled, len(calls))
	assert.Greater(t, throttled, 0, "the fault must have bitten")
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
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	form, _ := url.ParseQuery(string(body))
	resp, err := l.base.RoundTrip(r)
	if form.Get("Action") != l.action {
		return resp, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = append(l.tokens, form.Get("ClientToken"))
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
	a, err := d.api(t.Context())
	require.NoError(t, err)
	lossy := &lossyTransport{base: a.transport.base, action: "RunInstances"}
	a.transport.set(lossy)

	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.Len(t, lossy.tokens, 2, "one lost answer, one retry")
	assert.Equal(t, lossy.tokens[0], lossy.tokens[1], "the retry reuses the ClientToken")
	assert.Equal(t, d.token("run"), lossy.tokens[0])
	list, err := a.instances(t.Context(), filter("tag:"+tagMachineID, d.Id))
	require.NoError(t, err)
	assert.Len(t, list, 1, "one instance")
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// Each create call whose answer is lost is repeated without harm: the key
// pair and group found by their tag, the duplicate rule skipped.
func TestLostAnswersOfCreateCalls(t *testing.T) {
	for _, action := range []string{"ImportKeyPair", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "TerminateInstances", "DeleteSecurityGroup"} {
		t.Run(action, func(t *testing.T) {
			s := startSim(t, fastFaults())
			before := s.snapshot()
			d := newDriver(t, s, "lost-"+strings.ToLower(action), nil)
			a, err := d.api(t.Context())
			require.NoError(t, err)
			lossy := &lossyTransport{base: a.transport.base, action: action}
			a.transport.set(lossy)
			require.NoError(t, d.PreCreateCheck())
			require.NoError(t, d.Create())
			require.NoError(t, d.Remove())
			assert.True(t, lossy.lost, "the answer was lost once")
			s.requireSameAs(before, "after rm")
		})
	}
}
