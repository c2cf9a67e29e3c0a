package provision

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// OSRelease is the content of /etc/os-release.
type OSRelease struct {
	ID         string
	IDLike     string
	VersionID  string
	Name       string
	PrettyName string
	// Fields holds every assignment in the file, unquoted, by variable name.
	Fields map[string]string
}

// ParseOSRelease parses os-release(5) content: KEY=value lines where value may
// be double- or single-quoted with backslash escapes; blank lines and
// comments are ignored. Unparseable lines are an error, as is a missing ID.
func ParseOSRelease(data []byte) (*OSRelease, error) {
	rel := &OSRelease{Fields: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("os-release line %d is not KEY=value: %q", n, line)
		}
		val, err := unquoteOSRelease(raw)
		if err != nil {
			return nil, fmt.Errorf("os-release line %d (%s): %w", n, key, err)
		}
		rel.Fields[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading os-release: %w", err)
	}
	rel.ID = rel.Fields["ID"]
	rel.IDLike = rel.Fields["ID_LIKE"]
	rel.VersionID = rel.Fields["VERSION_ID"]
	rel.Name = rel.Fields["NAME"]
	rel.PrettyName = rel.Fields["PRETTY_NAME"]
	if rel.ID == "" {
		return nil, fmt.Errorf("os-release has no ID field")
	}
	return rel, nil
}

func unquoteOSRelease(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	q := raw[0]
	if q != '"' && q != '\'' {
		// Unquoted values may not contain spaces or shell specials.
		if strings.ContainsAny(raw, " \t\"'`$\\") {
			return "", fmt.Errorf("unquoted value %q contains characters that need quoting", raw)
		}
		return raw, nil
	}
	if len(raw) < 2 || raw[len(raw)-1] != q {
		return "", fmt.Errorf("unterminated quoted value %s", raw)
	}
	body := raw[1 : len(raw)-1]
	if q == '\'' {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) && strings.IndexByte("\"\\`$", body[i+1]) >= 0 {
			i++
			c = body[i]
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// version is a dotted numeric version; non-numeric tails are ignored
// ("22.04" -> [22 4], "9.3" -> [9 3], "2023" -> [2023]).
type version []int

func parseVersion(s string) version {
	var v version
	for _, p := range strings.Split(s, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		if end == 0 {
			break
		}
		n, _ := strconv.Atoi(p[:end])
		v = append(v, n)
		if end < len(p) {
			break
		}
	}
	return v
}

// atLeast reports whether v >= min, comparing component by component.
func (v version) atLeast(min ...int) bool {
	for i, m := range min {
		x := 0
		if i < len(v) {
			x = v[i]
		}
		if x != m {
			return x > m
		}
	}
	return true
}
