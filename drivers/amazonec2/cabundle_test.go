package amazonec2

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A custom CA bundle (AWS_CA_BUNDLE, as corporate proxies need) is trusted
// by the driver's calls; without it the same endpoint fails verification.
func TestCustomCABundleIsTrusted(t *testing.T) {
	var reached atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<DescribeAccountAttributesResponse><requestId>r-1</requestId><accountAttributeSet/></DescribeAccountAttributesResponse>`))
	}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	call := func() error {
		d, err := configured(t, map[string]any{
			"amazonec2-endpoint":   srv.URL,
			"amazonec2-access-key": "AKIABUNDLE",
			"amazonec2-secret-key": "bundle-secret-0",
			"amazonec2-retries":    0,
		})
		require.NoError(t, err)
		a, err := d.api(t.Context())
		if err != nil {
			return err
		}
		_, err = a.ec2.DescribeAccountAttributes(t.Context(), &ec2.DescribeAccountAttributesInput{})
		return err
	}

	t.Setenv("AWS_CA_BUNDLE", bundle)
	require.NoError(t, call(), "the bundle's CA is trusted")
	assert.Equal(t, int32(1), reached.Load())

	t.Setenv("AWS_CA_BUNDLE", "")
	err := call()
	require.Error(t, err, "without the bundle the test server's certificate is unknown")
	assert.Contains(t, err.Error(), "certificate")
	assert.Equal(t, int32(1), reached.Load())
}
