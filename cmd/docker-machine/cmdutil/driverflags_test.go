package cmdutil

import (
	"testing"

	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDriverFlagsTakeEnvDefaultsAndShowTheirVariable(t *testing.T) {
	t.Setenv("X_REGION", "eu")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("x-taken", "mine", "defined before")
	values, err := AddDriverFlags(fs, []mcnflag.Flag{
		mcnflag.StringFlag{Name: "x-region", Usage: "Region", EnvVar: "X_REGION", Value: "us"},
		&mcnflag.IntFlag{Name: "x-size", Usage: "Size", Value: 20},
		mcnflag.BoolFlag{Name: "x-private", Usage: "Private", EnvVar: "X_PRIVATE"},
		&mcnflag.StringSliceFlag{Name: "x-tag", Usage: "Tags"},
		mcnflag.StringFlag{Name: "x-taken", Usage: "driver's"},
	})
	require.NoError(t, err)
	assert.Equal(t, "Region [$X_REGION]", fs.Lookup("x-region").Usage)
	assert.Equal(t, "Size", fs.Lookup("x-size").Usage, "a pointer flag reads the same")
	assert.Equal(t, "defined before", fs.Lookup("x-taken").Usage, "a name defined already keeps its meaning")

	require.NoError(t, fs.Parse([]string{"--x-size", "30", "--x-tag", "a", "--x-tag", "b", "--x-private"}))
	assert.Equal(t, map[string]any{"x-region": "eu", "x-size": 30, "x-private": true, "x-tag": []string{"a", "b"}}, map[string]any(values()))
}
