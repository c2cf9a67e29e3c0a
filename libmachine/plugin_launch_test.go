package libmachine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/testbin"
	"github.com/fleetdock/machine/libmachine/capability"
)

// A create through a plugin driver launches the plugin once: the driver
// that answers the flag lookup serves the create, and its capability
// service answers over the same connection.
// aliyunecsPluginOnPath builds the aliyunecs plugin binary and makes it the
// only thing on PATH, with no Alibaba credentials anywhere and the metadata
// service off.
func aliyunecsPluginOnPath(t *testing.T) {
	t.Helper()
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	for _, k := range []string{"ECS_ACCESS_KEY_ID", "ECS_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_PROFILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", testbin.Build(t, "./cmd/docker-machine-driver-aliyunecs"))
}

func TestCreateLaunchesThePluginOnce(t *testing.T) {
	aliyunecsPluginOnPath(t)

	var log bytes.Buffer
	c := New(t.TempDir(), nil, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer c.Close()
	d, err := c.OpenDriver(t.Context(), "aliyunecs")
	require.NoError(t, err)
	flags := d.GetCreateFlags()
	require.NotEmpty(t, flags, "the plugin answers the flag lookup")

	lb, ok := capability.Get[capability.LoadBalancing](d)
	require.True(t, ok, "the plugin's capability service offers load balancing")
	opts, err := lb.BackendOptions("lb-123", 0)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"aliyunecs-slb-id": "lb-123"}, opts, "answered by the driver in the plugin process")
	assert.True(t, capability.Has[capability.AddressReporter](d))
	assert.False(t, capability.Has[capability.SSHLess](d))

	req := NewCreateRequest("once", "aliyunecs")
	req.DriverOptions, err = DriverOptionsFrom(flags, nil)
	require.NoError(t, err)
	err = c.CreateMachine(t.Context(), d, req)
	var pre *PreCreateError
	require.ErrorAs(t, err, &pre, "without credentials the pre-create check fails")
	assert.Contains(t, err.Error(), "credentials")
	assert.Equal(t, 1, strings.Count(log.String(), "Launched driver plugin"), "one plugin process per create:\n%s", log.String())
	exists, err := c.Store.Exists("once")
	require.NoError(t, err)
	assert.False(t, exists, "a failed pre-create check leaves no store entry")
}
