package cloudsim_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

// ec2ErrorDoc is EC2's error document, as the SDKs parse it.
type ec2ErrorDoc struct {
	XMLName xml.Name `xml:"Response"`
	Errors  []struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Errors>Error"`
	RequestID string `xml:"RequestID"`
}

type ec2Raw struct {
	status int
	body   string
	header http.Header
}

// ec2Send posts a form to the EC2 endpoint, signed by sign (nil: unsigned).
func ec2Send(t *testing.T, sim *cloudsimtest.Sim, form url.Values, sign func(*http.Request, []byte)) ec2Raw {
	t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest(http.MethodPost, sim.EC2Endpoint()+"/", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if sign != nil {
		sign(req, body)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return ec2Raw{status: resp.StatusCode, body: string(raw), header: resp.Header}
}

// requireEC2Error checks EC2's error shape: <Response><Errors><Error> with
// the code, a message and the request ID.
func requireEC2Error(t *testing.T, a ec2Raw, code string, status int) {
	t.Helper()
	require.Equal(t, status, a.status, a.body)
	var doc ec2ErrorDoc
	require.NoError(t, xml.Unmarshal([]byte(a.body), &doc), a.body)
	require.Len(t, doc.Errors, 1, a.body)
	assert.Equal(t, code, doc.Errors[0].Code, a.body)
	assert.NotEmpty(t, doc.Errors[0].Message)
	assert.NotEmpty(t, doc.RequestID)
	assert.Equal(t, doc.RequestID, a.header.Get("X-Amzn-Requestid"))
}

func signer(sim *cloudsimtest.Sim, region string, at time.Time, mutate func(id, secret *string)) func(*http.Request, []byte) {
	id, secret := sim.AWSCredentials()
	if mutate != nil {
		mutate(&id, &secret)
	}
	return func(r *http.Request, body []byte) { cloudsim.SignEC2(r, body, id, secret, "", region, at) }
}

func TestEC2SignatureAndErrorShapes(t *testing.T) {
	sim := newSim(t)
	form := url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}}
	ok := ec2Send(t, sim, form, signer(sim, "us-east-1", time.Now(), nil))
	require.Equal(t, http.StatusOK, ok.status, ok.body)
	assert.True(t, strings.Contains(ok.body, `<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>`), ok.body)
	assert.Contains(t, ok.body, "<regionInfo><item><regionName>us-east-1</regionName>")
	assert.NotEmpty(t, ok.header.Get("X-Amz-Request-Id"))

	requireEC2Error(t, ec2Send(t, sim, form, nil), "MissingAuthenticationToken", http.StatusUnauthorized)
	requireEC2Error(t, ec2Send(t, sim, form, signer(sim, "us-east-1", time.Now(), func(id, _ *string) { *id = "AKIAUNKNOWNKEY000000" })), "AuthFailure", http.StatusUnauthorized)
	requireEC2Error(t, ec2Send(t, sim, form, signer(sim, "us-east-1", time.Now(), func(_, secret *string) { *secret += "x" })), "SignatureDoesNotMatch", http.StatusForbidden)
	requireEC2Error(t, ec2Send(t, sim, form, signer(sim, "us-east-1", time.Now().Add(-20*time.Minute), nil)), "RequestExpired", http.StatusBadRequest)
	requireEC2Error(t, ec2Send(t, sim, form, signer(sim, "mars-north-1", time.Now(), nil)), "AuthFailure", http.StatusUnauthorized)
	requireEC2Error(t, ec2Send(t, sim, form, signer(sim, "", time.Now(), nil)), "AuthFailure", http.StatusUnauthorized)

	// A body changed after signing no longer matches.
	tampered := func(r *http.Request, body []byte) {
		signer(sim, "us-east-1", time.Now(), nil)(r, body)
		changed := strings.Replace(string(body), "DescribeRegions", "DescribeVpcs", 1)
		r.Body = io.NopCloser(strings.NewReader(changed))
		r.ContentLength = int64(len(changed))
	}
	requireEC2Error(t, ec2Send(t, sim, form, tampered), "SignatureDoesNotMatch", http.StatusForbidden)

	signed := signer(sim, "us-east-1", time.Now(), nil)
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"LaunchRockets"}, "Version": {"2016-11-15"}}, signed), "InvalidAction", http.StatusBadRequest)
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"CreateSecurityGroup"}, "Version": {"2016-11-15"}, "GroupName": {"x"}}, signed), "MissingParameter", http.StatusBadRequest)
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}, "ImageId": {"ami-0123456789abcdef0"}, "MinCount": {"1"}, "MaxCount": {"1"}}, signed), "InvalidAMIID.NotFound", http.StatusBadRequest)
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"DescribeInstances"}, "Version": {"2016-11-15"}, "NextToken": {"garbage"}}, signed), "InvalidNextToken", http.StatusBadRequest)
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}, "DryRun": {"true"}}, signed), "DryRunOperation", http.StatusPreconditionFailed)

	// The call log records EC2 calls with their codes.
	log := sim.Calls(0)
	var codes []string
	for _, call := range log.Calls {
		if call.Product == "Ec2" {
			codes = append(codes, call.Code)
		}
	}
	assert.Contains(t, codes, "SignatureDoesNotMatch")
	assert.Contains(t, codes, "InvalidAMIID.NotFound")
}

// TestEC2ActionsAreServed sends every listed action with no parameters:
// each answers (success or a parameter error), none is an unknown action.
func TestEC2ActionsAreServed(t *testing.T) {
	sim := newSim(t)
	actions := cloudsim.EC2Actions()
	require.Contains(t, actions, "RunInstances")
	for _, action := range actions {
		a := ec2Send(t, sim, url.Values{"Action": {action}, "Version": {"2016-11-15"}}, signer(sim, "us-east-1", time.Now(), nil))
		assert.NotContains(t, a.body, "<Code>InvalidAction</Code>", action)
		assert.Less(t, a.status, 500, "%s: %s", action, a.body)
	}
}
