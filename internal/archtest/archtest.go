// Package archtest holds the design's import rules and a checker for them;
// its test loads this module's import graph with `go list` and fails on any
// import a rule forbids, so the one-way flow of DESIGN.md (cmd -> libmachine
// -> (drivers | provision -> ssh) -> certs) is kept by the unit suite rather
// than by review.
//
// The rules are about product code: the non-test files of each package, for
// every build tag and operating system the module uses. Tests may import
// drivers and the test world freely.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Graph maps a package to the packages its non-test files import. Paths are
// relative to the module ("libmachine/host"); packages outside the module
// are left out, since they cannot import the module's packages back.
type Graph map[string][]string

// Rule forbids the packages it covers from importing certain others.
type Rule struct {
	// Name says the rule in words, as it is shown in a violation.
	Name string
	// Covers reports whether the rule constrains the importing package.
	Covers func(pkg string) bool
	// Forbids reports whether pkg may not be imported.
	Forbids func(pkg string) bool
	// Transitive extends the rule to everything the covered package
	// depends on, not only what it imports itself.
	Transitive bool
}

// Violation is one forbidden import.
type Violation struct {
	Importer string
	Imported string
	// Via is the chain of imports from Importer to Imported, for a
	// transitive rule broken through other packages; nil when direct.
	Via  []string
	Rule string
}

func (v Violation) String() string {
	if len(v.Via) > 0 {
		return fmt.Sprintf("%s depends on %s through %s: %s", v.Importer, v.Imported, strings.Join(v.Via, " -> "), v.Rule)
	}
	return fmt.Sprintf("%s imports %s: %s", v.Importer, v.Imported, v.Rule)
}

// under reports whether pkg is dir or inside it.
func under(pkg, dir string) bool {
	return pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

func anyUnder(dirs ...string) func(string) bool {
	return func(pkg string) bool {
		return slices.ContainsFunc(dirs, func(d string) bool { return under(pkg, d) })
	}
}

// Rules are the design's import rules.
var Rules = []Rule{
	{
		Name:    "the commands and libmachine work for any driver; only the composition root (cmd/docker-machine/main.go) names a driver",
		Covers:  anyUnder("cmd/docker-machine/commands", "libmachine"),
		Forbids: anyUnder("drivers"),
	},
	{
		Name: "product code never imports the test world under integration/ (only cmd/cloudsim serves it)",
		Covers: func(pkg string) bool {
			return !under(pkg, "integration") && pkg != "cmd/cloudsim"
		},
		Forbids: anyUnder("integration"),
	},
	{
		Name:       "provision knows Linux and Docker: it depends neither on the host model (libmachine/host) nor on a driver",
		Covers:     anyUnder("provision"),
		Forbids:    anyUnder("libmachine/host", "drivers"),
		Transitive: true,
	},
	{
		Name:       "a driver knows its cloud and nothing of the core: it depends neither on libmachine/host nor on libmachine/store",
		Covers:     anyUnder("drivers"),
		Forbids:    anyUnder("libmachine/host", "libmachine/store"),
		Transitive: true,
	},
	{
		Name:    "libmachine/capability, hostopts and poll are leaves that every layer may import: they import nothing of this module",
		Covers:  anyUnder("libmachine/capability", "libmachine/hostopts", "libmachine/poll"),
		Forbids: func(string) bool { return true },
	},
}

// Check returns every import in g that one of rules forbids, sorted by
// importer and imported package.
func Check(g Graph, rules []Rule) []Violation {
	var out []Violation
	for _, pkg := range sortedKeys(g) {
		for _, r := range rules {
			if !r.Covers(pkg) {
				continue
			}
			if r.Transitive {
				out = append(out, transitive(g, pkg, r)...)
				continue
			}
			for _, imp := range g[pkg] {
				if r.Forbids(imp) {
					out = append(out, Violation{Importer: pkg, Imported: imp, Rule: r.Name})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Violation) int {
		return strings.Compare(a.Importer+"\x00"+a.Imported, b.Importer+"\x00"+b.Imported)
	})
	return out
}

// transitive walks breadth-first from pkg, so each forbidden package is
// reported once with the shortest chain that reaches it.
func transitive(g Graph, pkg string, r Rule) []Violation {
	var out []Violation
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range g[cur] {
			if _, seen := from[imp]; seen {
				continue
			}
			from[imp] = cur
			if r.Forbids(imp) {
				v := Violation{Importer: pkg, Imported: imp, Rule: r.Name}
				if cur != pkg {
					v.Via = chain(from, imp)
				}
				out = append(out, v)
				continue // what lies behind a forbidden package is its own rules' business
			}
			queue = append(queue, imp)
		}
	}
	return out
}

func chain(from map[string]string, last string) []string {
	var c []string
	for p := last; p != ""; p = from[p] {
		c = append(c, p)
	}
	slices.Reverse(c)
	return c
}

func sortedKeys(g Graph) []string {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Platforms are the operating systems whose files are loaded: a file behind
// a build constraint is checked too.
var Platforms = []string{"linux", "darwin", "windows"}

// Load lists the packages of the module that contains dir, once per
// platform with the integration build tag (which only adds files), and
// merges their imports into one graph.
func Load(dir string) (Graph, error) {
	mod, root, err := module(dir)
	if err != nil {
		return nil, err
	}
	g := Graph{}
	for _, goos := range Platforms {
		if err := loadInto(g, mod, root, goos); err != nil {
			return nil, err
		}
	}
	for pkg, imps := range g {
		slices.Sort(imps)
		g[pkg] = slices.Compact(imps)
	}
	return g, nil
}

func module(dir string) (path, root string, err error) {
	out, err := goTool(dir, nil, "list", "-m", "-json")
	if err != nil {
		return "", "", err
	}
	var m struct{ Path, Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", fmt.Errorf("reading the module from go list: %w", err)
	}
	if m.Path == "" || m.Dir == "" {
		return "", "", fmt.Errorf("%s is not inside a Go module", dir)
	}
	return m.Path, m.Dir, nil
}

func loadInto(g Graph, mod, root, goos string) error {
	out, err := goTool(root, []string{"GOOS=" + goos}, "list", "-tags", "integration", "-json=ImportPath,Imports", "./...")
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading go list's output for GOOS=%s: %w", goos, err)
		}
		pkg, ok := rel(mod, p.ImportPath)
		if !ok {
			continue
		}
		if _, ok := g[pkg]; !ok {
			g[pkg] = nil
		}
		for _, imp := range p.Imports {
			if r, ok := rel(mod, imp); ok {
				g[pkg] = append(g[pkg], r)
			}
		}
	}
}

// rel turns an import path of the module into a module-relative one; the
// module's root package is ".".
func rel(mod, path string) (string, bool) {
	if path == mod {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, mod+"/")
	return r, ok
}

func goTool(dir string, env []string, args ...string) ([]byte, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go tool is needed to list the module's packages: %w", err)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s (in %s, %s): %w\n%s", strings.Join(args, " "), dir, strings.Join(env, " "), err, stderr.String())
	}
	return out, nil
}
