//go:build integration

package cloudsim_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
)

// containerSim starts a simulator whose instances are hostworld containers,
// with SSH forwarded from public IPs and EIPs.
func containerSim(t *testing.T) *cloudsimtest.Sim {
	t.Helper()
	hostworld.RequireDocker(t)
	if os.Geteuid() != 0 {
		t.Fatal("these tests forward port 22 of public IPs, which needs root (or CAP_NET_BIND_SERVICE); run them as root like make test does")
	}
	backend := cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Logger: quiet})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	require.NoError(t, backend.Prepare(ctx), "preparing the host image")
	return cloudsimtest.Start(t, cloudsim.Config{
		Backend: backend, PublicPorts: []int{22}, Logger: quiet,
		Faults: &cloudsim.Faults{CreateTime: cloudsim.Duration(100 * time.Millisecond)},
	})
}

// waitRunning waits for a container-backed instance, which boots for real.
func waitRunning(t *testing.T, sim *cloudsimtest.Sim, id string) {
	t.Helper()
	eventually(t, "instance "+id+" to run", 3*time.Minute, func() (bool, error) {
		return instanceStatus(t, sim, id) == "Running", nil
	})
}

// sshRun runs cmd as root on addr:22.
func sshRun(addr string, auth ssh.AuthMethod, cmd string) (string, error) {
	return sshRunAs("root", addr, auth, cmd)
}

