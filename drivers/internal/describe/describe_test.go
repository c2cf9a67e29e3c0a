package describe

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNotFound = errors.New("InvalidGroup.NotFound")

func isNotFound(err error) bool { return errors.Is(err, errNotFound) }

func TestFindPicksTheMatchingItem(t *testing.T) {
	ids := []string{"a", "b", "c"}
	got, err := Find(nil, isNotFound, func() []string { return ids }, func(s *string) bool { return *s == "b" })
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Same(t, &ids[1], got, "a pointer into the answer")

	got, err = Find(nil, isNotFound, func() []string { return ids }, func(s *string) bool { return *s == "z" })
	assert.NoError(t, err)
	assert.Nil(t, got)
}

func TestFindTakesNotFoundForAnAnswer(t *testing.T) {
	unread := func() []string { panic("items read after an error") }
	got, err := Find(errNotFound, isNotFound, unread, nil)
	assert.NoError(t, err)
	assert.Nil(t, got)

	denied := errors.New("UnauthorizedOperation")
	_, err = Find(denied, isNotFound, unread, nil)
	assert.ErrorIs(t, err, denied)
}
