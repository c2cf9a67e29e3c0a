package certs

import (
	"net"
	"strings"
)

// ServerCertHosts lists the names a machine's server certificate must cover, in order and
// without duplicates: every address the driver reports (public and private), the machine
// name, "localhost", "127.0.0.1", then the --tls-san values. Stock docker-machine covers
// only GetIP and localhost, which breaks clients that reach the host by its private IP
// or by name; empty entries are dropped.
func ServerCertHosts(machineName string, addrs []string, extraSANs []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		h = strings.TrimSpace(h)
		if h == "" {
			return
		}
		// Compare IPs in canonical form and names case-insensitively, as TLS does.
		key := strings.ToLower(h)
		if ip := net.ParseIP(h); ip != nil {
			key = ip.String()
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, h)
	}
	for _, a := range addrs {
		add(a)
	}
	add(machineName)
	add("localhost")
	add("127.0.0.1")
	for _, s := range extraSANs {
		add(s)
	}
	return out
}
