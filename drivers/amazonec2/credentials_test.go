package amazonec2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// A named profile of the shared credentials file is used, and its secret
// is known to the scrubber from then on.
func TestProfileFromSharedCredentialsFile(t *testing.T) {
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeFile(t, "credentials",
		"[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret-0\n\n"+
			"[team]\naws_access_key_id = AKIATEAM\naws_secret_access_key = team-secret-1\n"))
	d, err := configured(t, map[string]any{"amazonec2-profile": "team"})
	require.NoError(t, err)
	a, err := d.api(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "shared credentials file", a.source)
	c, err := a.ec2.Options().Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "AKIATEAM", c.AccessKeyID)
	assert.Equal(t, "a **** b", a.secrets.scrub("a team-secret-1 b"))

	d, err = configured(t, map[string]any{"amazonec2-profile": "missing"})
	require.NoError(t, err)
	_, err = d.api(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"missing"`)
}

// Environment keys are used through the SDK's chain (and not stored);
// flag keys win over them.
func TestCredentialOrder(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret-2")
	d, err := configured(t, map[string]any{"amazonec2-access-key": "AKIAENV", "amazonec2-secret-key": "env-secret-2"})
	require.NoError(t, err)
	a, err := d.api(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "environment", a.source)

	d, err = configured(t, map[string]any{"amazonec2-access-key": "AKIAFLAG", "amazonec2-secret-key": "flag-secret-3"})
	require.NoError(t, err)
	a, err = d.api(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "flags", a.source)
	c, err := a.ec2.Options().Credentials.Retrieve(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "AKIAFLAG", c.AccessKeyID)
}

// With no source at all the error says where credentials can come from.
func TestNoCredentials(t *testing.T) {
	d, err := configured(t, nil)
	require.NoError(t, err)
	err = d.PreCreateCheck()
	require.Error(t, err)
	for _, want := range []string{"no AWS credentials found", "--amazonec2-access-key", "--amazonec2-profile", "AWS_WEB_IDENTITY_TOKEN_FILE", "instance role"} {
		assert.Contains(t, err.Error(), want)
	}
}

// No secret reaches an error text, fmt's verbs or a structured log.
func TestSecretsStayOut(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	const token = "session-token-value-xyz"
	d, err := configured(t, map[string]any{"amazonec2-access-key": "AKIAFLAG", "amazonec2-secret-key": secret, "amazonec2-session-token": token})
	require.NoError(t, err)
	for _, s := range []string{fmt.Sprintf("%v", d), fmt.Sprintf("%+v", d), fmt.Sprintf("%#v", d), fmt.Sprint(d)} {
		assert.NotContains(t, s, secret)
		assert.NotContains(t, s, token)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("driver", "d", d)
	assert.NotContains(t, buf.String(), secret)
	assert.Contains(t, buf.String(), `"accessKeyStored":true`)

	a, err := d.api(context.Background())
	require.NoError(t, err)
	e := &cleanError{err: errors.New("server said: " + secret + " and " + token), secrets: a.secrets}
	assert.Equal(t, "server said: **** and ****", e.Error())
}
