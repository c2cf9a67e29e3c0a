package cloudsim_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// TestIMDSRoleCredentials walks the SDK's default credential chain with
// nothing configured but the metadata endpoint: its instance-role step gets
// temporary credentials from the simulator, which the EC2 endpoint accepts.
func TestIMDSRoleCredentials(t *testing.T) {
	sim := newSim(t)
	ctx := t.Context()
	dir := t.TempDir()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", sim.IMDSEndpoint())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "no-credentials"))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	require.NoError(t, err)
	creds, err := cfg.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, "EC2RoleProvider", creds.Source)
	assert.Regexp(t, `^ASIA`, creds.AccessKeyID)
	assert.NotEmpty(t, creds.SessionToken)
	assert.True(t, creds.CanExpire)
	assert.True(t, creds.Expires.After(time.Now().Add(time.Minute)), "expires %s", creds.Expires)

	c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(sim.EC2Endpoint()) })
	_, err = c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	require.NoError(t, err, "the EC2 endpoint accepts the role credentials")

	// Without their session token the temporary keys are refused.
	signed := func(r *http.Request, body []byte) {
		cloudsim.SignEC2(r, body, creds.AccessKeyID, creds.SecretAccessKey, "", "us-east-1", time.Now())
	}
	requireEC2Error(t, ec2Send(t, sim, url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}}, signed), "AuthFailure", http.StatusUnauthorized)
	withToken := func(r *http.Request, body []byte) {
		cloudsim.SignEC2(r, body, creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken, "us-east-1", time.Now())
	}
	ok := ec2Send(t, sim, url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}}, withToken)
	assert.Equal(t, http.StatusOK, ok.status, ok.body)
}

// TestIMDSv2Protocol checks the token handshake the way IMDSv2 answers it.
func TestIMDSv2Protocol(t *testing.T) {
	sim := newSim(t)
	do := func(method, path string, header map[string]string) *http.Response {
		req, err := http.NewRequest(method, sim.IMDSEndpoint()+path, nil)
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	assert.Equal(t, http.StatusBadRequest, do(http.MethodPut, "/latest/api/token", nil).StatusCode, "the TTL header is required")
	assert.Equal(t, http.StatusBadRequest, do(http.MethodPut, "/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "21601"}).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, do(http.MethodGet, "/latest/meta-data/iam/security-credentials/", nil).StatusCode, "IMDSv2 needs a token")
	assert.Equal(t, http.StatusUnauthorized, do(http.MethodGet, "/latest/meta-data/iam/security-credentials/", map[string]string{"X-aws-ec2-metadata-token": "forged"}).StatusCode)
}
