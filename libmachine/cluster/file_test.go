package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/capability"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

const seed002 = `name: seed002
driver: aliyunecs
driver_options:
  aliyunecs-api-endpoint: ${ECS_API_ENDPOINT}
  aliyunecs-region: ${ECS_REGION:-cn-beijing}
  aliyunecs-open-port: [8080, 9090]
  aliyunecs-eip: false
engine:
  install_url: none
  registry_mirror: [https://mirror.example]
  labels: [env=demo]
groups:
  - name: manager
    role: manager
    slb: ${ECS_SLB_ID}
  - name: worker
    count: 2
    slb: ${ECS_SLB_ID}
    driver_options:
      aliyunecs-instance-type: ecs.g6.large
    engine:
      labels: [env=demo, tier=worker]
load_balancers:
  - id: ${ECS_SLB_ID}
    services: true
    service_ports: {web: 8080, "api:9000": 9443}
    listeners:
      - port: 2377
      - {port: 443, backend_port: 8443}
`

func TestParseSeed002(t *testing.T) {
	f, err := Parse("c.yml", []byte(seed002), env(map[string]string{"ECS_API_ENDPOINT": "http://127.0.0.1:9", "ECS_SLB_ID": "lb-1"}))
	require.NoError(t, err)
	assert.Equal(t, "seed002", f.Name)
	require.Len(t, f.Groups, 2)
	m, w := f.Groups[0], f.Groups[1]
	assert.Equal(t, Group{Name: "manager", Count: 1, Role: RoleManager, Driver: "aliyunecs", SLB: "lb-1", Line: 13,
		DriverOptions: f.DriverOptions, Engine: f.Engine}, m)
	assert.Equal(t, RoleWorker, w.Role, "role defaults to worker")
	assert.Equal(t, 2, w.Count)
	assert.Equal(t, []string{"env=demo", "tier=worker"}, w.Engine.Labels, "a group's engine key replaces the file's")
	assert.Equal(t, "none", w.Engine.InstallURL, "keys the group does not set keep the file's")
	assert.Equal(t, []Option{
		{Name: "aliyunecs-api-endpoint", Values: []string{"http://127.0.0.1:9"}, Line: 4},
		{Name: "aliyunecs-region", Values: []string{"cn-beijing"}, Line: 5},
		{Name: "aliyunecs-open-port", Values: []string{"8080", "9090"}, Line: 6},
		{Name: "aliyunecs-eip", Values: []string{"false"}, Line: 7},
		{Name: "aliyunecs-instance-type", Values: []string{"ecs.g6.large"}, Line: 20},
	}, w.DriverOptions)
	require.Len(t, f.LoadBalancers, 1)
	lb := f.LoadBalancers[0]
	assert.Equal(t, "lb-1", lb.ID)
	assert.True(t, lb.Services)
	assert.Equal(t, map[string]int{"web": 8080, "api:9000": 9443}, lb.ServicePorts)
	assert.Equal(t, []StaticListener{{2377, 2377}, {443, 8443}}, lb.Listeners)
}

