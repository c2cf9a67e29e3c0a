package cloudsim_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeftoversAreWhatARunAddedOnBothClouds(t *testing.T) {
	sim, c := ec2Sim(t)
	base := sim.Resources()
	assert.Empty(t, sim.Resources().Leftovers(base), "a fresh cloud against itself")

	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = region
	sg.SecurityGroupName = "soak"
	sgResp, err := sim.ECS.CreateSecurityGroup(sg)
	ok(t, sgResp, err)
	_, err = c.CreateKeyPair(t.Context(), &ec2.CreateKeyPairInput{KeyName: aws.String("soak-key")})
	require.NoError(t, err)

	left := sim.Resources().Leftovers(base)
	require.Len(t, left, 2, "%q", left)
	assert.Contains(t, left, "security group "+sgResp.SecurityGroupId+" (soak)")
	assert.Regexp(t, `^EC2 key pair key-[0-9a-f]+ \(soak-key\)$`, left[1])

	del := ecs.CreateDeleteSecurityGroupRequest()
	del.RegionId = region
	del.SecurityGroupId = sgResp.SecurityGroupId
	delResp, err := sim.ECS.DeleteSecurityGroup(del)
	ok(t, delResp, err)
	_, err = c.DeleteKeyPair(t.Context(), &ec2.DeleteKeyPairInput{KeyName: aws.String("soak-key")})
	require.NoError(t, err)
	assert.Empty(t, sim.Resources().Leftovers(base))
}
