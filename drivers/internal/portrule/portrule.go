// Package portrule reads the --DRIVER-open-port values of the cloud drivers
// and makes the inbound rules a host's security group needs.
package portrule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Rule is one inbound rule: a port range and a protocol.
type Rule struct {
	From, To int
	Proto    string // "tcp" or "udp"
}

// String is the rule as a user writes it: 8080/tcp or 9000-9010/udp.
func (r Rule) String() string {
	if r.From == r.To {
		return fmt.Sprintf("%d/%s", r.From, r.Proto)
	}
	return fmt.Sprintf("%d-%d/%s", r.From, r.To, r.Proto)
}

// Parse reads s, a value of the option --flag: PORT, PORT/PROTO or
// FROM-TO/PROTO, TCP when no protocol is given.
func Parse(flag, s string) (Rule, error) {
	spec, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	proto = strings.ToLower(proto)
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return Rule{}, fmt.Errorf("--%s %q: protocol must be tcp or udp", flag, s)
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	from, err1 := strconv.Atoi(lo)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
		return Rule{}, fmt.Errorf("--%s %q: use PORT, PORT/PROTO or FROM-TO/PROTO with ports 1-65535", flag, s)
	}
	return Rule{From: from, To: to, Proto: proto}, nil
}

// Inbound is the rules a host needs: one for each of the TCP ports tcp
// (SSH, Docker, swarm), then each rule of open, the stored open ports,
// that is not there already. A stored value that does not parse is
// passed over: the flags were checked when they were given.
func Inbound(open []string, tcp ...int) []Rule {
	var rules []Rule
	for _, p := range tcp {
		rules = append(rules, Rule{p, p, "tcp"})
	}
	for _, p := range open {
		if r, err := Parse("", p); err == nil && !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	return rules
}
