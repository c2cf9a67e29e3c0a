package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The data path of an SLB listener: a real TCP proxy (or an HTTP reverse
// proxy) bound on the load balancer's loopback address and the listener port.
// Each connection (HTTP: each request) goes to one backend server chosen by
// the listener's scheduler among the servers the health check finds normal;
// a server's address is its instance's current private IP, port the listener's
// BackendServerPort.

// Backend health as DescribeHealthStatus reports it.
const (
	healthNormal      = "normal"
	healthAbnormal    = "abnormal"
	healthUnavailable = "unavailable"
)

// healthConfig is a listener's health check.
type healthConfig struct {
	enabled   bool
	httpCheck bool // HTTP GET/HEAD instead of a TCP connect
	port      int  // 0: the backend port
	interval  time.Duration
	timeout   time.Duration
	healthy   int // consecutive successes that make a server normal
	unhealthy int // consecutive failures that make a server abnormal
	uri       string
	domain    string
	method    string
	codes     []string // http_2xx ...
}

type target struct {
	id     string
	weight int
}

type targetState struct {
	target
	current int // smooth weighted round robin
	active  int // open connections, for wlc
	status  string
	probed  bool
	okRun   int
	failRun int
}

// proxy is one started listener.
type proxy struct {
	log         *slog.Logger
	protocol    string // tcp or http
	backendPort int
	scheduler   string
	hc          healthConfig
	xff         bool
	resolve     func(serverID string) string

	ln     net.Listener
	httpd  *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	targets []*targetState
	rr      int
	conns   map[net.Conn]bool
	stopped bool
}

type proxyConfig struct {
	addr        string
	protocol    string
	backendPort int
	scheduler   string
	hc          healthConfig
	xff         bool
	targets     []target
	resolve     func(string) string
}

// startProxy binds the listener address and starts serving and health
// checking.
func startProxy(log *slog.Logger, cfg proxyConfig) (*proxy, error) {
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &proxy{
		log: log, protocol: cfg.protocol, backendPort: cfg.backendPort, scheduler: cfg.scheduler,
		hc: cfg.hc, xff: cfg.xff, resolve: cfg.resolve, ln: ln, cancel: cancel, conns: map[net.Conn]bool{},
	}
	p.setTargets(cfg.targets)
	if p.hc.enabled {
		p.wg.Go(func() { p.healthLoop(ctx) })
	}
	if cfg.protocol == "http" {
		p.httpd = &http.Server{Handler: p.httpHandler(), ReadHeaderTimeout: time.Minute}
		p.wg.Go(func() {
			if err := p.httpd.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("cloudsim: SLB HTTP listener stopped", "address", cfg.addr, "err", err)
			}
		})
	} else {
		p.wg.Go(func() { p.acceptTCP() })
	}
	return p, nil
}

// setTargets replaces the backend servers, keeping the health of those that
// stay.
func (p *proxy) setTargets(ts []target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := map[string]*targetState{}
	for _, t := range p.targets {
		old[t.id] = t
	}
	var next []*targetState
	for _, t := range ts {
		if st, ok := old[t.id]; ok {
			st.weight = t.weight
			next = append(next, st)
			continue
		}
		st := &targetState{target: t, status: healthUnavailable}
		if !p.hc.enabled {
			st.status = healthNormal
		}
		next = append(next, st)
	}
	p.targets = next
}

// health reports the status of a server for DescribeHealthStatus.
func (p *proxy) health(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hc.enabled {
		return healthUnavailable
	}
	for _, t := range p.targets {
		if t.id == id {
			return t.status
		}
	}
	return healthUnavailable
}

// usable tells whether a server may take traffic.
func (p *proxy) usable(t *targetState) bool {
	if t.weight <= 0 {
		return false
	}
	if !p.hc.enabled {
		return true
	}
	return t.status == healthNormal
}

