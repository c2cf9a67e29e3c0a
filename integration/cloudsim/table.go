package cloudsim

import (
	"slices"
	"strings"
	"time"
)

// meta is what every stored resource carries, whatever its product: its ID,
// its region, when it was made and its tags. Resources embed it, so v.ID and
// v.RegionID read as before.
type meta struct {
	ID       string
	RegionID string
	Created  time.Time
	Tags     []tag
	// key is the table key when it is not the ID (key pairs are named per
	// region: region/name).
	key string
}

func newMeta(id, region string, created time.Time) meta {
	return meta{ID: id, RegionID: region, Created: created}
}

func (m *meta) base() *meta { return m }

// tableKey is the resource's key in its table.
func (m *meta) tableKey() string {
	if m.key != "" {
		return m.key
	}
	return m.ID
}

// record is a resource that can be kept in a table.
type record interface{ base() *meta }

// table holds the resources of one kind: lookups by region and ID, filtered
// and ordered listings, and the dependency checks that refuse a delete.
type table[T record] struct {
	kind string
	rows map[string]T
	// keyOf turns a region and the ID a caller gives into the table key;
	// nil means the ID is the key.
	keyOf func(region, id string) string
	// missing is the not-found error of the kind's API.
	missing func(region, id string) error
	// blockers refuse deleting a row that others still depend on.
	blockers []func(T) error
}

func newTable[T record](kind string, missing func(region, id string) error) *table[T] {
	return &table[T]{kind: kind, rows: map[string]T{}, missing: missing}
}

func (t *table[T]) key(region, id string) string {
	if t.keyOf != nil {
		return t.keyOf(region, id)
	}
	return id
}

// put stores v under its key.
func (t *table[T]) put(v T) { t.rows[v.base().tableKey()] = v }

// at returns the row stored under key, or the zero T (nil) when there is none.
func (t *table[T]) at(key string) T { return t.rows[key] }

// has tells whether a row is stored under key.
func (t *table[T]) has(key string) bool { _, ok := t.rows[key]; return ok }

// find returns the resource id of region (any region when region is ""), or
// the kind's not-found error.
func (t *table[T]) find(region, id string) (T, error) {
	v, ok := t.rows[t.key(region, id)]
	if !ok || (region != "" && v.base().RegionID != region) {
		var zero T
		return zero, t.missing(region, id)
	}
	return v, nil
}

// blockedBy adds a dependency check run before a delete.
func (t *table[T]) blockedBy(check func(T) error) { t.blockers = append(t.blockers, check) }

// deletable runs the dependency checks: the first refusal wins.
func (t *table[T]) deletable(v T) error {
	for _, check := range t.blockers {
		if err := check(v); err != nil {
			return err
		}
	}
	return nil
}

// remove drops v (and with it its tags).
func (t *table[T]) remove(v T) { delete(t.rows, v.base().tableKey()) }

// removeChecked drops v unless something depends on it.
func (t *table[T]) removeChecked(v T) error {
	if err := t.deletable(v); err != nil {
		return err
	}
	t.remove(v)
	return nil
}

// keys returns every key in order.
func (t *table[T]) keys() []string { return sortedKeys(t.rows) }

// all returns every row in key order.
func (t *table[T]) all() []T {
	out := make([]T, 0, len(t.rows))
	for _, k := range t.keys() {
		out = append(out, t.rows[k])
	}
	return out
}

// first returns the first row in key order that keep selects.
func (t *table[T]) first(keep func(T) bool) (T, bool) {
	for _, k := range t.keys() {
		if v := t.rows[k]; keep(v) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// count returns how many rows keep selects.
func (t *table[T]) count(keep func(T) bool) int {
	n := 0
	for _, v := range t.rows {
		if keep(v) {
			n++
		}
	}
	return n
}

// order is how a listing sorts.
type order int

const (
	oldestFirst order = iota // by creation time, then ID
	newestFirst              // creation time descending, then ID ascending
	byID                     // by ID alone
)

// selector is the filter every Describe action shares: the region (all when
// ""), an ID list (all when empty) and tags a row must carry.
type selector struct {
	region string
	ids    []string
	tags   []tag
	order  order
}

// list returns the rows sel and keep (when not nil) select, sorted.
func (t *table[T]) list(sel selector, keep func(T) bool) []T {
	var out []T
	for _, v := range t.rows {
		m := v.base()
		if sel.region != "" && m.RegionID != sel.region {
			continue
		}
		if len(sel.ids) > 0 && !slices.Contains(sel.ids, m.ID) {
			continue
		}
		if !hasTags(m.Tags, sel.tags) {
			continue
		}
		if keep != nil && !keep(v) {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int {
		ma, mb := a.base(), b.base()
		switch sel.order {
		case newestFirst:
			return byCreated(mb.Created, ma.Created, ma.ID, mb.ID)
		case byID:
			return strings.Compare(ma.ID, mb.ID)
		}
		return byCreated(ma.Created, mb.Created, ma.ID, mb.ID)
	})
	return out
}

// tagged is the view of a table the tag actions use, whatever the kind.
type tagged interface {
	// lookup returns the resource id of region, or nil.
	lookup(region, id string) *meta
	// each calls fn for every resource in key order.
	each(fn func(m *meta))
	kindName() string
}

func (t *table[T]) lookup(region, id string) *meta {
	v, ok := t.rows[t.key(region, id)]
	if !ok || v.base().RegionID != region {
		return nil
	}
	return v.base()
}

func (t *table[T]) each(fn func(m *meta)) {
	for _, k := range t.keys() {
		fn(t.rows[k].base())
	}
}

// hasTags tells whether have carries every tag of filter (a filter tag with
// an empty value matches any value).
func hasTags(have, filter []tag) bool {
	for _, f := range filter {
		if !slices.ContainsFunc(have, func(t tag) bool { return tagMatches(f, t) }) {
			return false
		}
	}
	return true
}

// mergeTags adds or overwrites tags, refusing more than limit in all.
func (m *meta) mergeTags(tags []tag, limit int) error {
	cur := slices.Clone(m.Tags)
	for _, t := range tags {
		if i := slices.IndexFunc(cur, func(c tag) bool { return c.Key == t.Key }); i >= 0 {
			cur[i].Value = t.Value
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > limit {
		return newErrorf("InvalidTagCount", "Resource %s would have %d tags; at most %d are allowed.", m.ID, len(cur), limit)
	}
	m.Tags = cur
	return nil
}

// dropTags removes the tags with the given keys, or all of them.
func (m *meta) dropTags(keys []string, all bool) {
	if all {
		m.Tags = nil
		return
	}
	m.Tags = slices.DeleteFunc(m.Tags, func(t tag) bool { return slices.Contains(keys, t.Key) })
}

func (t *table[T]) kindName() string { return t.kind }
