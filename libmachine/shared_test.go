package libmachine

import (
	"context"
	"errors"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// sharingDriver makes a security group named by its flag, shared by every
// machine created with that flag.
type sharingDriver struct {
	*fakeDriver
	group string
	fail  error
}

func (*sharingDriver) DriverName() string { return "sharing" }

func (*sharingDriver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{mcnflag.StringFlag{Name: "sharing-group", Value: "docker-machine"}}
}

func (d *sharingDriver) SetConfigFromFlags(o drivers.DriverOptions) error {
	d.group = o.String("sharing-group")
	return nil
}

func (d *sharingDriver) PrepareShared(context.Context) ([]capability.Resource, error) {
	d.record("PrepareShared " + d.group)
	if d.fail != nil {
		return nil, d.fail
	}
	return []capability.Resource{{Kind: "security group", ID: "sg-" + d.group, Region: "r-1"}}, nil
}

func TestPrepareSharedAsksADriverConfiguredFromTheOptions(t *testing.T) {
	w := newWorld(t, nil)
	d := &sharingDriver{fakeDriver: w.d}
	plugin.RegisterBuiltin("sharing", func() drivers.Driver { return d })

	res, err := w.c.PrepareShared(t.Context(), "sharing", map[string][]string{"sharing-group": {"web"}})
	require.NoError(t, err)
	assert.Equal(t, []capability.Resource{{Kind: "security group", ID: "sg-web", Region: "r-1"}}, res)
	assert.True(t, w.d.called("PrepareShared web"), "the driver sees the group's options")

	_, err = w.c.PrepareShared(t.Context(), "sharing", map[string][]string{"sharing-gruop": {"web"}})
	assert.ErrorContains(t, err, "sharing-gruop", "an unknown option is named")

	d.fail = errors.New("Forbidden.RAM: the key may not create security groups")
	_, err = w.c.PrepareShared(t.Context(), "sharing", nil)
	assert.EqualError(t, err, "preparing what sharing machines with these options share: Forbidden.RAM: the key may not create security groups")
}

func TestPrepareSharedOfADriverThatSharesNothing(t *testing.T) {
	w := newWorld(t, nil)
	res, err := w.c.PrepareShared(t.Context(), "fake", nil)
	require.NoError(t, err)
	assert.Empty(t, res)
	assert.Empty(t, w.d.calls, "nothing is asked of the driver")
}
