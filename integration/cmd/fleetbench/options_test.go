package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

func TestFlagsDefaultToTheFullFigures(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	o, err := parseFlags([]string{"-cli", self})
	require.NoError(t, err)
	assert.Equal(t, []int{4, 8}, o.ks)
	assert.Equal(t, allScenarios, o.scenarios)
	assert.Equal(t, "aliyunecs", o.driver)

	for _, bad := range [][]string{
		{"-cli", self, "-k", "0"}, {"-cli", self, "-k", "4,x"}, {"-cli", self, "-driver", "virtualbox"},
		{"-cli", self, "-scenarios", "clean,chaos"}, {"-cli", self, "-throttle", "1.5"}, {"-cli", self, "-rounds", "0"},
		{"-cli", "/no/such/docker-machine"},
	} {
		_, err := parseFlags(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestScenariosAnswerWithTheDriversCloudsErrors(t *testing.T) {
	ali := options{driver: "aliyunecs", throttle: 0.1, faults: 0.05}
	assert.Empty(t, ali.faultsFor("clean").Failures)
	assert.Equal(t, []cloudsim.Failure{{Action: "*", Probability: 0.1, Code: "Throttling"}}, ali.faultsFor("throttled").Failures)
	f := ali.faultsFor("faults").Failures
	require.Len(t, f, 2)
	assert.Equal(t, "ServiceUnavailable", f[0].Code)
	assert.Equal(t, "InternalError", f[1].Code)
	assert.False(t, f[0].After, "a 503 is answered before the call is carried out")
	assert.True(t, f[1].After, "a 500 after it")
	// The two rules together answer the whole fraction.
	assert.InDelta(t, 0.05, f[0].Probability+(1-f[0].Probability)*f[1].Probability, 1e-9)

	ec2 := options{driver: "amazonec2", throttle: 0.1, faults: 0.05}
	assert.Equal(t, []cloudsim.Failure{{Action: "*", Product: "Ec2", Probability: 0.1, Code: "RequestLimitExceeded"}}, ec2.faultsFor("throttled").Failures)
	assert.Equal(t, "Unavailable", ec2.faultsFor("faults").Failures[0].Code)
	for _, sc := range allScenarios {
		assert.NoError(t, ec2.faultsFor(sc).Validate())
	}
	assert.Equal(t, "10% throttled", ali.label("throttled"))
	assert.Equal(t, "5% server errors", ali.label("faults"))
}

func TestMadeCountsTheCallsThatMakeResources(t *testing.T) {
	for _, a := range []string{"RunInstances", "CreateSecurityGroup", "AllocateEipAddress", "ImportKeyPair", "CreateKeyPair"} {
		assert.True(t, makes(a), a)
	}
	for _, a := range []string{"DescribeInstances", "DeleteSecurityGroup", "StopInstance", "AuthorizeSecurityGroup"} {
		assert.False(t, makes(a), a)
	}
}