func TestParseErrorsNameTheLine(t *testing.T) {
	vars := env(map[string]string{"LB": "lb-1"})
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"bad yaml", "name: x\ngroups: [\n", []string{"c.yml:2: not valid YAML: did not find expected node content"}},
		{"unknown key", "name: x\ndriver: none\ngroups:\n  - {name: m, role: manager}\nflavour: big\n", []string{`c.yml:5: the cluster file: unknown key "flavour"`}},
		{"no manager", "name: x\ndriver: none\ngroups:\n  - name: w\n    count: 2\n", []string{"c.yml:4: no manager"}},
		{"bad role", "name: x\ndriver: none\ngroups:\n  - name: m\n    role: boss\n", []string{`c.yml:5: groups[0]: role "boss"`}},
		{"count not a number", "name: x\ndriver: none\ngroups:\n  - name: m\n    role: manager\n    count: three\n", []string{`c.yml:6: groups[0].count must be a whole number, not "three"`}},
		{"count too big", "name: x\ndriver: none\ngroups:\n  - {name: m, role: manager, count: 500}\n", []string{"c.yml:4: groups[0].count must be between 0 and 50"}},
		{"unset variable", "name: x\ndriver: aliyunecs\ngroups:\n  - {name: m, role: manager, slb: \"${NOPE}\"}\n", []string{"c.yml:4: groups[0].slb: environment variable NOPE is not set"}},
		{"bad cluster name", "name: My_Cluster\ndriver: none\ngroups:\n  - {name: m, role: manager}\n", []string{`c.yml:1: name "My_Cluster"`}},
		{"missing name", "driver: none\ngroups:\n  - {name: m, role: manager}\n", []string{"c.yml:1: name is missing"}},
		{"duplicate group", "name: x\ndriver: none\ngroups:\n  - {name: m, role: manager}\n  - {name: m}\n", []string{`c.yml:5: group "m" is defined twice (first on line 4)`}},
		{"engine flag as driver option", "name: x\ndriver: none\ndriver_options:\n  engine-label: a=b\ngroups:\n  - {name: m, role: manager}\n", []string{`c.yml:4: driver_options: "engine-label" is not a driver flag`}},
		{"no driver", "name: x\ngroups:\n  - {name: m, role: manager}\n", []string{"c.yml:3: groups[0]: no driver"}},
		{"lb without group", "name: x\ndriver: aliyunecs\ngroups:\n  - {name: m, role: manager}\nload_balancers:\n  - id: ${LB}\n", []string{"c.yml:6: load balancer lb-1 has no group attached"}},
		{"listener without port", "name: x\ndriver: aliyunecs\ngroups:\n  - {name: m, role: manager, slb: lb-1}\nload_balancers:\n  - id: lb-1\n    listeners:\n      - backend_port: 80\n", []string{"c.yml:8: load_balancers[0].listeners[0]: port is missing"}},
		{"service_ports without services", "name: x\ndriver: aliyunecs\ngroups:\n  - {name: m, role: manager, slb: lb-1}\nload_balancers:\n  - id: lb-1\n    service_ports: {web: 80}\n", []string{"c.yml:6: load balancer lb-1: service_ports needs services: true"}},
		{"two errors at once", "name: x\ndriver: none\ngroups:\n  - {name: m, role: manager, count: -1}\n  - {name: w, role: slave}\n", []string{"c.yml:4: groups[0].count", `c.yml:5: groups[1]: role "slave"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yml", []byte(tc.yaml), vars)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			var pe *ParseError
			assert.True(t, errors.As(err, &pe), "a ParseError carries the line: %v", err)
		})
	}
}

func TestLoadReadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yml")
	require.NoError(t, os.WriteFile(path, []byte("name: x\ndriver: none\ngroups:\n  - {name: m, role: manager}\n"), 0o600))
	f, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, path, f.Path)
	_, err = Load(filepath.Join(t.TempDir(), "missing.yml"))
	assert.ErrorContains(t, err, "reading the cluster file")
}

// lbDriver is a driver with a few flags of each type and load balancing.
type lbDriver struct {
	*none.Driver
	capability.LoadBalancing
}

func (lbDriver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mcnflag.StringFlag{Name: "aliyunecs-api-endpoint"},
		mcnflag.StringFlag{Name: "aliyunecs-region", Value: "cn-hangzhou"},
		mcnflag.StringSliceFlag{Name: "aliyunecs-open-port"},
		mcnflag.BoolFlag{Name: "aliyunecs-eip"},
		mcnflag.StringFlag{Name: "aliyunecs-instance-type", Value: "ecs.g6.small", EnvVar: "TEST_CLUSTER_INSTANCE_TYPE"},
		mcnflag.StringFlag{Name: "aliyunecs-slb-id"},
		mcnflag.IntFlag{Name: "aliyunecs-slb-weight", Value: 100},
	}
}

func (lbDriver) BackendOptions(lbID string, _ int) (map[string]string, error) {
	return map[string]string{"aliyunecs-slb-id": lbID}, nil
}

func TestNodeCreateRequest(t *testing.T) {
	t.Setenv("TEST_CLUSTER_INSTANCE_TYPE", "ecs.from-env")
	f, err := Parse("c.yml", []byte(seed002), env(map[string]string{"ECS_API_ENDPOINT": "http://127.0.0.1:9", "ECS_SLB_ID": "lb-1"}))
	require.NoError(t, err)
	nodes := f.Nodes()
	require.Len(t, nodes, 3)
	assert.Equal(t, []string{"seed002-manager-1", "seed002-worker-1", "seed002-worker-2"}, []string{nodes[0].Name, nodes[1].Name, nodes[2].Name})
	d := lbDriver{Driver: none.NewDriver("", "")}
	req, err := nodes[2].CreateRequest(d)
	require.NoError(t, err)
	assert.Equal(t, "seed002-worker-2", req.Name)
	assert.Equal(t, "aliyunecs", req.Driver)
	assert.Equal(t, "none", req.Engine.InstallURL)
	assert.Equal(t, []string{"https://mirror.example"}, req.Engine.RegistryMirror)
	assert.Equal(t, []string{"env=demo", "tier=worker"}, req.Engine.Labels)
	assert.Equal(t, []string{}, req.Engine.InsecureRegistry, "lists the file leaves out stay empty, as create writes them")
	assert.Equal(t, libmachine.DriverOptions{
		"aliyunecs-api-endpoint":  "http://127.0.0.1:9",
		"aliyunecs-region":        "cn-beijing",
		"aliyunecs-open-port":     []string{"8080", "9090"},
		"aliyunecs-eip":           false,
		"aliyunecs-instance-type": "ecs.g6.large",
		"aliyunecs-slb-id":        "lb-1",
		"aliyunecs-slb-weight":    100,
	}, req.DriverOptions, "typed values, the load balancer from the driver's capability, defaults for the rest")
	req, err = nodes[0].CreateRequest(d)
	require.NoError(t, err)
	assert.Equal(t, "ecs.from-env", req.DriverOptions["aliyunecs-instance-type"], "an unset option takes its environment variable, as create does")

	_, err = nodes[0].CreateRequest(none.NewDriver("", ""))
	assert.ErrorContains(t, err, "the aliyunecs driver cannot manage load balancers")

	dup := nodes[0]
	dup.DriverOptions = append(dup.DriverOptions, Option{Name: "aliyunecs-slb-id", Values: []string{"lb-2"}})
	_, err = dup.CreateRequest(d)
	assert.ErrorContains(t, err, "give the load balancer once, as slb, not also as driver option aliyunecs-slb-id")

	bad := nodes[1]
	bad.DriverOptions = []Option{{Name: "aliyunecs-eip", Values: []string{"maybe"}}}
	_, err = bad.CreateRequest(d)
	assert.ErrorContains(t, err, `option aliyunecs-eip: "maybe" is not true or false`)
	bad.DriverOptions = []Option{{Name: "aliyunecs-typo", Values: []string{"x"}}}
	_, err = bad.CreateRequest(d)
	assert.ErrorContains(t, err, `the driver has no option "aliyunecs-typo"`)
}
