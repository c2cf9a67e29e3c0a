package amazonec2

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fleetdock/machine/libmachine/capability"
)

func TestResourcesNameWhatTheMachineOwns(t *testing.T) {
	d := NewDriver("m1", "")
	d.Region, d.Id = "us-east-1", "mid-1"
	assert.Equal(t, []capability.Resource{{Kind: "key pair", ID: d.KeyName, Region: "us-east-1"}, {Kind: "resources tagged docker-machine-id", ID: "mid-1", Region: "us-east-1"}}[1:], d.Resources()[len(d.Resources())-1:],
		"before any ID is stored, the tag finds them")
	d.InstanceId, d.SpotInstanceRequestId, d.KeyName = "i-1", "sir-1", "m1-abc"
	d.CreatedSecurityGroupIds = []string{"sg-1"}
	assert.Equal(t, []capability.Resource{
		{Kind: "spot instance request", ID: "sir-1", Region: "us-east-1"},
		{Kind: "instance", ID: "i-1", Region: "us-east-1"},
		{Kind: "key pair", ID: "m1-abc", Region: "us-east-1"},
		{Kind: "security group", ID: "sg-1", Region: "us-east-1"},
	}, d.Resources())
	d.ExistingKey = true
	assert.NotContains(t, d.Resources(), capability.Resource{Kind: "key pair", ID: "m1-abc", Region: "us-east-1"}, "a key the user brought is not the machine's")
}
