// Package swarm puts machines into Docker swarm mode through the Docker
// Engine API, over TLS with the machine's client certificate: init a
// manager, read join tokens, join workers and managers, promote, demote,
// leave and list nodes, and read services with their published ports.
//
// The low-level calls are methods of Engine (one daemon). The high-level
// operations (EnsureManager, EnsureJoined, JoinAll, SetRole, Leave, List)
// are idempotent: they read the current state first and change only what
// differs, so running them again is safe.
package swarm

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the Engine API version requests use (Docker 20.10). Older
// daemons are asked with their own, lower version; see Engine.
const APIVersion = "1.41"

// minAPIVersion is the oldest API this package speaks: the swarm fields it
// reads (node and service endpoints, join tokens) exist since 1.30 (17.06).
const minAPIVersion = "1.30"

// Default time limits of single requests; a caller's context deadline can
// only shorten them.
var (
	requestTimeout = 30 * time.Second
	// Init and join wait inside the daemon for the raft member to start;
	// the daemon gives up on a join after 20 s by itself.
	joinTimeout = 90 * time.Second
)

// Engine talks to one Docker daemon's Engine API. It is safe for
// concurrent use.
type Engine struct {
	// Name is the machine name used in error messages; NewEngine sets it
	// to the address.
	Name string
	// Log receives one debug line per request (method, path, status,
	// duration; never bodies, which can hold join tokens). Optional.
	Log *slog.Logger

	addr   string
	scheme string
	client *http.Client

	mu      sync.Mutex
	version string // the API version settled by the first ping
}

// NewEngine returns a client for the daemon at addr, which is host:port or
// a tcp://, https:// or http:// URL. With a nil tlsCfg the daemon is spoken
// to in plain HTTP (only sensible on loopback).
func NewEngine(addr string, tlsCfg *tls.Config) *Engine {
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	scheme := "https"
	if tlsCfg == nil {
		scheme = "http"
	} else {
		tlsCfg = tlsCfg.Clone()
	}
	return &Engine{
		Name:   hostport,
		addr:   hostport,
		scheme: scheme,
		client: &http.Client{Transport: &http.Transport{
			TLSClientConfig:     tlsCfg,
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
		}},
	}
}

// Addr is the daemon's host:port.
func (e *Engine) Addr() string { return e.addr }

// Close releases idle connections.
func (e *Engine) Close() { e.client.CloseIdleConnections() }

// APIError is an answer of the daemon other than success.
type APIError struct {
	Machine    string
	Method     string
	Path       string
	StatusCode int
	// Message is the daemon's own explanation.
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("the Docker daemon of %q refused %s %s (HTTP %d): %s", e.Machine, e.Method, e.Path, e.StatusCode, msg)
}

// statusOf returns the HTTP status of an APIError in err's chain, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// messageHas reports whether err carries a daemon message containing s.
func messageHas(err error, s string) bool {
	var ae *APIError
	return errors.As(err, &ae) && strings.Contains(ae.Message, s)
}

// IsNotFound reports whether the daemon answered 404 (no such node, service...).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// Ping checks that the daemon answers and settles the API version used for
// the following requests.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.apiVersion(ctx)
	return err
}

// apiVersion asks the daemon once which API it speaks (the API-Version
// header of /_ping) and uses the lower of that and APIVersion. A failed
// ping is not remembered: the next call asks again.
func (e *Engine) apiVersion(ctx context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.version != "" {
		return e.version, nil
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.scheme+"://"+e.addr+"/_ping", nil)
	if err != nil {
		return "", err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return "", e.unreachable(err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &APIError{Machine: e.Name, Method: http.MethodGet, Path: "/_ping", StatusCode: resp.StatusCode}
	}
	v := resp.Header.Get("API-Version")
	switch {
	case v == "" || versionLess(APIVersion, v):
		e.version = APIVersion
	case versionLess(v, minAPIVersion):
		return "", fmt.Errorf("the Docker daemon of %q speaks Engine API %s, older than the %s swarm mode needs here; upgrade Docker on it (docker-machine upgrade %s)", e.Name, v, minAPIVersion, e.Name)
	default:
		e.version = v
	}
	return e.version, nil
}

// versionLess compares API versions like "1.41" numerically.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func (e *Engine) unreachable(err error) error {
	return fmt.Errorf("cannot reach the Docker API of %q at %s: %w (check that the machine runs with `docker-machine status %s`; if its address changed, `docker-machine env %s` re-issues its certificate)", e.Name, e.addr, err, e.Name, e.Name)
}

// do sends one request and decodes a JSON answer into out (when not nil).
// in, when not nil, is sent as the JSON body.
func (e *Engine) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return e.doTimeout(ctx, requestTimeout, method, path, query, in, out)
}

func (e *Engine) doTimeout(ctx context.Context, timeout time.Duration, method, path string, query url.Values, in, out any) error {
	version, err := e.apiVersion(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding the request %s %s for %q: %w", method, path, e.Name, err)
		}
		body = bytes.NewReader(b)
	}
	u := e.scheme + "://" + e.addr + "/v" + version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		return e.unreachable(err)
	}
	defer resp.Body.Close()
	if e.Log != nil {
		e.Log.Debug("docker api", "machine", e.Name, "method", method, "path", path, "status", resp.StatusCode, "took", time.Since(start).Round(time.Millisecond))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return e.unreachable(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var m struct{ Message string }
		if json.Unmarshal(data, &m) != nil || m.Message == "" {
			m.Message = strings.TrimSpace(string(data))
		}
		return &APIError{Machine: e.Name, Method: method, Path: path, StatusCode: resp.StatusCode, Message: m.Message}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the answer of the Docker daemon of %q to %s %s: %w", e.Name, method, path, err)
	}
	return nil
}
