package mkflag

import (
	"testing"

	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
)

func TestEveryKindKeepsNameEnvDefaultAndUsage(t *testing.T) {
	assert.Equal(t, mcnflag.StringFlag{Name: "d-region", EnvVar: "D_REGION", Value: "r1", Usage: "region"}, String("d-region", "D_REGION", "r1", "region"))
	assert.Equal(t, mcnflag.IntFlag{Name: "d-size", EnvVar: "D_SIZE", Value: 40, Usage: "size"}, Int("d-size", "D_SIZE", 40, "size"))
	assert.Equal(t, mcnflag.BoolFlag{Name: "d-eip", EnvVar: "D_EIP", Usage: "eip"}, Bool("d-eip", "D_EIP", "eip"))
	assert.Equal(t, mcnflag.StringSliceFlag{Name: "d-group", EnvVar: "", Value: []string{"g"}, Usage: "group"}, List("d-group", "", []string{"g"}, "group"))
}
