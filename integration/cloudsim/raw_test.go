package cloudsim_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// signed builds the parameters of a signed ECS call.
func signed(sim *cloudsimtest.Sim, method, action string, extra map[string]string) url.Values {
	id, secret := sim.Credentials()
	v := url.Values{"Action": {action}, "Version": {"2014-05-26"}, "Format": {"JSON"}}
	for k, val := range extra {
		v.Set(k, val)
	}
	cloudsim.SignValues(method, v, id, secret, nonce(), time.Now())
	return v
}

type rawAnswer struct {
	status int
	body   map[string]any
	text   string
}

func send(t *testing.T, sim *cloudsimtest.Sim, method string, v url.Values, inBody bool) rawAnswer {
	t.Helper()
	var req *http.Request
	var err error
	switch {
	case method == http.MethodPost && inBody:
		req, err = http.NewRequest(method, sim.Endpoint()+"/", strings.NewReader(v.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		req, err = http.NewRequest(method, sim.Endpoint()+"/?"+v.Encode(), nil)
		require.NoError(t, err)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := rawAnswer{status: resp.StatusCode, text: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// requireErrorShape checks the services' error document.
func requireErrorShape(t *testing.T, a rawAnswer, code string, status int) {
	t.Helper()
	require.Equal(t, status, a.status, a.text)
	require.Equal(t, code, a.body["Code"], a.text)
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		v, ok := a.body[k].(string)
		assert.True(t, ok && v != "", "error field %s missing in %s", k, a.text)
	}
	assert.Len(t, a.body, 5, "exactly the five error fields")
}

func TestRawRequestForms(t *testing.T) {
	sim := newSim(t)
	for _, tc := range []struct {
		name   string
		method string
		inBody bool
	}{{"GET", http.MethodGet, false}, {"POST query", http.MethodPost, false}, {"POST form body", http.MethodPost, true}} {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, sim, tc.method, signed(sim, tc.method, "DescribeRegions", nil), tc.inBody)
			require.Equal(t, 200, a.status, a.text)
			assert.NotEmpty(t, a.body["RequestId"])
			assert.Contains(t, a.text, `"RegionId":"cn-hangzhou"`)
		})
	}

	t.Run("XML", func(t *testing.T) {
		v := url.Values{"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}, "Format": {"XML"}}
		id, secret := sim.Credentials()
		cloudsim.SignValues(http.MethodGet, v, id, secret, nonce(), time.Now())
		a := send(t, sim, http.MethodGet, v, false)
		require.Equal(t, 200, a.status, a.text)
		var doc struct {
			XMLName   xml.Name `xml:"DescribeRegionsResponse"`
			RequestID string   `xml:"RequestId"`
			Regions   []struct {
				RegionID string `xml:"RegionId"`
			} `xml:"Regions>Region"`
		}
		require.NoError(t, xml.Unmarshal([]byte(a.text), &doc), a.text)
		assert.NotEmpty(t, doc.RequestID)
		assert.GreaterOrEqual(t, len(doc.Regions), 3)
	})
}

func TestRawAuthenticationFailures(t *testing.T) {
	sim := newSim(t)

	t.Run("tampered parameter", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeInstances", map[string]string{"RegionId": region})
		v.Set("RegionId", "cn-beijing")
		a := send(t, sim, http.MethodGet, v, false)
		requireErrorShape(t, a, "SignatureDoesNotMatch", 400)
		assert.Contains(t, a.body["Message"], "server string to sign is:GET&%2F&")
	})
	t.Run("signed for another method", func(t *testing.T) {
		v := signed(sim, http.MethodPost, "DescribeRegions", nil)
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "SignatureDoesNotMatch", 400)
	})
	t.Run("unknown access key", func(t *testing.T) {
		v := url.Values{"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}}
		cloudsim.SignValues(http.MethodGet, v, "LTAInobody", "secret", nonce(), time.Now())
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "InvalidAccessKeyId.NotFound", 404)
	})
	t.Run("expired timestamp", func(t *testing.T) {
		id, secret := sim.Credentials()
		v := url.Values{"Action": {"DescribeRegions"}, "Version": {"2014-05-26"}}
		cloudsim.SignValues(http.MethodGet, v, id, secret, nonce(), time.Now().Add(-20*time.Minute))
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "InvalidTimeStamp.Expired", 400)
	})
	t.Run("replayed nonce", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeRegions", nil)
		require.Equal(t, 200, send(t, sim, http.MethodGet, v, false).status)
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "SignatureNonceUsed", 400)
	})
	t.Run("missing signature", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeRegions", nil)
		v.Del("Signature")
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "MissingParameter", 400)
	})
	t.Run("unsupported signature method", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeRegions", nil)
		v.Set("SignatureMethod", "HMAC-SHA256")
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "IncompleteSignature", 400)
	})
	t.Run("unknown action", func(t *testing.T) {
		requireErrorShape(t, send(t, sim, http.MethodGet, signed(sim, http.MethodGet, "LaunchRocket", nil), false), "InvalidAction.NotFound", 404)
	})
	t.Run("unknown version", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeRegions", map[string]string{"Version": "2099-01-01"})
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "InvalidVersion", 400)
	})
	t.Run("SLB action on the ECS version", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "CreateLoadBalancer", map[string]string{"RegionId": region})
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "InvalidAction.NotFound", 404)
	})
	t.Run("missing required parameter", func(t *testing.T) {
		a := send(t, sim, http.MethodGet, signed(sim, http.MethodGet, "DescribeInstances", nil), false)
		requireErrorShape(t, a, "MissingParameter", 400)
		assert.Contains(t, a.body["Message"], `"RegionId"`)
	})
	t.Run("invalid parameter", func(t *testing.T) {
		v := signed(sim, http.MethodGet, "DescribeInstances", map[string]string{"RegionId": region, "PageSize": "many"})
		requireErrorShape(t, send(t, sim, http.MethodGet, v, false), "InvalidParameter", 400)
	})

	log := sim.Calls(0)
	for _, c := range log.Calls {
		assert.NotEqual(t, 0, c.Status)
	}
}

func TestWrongSecretThroughTheSDK(t *testing.T) {
	sim := newSim(t)
	id, _ := sim.Credentials()
	client, err := cloudsimtest.NewECSClient(sim.Domain(), region, id, "not-the-secret")
	require.NoError(t, err)
	_, err = client.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	var se *sdkerrors.ServerError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, "SignatureDoesNotMatch", se.ErrorCode())
	assert.Equal(t, 400, se.HttpStatus())
	// The SDK compares the server's string to sign with its own: equal
	// strings mean the secret is wrong, which is what happened.
	assert.Contains(t, se.Recommend(), "InvalidAccessKeySecret")
}