// sshRunAs runs cmd as user on addr:22.
func sshRunAs(user, addr string, auth ssh.AuthMethod, cmd string) (string, error) {
	c, err := ssh.Dial("tcp", net.JoinHostPort(addr, "22"), &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{auth},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a fresh test host: nothing to pin
		Timeout:         5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	return strings.TrimSpace(string(out)), err
}

func containerExists(t *testing.T, id string) bool {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", "ps", "--all", "--quiet", "--filter", "name=^cloudsim-"+id+"$").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out)) != ""
}

func TestContainerInstanceSSHLifecycle(t *testing.T) {
	sim := containerSim(t)
	group := createGroup(t, sim)

	kreq := ecs.CreateCreateKeyPairRequest()
	kreq.RegionId = region
	kreq.KeyPairName = "itest"
	key, err := sim.ECS.CreateKeyPair(kreq)
	ok(t, key, err)
	signer, err := ssh.ParsePrivateKey([]byte(key.PrivateKeyBody))
	require.NoError(t, err)
	byKey := ssh.PublicKeys(signer)

	run := ecs.CreateRunInstancesRequest()
	run.RegionId = region
	run.ImageId = ubuntu
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group
	run.InstanceName = "web-1"
	run.KeyPairName = "itest"
	run.Password = "Sim-Passw0rd"
	run.InternetMaxBandwidthOut = "1"
	run.UserData = base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho from-user-data > /root/user-data.txt\n"))
	resp, err := sim.ECS.RunInstances(run)
	ok(t, resp, err)
	id := resp.InstanceIdSets.InstanceIdSet[0]
	waitRunning(t, sim, id)
	private, public := addresses(t, sim, id)
	assert.True(t, strings.HasPrefix(public, "127.100."), public)

	out, err := sshRun(private, byKey, "hostname")
	require.NoError(t, err, "SSH with the key pair at the private IP %s", private)
	assert.Equal(t, "web-1", out, "the InstanceName is the hostname")
	out, err = sshRun(public, byKey, "hostname")
	require.NoError(t, err, "SSH with the key pair at the public IP %s", public)
	assert.Equal(t, "web-1", out)
	_, err = sshRun(private, ssh.Password("Sim-Passw0rd"), "true")
	require.NoError(t, err, "the Password given at creation logs in too")
	_, err = sshRun(private, ssh.Password("wrong-Passw0rd"), "true")
	require.Error(t, err)
	eventually(t, "the user data to have run", time.Minute, func() (bool, error) {
		out, err := sshRun(private, byKey, "cat /root/user-data.txt")
		return err == nil && out == "from-user-data", err
	})

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = id
	sr, err := sim.ECS.StopInstance(stop)
	ok(t, sr, err)
	waitStatus(t, sim, id, "Stopped")
	_, err = sshRun(private, byKey, "true")
	require.Error(t, err, "a stopped instance does not answer SSH")
	_, err = sshRun(public, byKey, "true")
	require.Error(t, err, "nor through its public IP")

	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = id
	str, err := sim.ECS.StartInstance(start)
	ok(t, str, err)
	waitRunning(t, sim, id)
	private, _ = addresses(t, sim, id)
	out, err = sshRun(private, byKey, "hostname; cat /root/user-data.txt")
	require.NoError(t, err)
	assert.Equal(t, "web-1\nfrom-user-data", out, "the disk and the hostname survive a restart")

	require.True(t, containerExists(t, id))
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = id
	del.Force = "true"
	dr, err := sim.ECS.DeleteInstance(del)
	ok(t, dr, err)
	assert.False(t, containerExists(t, id), "DeleteInstance removes the container before it answers")
}

// webUserData makes a host serve "HTTP 200 <hostname>" on port 8000 through
// systemd socket activation: the minimal host image has no web server.
const webUserData = `#!/bin/sh
set -e
cat > /etc/systemd/system/web.socket <<'EOF'
[Socket]
ListenStream=8000
Accept=yes
[Install]
WantedBy=sockets.target
EOF
cat > /etc/systemd/system/web@.service <<'EOF'
[Service]
StandardInput=socket
StandardOutput=socket
ExecStart=/bin/sh -c 'cr=$$(printf "\r"); while IFS= read -r line; do [ "$$line" = "$$cr" ] && break; [ -z "$$line" ] && break; done; body=$$(hostname); printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %%s\r\n\r\n%%s" "$${#body}" "$$body"'
EOF
systemctl daemon-reload
systemctl enable --now web.socket
`

func TestSLBOverContainerHosts(t *testing.T) {
	sim := containerSim(t)
	group := createGroup(t, sim)
	run := ecs.CreateRunInstancesRequest()
	run.RegionId = region
	run.ImageId = "debian_12_4_x64_20G_alibase_20240126.vhd"
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group
	run.InstanceName = "web"
	run.UniqueSuffix = "true"
	run.Amount = "2"
	run.UserData = base64.StdEncoding.EncodeToString([]byte(webUserData))
	resp, err := sim.ECS.RunInstances(run)
	ok(t, resp, err)
	ids := resp.InstanceIdSets.InstanceIdSet
	require.Len(t, ids, 2)
	names := map[string]string{}
	for i, id := range ids {
		waitRunning(t, sim, id)
		private, _ := addresses(t, sim, id)
		name := fmt.Sprintf("web%03d", i+1)
		names[name] = id
		eventually(t, "the web server of "+id, 2*time.Minute, func() (bool, error) {
			got := hits(t, net.JoinHostPort(private, "8000"), 1)
			return got[name] == 1, fmt.Errorf("answers: %v", got)
		})
	}

	lbReq := slb.CreateCreateLoadBalancerRequest()
	lbReq.RegionId = region
	lb, err := sim.SLB.CreateLoadBalancer(lbReq)
	ok(t, lb, err)
	add := slb.CreateAddBackendServersRequest()
	add.RegionId = region
	add.LoadBalancerId = lb.LoadBalancerId
	add.BackendServers = backends(ids[0], "100", ids[1], "100")
	ar, err := sim.SLB.AddBackendServers(add)
	okBackends(t, ar.GetHttpContentBytes(), err)
	listener := slb.CreateCreateLoadBalancerTCPListenerRequest()
	listener.RegionId = region
	listener.LoadBalancerId = lb.LoadBalancerId
	listener.ListenerPort = "8000"
	listener.BackendServerPort = "8000"
	listener.HealthCheckInterval = "1"
	listener.HealthyThreshold = "2"
	listener.UnhealthyThreshold = "2"
	listener.HealthCheckConnectTimeout = "1"
	lr, err := sim.SLB.CreateLoadBalancerTCPListener(listener)
	ok(t, lr, err)
	start := slb.CreateStartLoadBalancerListenerRequest()
	start.RegionId = region
	start.LoadBalancerId = lb.LoadBalancerId
	start.ListenerPort = "8000"
	sr, err := sim.SLB.StartLoadBalancerListener(start)
	ok(t, sr, err)

	front := net.JoinHostPort(lb.Address, "8000")
	eventually(t, "both backends healthy", 30*time.Second, func() (bool, error) {
		h := healthOf(t, sim, lb.LoadBalancerId, 8000)
		return h[ids[0]] == "normal" && h[ids[1]] == "normal", fmt.Errorf("health: %v", h)
	})
	assert.Equal(t, map[string]int{"web001": 5, "web002": 5}, hits(t, front, 10), "requests reach both hosts")

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = names["web001"]
	stopr, err := sim.ECS.StopInstance(stop)
	ok(t, stopr, err)
	waitStatus(t, sim, names["web001"], "Stopped")
	eventually(t, "the health check to notice", 30*time.Second, func() (bool, error) {
		return healthOf(t, sim, lb.LoadBalancerId, 8000)[names["web001"]] == "abnormal", nil
	})
	assert.Equal(t, map[string]int{"web002": 10}, hits(t, front, 10), "all traffic moves to the running host")
}
