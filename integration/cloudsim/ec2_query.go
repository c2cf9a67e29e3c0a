package cloudsim

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The request side of the EC2 Query API shared by its actions: nested
// parameters, filters, ID lists and nextToken paging.

// sub returns the parameters under prefix ("NetworkInterface.1."), with the
// prefix removed.
func (p params) sub(prefix string) params {
	out := params{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// each returns the numbered groups under name (name.1., name.2., ...), in
// index order.
func (p params) each(name string) []params {
	var out []params
	for _, n := range p.indexes(name) {
		out = append(out, p.sub(name+"."+strconv.Itoa(n)+"."))
	}
	return out
}

// ec2Int reads an optional integer (def when absent).
func (p params) ec2Int(name string, def int) (int, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, ec2Invalid("Value (%s) for parameter %s is invalid. Expected an integer.", s, name)
	}
	return n, nil
}

// ec2Bool reads an optional boolean.
func (p params) ec2Bool(name string, def bool) (bool, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, ec2Invalid("Value (%s) for parameter %s is invalid. Expected a boolean.", s, name)
	}
	return b, nil
}

func (p params) ec2Required(name string) (string, error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return "", ec2Missing(name)
	}
	return v, nil
}

// dryRun answers DryRunOperation once a request is valid and DryRun is set.
func (c *ec2Call) dryRun() error {
	dry, err := c.p.ec2Bool("DryRun", false)
	if err != nil {
		return err
	}
	if dry {
		return ec2Error("DryRunOperation", "")
	}
	return nil
}

// ec2Filter is one Filter.N: a name and the values any of which may match.
type ec2Filter struct {
	name   string
	values []*regexp.Regexp
}

// filters reads Filter.N.Name / Filter.N.Value.M. Values take * and ?
// wildcards, as EC2's do.
func (c *ec2Call) filters() ([]ec2Filter, error) {
	var out []ec2Filter
	for _, f := range c.p.each("Filter") {
		name := f.get("Name")
		if name == "" {
			return nil, ec2Missing("Filter.N.Name")
		}
		var res []*regexp.Regexp
		for _, v := range f.list("Value") {
			res = append(res, wildcard(v))
		}
		out = append(out, ec2Filter{name: name, values: res})
	}
	return out, nil
}

func wildcard(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// fields give, per filter name, the values a resource has for it.
type fields[T record] map[string]func(T) []string

// keep returns the predicate the filters make over fields: every filter must
// match one of the resource's values (tag:KEY, tag-key and tag-value come
// from its tags). An unknown filter name is InvalidParameterValue.
func keep[T record](filters []ec2Filter, f fields[T]) (func(T) bool, error) {
	for _, fl := range filters {
		if _, ok := f[fl.name]; !ok && !strings.HasPrefix(fl.name, "tag:") && fl.name != "tag-key" && fl.name != "tag-value" {
			return nil, ec2Invalid("The filter '%s' is invalid", fl.name)
		}
	}
	return func(v T) bool {
		for _, fl := range filters {
			var have []string
			switch {
			case strings.HasPrefix(fl.name, "tag:"):
				for _, t := range v.base().Tags {
					if t.Key == strings.TrimPrefix(fl.name, "tag:") {
						have = append(have, t.Value)
					}
				}
			case fl.name == "tag-key":
				for _, t := range v.base().Tags {
					have = append(have, t.Key)
				}
			case fl.name == "tag-value":
				for _, t := range v.base().Tags {
					have = append(have, t.Value)
				}
			default:
				have = f[fl.name](v)
			}
			if !anyMatch(fl.values, have) {
				return false
			}
		}
		return true
	}, nil
}

func anyMatch(res []*regexp.Regexp, have []string) bool {
	for _, re := range res {
		for _, h := range have {
			if re.MatchString(h) {
				return true
			}
		}
	}
	return false
}

func one(s string) []string { return []string{s} }

// ids reads an ID list (InstanceId.N) and checks each ID's form.
func (c *ec2Call) ids(name, prefix, malformed string) ([]string, error) {
	out := c.p.list(name)
	for _, id := range out {
		if !strings.HasPrefix(id, prefix+"-") {
			return nil, ec2Errorf(malformed, "Invalid id: \"%s\"", id)
		}
	}
	return out, nil
}

// missingIDs returns the error for the first asked-for ID not found, as the
// Describe actions that take ID lists answer.
func missingIDs[T record](t *table[T], region string, ids []string) error {
	for _, id := range ids {
		if _, err := t.find(region, id); err != nil {
			return err
		}
	}
	return nil
}

// page cuts one page by MaxResults/NextToken: the token is opaque to the
// client and empty on the last page, so paginators stop.
func (c *ec2Call) page(items []xnode, minMax, maxMax int) ([]xnode, string, error) {
	start := 0
	if tok := c.p.get("NextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || convErr != nil || n < 0 || !strings.HasPrefix(string(raw), "offset:") {
			return nil, "", ec2Errorf("InvalidNextToken", "The token '%s' is invalid.", tok)
		}
		start = n
	}
	if !c.p.has("MaxResults") {
		if start >= len(items) {
			return []xnode{}, "", nil
		}
		return items[start:], "", nil
	}
	limit, err := c.p.ec2Int("MaxResults", maxMax)
	if err != nil {
		return nil, "", err
	}
	if limit < minMax || limit > maxMax {
		return nil, "", ec2Invalid("Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", limit, minMax, maxMax)
	}
	if start >= len(items) {
		return []xnode{}, "", nil
	}
	end := min(start+limit, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "offset:%d", end))
	}
	return items[start:end], next, nil
}

