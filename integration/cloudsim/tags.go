package cloudsim

import (
	"encoding/json"
	"slices"
	"strings"
)

// Tags are kept per resource (kind + ID) and shared by all actions: the tags
// given at creation, TagResources/UntagResources/ListTagResources of ECS, VPC
// and SLB, ECS's AddTags/RemoveTags/DescribeTags and SLB's
// AddTags/RemoveTags/DescribeTags.

// tagKinds maps each product's ResourceType (lower case) to the table kind.
var tagKinds = map[string]map[string]string{
	"Ecs": {"instance": "instance", "securitygroup": "securitygroup", "keypair": "keypair"},
	"Vpc": {"vpc": "vpc", "vswitch": "vswitch", "routetable": "routetable", "eip": "eip"},
	"Slb": {"instance": "loadbalancer"},
}

// tagKind maps a product's ResourceType to the internal kind.
func tagKind(product, resourceType string) (string, bool) {
	kind, ok := tagKinds[product][strings.ToLower(resourceType)]
	return kind, ok
}

// tagTargets looks up every ID in the region's table of kind: all or an
// InvalidResourceId.NotFound naming the first missing one, so a bad ID
// changes nothing.
func (st *state) tagTargets(kind, region string, ids []string) ([]*meta, error) {
	out := make([]*meta, 0, len(ids))
	for _, id := range ids {
		m := st.taggable[kind].lookup(region, id)
		if m == nil {
			return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceIds are not found in our records: %s.", id)
		}
		out = append(out, m)
	}
	return out, nil
}

// tagCall reads RegionId, ResourceType and ResourceId.N.
func (c *callCtx) tagCall(needIDs bool) (region *regionInfo, kind, shownType string, ids []string, err error) {
	if region, err = c.region(); err != nil {
		return
	}
	shownType, err = c.p.required("ResourceType")
	if err != nil {
		return
	}
	var ok bool
	if kind, ok = tagKind(c.product.Name, shownType); !ok {
		err = newErrorf("InvalidResourceType.NotFound", "The ResourceType %q is not supported by %s here.", shownType, c.product.Name)
		return
	}
	ids = c.p.list("ResourceId")
	if needIDs && len(ids) == 0 {
		err = errMissing("ResourceId.N")
		return
	}
	if len(ids) > 50 {
		err = errInvalidf("ResourceId.N", "at most 50 resources per call")
	}
	return
}

// tagMatches tells whether t satisfies the filter tag f; an empty filter
// value matches any value.
func tagMatches(f, t tag) bool { return t.Key == f.Key && (f.Value == "" || t.Value == f.Value) }

// keysMatching lists the keys of tags in have that a tag of want matches,
// for the RemoveTags actions.
func keysMatching(have, want []tag) []string {
	var keys []string
	for _, w := range want {
		for _, t := range have {
			if tagMatches(w, t) {
				keys = append(keys, t.Key)
			}
		}
	}
	return keys
}

// newTags reads Tag.N for the actions that add tags: at least one is needed.
func (p params) newTags() ([]tag, error) {
	tags, err := p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, errMissing("Tag.N.Key")
	}
	return tags, nil
}

func (s *Server) tagResources(c *callCtx) (obj, error) {
	r, kind, _, ids, err := c.tagCall(true)
	if err != nil {
		return nil, err
	}
	tags, err := c.p.newTags()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.st.tagTargets(kind, r.ID, ids)
	if err != nil {
		return nil, err
	}
	for _, m := range targets {
		if err := m.mergeTags(tags, maxTags); err != nil {
			return nil, err
		}
	}
	return obj{}, nil
}

