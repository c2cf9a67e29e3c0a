// Package describe reads the answer of a cloud API's Describe call the way
// the cloud drivers ask whether something exists.
package describe

// Find returns the item of a Describe call's answer that match accepts,
// or nil. err is the call's error: one that notFound says means "no such
// resource" is an answer (no item), not an error. items is read only when
// err is nil.
func Find[T any](err error, notFound func(error) bool, items func() []T, match func(*T) bool) (*T, error) {
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, err
	}
	list := items()
	for i := range list {
		if match(&list[i]) {
			return &list[i], nil
		}
	}
	return nil, nil
}
