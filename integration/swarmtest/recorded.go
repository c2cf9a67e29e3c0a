// Package swarmtest is the test world's Docker Engine: it serves the
// swarm-mode part of the Engine API without Docker, for the unit tests of
// code that drives swarms (libmachine/swarm, the swarm commands). It lives
// under integration/ with the rest of the test world; product code never
// imports it, only tests do. It offers:
//
//   - Recording returns answers recorded from real Docker 20.10 daemons
//     (see recorded/README.md for how they were made);
//   - Replay is a TLS server that answers each route with a recording;
//   - World runs simulated daemons that form swarms with each other and
//     answer in the recorded shapes and with the recorded error messages.
//
// Everything listens on 127.0.0.1 only. Swarm addresses given to the
// simulated daemons are labels and are never dialled.
package swarmtest

import (
	"crypto/tls"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

//go:embed recorded/*.json
var recordedFS embed.FS

// Recording returns the recorded answer called name: its HTTP status and
// body. A file recorded/NAME.json holds a 2xx answer (status 200, or 201 for
// names ending in "create"), recorded/NAME.STATUS.json any other.
func Recording(name string) (int, []byte, error) {
	if b, err := recordedFS.ReadFile("recorded/" + name + ".json"); err == nil {
		status := http.StatusOK
		if strings.HasPrefix(name, "service_create") || strings.HasPrefix(name, "network_create") || strings.HasPrefix(name, "config_create") {
			status = http.StatusCreated
		}
		return status, b, nil
	}
	matches, _ := fs.Glob(recordedFS, "recorded/"+name+".*.json")
	if len(matches) != 1 {
		return 0, nil, fmt.Errorf("no recording named %q", name)
	}
	parts := strings.Split(matches[0], ".")
	status, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return 0, nil, fmt.Errorf("recording %s has no status in its name", matches[0])
	}
	b, err := recordedFS.ReadFile(matches[0])
	return status, b, err
}

// MustRecording is Recording for tests: it fails t when name is unknown.
func MustRecording(t testing.TB, name string) (int, []byte) {
	t.Helper()
	status, body, err := Recording(name)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// recordedMessage is the daemon's message in an error recording.
func recordedMessage(name string) string {
	_, b, err := Recording(name)
	if err != nil {
		panic(err)
	}
	var m struct{ Message string }
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("recording %s: %v", name, err))
	}
	return m.Message
}

// recordedObject decodes a recording into a fresh generic JSON value.
func recordedObject(name string) any {
	_, b, err := Recording(name)
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(fmt.Sprintf("recording %s: %v", name, err))
	}
	return v
}

// Request is one request a test server received.
type Request struct {
	Method string
	// Path is without the /vX.Y version prefix.
	Path       string
	APIVersion string
	Query      url.Values
	Body       []byte
}

var versioned = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

func splitVersion(p string) (string, string) {
	if m := versioned.FindStringSubmatch(p); m != nil {
		return m[1], m[2]
	}
	return "", p
}

// Replay answers "METHOD /path" routes (path without version prefix) with
// recordings, over TLS with the given server configuration. A route may
// name several recordings separated by commas: they answer successive
// requests, and the last one answers all the rest. /_ping answers with
// API-Version APIVersion. A request for a route it has no answer for fails
// the test.
type Replay struct {
	Server *httptest.Server
	// APIVersion is what /_ping announces; "1.41" unless changed.
	APIVersion string

	t        testing.TB
	mu       sync.Mutex
	routes   map[string][]string
	requests []Request
}

// NewReplay starts a replay server on 127.0.0.1; it stops when the test ends.
func NewReplay(t testing.TB, tlsCfg *tls.Config, routes map[string]string) *Replay {
	r := &Replay{APIVersion: "1.41", t: t, routes: map[string][]string{}}
	for k, v := range routes {
		r.routes[k] = strings.Split(v, ",")
	}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Server.TLS = tlsCfg.Clone()
	r.Server.StartTLS()
	t.Cleanup(r.Server.Close)
	return r
}

// Addr is the server's host:port.
func (r *Replay) Addr() string { return r.Server.Listener.Addr().String() }

// Set changes the answer to a route (one recording, or several separated
// by commas).
func (r *Replay) Set(route, recording string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[route] = strings.Split(recording, ",")
}

// Requests returns the requests received so far, pings excluded.
func (r *Replay) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/_ping" {
		r.mu.Lock()
		v := r.APIVersion
		r.mu.Unlock()
		w.Header().Set("API-Version", v)
		io.WriteString(w, "OK")
		return
	}
	version, p := splitVersion(req.URL.Path)
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests = append(r.requests, Request{Method: req.Method, Path: p, APIVersion: version, Query: req.URL.Query(), Body: body})
	var name string
	names, ok := r.routes[req.Method+" "+p]
	if ok {
		name = names[0]
		if len(names) > 1 {
			r.routes[req.Method+" "+p] = names[1:]
		}
	}
	r.mu.Unlock()
	if !ok {
		r.t.Errorf("replay server: no answer for %s %s", req.Method, p)
		writeError(w, http.StatusNotFound, "page not found")
		return
	}
	status, b, err := Recording(name)
	if err != nil {
		r.t.Errorf("replay server: %v", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}
