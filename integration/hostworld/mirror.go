package hostworld

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// suite is the Debian release the host image is built from.
const suite = "bookworm"

// aptEntry is one "deb" source of the machine's apt configuration.
type aptEntry struct {
	URI        string
	Suites     []string
	Components []string
}

// Mirror returns the Debian mirror URI the machine's own apt sources use.
// The mirror is never written into the repository: it is whatever this
// machine (a developer's, CI's) is configured with.
func Mirror() (string, error) {
	m, err := mirrorFrom("/")
	if err != nil {
		return "", err
	}
	return m.URI, nil
}

// mirrorFrom reads the apt sources under root and picks the entry that
// serves the main suite: the one listing the "bookworm" suite, else the first
// listing a plain release name (no -updates/-security), so a host on a newer
// release still yields a mirror that carries bookworm.
func mirrorFrom(root string) (aptEntry, error) {
	entries, err := readAptSources(root)
	if err != nil {
		return aptEntry{}, err
	}
	var plain *aptEntry
	for i, e := range entries {
		if slices.Contains(e.Suites, suite) {
			return sameMirror(entries, e.URI), nil
		}
		if plain == nil && slices.ContainsFunc(e.Suites, isPlainSuite) {
			plain = &entries[i]
		}
	}
	if plain != nil {
		return aptEntry{URI: plain.URI, Suites: []string{suite}, Components: []string{"main"}}, nil
	}
	return aptEntry{}, fmt.Errorf("no Debian mirror found in the apt sources under %s: "+
		"add a 'deb' source for a Debian mirror (deb822 URIs: line in /etc/apt/sources.list.d/*.sources, "+
		"or a line in /etc/apt/sources.list) and try again", filepath.Join(root, "etc/apt"))
}

// sameMirror merges the bookworm suites (bookworm, bookworm-updates, ...) the
// machine lists for uri, so the host image uses exactly the same sources.
func sameMirror(entries []aptEntry, uri string) aptEntry {
	out := aptEntry{URI: uri}
	for _, e := range entries {
		if e.URI != uri {
			continue
		}
		for _, s := range e.Suites {
			if (s == suite || strings.HasPrefix(s, suite+"-")) && !slices.Contains(out.Suites, s) {
				out.Suites = append(out.Suites, s)
			}
		}
		for _, c := range e.Components {
			if !slices.Contains(out.Components, c) {
				out.Components = append(out.Components, c)
			}
		}
	}
	if len(out.Components) == 0 {
		out.Components = []string{"main"}
	}
	return out
}

func isPlainSuite(s string) bool {
	return s != "" && !strings.ContainsAny(s, "-/")
}

// readAptSources returns the enabled "deb" entries of sources.list,
// sources.list.d/*.list and sources.list.d/*.sources, in apt's order.
func readAptSources(root string) ([]aptEntry, error) {
	dir := filepath.Join(root, "etc/apt")
	var entries []aptEntry

	main := filepath.Join(dir, "sources.list")
	if data, err := os.ReadFile(main); err == nil {
		entries = append(entries, parseOneLine(string(data))...)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading apt sources %s: %w", main, err)
	}

	parts, err := filepath.Glob(filepath.Join(dir, "sources.list.d", "*"))
	if err != nil {
		return nil, fmt.Errorf("listing apt sources in %s: %w", dir, err)
	}
	slices.Sort(parts)
	for _, p := range parts {
		var parse func(string) []aptEntry
		switch {
		case strings.HasSuffix(p, ".list"):
			parse = parseOneLine
		case strings.HasSuffix(p, ".sources"):
			parse = parseDeb822
		default:
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading apt sources %s: %w", p, err)
		}
		entries = append(entries, parse(string(data))...)
	}
	return entries, nil
}

// parseOneLine reads the classic format: "deb [options] URI suite component...".
func parseOneLine(text string) []aptEntry {
	var out []aptEntry
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") {
			// Options may contain spaces: skip to the closing bracket.
			i := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
			if i < 0 {
				continue
			}
			f = f[i+1:]
		}
		if len(f) < 2 {
			continue
		}
		out = append(out, aptEntry{URI: strings.TrimRight(f[0], "/"), Suites: []string{f[1]}, Components: f[2:]})
	}
	return out
}

// parseDeb822 reads the deb822 format: paragraphs of "Field: value" lines.
func parseDeb822(text string) []aptEntry {
	var out []aptEntry
	fields := map[string]string{}
	last := ""
	flush := func() {
		types := strings.Fields(fields["types"])
		enabled := !strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no")
		if enabled && slices.Contains(types, "deb") {
			for _, uri := range strings.Fields(fields["uris"]) {
				out = append(out, aptEntry{
					URI:        strings.TrimRight(uri, "/"),
					Suites:     strings.Fields(fields["suites"]),
					Components: strings.Fields(fields["components"]),
				})
			}
		}
		clear(fields)
		last = ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			// Continuation of a multi-line field.
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// sourcesList renders e as sources.list lines.
func (e aptEntry) sourcesList() string {
	var b strings.Builder
	for _, s := range e.Suites {
		fmt.Fprintf(&b, "deb %s %s %s\n", e.URI, s, strings.Join(e.Components, " "))
	}
	return b.String()
}