func (s *Server) untagResources(c *callCtx) (obj, error) {
	r, kind, _, ids, err := c.tagCall(true)
	if err != nil {
		return nil, err
	}
	all, err := c.p.boolean("All", false)
	if err != nil {
		return nil, err
	}
	keys := c.p.list("TagKey")
	if !all && len(keys) == 0 {
		return nil, errMissing("TagKey.N")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	targets, err := s.st.tagTargets(kind, r.ID, ids)
	if err != nil {
		return nil, err
	}
	for _, m := range targets {
		m.dropTags(keys, all)
	}
	return obj{}, nil
}

func (s *Server) listTagResources(c *callCtx) (obj, error) {
	r, kind, shownType, ids, err := c.tagCall(false)
	if err != nil {
		return nil, err
	}
	filter, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	for _, f := range c.p.structs("TagFilter") {
		if f["TagKey"] != "" {
			filter = append(filter, tag{Key: f["TagKey"]})
		}
	}
	if len(ids) == 0 && len(filter) == 0 {
		return nil, newError("MissingParameter", "Give ResourceId.N or Tag.N to list tags.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type row struct{ id, key, value string }
	var rows []row
	s.st.taggable[kind].each(func(m *meta) {
		if m.RegionID != r.ID || (len(ids) > 0 && !slices.Contains(ids, m.ID)) || !hasTags(m.Tags, filter) {
			return
		}
		for _, t := range m.Tags {
			rows = append(rows, row{m.ID, t.Key, t.Value})
		}
	})
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	maxResults := 50
	if c.p.has("MaxResults") {
		if maxResults, err = c.p.integer("MaxResults", 50, 1, 1000); err != nil {
			return nil, err
		}
	}
	part, next, err := tokenPage(rows, c.p.get("NextToken"), maxResults)
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, rw := range part {
		out = append(out, obj{"ResourceId": rw.id, "ResourceType": shownType, "TagKey": rw.key, "TagValue": rw.value})
	}
	return obj{"NextToken": next, "TagResources": obj{"TagResource": out}}, nil
}

// ECS legacy tags: one resource per call.

func (s *Server) ecsLegacyTagCall(c *callCtx) (*regionInfo, string, string, error) {
	r, args, err := c.regionWith("ResourceType")
	if err != nil {
		return nil, "", "", err
	}
	typ := args[0]
	kind, ok := tagKind("Ecs", typ)
	if !ok {
		return nil, "", "", newErrorf("InvalidResourceType.NotFound", "The ResourceType %q is not supported here: use instance, securitygroup or keypair.", typ)
	}
	id, err := c.p.required("ResourceId")
	if err != nil {
		return nil, "", "", err
	}
	return r, kind, id, nil
}

func (s *Server) ecsAddTags(c *callCtx) (obj, error) {
	r, kind, id, err := s.ecsLegacyTagCall(c)
	if err != nil {
		return nil, err
	}
	tags, err := c.p.newTags()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.taggable[kind].lookup(r.ID, id)
	if m == nil {
		return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceId %q is not found in our records.", id)
	}
	return obj{}, m.mergeTags(tags, maxTags)
}

func (s *Server) ecsRemoveTags(c *callCtx) (obj, error) {
	r, kind, id, err := s.ecsLegacyTagCall(c)
	if err != nil {
		return nil, err
	}
	pairs := c.p.structs("Tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.taggable[kind].lookup(r.ID, id)
	if m == nil {
		return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceId %q is not found in our records.", id)
	}
	if len(pairs) == 0 {
		m.dropTags(nil, true)
		return obj{}, nil
	}
	want := make([]tag, 0, len(pairs))
	for _, p := range pairs {
		want = append(want, tag{Key: p["Key"], Value: p["Value"]})
	}
	m.dropTags(keysMatching(m.Tags, want), false)
	return obj{}, nil
}

func (s *Server) ecsDescribeTags(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(50, 100)
	if err != nil {
		return nil, err
	}
	kinds := []string{"instance", "securitygroup", "keypair"}
	if typ := c.p.get("ResourceType"); typ != "" {
		kind, ok := tagKind("Ecs", typ)
		if !ok {
			return nil, newErrorf("InvalidResourceType.NotFound", "The ResourceType %q is not supported here.", typ)
		}
		kinds = []string{kind}
	}
	filter, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	resID := c.p.get("ResourceId")
	s.mu.Lock()
	defer s.mu.Unlock()
	type agg struct {
		key, value string
		counts     map[string]int
	}
	byPair := map[string]*agg{}
	for _, kind := range kinds {
		s.st.taggable[kind].each(func(m *meta) {
			if m.RegionID != r.ID || (resID != "" && m.ID != resID) {
				return
			}
			for _, t := range m.Tags {
				if len(filter) > 0 && !slices.ContainsFunc(filter, func(f tag) bool { return tagMatches(f, t) }) {
					continue
				}
				k := t.Key + "\x00" + t.Value
				if byPair[k] == nil {
					byPair[k] = &agg{key: t.Key, value: t.Value, counts: map[string]int{}}
				}
				byPair[k].counts[kind]++
			}
		})
	}
	keys := sortedKeys(byPair)
	out := []obj{}
	for _, k := range page(keys, number, size) {
		a := byPair[k]
		out = append(out, obj{"TagKey": a.key, "TagValue": a.value, "ResourceTypeCount": obj{
			"Instance": a.counts["instance"], "Securitygroup": a.counts["securitygroup"], "KeyPair": a.counts["keypair"],
		}})
	}
	return obj{"TotalCount": len(keys), "PageNumber": number, "PageSize": size, "Tags": obj{"Tag": out}}, nil
}

// SLB legacy tags: Tags is a JSON list of {"TagKey","TagValue"}.

func slbTagsParam(c *callCtx, required bool) ([]tag, error) {
	raw := c.p.get("Tags")
	if raw == "" {
		if required {
			return nil, errMissing("Tags")
		}
		return nil, nil
	}
	var in []struct {
		TagKey   string `json:"TagKey"`
		TagValue string `json:"TagValue"`
	}
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, errInvalidf("Tags", "expected a JSON list such as [{\"TagKey\":\"k\",\"TagValue\":\"v\"}]")
	}
	if len(in) > 10 {
		return nil, errInvalidf("Tags", "at most 10 tags per call")
	}
	var out []tag
	for _, t := range in {
		if t.TagKey == "" {
			return nil, errInvalidf("Tags", "a TagKey is empty")
		}
		if err := checkTag(t.TagKey, t.TagValue); err != nil {
			return nil, err
		}
		out = append(out, tag{Key: t.TagKey, Value: t.TagValue})
	}
	return out, nil
}

// slbTagAction is AddTags and RemoveTags of SLB: Tags, then the load
// balancer, then change under the lock.
func (s *Server) slbTagAction(change func(lb *loadBalancer, tags []tag) error) handler {
	return func(c *callCtx) (obj, error) {
		tags, err := slbTagsParam(c, true)
		if err != nil {
			return nil, err
		}
		lb, err := s.lbCall(c)
		if err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		return obj{}, change(lb, tags)
	}
}

func slbAddTags(lb *loadBalancer, tags []tag) error { return lb.mergeTags(tags, maxTags) }

func slbRemoveTags(lb *loadBalancer, tags []tag) error {
	lb.dropTags(keysMatching(lb.Tags, tags), false)
	return nil
}

func (s *Server) slbDescribeTags(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(50, 100)
	if err != nil {
		return nil, err
	}
	filter, err := slbTagsParam(c, false)
	if err != nil {
		return nil, err
	}
	distinct, err := c.p.boolean("DistinctKey", false)
	if err != nil {
		return nil, err
	}
	lbID := c.p.get("LoadBalancerId")
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	pairs := map[string]tag{}
	for _, lb := range s.st.loadBalancers.list(selector{region: r.ID}, nil) {
		if lbID != "" && lbID != lb.ID {
			continue
		}
		for _, t := range lb.Tags {
			if len(filter) > 0 && !slices.ContainsFunc(filter, func(f tag) bool { return tagMatches(f, t) }) {
				continue
			}
			k := t.Key + "\x00" + t.Value
			if distinct {
				k = t.Key
				t.Value = ""
			}
			counts[k]++
			pairs[k] = t
		}
	}
	keys := sortedKeys(pairs)
	out := []obj{}
	for _, k := range page(keys, number, size) {
		out = append(out, obj{"TagKey": pairs[k].Key, "TagValue": pairs[k].Value, "InstanceCount": counts[k]})
	}
	return obj{"TotalCount": len(keys), "PageNumber": number, "PageSize": size, "TagSets": obj{"TagSet": out}}, nil
}
