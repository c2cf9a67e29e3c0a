package interrupt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Watch is a pass-through proxy in front of the simulator's API that knows
// which actions are in flight, so a signal can be sent while a given call
// is being answered rather than after a guessed pause.
type Watch struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	inFlight map[string]int
	started  map[string]int
	changed  chan struct{}
}

// NewWatch proxies target (the simulator's API base URL) on a free
// loopback port.
func NewWatch(target string) (*Watch, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("the simulator endpoint %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the API watch: %w", err)
	}
	w := &Watch{url: "http://" + ln.Addr().String(), inFlight: map[string]int{}, started: map[string]int{}, changed: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(u)
	// A call the CLI gave up on (interrupted) is no error of the proxy's.
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	proxy.ErrorHandler = func(rw http.ResponseWriter, _ *http.Request, _ error) { rw.WriteHeader(http.StatusBadGateway) }
	w.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		action := actionOf(r)
		w.note(action, +1)
		defer w.note(action, -1)
		proxy.ServeHTTP(rw, r)
	})}
	go func() { _ = w.srv.Serve(ln) }()
	return w, nil
}

// actionOf reads the RPC action from the query or the form body, leaving
// the body for the simulator.
func actionOf(r *http.Request) string {
	if a := r.URL.Query().Get("Action"); a != "" {
		return a
	}
	if r.Body == nil {
		return ""
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return v.Get("Action")
}

func (w *Watch) note(action string, d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight[action] += d
	if d > 0 {
		w.started[action]++
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// URL is the endpoint to give the CLI instead of the simulator's.
func (w *Watch) URL() string { return w.url }

// Started is how many calls of action began so far.
func (w *Watch) Started(action string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started[action]
}

// WaitInFlight waits until a call of action is being answered; action ""
// is any call.
func (w *Watch) WaitInFlight(ctx context.Context, action string) error {
	for {
		w.mu.Lock()
		n, changed := w.inFlight[action], w.changed
		if action == "" {
			n = 0
			for _, c := range w.inFlight {
				n += c
			}
		}
		w.mu.Unlock()
		if n > 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			what := action
			if what == "" {
				what = "any API"
			}
			return fmt.Errorf("waiting for a %s call in flight: %w", what, context.Cause(ctx))
		}
	}
}

// Close stops the proxy.
func (w *Watch) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
