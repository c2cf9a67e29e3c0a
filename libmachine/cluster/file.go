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
	Networks      []Network
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

// field is a known key of a mapping and what to do with its value; path
// names the value in messages ("groups[0].count").
type field struct {
	key string
	set func(v *yaml.Node, path string)
}

// fields walks a mapping, handing the value of each known key to its field
// and failing on unknown or repeated keys. what names the mapping; it is
// empty for the top of the file, whose keys are named by themselves.
func (p *parser) fields(n *yaml.Node, what string, known []field) {
	label := what
	if label == "" {
		label = "the cluster file"
	}
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping (key: value lines)", label)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.fail(k, "%s: %q is given twice", label, k.Value)
			continue
		}
		seen[k.Value] = true
		j := slices.IndexFunc(known, func(f field) bool { return f.key == k.Value })
		if j < 0 {
			keys := make([]string, len(known))
			for i, f := range known {
				keys[i] = f.key
			}
			p.fail(k, "%s: unknown key %q (known: %s)", label, k.Value, strings.Join(keys, ", "))
			continue
		}
		path := k.Value
		if what != "" {
			path = what + "." + k.Value
		}
		known[j].set(v, path)
	}
}

// items parses a list with item, naming element i what[i] in messages;
// item leaves an element out by answering false. hint completes "what must
// be a list" for a value that is not one.
func items[T any](p *parser, n *yaml.Node, what, hint string, item func(n *yaml.Node, what string) (T, bool)) []T {
	if n.Kind != yaml.SequenceNode {
		p.fail(n, "%s must be a list %s", what, hint)
		return nil
	}
	var out []T
	for i, in := range n.Content {
		if t, ok := item(in, fmt.Sprintf("%s[%d]", what, i)); ok {
			out = append(out, t)
		}
	}
	return out
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
	p.fields(n, "", []field{
		{"name", func(v *yaml.Node, path string) { nameNode, f.Name = v, p.str(v, path) }},
		{"driver", func(v *yaml.Node, path string) { f.Driver = p.str(v, path) }},
		{"driver_options", func(v *yaml.Node, path string) { f.DriverOptions = p.options(v, path) }},
		{"engine", func(v *yaml.Node, path string) { f.Engine = p.engine(v, path, Engine{}) }},
		{"groups", func(v *yaml.Node, _ string) { groupsNode = v }},
		{"load_balancers", func(v *yaml.Node, path string) { f.LoadBalancers = p.loadBalancers(v, path) }},
		{"networks", func(v *yaml.Node, path string) { f.Networks = p.networks(v, path) }},
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
	str := func(dst *string) func(*yaml.Node, string) {
		return func(v *yaml.Node, path string) { *dst = p.str(v, path) }
	}
	list := func(dst *[]string) func(*yaml.Node, string) {
		return func(v *yaml.Node, path string) { *dst = p.list(v, path) }
	}
	p.fields(n, what, []field{
		{"install_url", str(&e.InstallURL)},
		{"storage_driver", str(&e.StorageDriver)},
		{"registry_mirror", list(&e.RegistryMirror)},
		{"insecure_registry", list(&e.InsecureRegistry)},
		{"labels", list(&e.Labels)},
		{"opt", list(&e.Opt)},
		{"env", list(&e.Env)},
		{"tls_san", list(&e.TLSSAN)},
	})
	return e
}

var groupName = clusterName

// maxCount bounds a group; a typo such as 100 instead of 10 should not
// start a hundred instances.
const maxCount = 50

func (p *parser) groups(n *yaml.Node, f *File) []Group {
	return items(p, n, "groups", "of groups (- name: ...)", func(gn *yaml.Node, what string) (Group, bool) {
		g := Group{Count: 1, Role: RoleWorker, Driver: f.Driver, Engine: f.Engine, Line: gn.Line}
		var own []Option
		var nameNode, roleNode *yaml.Node
		p.fields(gn, what, []field{
			{"name", func(v *yaml.Node, path string) { nameNode, g.Name = v, p.str(v, path) }},
			{"count", func(v *yaml.Node, path string) { g.Count = p.integer(v, path, 0, maxCount) }},
			{"role", func(v *yaml.Node, path string) { roleNode, g.Role = v, Role(strings.ToLower(p.str(v, path))) }},
			{"driver", func(v *yaml.Node, path string) { g.Driver = p.str(v, path) }},
			{"driver_options", func(v *yaml.Node, path string) { own = p.options(v, path) }},
			{"engine", func(v *yaml.Node, path string) { g.Engine = p.engine(v, path, f.Engine) }},
			{"slb", func(v *yaml.Node, path string) { g.SLB = p.str(v, path) }},
		})
		if gn.Kind != yaml.MappingNode {
			return g, false
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
		return g, true
	})
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

func (p *parser) loadBalancers(n *yaml.Node, what string) []LoadBalancer {
	return items(p, n, what, "(- id: lb-...)", func(ln *yaml.Node, what string) (LoadBalancer, bool) {
		lb := LoadBalancer{Line: ln.Line, ServicePorts: map[string]int{}}
		p.fields(ln, what, []field{
			{"id", func(v *yaml.Node, path string) { lb.ID = p.str(v, path) }},
			{"services", func(v *yaml.Node, path string) { lb.Services = p.boolean(v, path) }},
			{"service_ports", func(v *yaml.Node, path string) {
				if v.Kind != yaml.MappingNode {
					p.fail(v, "%s must map SERVICE (or SERVICE:PUBLISHED) to a front port", path)
					return
				}
				for j := 0; j+1 < len(v.Content); j += 2 {
					key := p.str(v.Content[j], path)
					lb.ServicePorts[key] = p.integer(v.Content[j+1], path+"."+key, 1, 65535)
				}
			}},
			{"listeners", func(v *yaml.Node, path string) { lb.Listeners = p.staticListeners(v, path) }},
		})
		if ln.Kind == yaml.MappingNode && lb.ID == "" {
			p.fail(ln, "%s: id is missing (the SLB instance ID, lb-...)", what)
		}
		return lb, true
	})
}

func (p *parser) staticListeners(n *yaml.Node, what string) []StaticListener {
	return items(p, n, what, "(- port: 2377)", func(ln *yaml.Node, what string) (StaticListener, bool) {
		var l StaticListener
		p.fields(ln, what, []field{
			{"port", func(v *yaml.Node, path string) { l.Port = p.integer(v, path, 1, 65535) }},
			{"backend_port", func(v *yaml.Node, path string) { l.BackendPort = p.integer(v, path, 1, 65535) }},
		})
		if ln.Kind == yaml.MappingNode && l.Port == 0 {
			p.fail(ln, "%s: port is missing", what)
		}
		if l.BackendPort == 0 {
			l.BackendPort = l.Port
		}
		return l, true
	})
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
