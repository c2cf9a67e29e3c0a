package aliyunecs

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/internal/sshkey"
)

// recorder keeps the query of every request an action sends.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string][]url.Values
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	r.mu.Lock()
	r.seen[q.Get("Action")] = append(r.seen[q.Get("Action")], q)
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func record(t *testing.T, d *Driver) *recorder {
	t.Helper()
	a, err := d.api()
	require.NoError(t, err)
	rec := &recorder{base: a.binder.base, seen: map[string][]url.Values{}}
	a.binder.base = rec
	return rec
}

// The flags reach RunInstances as the parameters ECS documents.
func TestRunInstancesParameters(t *testing.T) {
	s := startSim(t, fastFaults())
	var cidr string
	for _, vs := range s.resources().VSwitches {
		if vs.ZoneID == "cn-hangzhou-i" {
			cidr = vs.CidrBlock
		}
	}
	require.NotEmpty(t, cidr)
	prefix := cidr[:strings.LastIndex(cidr, ".")]
	ud := filepath.Join(t.TempDir(), "ud")
	require.NoError(t, os.WriteFile(ud, []byte("#!/bin/sh\necho boot\n"), 0o644))

	d := newDriver(t, s, "params", map[string]any{
		"aliyunecs-zone":                   "cn-hangzhou-i",
		"aliyunecs-instance-type":          "ecs.g6.large",
		"aliyunecs-private-ip":             prefix + ".77",
		"aliyunecs-description":            "params host",
		"aliyunecs-ssh-password":           "Passw0rd-Run",
		"aliyunecs-internet-max-bandwidth": 7,
		"aliyunecs-internet-charge-type":   "PayByBandwidth",
		"aliyunecs-disk-size":              25,
		"aliyunecs-disk-category":          "cloud_essd",
		"aliyunecs-system-disk-size":       50,
		"aliyunecs-system-disk-category":   "cloud_essd",
		"aliyunecs-io-optimized":           "true",
		"aliyunecs-tag":                    []string{"owner=qa"},
		"aliyunecs-userdata":               ud,
	})
	rec := record(t, d)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	t.Cleanup(func() { _ = d.Remove() })

	runs := rec.seen["RunInstances"]
	require.Len(t, runs, 1)
	q := runs[0]
	for k, want := range map[string]string{
		"ZoneId":                        "cn-hangzhou-i",
		"InstanceType":                  "ecs.g6.large",
		"PrivateIpAddress":              prefix + ".77",
		"Description":                   "params host",
		"Password":                      "Passw0rd-Run",
		"InternetMaxBandwidthOut":       "7",
		"InternetChargeType":            "PayByBandwidth",
		"DataDisk.1.Size":               "25",
		"DataDisk.1.Category":           "cloud_essd",
		"DataDisk.1.DeleteWithInstance": "true",
		"SystemDisk.Size":               "50",
		"SystemDisk.Category":           "cloud_essd",
		"IoOptimized":                   "optimized",
		"KeyPairName":                   "params",
		"InstanceName":                  "params",
		"SecurityGroupId":               d.SecurityGroupId,
		"VSwitchId":                     d.VSwitchId,
		"ImageId":                       "ubuntu_22_04_x64_20G_alibase_20240130.vhd",
		"UserData":                      base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho boot\n")),
		"ClientToken":                   "dm-" + d.MachineID + "-run",
		"Amount":                        "1",
	} {
		assert.Equal(t, want, q.Get(k), k)
	}
	tags := map[string]string{}
	for i := 1; q.Get("Tag."+strconv.Itoa(i)+".Key") != ""; i++ {
		tags[q.Get("Tag."+strconv.Itoa(i)+".Key")] = q.Get("Tag." + strconv.Itoa(i) + ".Value")
	}
	assert.Equal(t, map[string]string{"owner": "qa", tagMachineID: d.MachineID, tagMachineName: "params"}, tags)

	r := s.resources()
	require.Len(t, r.Instances, 1)
	assert.Equal(t, prefix+".77", r.Instances[0].PrivateIP, "--aliyunecs-private-ip works (it was dead before)")
}

// The older driver's SDK read ECS_ENDPOINT and SLB_ENDPOINT; they still
// work when --aliyunecs-api-endpoint is not given.
func TestLegacyEndpointVariables(t *testing.T) {
	s := startSim(t, fastFaults())
	t.Setenv("ECS_ENDPOINT", s.Endpoint())
	t.Setenv("VPC_ENDPOINT", s.Endpoint())
	t.Setenv("SLB_ENDPOINT", s.Endpoint())
	lb := s.createSLB("cn-hangzhou")
	d := newDriver(t, s, "legacy", map[string]any{"aliyunecs-api-endpoint": "", "aliyunecs-slb-id": lb})
	require.NoError(t, d.PreCreateCheck())
	a, err := d.api()
	require.NoError(t, err)
	assert.Equal(t, s.Domain(), a.ecs.Domain)
	assert.Equal(t, s.Domain(), a.vpc.Domain)
	assert.Equal(t, s.Domain(), a.slb.Domain)
}

// --aliyunecs-ssh-keypath alone: that key is imported as the machine's key
// pair and deleted again on rm.
func TestKeyPathIsImported(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	priv, pub, err := generateKey()
	require.NoError(t, err)
	key := filepath.Join(t.TempDir(), "k")
	require.NoError(t, sshkey.WriteFiles(key, priv, pub))

	d := newDriver(t, s, "ownkey", map[string]any{"aliyunecs-ssh-keypath": key})
	rec := record(t, d)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	imports := rec.seen["ImportKeyPair"]
	require.Len(t, imports, 1)
	assert.Equal(t, strings.TrimSpace(string(pub)), imports[0].Get("PublicKeyBody"))
	assert.Equal(t, "ownkey", s.resources().Instances[0].KeyPairName)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}
