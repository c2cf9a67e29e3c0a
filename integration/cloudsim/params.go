package cloudsim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// params are the flat request parameters of one RPC call (query and form body
// merged), as the services see them: repeated values are flattened to Name.N
// and Name.N.Field, some lists travel as JSON arrays.
type params map[string]string

// get returns a parameter. The SDK sends a few names with a lower-case first
// letter (healthCheckInterval on CreateLoadBalancerTCPListener); the service
// accepts both spellings, so does this.
func (p params) get(name string) string {
	if v, ok := p[name]; ok {
		return v
	}
	r, size := utf8.DecodeRuneInString(name)
	alt := string(unicode.ToLower(r)) + name[size:]
	return p[alt]
}

func (p params) has(name string) bool { return p.get(name) != "" }

// eq is an equality filter: true when the parameter is absent or equals have.
func (p params) eq(name, have string) bool { v := p.get(name); return v == "" || v == have }

// required returns a parameter or MissingParameter.
func (p params) required(name string) (string, error) {
	v := strings.TrimSpace(p.get(name))
	if v == "" {
		return "", errMissing(name)
	}
	return v, nil
}

// integer parses an optional integer parameter with bounds.
func (p params) integer(name string, def, minV, maxV int) (int, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errInvalidf(name, "%q is not an integer", s)
	}
	if n < minV || n > maxV {
		return 0, errInvalidf(name, "%d is outside [%d, %d]", n, minV, maxV)
	}
	return n, nil
}

// boolean parses an optional true/false parameter.
func (p params) boolean(name string, def bool) (bool, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errInvalidf(name, "%q is neither true nor false", s)
}

// oneOf checks an optional enumerated parameter (case-insensitive) and returns
// the canonical spelling from allowed.
func (p params) oneOf(name, def string, allowed ...string) (string, error) {
	s := p.get(name)
	if s == "" {
		return def, nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, s) {
			return a, nil
		}
	}
	return "", errInvalidf(name, "%q is not one of %s", s, strings.Join(allowed, ", "))
}

