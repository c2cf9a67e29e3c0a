package cluster

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

// Role is a node's swarm role.
type Role string

const (
	RoleManager Role = "manager"
	RoleWorker  Role = "worker"
)

// File is a parsed cluster file.
type File struct {
	// Path is where the file was read from, for messages.
	Path string
	// Name prefixes every machine name: <name>-<group>-<i>.
	Name string
	// Driver and DriverOptions are the defaults of every group.
	Driver        string
	DriverOptions []Option
	Engine        Engine
	Groups        []Group
	LoadBalancers []LoadBalancer
}

// Option is one driver flag without its leading dashes. Lists hold one
// value per element; scalars one value. Line is where it was written.
type Option struct {
	Name   string
	Values []string
	Line   int
}

// Engine are the engine flags of docker-machine create.
type Engine struct {
	InstallURL       string // "" keeps the CLI default; "none" skips installation
	StorageDriver    string
	RegistryMirror   []string
	InsecureRegistry []string
	Labels           []string
	Opt              []string
	Env              []string
	TLSSAN           []string
}

// Group is a set of identical nodes.
type Group struct {
	Name          string
	Count         int
	Role          Role
	Driver        string   // the file's driver unless set
	DriverOptions []Option // the file's options, overridden by the group's
	Engine        Engine   // the file's engine options, overridden field by field
	// SLB is the load balancer every node of the group is attached to as
	// a backend at create, through the driver's load-balancing capability.
	SLB  string
	Line int
}

// LoadBalancer says which listeners the cluster keeps on one SLB.
type LoadBalancer struct {
	ID string
	// Services: one TCP listener per published port of every swarm service.
	Services bool
	// ServicePorts maps "SERVICE" or "SERVICE:PUBLISHED" to the front port.
	ServicePorts map[string]int
	// Listeners are fixed TCP listeners, such as the swarm's 2377.
	Listeners []StaticListener
	Line      int
}

// StaticListener is a fixed TCP listener: Port on the SLB to BackendPort
// on every backend.
type StaticListener struct {
	Port, BackendPort int
}

