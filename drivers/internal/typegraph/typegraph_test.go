package typegraph

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

type client struct{ endpoint string }

type holder struct {
	calls map[string][]func(context.Context, *client) error
}

type byValue struct {
	describe func(context.Context, string) (int, error)
	any      any
}

func TestPath(t *testing.T) {
	assert.Equal(t,
		[]string{"*typegraph.holder", "typegraph.holder", "map[string][]func(context.Context, *typegraph.client) error",
			"[]func(context.Context, *typegraph.client) error", "func(context.Context, *typegraph.client) error", "*typegraph.client"},
		Path(reflect.TypeFor[*holder](), reflect.TypeFor[*client]()))
	assert.Nil(t, Path(reflect.TypeFor[*byValue](), reflect.TypeFor[*client]()), "a func value or an interface field names no client type")
	assert.Nil(t, Path(reflect.TypeFor[*holder](), reflect.TypeFor[byValue]()))
}
