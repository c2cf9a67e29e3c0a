package aliyunecs

import (
	"context"
	"testing"

	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A wrong secret is named as such, without the string-to-sign the service
// quotes, and the secret itself never appears.
func TestWrongSecretSaysWhatToCheck(t *testing.T) {
	s := startSim(t, fastFaults())
	const wrong = "not-the-secret-at-all"
	d := newDriver(t, s, "m1", map[string]any{"aliyunecs-access-key-secret": wrong})
	err := d.PreCreateCheckContext(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SignatureDoesNotMatch: the access key secret does not belong to the access key ID; check the secret given with --aliyunecs-access-key-secret")
	assert.NotContains(t, err.Error(), "StringToSign")
	assert.NotContains(t, err.Error(), "string to sign")
	assert.NotContains(t, err.Error(), wrong)
}

func TestPasswordRule(t *testing.T) {
	for _, tc := range []struct {
		password string
		wantErr  string
	}{
		{"Good:pass1", ""},
		{"Sp ace!Pass1", "has a character ECS does not accept (spaces included)"},
		{"Ünicode!Pass1", "has a character ECS does not accept"},
		{"short1A", "8 to 30 characters"},
		{"alllowercaseletters", "at least three of"},
	} {
		d := NewDriver("m1", "")
		v := flagValues(d, nil)
		v["aliyunecs-ssh-password"] = tc.password
		err := d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v})
		if tc.wantErr == "" {
			assert.NoError(t, err, tc.password)
			continue
		}
		require.Error(t, err, tc.password)
		assert.Contains(t, err.Error(), tc.wantErr, tc.password)
		assert.NotContains(t, err.Error(), tc.password, "the password never appears in the error")
	}
}
