package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Node is one machine a cluster file describes.
type Node struct {
	Name          string
	Group         string
	Index         int // from 1 within the group
	Role          Role
	Driver        string
	DriverOptions []Option
	Engine        Engine
	SLB           string
}

// Nodes lists every node of the file: managers first (file order, then
// index), so the first node is the one the swarm is initialised on.
func (f *File) Nodes() []Node {
	var managers, workers []Node
	for _, g := range f.Groups {
		for i := 1; i <= g.Count; i++ {
			n := Node{Name: MachineName(f.Name, g.Name, i), Group: g.Name, Index: i, Role: g.Role,
				Driver: g.Driver, DriverOptions: g.DriverOptions, Engine: g.Engine, SLB: g.SLB}
			if g.Role == RoleManager {
				managers = append(managers, n)
			} else {
				workers = append(workers, n)
			}
		}
	}
	return append(managers, workers...)
}

// fingerprint groups nodes whose creates share cloud resources looked up
// by name (security groups, key material): same driver, same options. Up
// prepares those once per fingerprint; down removes the last node of each
// alone.
func (n Node) fingerprint() string {
	var b strings.Builder
	b.WriteString(n.Driver)
	for _, o := range n.DriverOptions {
		fmt.Fprintf(&b, "\x00%s=%s", o.Name, strings.Join(o.Values, "\x01"))
	}
	return b.String()
}

// Plan is what `cluster up` would do to the machines, given the store.
type Plan struct {
	// Nodes is every node of the file, managers first.
	Nodes []Node
	// Present are nodes already in the store; Missing are created.
	Present, Missing []Node
	// Extra are machines of this cluster beyond a group's count; up
	// leaves them, down removes them.
	Extra []string
}

// NewPlan compares the file with the machines in the store.
func NewPlan(f *File, existing []string) Plan {
	p := Plan{Nodes: f.Nodes()}
	have := map[string]bool{}
	for _, name := range existing {
		have[name] = true
	}
	for _, n := range p.Nodes {
		if have[n.Name] {
			p.Present = append(p.Present, n)
		} else {
			p.Missing = append(p.Missing, n)
		}
	}
	counts := map[string]int{}
	for _, g := range f.Groups {
		counts[g.Name] = g.Count
	}
	for _, name := range existing {
		rest, ok := strings.CutPrefix(name, f.Name+"-")
		if !ok {
			continue
		}
		i := strings.LastIndex(rest, "-")
		if i < 0 {
			continue
		}
		group, idx := rest[:i], rest[i+1:]
		n, err := strconv.Atoi(idx)
		count, known := counts[group]
		if err != nil || !known || strconv.Itoa(n) != idx || n < 1 {
			continue
		}
		if n > count {
			p.Extra = append(p.Extra, name)
		}
	}
	slices.Sort(p.Extra)
	return p
}

// Describe is the plan in lines, for --dry-run.
func (p Plan) Describe() []string {
	var out []string
	for _, n := range p.Nodes {
		if slices.ContainsFunc(p.Missing, func(m Node) bool { return m.Name == n.Name }) {
			out = append(out, fmt.Sprintf("create %s (%s, %s)", n.Name, n.Role, n.Driver))
		} else {
			out = append(out, fmt.Sprintf("keep %s (exists)", n.Name))
		}
	}
	for _, name := range p.Extra {
		out = append(out, fmt.Sprintf("leave %s (beyond its group's count; `cluster down` or `docker-machine rm` removes it)", name))
	}
	return out
}
