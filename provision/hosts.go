package provision

import "strings"

// desiredHosts returns /etc/hosts with exactly one "127.0.1.1" line naming
// name. A file whose only 127.0.1.1 line already lists name (possibly with
// other aliases) is returned unchanged, so running twice changes nothing.
// Otherwise the first 127.0.1.1 line is replaced, later ones are dropped, and
// a file without one gets the line appended.
func desiredHosts(current, name string) string {
	lines := strings.SplitAfter(current, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var idx []int
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "127.0.1.1" {
			idx = append(idx, i)
		}
	}
	if len(idx) == 1 {
		f := strings.Fields(strings.SplitN(lines[idx[0]], "#", 2)[0])
		if contains(f[1:], name) {
			return current
		}
	}
	want := "127.0.1.1 " + name + "\n"
	var b strings.Builder
	if len(idx) == 0 {
		b.WriteString(current)
		if current != "" && !strings.HasSuffix(current, "\n") {
			b.WriteString("\n")
		}
		b.WriteString(want)
		return b.String()
	}
	for i, l := range lines {
		switch {
		case i == idx[0]:
			b.WriteString(want)
		case contains2(idx, i):
			// duplicate 127.0.1.1 line: dropped
		default:
			b.WriteString(l)
		}
	}
	return b.String()
}

func contains2(l []int, x int) bool {
	for _, v := range l {
		if v == x {
			return true
		}
	}
	return false
}
