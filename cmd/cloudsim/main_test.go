package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

func TestParseServeFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "faults.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"latency":"5ms","stop_time":"3s"}`), 0o600))
	o, err := parseServe([]string{
		"--addr", "127.0.0.1:0", "--backend", "container", "--faults-file", file,
		"--boot-time", "2s", "--throttle-rate", "4", "--action-latency", "RunInstances=1s",
		"--fail", "action=RunInstances,nth=2,code=ServiceUnavailable",
		"--fail", "action=*,probability=0.5,times=3,code=Throttling.User,status=400",
		"--fail", "action=CreateKeyPair,code=InternalError,after=true",
		"--access-key-id", "LTAItest", "--access-key-secret", "s3cret",
	}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []int{22, 2376}, o.publicPorts, "the container backend forwards SSH and Docker by default")
	assert.Equal(t, 5*time.Millisecond, o.faults.Latency.D(), "from the file")
	assert.Equal(t, 3*time.Second, o.faults.StopTime.D(), "from the file")
	assert.Equal(t, 2*time.Second, o.faults.BootTime.D(), "flags override the file")
	assert.Equal(t, 4.0, o.faults.ThrottleRate)
	assert.Equal(t, time.Second, o.faults.ActionLatency["RunInstances"].D())
	require.Len(t, o.faults.Failures, 3)
	assert.Equal(t, 2, o.faults.Failures[0].Nth)
	assert.Equal(t, 0.5, o.faults.Failures[1].Probability)
	assert.Equal(t, 3, o.faults.Failures[1].Times)
	assert.False(t, o.faults.Failures[1].After)
	assert.True(t, o.faults.Failures[2].After)

	o, err = parseServe(nil, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, o.publicPorts, "the none backend forwards nothing")
	assert.Equal(t, time.Second, o.faults.BootTime.D(), "defaults")

	for _, bad := range [][]string{
		{"--backend", "vm"},
		{"--fail", "nth=2"},
		{"--fail", "action=X,nth=two"},
		{"--fail", "action=X,probability=3"},
		{"--fail", "action=X,after=maybe"},
		{"--action-latency", "RunInstances"},
		{"--public-ports", "22,70000"},
		{"--access-key-id", "only-the-id"},
		{"--aws-access-key-id", "only-the-id"},
		{"extra"},
	} {
		_, err := parseServe(bad, io.Discard)
		assert.Error(t, err, "%v", bad)
	}
}

func TestRunUsage(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(t.Context(), nil, io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "usage: cloudsim serve")
	assert.Equal(t, 2, run(t.Context(), []string{"launch"}, io.Discard, &stderr))
	assert.Equal(t, 2, run(t.Context(), []string{"serve", "--addr", "0.0.0.0:0"}, io.Discard, &stderr), "non-loopback addresses are refused")
}

// readyLine reads the one JSON line and checks nothing else is on stdout.
func readyLine(t *testing.T, r io.Reader) ready {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	var got ready
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&got), line)
	assert.True(t, strings.HasPrefix(got.Endpoint, "http://127.0.0.1:"))
	assert.Equal(t, got.Endpoint+"/admin", got.Admin)
	return got
}

func TestServeInProcess(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--access-key-id", "LTAIfixed", "--access-key-secret", "fixed-secret",
			"--aws-access-key-id", "AKIAFIXEDFORTESTS000", "--aws-secret-access-key", "fixed-aws-secret", "--log-level", "warn"}, pw, io.Discard)
		pw.Close()
	}()
	got := readyLine(t, pr)
	assert.Equal(t, "LTAIfixed", got.AccessKeyID)
	assert.Equal(t, "fixed-secret", got.AccessKeySecret)
	assert.Equal(t, "AKIAFIXEDFORTESTS000", got.AWSAccessKeyID)

	ec2c := ec2.NewFromConfig(cloudsimtest.AWSConfigFor(got.EC2Endpoint, "us-west-2", got.AWSAccessKeyID, got.AWSSecretKey))
	zones, err := ec2c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	require.NoError(t, err)
	assert.Len(t, zones.AvailabilityZones, 3)

	client, err := cloudsimtest.NewECSClient(strings.TrimPrefix(got.Endpoint, "http://"), "cn-hangzhou", got.AccessKeyID, got.AccessKeySecret)
	require.NoError(t, err)
	resp, err := client.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	require.NoError(t, err)
	assert.NotEmpty(t, resp.Regions.Region)

	cancel()
	assert.Equal(t, 0, <-done)
	rest, _ := io.ReadAll(pr)
	assert.Empty(t, rest, "nothing but the ready line on stdout")
}

// TestBinaryStopsOnSIGTERM runs the real binary: one JSON line, random
// credentials that work, and a clean exit on SIGTERM.
func TestBinaryStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "cloudsim")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building cloudsim: %s", out)

	cmd := exec.CommandContext(t.Context(), bin, "serve", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	got := readyLine(t, stdout)
	assert.NotEmpty(t, got.AccessKeyID)
	assert.NotEmpty(t, got.AccessKeySecret)
	assert.NotEmpty(t, got.AWSAccessKeyID)
	assert.NotEmpty(t, got.AWSSecretKey)
	assert.Equal(t, got.Endpoint, got.IMDSEndpoint)
	client, err := cloudsimtest.NewECSClient(strings.TrimPrefix(got.Endpoint, "http://"), "cn-hangzhou", got.AccessKeyID, got.AccessKeySecret)
	require.NoError(t, err)
	_, err = client.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	require.NoError(t, err)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), "cloudsim: stopped")
	assert.NotContains(t, stderr.String(), got.AccessKeySecret, "the secret is never logged")
	assert.NotContains(t, stderr.String(), got.AWSSecretKey, "the AWS secret is never logged")
}
