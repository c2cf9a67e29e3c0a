// Package typegraph finds which types a type refers to, as the linker sees
// it: a type stored in an interface (every driver is) keeps all exported
// methods of each type its descriptor reaches, so a generated cloud client
// reachable from a driver's type links in every API action of the service.
package typegraph

import "reflect"

// Path is the chain of types from from to to (both included) through
// pointer, slice, array, map and channel elements, struct fields and
// function parameters and results, or nil when to is not reachable.
// Interfaces end a chain: what they refer to is kept only if used.
func Path(from, to reflect.Type) []string {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type) []string
	walk = func(t reflect.Type) []string {
		if t == to {
			return []string{t.String()}
		}
		if seen[t] {
			return nil
		}
		seen[t] = true
		var next []reflect.Type
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
			next = append(next, t.Elem())
		case reflect.Map:
			next = append(next, t.Key(), t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				next = append(next, t.Field(i).Type)
			}
		case reflect.Func:
			for i := range t.NumIn() {
				next = append(next, t.In(i))
			}
			for i := range t.NumOut() {
				next = append(next, t.Out(i))
			}
		}
		for _, n := range next {
			if p := walk(n); p != nil {
				return append([]string{t.String()}, p...)
			}
		}
		return nil
	}
	return walk(from)
}
