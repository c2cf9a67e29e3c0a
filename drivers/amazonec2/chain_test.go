package amazonec2

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noFlagKeys are the simulator's flag values without access keys, so the
// SDK's chain must find credentials.
func noFlagKeys(d *Driver, s *sim) map[string]any {
	v := flagValues(d, s)
	v["amazonec2-access-key"], v["amazonec2-secret-key"] = "", ""
	return v
}

// A profile of a shared credentials file creates and removes a host; its
// secret is not in the stored driver config.
func TestCreateWithSharedCredentialsProfile(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	id, secret := s.AWSCredentials()
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, "credentials",
		fmt.Sprintf("[default]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = wrong-secret\n\n[sim]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, secret)))
	d := NewDriver("profiled", t.TempDir())
	v := noFlagKeys(d, s)
	v["amazonec2-profile"] = "sim"
	require.NoError(t, d.SetConfigFromFlags(rpcFlags(v)))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, "shared credentials file", d.client.source)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
	assert.NotContains(t, string(raw), id)
	loaded := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, loaded))
	require.NoError(t, loaded.Remove(), "rm in a later process finds the profile again")
	s.requireSameAs(before, "after rm")
}

// The instance role served by the simulated metadata service (IMDSv2)
// creates and removes a host; its temporary secret and token are stored
// nowhere.
func TestCreateWithInstanceRole(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", s.IMDSEndpoint())
	d := NewDriver("role", t.TempDir())
	require.NoError(t, d.SetConfigFromFlags(rpcFlags(noFlagKeys(d, s))))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, "EC2RoleProvider", d.client.source)
	c, err := d.client.ec2.Options().Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, c.SessionToken, "role credentials are temporary")

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), c.SecretAccessKey)
	assert.NotContains(t, string(raw), c.SessionToken)
	assert.NotContains(t, string(raw), c.AccessKeyID)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// A profile of the shared config file whose credentials come from a
// credential_process, and the container credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI, on loopback as the SDK requires
// for http), each create and remove a host with nothing of theirs stored.
func TestCreateWithCredentialProcessAndContainerRole(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	id, secret := s.AWSCredentials()
	check := func(t *testing.T, d *Driver, source string) {
		t.Helper()
		require.NoError(t, d.PreCreateCheck())
		require.NoError(t, d.Create())
		assert.Contains(t, d.client.source, source)
		raw, err := json.Marshal(d)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), secret)
		assert.NotContains(t, string(raw), id)
		require.NoError(t, d.Remove())
		s.requireSameAs(before, "after rm")
	}

	t.Run("credential_process", func(t *testing.T) {
		script := writeFile(t, "creds.sh", fmt.Sprintf("#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}'\n", id, secret))
		require.NoError(t, os.Chmod(script, 0o700))
		t.Setenv("AWS_CONFIG_FILE", writeFile(t, "config", "[profile ops]\ncredential_process = "+script+"\n"))
		d := NewDriver("process", t.TempDir())
		v := noFlagKeys(d, s)
		v["amazonec2-profile"] = "ops"
		require.NoError(t, d.SetConfigFromFlags(rpcFlags(v)))
		check(t, d, "ProcessProvider")
	})

	t.Run("container", func(t *testing.T) {
		token := "container-auth-token-1"
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != token {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": id, "SecretAccessKey": secret,
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		}))
		defer srv.Close()
		t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/role")
		t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
		d := NewDriver("container", t.TempDir())
		require.NoError(t, d.SetConfigFromFlags(rpcFlags(noFlagKeys(d, s))))
		check(t, d, "CredentialsEndpoint")
	})
}