// indexes returns the sorted N of every parameter named prefix.N or
// prefix.N.something.
func (p params) indexes(prefix string) []int {
	seen := map[int]bool{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// list returns the values of prefix.1, prefix.2, ... in index order.
func (p params) list(prefix string) []string {
	var out []string
	for _, n := range p.indexes(prefix) {
		if v := p[prefix+"."+strconv.Itoa(n)]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// structs returns prefix.N.Field values as one map per N, in index order.
func (p params) structs(prefix string) []map[string]string {
	var out []map[string]string
	for _, n := range p.indexes(prefix) {
		base := prefix + "." + strconv.Itoa(n) + "."
		m := map[string]string{}
		for k, v := range p {
			if f, ok := strings.CutPrefix(k, base); ok {
				m[f] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// jsonList parses a parameter holding a JSON array of strings, the way
// DescribeInstances takes InstanceIds. An absent parameter is an empty list.
func (p params) jsonList(name string) ([]string, error) {
	s := strings.TrimSpace(p.get(name))
	if s == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, errInvalidf(name, "expected a JSON array of strings such as [\"a\",\"b\"]")
	}
	return out, nil
}

// idList accepts either a JSON array or a comma-separated list, which several
// filters (ImageId, SecurityGroupIds, VSwitchId) take.
func (p params) idList(name string) ([]string, error) {
	s := strings.TrimSpace(p.get(name))
	if s == "" {
		return nil, nil
	}
	if strings.HasPrefix(s, "[") {
		return p.jsonList(name)
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out, nil
}

// tagPairs reads Tag.N.Key / Tag.N.Value.
func (p params) tagPairs(prefix string) ([]tag, error) {
	var out []tag
	seen := map[string]bool{}
	for _, m := range p.structs(prefix) {
		k := m["Key"]
		if k == "" {
			continue
		}
		if err := checkTag(k, m["Value"]); err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, newErrorf("Duplicate.TagKey", "The Tag.N.Key contain duplicate key %q.", k)
		}
		seen[k] = true
		out = append(out, tag{Key: k, Value: m["Value"]})
	}
	if len(out) > 20 {
		return nil, newError("InvalidTagCount", "The number of tags exceeds the limit of 20.")
	}
	return out, nil
}

// pageArgs reads PageNumber/PageSize with the services' defaults.
func (p params) pageArgs(defSize, maxSize int) (number, size int, err error) {
	if number, err = p.integer("PageNumber", 1, 1, 1<<30); err != nil {
		return 0, 0, err
	}
	if size, err = p.integer("PageSize", defSize, 1, maxSize); err != nil {
		return 0, 0, err
	}
	return number, size, nil
}

// page cuts one page out of items.
func page[T any](items []T, number, size int) []T {
	start := (number - 1) * size
	if start >= len(items) {
		return []T{}
	}
	end := min(start+size, len(items))
	return items[start:end]
}

// tokenPage cuts a NextToken/MaxResults page: the token is the offset.
func tokenPage[T any](items []T, token string, maxResults int) ([]T, string, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 {
			return nil, "", errInvalid("NextToken")
		}
		start = n
	}
	if start >= len(items) {
		return []T{}, "", nil
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

// matchName matches a name filter: '*' wildcards, otherwise an exact match.
func matchName(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	rest := name[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(rest, part) && len(rest) >= len(part)
		}
		idx := strings.Index(rest, part)
		if idx < 0 {
			return false
		}
		rest = rest[idx+len(part):]
	}
	return true
}

// regionalCall reads RegionId and the ID parameter param, and looks the
// resource up in the table of_ picks under s.mu; on success it returns with
// s.mu held, for the caller to release. of_ takes the state as an argument
// because a reset replaces s.st.
func regionalCall[T record](s *Server, c *callCtx, param string, of_ func(st *state) *table[T]) (T, error) {
	var zero T
	region, err := c.regionUnlessOptional()
	if err != nil {
		return zero, err
	}
	id, err := c.p.required(param)
	if err != nil {
		return zero, err
	}
	s.mu.Lock()
	v, err := of_(s.st).find(region, id)
	if err != nil {
		s.mu.Unlock()
		return zero, err
	}
	return v, nil
}

// describePage is the body the paged Describe actions share: RegionId and
// PageNumber/PageSize first (their errors come before any filter's), then the
// filtered list under s.mu, answered as TotalCount, PageNumber, PageSize and
// one page of views under outer.inner.
func describePage[T any](s *Server, c *callCtx, defSize, maxSize int, outer, inner string,
	filter func(region string) ([]T, error), view func(T) obj) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	number, size, err := c.p.pageArgs(defSize, maxSize)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list, err := filter(r.ID)
	if err != nil {
		return nil, err
	}
	return obj{"TotalCount": len(list), "PageNumber": number, "PageSize": size, outer: obj{inner: views(page(list, number, size), view)}}, nil
}

// views renders items; an empty list stays [] in the answer.
func views[T, V any](items []T, view func(T) V) []V {
	out := make([]V, 0, len(items))
	for _, it := range items {
		out = append(out, view(it))
	}
	return out
}

// pageOrToken puts one page of list under outer.inner in answer: by
// NextToken/MaxResults when the caller sent either (newer SDKs), else by the
// PageNumber/PageSize already read.
func pageOrToken[T any](c *callCtx, answer obj, list []T, number, size int, outer, inner string, view func(T) obj) (obj, error) {
	if c.p.has("MaxResults") || c.p.has("NextToken") {
		maxResults, err := c.p.integer("MaxResults", 10, 1, 100)
		if err != nil {
			return nil, err
		}
		part, next, err := tokenPage(list, c.p.get("NextToken"), maxResults)
		if err != nil {
			return nil, err
		}
		answer["NextToken"] = next
		answer[outer] = obj{inner: views(part, view)}
		return answer, nil
	}
	answer["PageNumber"], answer["PageSize"] = number, size
	answer[outer] = obj{inner: views(page(list, number, size), view)}
	return answer, nil
}

// byCreated orders resources oldest first, then by ID, the order the services
// list them in.
func byCreated(aCreated, bCreated time.Time, aID, bID string) int {
	if c := aCreated.Compare(bCreated); c != 0 {
		return c
	}
	return strings.Compare(aID, bID)
}
