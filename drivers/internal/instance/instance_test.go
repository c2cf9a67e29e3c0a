package instance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vm is a cloud's answer about an instance.
type vm struct{ status, ip string }

func fake(stored *string, answer vm, asked *int) Instance[vm] {
	return Instance[vm]{Machine: "m1", ID: "i-1", Kind: "public", Stored: func() string { return *stored }, Keep: func(ip string) { *stored = ip },
		Describe: func(ctx context.Context) (*vm, error) {
			*asked++
			if _, has := ctx.Deadline(); !has {
				return nil, errors.New("the look-up has no deadline")
			}
			return &answer, nil
		},
		Record: func(v *vm) { *stored = v.ip },
		State: func(v *vm) (state.State, string) {
			if v.status == "Running" {
				return state.Running, "status " + v.status
			}
			return state.Starting, "status " + v.status
		},
	}
}

func TestIPAsksTheCloudOnlyWhenNoAddressIsStored(t *testing.T) {
	stored, asked := "", 0
	_, err := fake(&stored, vm{status: "Starting"}, &asked).IP(time.Minute)
	assert.EqualError(t, err, `instance i-1 of machine "m1" has no public IP address yet (status Starting)`)
	assert.Equal(t, 1, asked)

	i := fake(&stored, vm{status: "Running", ip: "203.0.113.5"}, &asked)
	for range 2 {
		ip, err := i.IP(time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "203.0.113.5", ip)
	}
	assert.Equal(t, 2, asked, "a stored address needs no call")

	i.ID, stored = "", ""
	_, err = i.IP(time.Minute)
	assert.EqualError(t, err, `machine "m1" has no instance yet, so no IP address`)
}

func TestFoundWordsFailedAndEmptyLookUps(t *testing.T) {
	n := 7
	got, err := Found("m1", "i-1", &n, nil, false)
	require.NoError(t, err)
	assert.Equal(t, &n, got)
	_, err = Found[int]("m1", "i-1", nil, errors.New("throttled"), true)
	assert.EqualError(t, err, `looking up instance i-1 of machine "m1": throttled`)
	_, err = Found[int]("m1", "i-1", nil, nil, true)
	assert.ErrorIs(t, err, ErrGone)
	assert.EqualError(t, err, `instance i-1 of machine "m1": instance no longer exists; run 'docker-machine rm m1' to forget the machine`)
}

func TestGetStateAsksTheCloudAndRecordsTheAddresses(t *testing.T) {
	stored, asked := "", 0
	i := fake(&stored, vm{status: "Running", ip: "203.0.113.5"}, &asked)
	st, err := i.GetState(context.Background(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	assert.Equal(t, "203.0.113.5", stored)

	i.Describe = func(context.Context) (*vm, error) { return nil, errors.New("denied") }
	st, err = i.GetState(context.Background(), time.Minute)
	assert.Equal(t, state.Error, st)
	assert.EqualError(t, err, "denied")

	i.ID = ""
	st, err = i.GetState(context.Background(), time.Minute)
	assert.Equal(t, state.None, st)
	assert.EqualError(t, err, `machine "m1" has no instance (was it created?)`)
}

func TestURLIsEmptyWithoutAnAddress(t *testing.T) {
	u, err := URL("2001:db8::1", nil, 2376)
	require.NoError(t, err)
	assert.Equal(t, "tcp://[2001:db8::1]:2376", u)
	u, err = URL("", nil, 2376)
	require.NoError(t, err)
	assert.Empty(t, u)
	_, err = URL("", errors.New("no instance"), 2376)
	assert.EqualError(t, err, "no instance")
}

func TestTheDriversTextShowsNoSecret(t *testing.T) {
	assert.Equal(t, `amazonec2 machine "m1" (region us-east-1, instance i-1)`, String("amazonec2", "m1", "us-east-1", "i-1"))
	v := LogValue("m1", "us-east-1", "i-1", true)
	assert.Equal(t, "[machine=m1 region=us-east-1 instance=i-1 accessKeyStored=true]", v.String())
}

func TestToRemoveIsTheStoredInstanceOrThoseTaggedOnce(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	idOf := func(v *vm) string { return v.ip }
	unasked := func() ([]vm, error) { return nil, errors.New("asked the cloud") }

	ids, err := ToRemove(quiet, "i-1", "mid", unasked, idOf)
	require.NoError(t, err)
	assert.Equal(t, []string{"i-1"}, ids)

	ids, err = ToRemove(quiet, "", "", unasked, idOf)
	require.NoError(t, err)
	assert.Empty(t, ids, "without a machine ID there is no tag to look for")

	ids, err = ToRemove(quiet, "", "mid", func() ([]vm, error) { return []vm{{ip: "i-2"}, {ip: "i-3"}, {ip: "i-2"}}, nil }, idOf)
	require.NoError(t, err)
	assert.Equal(t, []string{"i-2", "i-3"}, ids)

	_, err = ToRemove(quiet, "", "mid", unasked, idOf)
	assert.EqualError(t, err, "asked the cloud")
}
