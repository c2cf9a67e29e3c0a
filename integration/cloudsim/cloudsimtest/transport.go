package cloudsimtest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// ec2HTTPClient is the HTTP client of the EC2 clients: the SDK's default
// transport under a copy of every request body. aws-sdk-go-v2 closes the
// body it built as soon as the answer's headers are in, while net/http may
// still read it past Content-Length; the failed read makes net/http close
// the connection under the answer, and the SDK's retryer sends the call
// again (aws/aws-sdk-go-v2#2737). A loopback server answers fast enough to
// make that common. drivers/amazonec2 sends its requests the same way.
func ec2HTTPClient() *http.Client {
	return &http.Client{Transport: ownBodies{base: awshttp.NewBuildableClient().GetTransport()}}
}

// ownBodies sends each request with its body copied into memory.
type ownBodies struct{ base http.RoundTripper }

func (o ownBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 {
		return o.base.RoundTrip(r)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	own := *r
	own.Body = io.NopCloser(bytes.NewReader(body))
	own.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return o.base.RoundTrip(&own)
}
