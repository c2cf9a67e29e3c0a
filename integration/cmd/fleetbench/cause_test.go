package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCauseOfNamesTheCloudsCodeOrTheKindOfFailure(t *testing.T) {
	for out, want := range map[string]string{
		"Error creating machine: RunInstances failed: Throttling: Request was denied due to request throttling. (request ID 1) after 10 attempts":                                  "throttled (Throttling)",
		"operation error EC2: RunInstances, exceeded maximum number of attempts, 6, https response error StatusCode: 503, api error RequestLimitExceeded: Request limit exceeded.": "throttled (RequestLimitExceeded)",
		"DescribeInstances failed: ServiceUnavailable: The request has failed due to a temporary failure of the server.":                                                           "server error (ServiceUnavailable)",
		"operation error EC2: TerminateInstances, https response error StatusCode: 500, api error InternalError: An internal error has occurred.":                                  "server error (InternalError)",
		"Error creating machine: RunInstances failed: InvalidSecurityGroupId.NotFound: The specified SecurityGroupId does not exist. (request ID 2)":                               "InvalidSecurityGroupId.NotFound",
		"removing m1: DeleteSecurityGroup failed: DependencyViolation: There is still instance(s) in the specified security group.":                                                "DependencyViolation",
		"operation error EC2: DeleteKeyPair, api error InvalidKeyPair.NotFound: The key pair 'k' does not exist":                                                                   "InvalidKeyPair.NotFound",
		"Error checking TLS connection: x509: certificate is valid for 10.0.0.1, not 10.0.0.2":                                                                                     "tls",
		"waiting for SSH on 172.17.0.5:22 timed out after 2m0s":                                                                                                                    "timeout",
		"Cannot connect to the Docker daemon at tcp://127.0.0.2:2376. Is the docker daemon running?":                                                                               "docker daemon",
		"Host does not exist: \"m1\"":           "not found",
		"create of m1 interrupted; rolled back": "interrupted",
		"something unexpected":                  "other",
	} {
		assert.Equal(t, want, causeOf(out), out)
	}
}

func TestLastLineIsWhereTheCLISaysWhatFailed(t *testing.T) {
	assert.Equal(t, "Error: boom", lastLine("Running pre-create checks...\nCreating machine...\n\nError: boom\n\n"))
	long := make([]byte, 400)
	for i := range long {
		long[i] = 'x'
	}
	assert.Len(t, lastLine(string(long)), 303)
}