// ParseError is a problem in a cluster file, with the line it is on.
type ParseError struct {
	Path string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Load reads and parses a cluster file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster file: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse parses a cluster file. ${VAR} and ${VAR:-default} in values are
// replaced through lookup; an unset variable without a default is an error,
// so a missing secret fails here and not halfway through a create.
func Parse(path string, data []byte, lookup func(string) (string, bool)) (*File, error) {
	p := &parser{path: path, lookup: lookup}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := yamlLine.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
		return nil, &ParseError{Path: path, Line: yamlErrorLine(err), Msg: "not valid YAML: " + strings.TrimPrefix(msg, ": ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &ParseError{Path: path, Msg: "the file is empty; see 'docker-machine cluster --help' for the format"}
	}
	f := p.file(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return f, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

type parser struct {
	path   string
	lookup func(string) (string, bool)
	errs   []error
}

func (p *parser) fail(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &ParseError{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping, calling set for each known key and failing on
// unknown or repeated ones.
func (p *parser) fields(n *yaml.Node, what string, known []string, set func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping (key: value lines)", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.fail(k, "%s: %q is given twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if !slices.Contains(known, k.Value) {
			p.fail(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		set(k.Value, v)
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// scalar returns a scalar's value with environment references expanded.
func (p *parser) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.fail(n, "%s must be a single value", what)
		return "", false
	}
	ok := true
	out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, set := p.lookup(m[1]); set && v != "" {
			return v
		}
		if m[2] != "" {
			return m[3]
		}
		p.fail(n, "%s: environment variable %s is not set (set it, or write ${%s:-default})", what, m[1], m[1])
		ok = false
		return ""
	})
	return out, ok
}

func (p *parser) str(n *yaml.Node, what string) string {
	s, _ := p.scalar(n, what)
	return strings.TrimSpace(s)
}

func (p *parser) integer(n *yaml.Node, what string, lo, hi int) int {
	s, ok := p.scalar(n, what)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		p.fail(n, "%s must be a whole number, not %q", what, s)
		return 0
	}
	if v < lo || v > hi {
		p.fail(n, "%s must be between %d and %d, not %d", what, lo, hi, v)
		return 0
	}
	return v
}

func (p *parser) boolean(n *yaml.Node, what string) bool {
	s, ok := p.scalar(n, what)
	if !ok {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	p.fail(n, "%s must be true or false, not %q", what, s)
	return false
}

// list accepts a sequence of scalars or a single scalar.
func (p *parser) list(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{p.str(n, what)}
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s must be a list of values", what)
		return nil
	}
	out := []string{}
	for _, item := range n.Content {
		out = append(out, p.str(item, what))
	}
	return out
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func (p *parser) file(n *yaml.Node) *File {
	f := &File{Path: p.path}
	var nameNode, groupsNode *yaml.Node
	p.fields(n, "the cluster file", []string{"name", "driver", "driver_options", "engine", "groups", "load_balancers"}, func(k string, v *yaml.Node) {
		switch k {
		case "name":
			nameNode = v
			f.Name = p.str(v, "name")
		case "driver":
			f.Driver = p.str(v, "driver")
		case "driver_options":
			f.DriverOptions = p.options(v, "driver_options")
		case "engine":
			f.Engine = p.engine(v, "engine", Engine{})
		case "groups":
			groupsNode = v
		case "load_balancers":
			f.LoadBalancers = p.loadBalancers(v)
		}
	})
	if n.Kind != yaml.MappingNode {
		return f
	}
	switch {
	case nameNode == nil:
		p.fail(n, "name is missing: every machine is named <name>-<group>-<n>")
	case !clusterName.MatchString(f.Name):
		p.fail(nameNode, "name %q: use lower-case letters, digits and inner dashes (it starts every machine name)", f.Name)
	}
	if groupsNode == nil {
		p.fail(n, "groups is missing: list at least one group with role manager")
		return f
	}
	f.Groups = p.groups(groupsNode, f)
	p.check(f, groupsNode)
	return f
}

func (p *parser) options(n *yaml.Node, what string) []Option {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping of flag: value (flags without the leading --)", what)
		return nil
	}
	var out []Option
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := strings.TrimLeft(k.Value, "-")
		if name == "" {
			p.fail(k, "%s: empty flag name", what)
			continue
		}
		if seen[name] {
			p.fail(k, "%s: %q is given twice", what, name)
			continue
		}
		seen[name] = true
		if name == "driver" || name == "d" || strings.HasPrefix(name, "engine-") || strings.HasPrefix(name, "swarm") {
			p.fail(k, "%s: %q is not a driver flag; use the file's driver, engine or groups keys", what, name)
			continue
		}
		out = append(out, Option{Name: name, Values: p.list(v, what+"."+name), Line: k.Line})
	}
	return out
}

func (p *parser) engine(n *yaml.Node, what string, base Engine) Engine {
	e := base
	p.fields(n, what, []string{"install_url", "storage_driver", "registry_mirror", "insecure_registry", "labels", "opt", "env", "tls_san"}, func(k string, v *yaml.Node) {
		switch k {
		case "install_url":
			e.InstallURL = p.str(v, what+".install_url")
		case "storage_driver":
			e.StorageDriver = p.str(v, what+".storage_driver")
		case "registry_mirror":
			e.RegistryMirror = p.list(v, what+".registry_mirror")
		case "insecure_registry":
			e.InsecureRegistry = p.list(v, what+".insecure_registry")
		case "labels":
			e.Labels = p.list(v, what+".labels")
		case "opt":
			e.Opt = p.list(v, what+".opt")
		case "env":
			e.Env = p.list(v, what+".env")
		case "tls_san":
			e.TLSSAN = p.list(v, what+".tls_san")
		}
	})
	return e
}

var groupName = clusterName

// maxCount bounds a group; a typo such as 100 instead of 10 should not
// start a hundred instances.
const maxCount = 50

func (p *parser) groups(n *yaml.Node, f *File) []Group {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "groups must be a list of groups (- name: ...)")
		return nil
	}
	var out []Group
	for i, gn := range n.Content {
		what := fmt.Sprintf("groups[%d]", i)
		g := Group{Count: 1, Role: RoleWorker, Driver: f.Driver, Engine: f.Engine, Line: gn.Line}
		var own []Option
		var nameNode, roleNode *yaml.Node
		p.fields(gn, what, []string{"name", "count", "role", "driver", "driver_options", "engine", "slb"}, func(k string, v *yaml.Node) {
			switch k {
			case "name":
				nameNode = v
				g.Name = p.str(v, what+".name")
			case "count":
				g.Count = p.integer(v, what+".count", 0, maxCount)
			case "role":
				roleNode = v
				g.Role = Role(strings.ToLower(p.str(v, what+".role")))
			case "driver":
				g.Driver = p.str(v, what+".driver")
			case "driver_options":
				own = p.options(v, what+".driver_options")
			case "engine":
				g.Engine = p.engine(v, what+".engine", f.Engine)
			case "slb":
				g.SLB = p.str(v, what+".slb")
			}
		})
		if gn.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case nameNode == nil:
			p.fail(gn, "%s: name is missing", what)
		case !groupName.MatchString(g.Name):
			p.fail(nameNode, "%s: name %q: use lower-case letters, digits and inner dashes", what, g.Name)
		}
		if g.Role != RoleManager && g.Role != RoleWorker {
			p.fail(roleNode, "%s: role %q: use manager or worker", what, g.Role)
		}
		if g.Driver == "" {
			p.fail(gn, "%s: no driver: set driver at the top of the file or in the group", what)
		}
		g.DriverOptions = mergeOptions(f.DriverOptions, own)
		out = append(out, g)
	}
	return out
}

