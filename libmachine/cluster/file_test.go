package cluster

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{"slb needs aliyunecs", "name: x\ndriver: generic\ngroups:\n  - {name: m, role: manager, slb: lb-1}\n", []string{"c.yml:4: groups[0]: slb needs the aliyunecs driver"}},
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

func TestCreateArgsAreCreateFlags(t *testing.T) {
	f, err := Parse("c.yml", []byte(seed002), env(map[string]string{"ECS_API_ENDPOINT": "http://127.0.0.1:9", "ECS_SLB_ID": "lb-1"}))
	require.NoError(t, err)
	nodes := f.Nodes()
	require.Len(t, nodes, 3)
	assert.Equal(t, []string{"seed002-manager-1", "seed002-worker-1", "seed002-worker-2"}, []string{nodes[0].Name, nodes[1].Name, nodes[2].Name})
	assert.Equal(t, []string{
		"--driver", "aliyunecs",
		"--engine-install-url", "none",
		"--engine-registry-mirror", "https://mirror.example",
		"--engine-label", "env=demo", "--engine-label", "tier=worker",
		"--aliyunecs-slb-id", "lb-1",
		"--aliyunecs-api-endpoint=http://127.0.0.1:9",
		"--aliyunecs-region=cn-beijing",
		"--aliyunecs-open-port=8080", "--aliyunecs-open-port=9090",
		"--aliyunecs-eip=false",
		"--aliyunecs-instance-type=ecs.g6.large",
		"seed002-worker-2",
	}, nodes[2].CreateArgs())
}
