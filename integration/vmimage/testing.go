package vmimage

import "testing"

// ServeForTest ensures the image (building it if this machine lacks it)
// and serves it on loopback until the test ends.
func ServeForTest(t testing.TB) *Server {
	t.Helper()
	img, err := Ensure(t.Context())
	if err != nil {
		t.Fatalf("preparing the test VM image: %v", err)
	}
	srv, err := Serve(img)
	if err != nil {
		t.Fatalf("serving the test VM image: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