// tagsParam reads Tag.N.Key / Tag.N.Value.
func tagsParam(p params) ([]tag, error) {
	var out []tag
	for _, t := range p.each("Tag") {
		k := t.get("Key")
		if k == "" {
			return nil, ec2Invalid("Tag key must not be empty")
		}
		if len(k) > 128 || len(t.get("Value")) > 256 {
			return nil, ec2Invalid("Tag key or value is too long: keys up to 128 characters, values up to 256")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, ec2Invalid("Tag keys starting with 'aws:' are reserved for internal use")
		}
		out = append(out, tag{Key: k, Value: t.get("Value")})
	}
	return out, nil
}

// maxEC2Tags is how many tags an EC2 resource may carry.
const maxEC2Tags = 50

// tagSpecs reads TagSpecification.N for a create action: the tags for each
// resource type it makes.
func tagSpecs(p params, allowed ...string) (map[string][]tag, error) {
	out := map[string][]tag{}
	for _, spec := range p.each("TagSpecification") {
		rt := spec.get("ResourceType")
		if !containsStr(allowed, rt) {
			return nil, ec2Invalid("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		tags, err := tagsParam(spec)
		if err != nil {
			return nil, err
		}
		out[rt] = append(out[rt], tags...)
	}
	return out, nil
}

func withTags(m *meta, tags []tag) error {
	if err := m.mergeTags(tags, maxEC2Tags); err != nil {
		return ec2Errorf("TagLimitExceeded", "The maximum number of Tags for a resource has been reached (%d).", maxEC2Tags)
	}
	return nil
}

// describeSpec is what a Describe action over one table needs.
type describeSpec[T record] struct {
	table                        func(*ec2State) *table[T]
	idParam, idPrefix, malformed string
	fields                       fields[T]
	set                          string
	view                         func(T) xnode
	// check, when set, runs under the lock before listing (name lists
	// that must all exist); also, when set, narrows the rows.
	check func(*ec2State) error
	also  func(T) bool
	// paged: MaxResults/NextToken are taken (maximum maxResults).
	paged      bool
	maxResults int
}

// describe is the body the Describe actions share: the ID list (every ID
// must exist), the filters, the region's matching rows in order, one page
// of views.
func describe[T record](s *Server, c *ec2Call, d describeSpec[T]) ([]xnode, error) {
	ids, err := c.ids(d.idParam, d.idPrefix, d.malformed)
	if err != nil {
		return nil, err
	}
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	match, err := keep(filters, d.fields)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := d.table(s.st.ec2)
	if err := missingIDs(t, c.region.Name, ids); err != nil {
		return nil, err
	}
	if d.check != nil {
		if err := d.check(s.st.ec2); err != nil {
			return nil, err
		}
	}
	list := t.list(selector{region: c.region.Name, ids: ids}, func(v T) bool { return match(v) && (d.also == nil || d.also(v)) })
	items := views(list, d.view)
	if !d.paged {
		return []xnode{set(d.set, items)}, nil
	}
	return pagedSet(c, d.set, items, 5, d.maxResults)
}