// mergeOptions is base with every option of over replacing the one of the
// same name.
func mergeOptions(base, over []Option) []Option {
	out := slices.Clone(base)
	for _, o := range over {
		if i := slices.IndexFunc(out, func(b Option) bool { return b.Name == o.Name }); i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

func (p *parser) loadBalancers(n *yaml.Node) []LoadBalancer {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "load_balancers must be a list (- id: lb-...)")
		return nil
	}
	var out []LoadBalancer
	for i, ln := range n.Content {
		what := fmt.Sprintf("load_balancers[%d]", i)
		lb := LoadBalancer{Line: ln.Line, ServicePorts: map[string]int{}}
		p.fields(ln, what, []string{"id", "services", "service_ports", "listeners"}, func(k string, v *yaml.Node) {
			switch k {
			case "id":
				lb.ID = p.str(v, what+".id")
			case "services":
				lb.Services = p.boolean(v, what+".services")
			case "service_ports":
				if v.Kind != yaml.MappingNode {
					p.fail(v, "%s.service_ports must map SERVICE (or SERVICE:PUBLISHED) to a front port", what)
					return
				}
				for j := 0; j+1 < len(v.Content); j += 2 {
					key := p.str(v.Content[j], what+".service_ports")
					lb.ServicePorts[key] = p.integer(v.Content[j+1], what+".service_ports."+key, 1, 65535)
				}
			case "listeners":
				lb.Listeners = p.staticListeners(v, what+".listeners")
			}
		})
		if ln.Kind == yaml.MappingNode && lb.ID == "" {
			p.fail(ln, "%s: id is missing (the SLB instance ID, lb-...)", what)
		}
		out = append(out, lb)
	}
	return out
}

func (p *parser) staticListeners(n *yaml.Node, what string) []StaticListener {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s must be a list (- port: 2377)", what)
		return nil
	}
	var out []StaticListener
	for i, ln := range n.Content {
		w := fmt.Sprintf("%s[%d]", what, i)
		var l StaticListener
		p.fields(ln, w, []string{"port", "backend_port"}, func(k string, v *yaml.Node) {
			switch k {
			case "port":
				l.Port = p.integer(v, w+".port", 1, 65535)
			case "backend_port":
				l.BackendPort = p.integer(v, w+".backend_port", 1, 65535)
			}
		})
		if ln.Kind == yaml.MappingNode && l.Port == 0 {
			p.fail(ln, "%s: port is missing", w)
		}
		if l.BackendPort == 0 {
			l.BackendPort = l.Port
		}
		out = append(out, l)
	}
	return out
}

// check validates what spans several parts of the file.
func (p *parser) check(f *File, groupsNode *yaml.Node) {
	seen := map[string]int{}
	managers := 0
	for _, g := range f.Groups {
		if line, ok := seen[g.Name]; ok && g.Name != "" {
			p.fail(&yaml.Node{Line: g.Line}, "group %q is defined twice (first on line %d)", g.Name, line)
		}
		seen[g.Name] = g.Line
		if g.Role == RoleManager {
			managers += g.Count
		}
		if f.Name != "" && g.Name != "" {
			if err := hostopts.ValidateName(MachineName(f.Name, g.Name, max(g.Count, 1))); err != nil {
				p.fail(&yaml.Node{Line: g.Line}, "group %q gives invalid machine names: %v", g.Name, err)
			}
		}
	}
	if len(f.Groups) > 0 && managers == 0 {
		p.fail(groupsNode, "no manager: at least one group needs role: manager and a count of 1 or more")
	}
	lbSeen := map[string]int{}
	for _, lb := range f.LoadBalancers {
		if line, ok := lbSeen[lb.ID]; ok && lb.ID != "" {
			p.fail(&yaml.Node{Line: lb.Line}, "load balancer %s is listed twice (first on line %d)", lb.ID, line)
		}
		lbSeen[lb.ID] = lb.Line
		attached := slices.ContainsFunc(f.Groups, func(g Group) bool { return g.SLB == lb.ID })
		if lb.ID != "" && !attached {
			p.fail(&yaml.Node{Line: lb.Line}, "load balancer %s has no group attached (set slb: %s on a group); its listeners would have no backends", lb.ID, lb.ID)
		}
		ports := map[int]bool{}
		for _, l := range lb.Listeners {
			if ports[l.Port] {
				p.fail(&yaml.Node{Line: lb.Line}, "load balancer %s: listener port %d is listed twice", lb.ID, l.Port)
			}
			ports[l.Port] = true
		}
		if len(lb.ServicePorts) > 0 && !lb.Services {
			p.fail(&yaml.Node{Line: lb.Line}, "load balancer %s: service_ports needs services: true", lb.ID)
		}
	}
}

// MachineName is the name of node i (from 1) of a group.
func MachineName(cluster, group string, i int) string {
	return fmt.Sprintf("%s-%s-%d", cluster, group, i)
}
