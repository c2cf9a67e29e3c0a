package amazonec2

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// laggingConn is a client connection whose writer falls behind its reader,
// as a goroutine put aside on a loaded machine does: once the bytes that
// complete a request are on the wire, the write returns only after the
// client has started reading the answer's body, i.e. after the SDK has the
// answer's headers and has closed the body it built.
type laggingConn struct {
	net.Conn
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	sent    []byte        // the request being written
	want    int           // its length once its headers are in, else -1
	got     []byte        // the answer until its headers end
	headed  bool          // the answer's headers are in
	pending chan struct{} // closed to let the writer go on
	held    *atomic.Int64 // writes held back, for the test
}

func (c *laggingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.sent = append(c.sent, p[:n]...)
	if c.want < 0 {
		c.want = requestLength(c.sent)
	}
	var wait chan struct{}
	if c.want >= 0 && len(c.sent) >= c.want {
		c.sent, c.want = c.sent[c.want:], -1
		c.got, c.headed = nil, false
		wait = make(chan struct{})
		c.pending = wait
		c.held.Add(1)
	}
	c.mu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-c.closed:
		case <-time.After(10 * time.Second):
			// The client never read the answer: let the exchange fail.
		}
	}
	return n, err
}

func (c *laggingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.headed && c.pending != nil {
		close(c.pending)
		c.pending = nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if !c.headed {
		c.got = append(c.got, p[:n]...)
		c.headed = bytes.Contains(c.got, []byte("\r\n\r\n"))
	}
	c.mu.Unlock()
	return n, err
}

func (c *laggingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// requestLength is the length of the HTTP/1.1 request that sent starts
// with, or -1 while its headers are incomplete.
func requestLength(sent []byte) int {
	end := bytes.Index(sent, []byte("\r\n\r\n"))
	if end < 0 {
		return -1
	}
	length := 0
	for _, line := range strings.Split(string(sent[:end]), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return end + 4 + length
}

// attemptCounter counts the requests that reach the network and keeps the
// SDK's attempt header of each.
type attemptCounter struct {
	base     http.RoundTripper
	mu       sync.Mutex
	attempts []string
}

func (a *attemptCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.attempts = append(a.attempts, r.Header.Get("Amz-Sdk-Request"))
	a.mu.Unlock()
	return a.base.RoundTrip(r)
}

// A writer that falls behind must not cost a call a second attempt: the
// request body net/http still reads after the answer came stays readable,
// so the connection under the answer stays open and the SDK does not send
// the call again.
func TestLaggingWriterCostsNoRetry(t *testing.T) {
	s := startSim(t, fastFaults())
	ids, _ := s.runFleet("us-east-1", 20)

	ctx := context.Background()
	d := newDriver(t, s, "lagging", nil)
	a, err := d.api(ctx)
	require.NoError(t, err)
	tr, ok := a.transport.base.(*http.Transport)
	require.True(t, ok, "the client's transport is %T", a.transport.base)
	tr = tr.Clone()
	var held atomic.Int64
	dial := (&net.Dialer{}).DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &laggingConn{Conn: conn, closed: make(chan struct{}), want: -1, held: &held}, nil
	}
	counter := &attemptCounter{base: tr}
	a.transport.set(counter)

	var mu sync.Mutex
	var writeErrs []error
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			mu.Lock()
			writeErrs = append(writeErrs, info.Err)
			mu.Unlock()
		},
	})

	const calls = 3
	seq := s.lastSeq()
	for i := range calls {
		out, err := a.ec2.DescribeInstances(traced, &ec2.DescribeInstancesInput{InstanceIds: ids})
		require.NoError(t, err, "call %d", i+1)
		n := 0
		for _, r := range out.Reservations {
			n += len(r.Instances)
		}
		assert.Equal(t, len(ids), n, "call %d lists the fleet", i+1)
	}

	counter.mu.Lock()
	attempts := counter.attempts
	counter.mu.Unlock()
	assert.Len(t, attempts, calls, "one request per call: %v", attempts)
	for _, h := range attempts {
		assert.True(t, strings.HasPrefix(h, "attempt=1;"), "a first attempt each: %v", attempts)
	}
	mu.Lock()
	assert.Equal(t, make([]error, calls), writeErrs, "net/http wrote each request without an error")
	mu.Unlock()
	assert.Equal(t, map[string]int{"us-east-1": calls}, describesByRegion(s.callsSince(seq)), "the cloud saw each call once")
	assert.GreaterOrEqual(t, held.Load(), int64(calls), "the writer fell behind on every request")
}