// pick chooses a backend server and counts the connection; release undoes
// the count.
func (p *proxy) pick() (*targetState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var cands []*targetState
	for _, t := range p.targets {
		if p.usable(t) {
			cands = append(cands, t)
		}
	}
	if len(cands) == 0 {
		return nil, false
	}
	var chosen *targetState
	switch p.scheduler {
	case "rr":
		chosen = cands[p.rr%len(cands)]
		p.rr++
	case "wlc":
		for _, t := range cands {
			if chosen == nil || t.active*chosen.weight < chosen.active*t.weight {
				chosen = t
			}
		}
	default: // wrr: smooth weighted round robin
		total := 0
		for _, t := range cands {
			t.current += t.weight
			total += t.weight
			if chosen == nil || t.current > chosen.current {
				chosen = t
			}
		}
		chosen.current -= total
	}
	chosen.active++
	return chosen, true
}

func (p *proxy) release(t *targetState) {
	p.mu.Lock()
	t.active--
	p.mu.Unlock()
}

func (p *proxy) backendAddr(t *targetState) string {
	ip := p.resolve(t.id)
	if ip == "" {
		return ""
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.backendPort))
}

func (p *proxy) acceptTCP() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serveTCP(c) })
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) serveTCP(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	t, ok := p.pick()
	if !ok {
		return // no healthy server: the client sees the connection closed
	}
	defer p.release(t)
	addr := p.backendAddr(t)
	if addr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	pipe(c, up)
}

type targetKey struct{}

func (p *proxy) httpHandler() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			addr, _ := pr.In.Context().Value(targetKey{}).(string)
			pr.SetURL(&url.URL{Scheme: "http", Host: addr})
			pr.Out.Host = pr.In.Host
			if p.xff {
				pr.SetXForwarded()
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "502 Bad Gateway: the backend server did not answer", http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := p.pick()
		if !ok {
			http.Error(w, "503 Service Temporarily Unavailable: no healthy backend server", http.StatusServiceUnavailable)
			return
		}
		defer p.release(t)
		addr := p.backendAddr(t)
		if addr == "" {
			http.Error(w, "502 Bad Gateway: the backend server has no address", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, addr)))
	})
}

// healthLoop probes at once and then every interval. Until its first probe a
// server is unavailable and gets no traffic, so a dead server is never chosen
// just because nobody looked yet.
func (p *proxy) healthLoop(ctx context.Context) {
	p.checkAll(ctx)
	t := time.NewTicker(p.hc.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.checkAll(ctx)
		}
	}
}

// checkAll probes every server once, in parallel, and applies the
// thresholds. A server's first probe decides its state at once.
func (p *proxy) checkAll(ctx context.Context) {
	p.mu.Lock()
	ts := append([]*targetState(nil), p.targets...)
	p.mu.Unlock()
	results := make([]bool, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Go(func() { results[i] = p.probe(ctx, t.id) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, t := range ts {
		ok := results[i]
		if ok {
			t.okRun, t.failRun = t.okRun+1, 0
		} else {
			t.failRun, t.okRun = t.failRun+1, 0
		}
		switch {
		case !t.probed:
			t.status = map[bool]string{true: healthNormal, false: healthAbnormal}[ok]
		case ok && t.status != healthNormal && t.okRun >= p.hc.healthy:
			t.status = healthNormal
		case !ok && t.status == healthNormal && t.failRun >= p.hc.unhealthy:
			t.status = healthAbnormal
		}
		t.probed = true
	}
}

func (p *proxy) probe(ctx context.Context, id string) bool {
	ip := p.resolve(id)
	if ip == "" {
		return false
	}
	port := p.hc.port
	if port == 0 {
		port = p.backendPort
	}
	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	ctx, cancel := context.WithTimeout(ctx, p.hc.timeout)
	defer cancel()
	if !p.hc.httpCheck {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(p.hc.method), "http://"+addr+p.hc.uri, nil)
	if err != nil {
		return false
	}
	if p.hc.domain != "" {
		req.Host = p.hc.domain
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	class := fmt.Sprintf("http_%dxx", resp.StatusCode/100)
	for _, c := range p.hc.codes {
		if c == class {
			return true
		}
	}
	return false
}

// stop unbinds the listener, cuts its connections and ends health checks.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.cancel()
	if p.httpd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = p.httpd.Shutdown(ctx)
		cancel()
	}
	p.ln.Close()
	p.wg.Wait()
}
