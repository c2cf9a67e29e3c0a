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

// tagKind maps a product's ResourceType to the internal kind.
func tagKind(product, resourceType string) (string, bool) {
	t := strings.ToLower(resourceType)
	switch product {
	case "Ecs":
		switch t {
		case "instance", "securitygroup", "keypair":
			return t, true
		}
	case "Vpc":
		switch t {
		case "vpc", "vswitch", "routetable", "eip":
			return t, true
		}
	case "Slb":
		if t == "instance" {
			return "loadbalancer", true
		}
	}
	return "", false
}

// tagTarget is the internal ID of a resource of the region, or "" when there
// is none. Key pairs are named, per region, so their region is not looked up.
func (st *state) tagTarget(kind, region, id string) string {
	if kind == "keypair" {
		if _, ok := st.keyPairs[keyPairKey(region, id)]; ok {
			return keyPairKey(region, id)
		}
		return ""
	}
	if r := st.tagRegion(kind, id); r != "" && r == region {
		return id
	}
	return ""
}

// publicTagID turns an internal ID back into what the API shows.
func publicTagID(kind, id string) string {
	if kind == "keypair" {
		_, name, _ := strings.Cut(id, "/")
		return name
	}
	return id
}

// tagRegion tells which region a tagged resource is in.
func (st *state) tagRegion(kind, id string) string {
	switch kind {
	case "instance":
		if inst := st.instances[id]; inst != nil {
			return inst.RegionID
		}
	case "securitygroup":
		if sg := st.securityGroups[id]; sg != nil {
			return sg.RegionID
		}
	case "keypair":
		region, _, _ := strings.Cut(id, "/")
		return region
	case "vpc":
		if v := st.vpcs[id]; v != nil {
			return v.RegionID
		}
	case "vswitch":
		if sw := st.vswitches[id]; sw != nil {
			return sw.RegionID
		}
	case "routetable":
		if rt := st.routeTables[id]; rt != nil {
			return rt.RegionID
		}
	case "eip":
		if e := st.eips[id]; e != nil {
			return e.RegionID
		}
	case "loadbalancer":
		if lb := st.loadBalancers[id]; lb != nil {
			return lb.RegionID
		}
	}
	return ""
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

// keysMatching lists the keys of a resource's tags that a tag of want
// matches, for the RemoveTags actions.
func (st *state) keysMatching(kind, id string, want []tag) []string {
	var keys []string
	for _, w := range want {
		for _, have := range st.tagsOf(kind, id) {
			if tagMatches(w, have) {
				keys = append(keys, have.Key)
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
	var targets []string
	for _, id := range ids {
		t := s.st.tagTarget(kind, r.ID, id)
		if t == "" {
			return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceIds are not found in our records: %s.", id)
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if err := s.st.setTags(kind, t, tags); err != nil {
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
	// Every ID is checked before any tag goes, so a bad ID changes nothing.
	targets := make([]string, 0, len(ids))
	for _, id := range ids {
		t := s.st.tagTarget(kind, r.ID, id)
		if t == "" {
			return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceIds are not found in our records: %s.", id)
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		s.st.removeTags(kind, t, keys, all)
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
	for ref, ts := range s.st.tags {
		if ref.Kind != kind || s.st.tagRegion(kind, ref.ID) != r.ID {
			continue
		}
		pub := publicTagID(kind, ref.ID)
		if len(ids) > 0 && !slices.Contains(ids, pub) {
			continue
		}
		if !s.st.matchTags(kind, ref.ID, filter) {
			continue
		}
		for _, t := range ts {
			rows = append(rows, row{pub, t.Key, t.Value})
		}
	}
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
	r, err := c.region()
	if err != nil {
		return nil, "", "", err
	}
	typ, err := c.p.required("ResourceType")
	if err != nil {
		return nil, "", "", err
	}
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
	t := s.st.tagTarget(kind, r.ID, id)
	if t == "" {
		return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceId %q is not found in our records.", id)
	}
	return obj{}, s.st.setTags(kind, t, tags)
}

func (s *Server) ecsRemoveTags(c *callCtx) (obj, error) {
	r, kind, id, err := s.ecsLegacyTagCall(c)
	if err != nil {
		return nil, err
	}
	pairs := c.p.structs("Tag")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.tagTarget(kind, r.ID, id)
	if t == "" {
		return nil, newErrorf("InvalidResourceId.NotFound", "The specified ResourceId %q is not found in our records.", id)
	}
	if len(pairs) == 0 {
		s.st.removeTags(kind, t, nil, true)
		return obj{}, nil
	}
	want := make([]tag, 0, len(pairs))
	for _, m := range pairs {
		want = append(want, tag{Key: m["Key"], Value: m["Value"]})
	}
	s.st.removeTags(kind, t, s.st.keysMatching(kind, t, want), false)
	return obj{}, nil
}

func (s *Server) ecsDescribeTags(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	number, size, err := c.p.pageArgs(50, 100)
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
	for ref, ts := range s.st.tags {
		if !slices.Contains(kinds, ref.Kind) || s.st.tagRegion(ref.Kind, ref.ID) != r.ID {
			continue
		}
		if resID != "" && publicTagID(ref.Kind, ref.ID) != resID {
			continue
		}
		for _, t := range ts {
			if len(filter) > 0 && !slices.ContainsFunc(filter, func(f tag) bool { return tagMatches(f, t) }) {
				continue
			}
			k := t.Key + "\x00" + t.Value
			if byPair[k] == nil {
				byPair[k] = &agg{key: t.Key, value: t.Value, counts: map[string]int{}}
			}
			byPair[k].counts[ref.Kind]++
		}
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

func (s *Server) slbAddTags(c *callCtx) (obj, error) {
	tags, err := slbTagsParam(c, true)
	if err != nil {
		return nil, err
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return obj{}, s.st.setTags("loadbalancer", lb.ID, tags)
}

func (s *Server) slbRemoveTags(c *callCtx) (obj, error) {
	tags, err := slbTagsParam(c, true)
	if err != nil {
		return nil, err
	}
	lb, err := s.lbCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	s.st.removeTags("loadbalancer", lb.ID, s.st.keysMatching("loadbalancer", lb.ID, tags), false)
	return obj{}, nil
}

func (s *Server) slbDescribeTags(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	number, size, err := c.p.pageArgs(50, 100)
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
	for ref, ts := range s.st.tags {
		if ref.Kind != "loadbalancer" || s.st.tagRegion(ref.Kind, ref.ID) != r.ID || (lbID != "" && lbID != ref.ID) {
			continue
		}
		for _, t := range ts {
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
