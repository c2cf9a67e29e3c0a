package cloudsim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address of the API and admin endpoint; it must be a
	// loopback address. Default "127.0.0.1:0" (a free port).
	Addr string
	// AccessKeyID and AccessKeySecret are the credentials the simulator
	// accepts; random ones are made when empty.
	AccessKeyID     string
	AccessKeySecret string
	// AWSAccessKeyID and AWSSecretAccessKey are the AWS credentials the EC2
	// endpoint accepts; random ones are made when empty.
	AWSAccessKeyID     string
	AWSSecretAccessKey string
	// Backend runs the hosts behind instances; default NewNoneBackend().
	Backend InstanceBackend
	// Faults are the initial fault and timing settings; default DefaultFaults().
	Faults *Faults
	// PublicPorts are the TCP ports forwarded from an instance's public IP or
	// EIP (a loopback address) to its private IP. Empty: no forwarding, as
	// with the none backend.
	PublicPorts []int
	// Logger receives the simulator's logs; default slog.Default().
	Logger *slog.Logger
}

// Server is a running simulated Alibaba Cloud: the RPC APIs of ECS
// (2014-05-26), VPC (2016-04-28) and SLB (2014-05-15) on one loopback port,
// and the admin API under /admin.
type Server struct {
	cfg      Config
	log      *slog.Logger
	backend  InstanceBackend
	secrets  map[string]string
	products map[string]*product // by Version
	ec2      *ec2Product
	imds     *imdsState

	ln    net.Listener
	httpd *http.Server

	faults        *faultState
	initialFaults Faults
	calls         callRecorder
	nonces        nonceCache

	// mu guards st, forwarders and the SLB listeners' configuration.
	mu         sync.Mutex
	st         *state
	forwarders map[string]*forwarder // by public address
	// ips maps instance ID to its current private IP for the data paths
	// (SLB proxies, public IP forwarders), which must not take mu.
	ips sync.Map

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed bool
}

// ec2Product is the EC2 Query API.
type ec2Product struct {
	actions map[string]ec2Handler
}

// product is one API product of the simulator.
type product struct {
	Name    string // as in the SDK's product field: Ecs, Vpc, Slb
	Version string
	Host    string // for HostId and RegionEndpoint
	actions map[string]handler
}

type handler func(c *callCtx) (obj, error)

// callCtx is one API call being answered.
type callCtx struct {
	s         *Server
	ctx       context.Context
	product   *product
	action    string
	p         params
	requestID string
	host      string
}

// New checks cfg and prepares a Server; Start binds it.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cloudsim listen address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("cloudsim listen address %q is not a loopback address: the simulator only serves 127.0.0.0/8", cfg.Addr)
	}
	if (cfg.AccessKeyID == "") != (cfg.AccessKeySecret == "") {
		return nil, errors.New("cloudsim: give both an access key ID and secret, or neither for random ones")
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID = "LTAI5t" + strings.ToUpper(randomID(4)) + randomID(12)
		cfg.AccessKeySecret = randomID(30)
	}
	if (cfg.AWSAccessKeyID == "") != (cfg.AWSSecretAccessKey == "") {
		return nil, errors.New("cloudsim: give both an AWS access key ID and secret access key, or neither for random ones")
	}
	if cfg.AWSAccessKeyID == "" {
		cfg.AWSAccessKeyID = "AKIA" + strings.ToUpper(randomID(16))
		cfg.AWSSecretAccessKey = randomID(40)
	}
	if cfg.Backend == nil {
		cfg.Backend = NewNoneBackend()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := DefaultFaults()
	if cfg.Faults != nil {
		f = *cfg.Faults
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("cloudsim faults: %w", err)
	}
	for _, p := range cfg.PublicPorts {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("cloudsim public port %d is not a TCP port", p)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger,
		backend:       cfg.Backend,
		secrets:       map[string]string{cfg.AccessKeyID: cfg.AccessKeySecret},
		faults:        newFaultState(f),
		initialFaults: f,
		st:            newState(),
		forwarders:    map[string]*forwarder{},
		ctx:           ctx,
		cancel:        cancel,
	}
	s.products = map[string]*product{
		"2014-05-26": {Name: "Ecs", Version: "2014-05-26", Host: "ecs", actions: s.ecsActions()},
		"2016-04-28": {Name: "Vpc", Version: "2016-04-28", Host: "vpc", actions: s.vpcActions()},
		"2014-05-15": {Name: "Slb", Version: "2014-05-15", Host: "slb", actions: s.slbActions()},
	}
	s.ec2 = &ec2Product{actions: s.ec2Actions()}
	s.imds = newIMDS()
	return s, nil
}

// Start binds the listen address and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("cloudsim: listening on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("/admin/", s.serveAdmin)
	mux.HandleFunc("/latest/", s.serveIMDS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if isEC2(r) {
			s.serveEC2(w, r)
			return
		}
		s.serveAPI(w, r)
	})
	s.httpd = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	s.wg.Go(func() {
		if err := s.httpd.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("cloudsim: API server stopped", "err", err)
		}
	})
	s.log.Info("cloudsim: serving", "endpoint", s.Endpoint(), "backend", s.backend.Name())
	return nil
}

// Start is New followed by Server.Start.
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Domain is what SDK clients take as their endpoint: "127.0.0.1:PORT",
// used with the HTTP scheme (see the package documentation).
func (s *Server) Domain() string { return s.ln.Addr().String() }

// Endpoint is the API base URL, "http://127.0.0.1:PORT".
func (s *Server) Endpoint() string { return "http://" + s.Domain() }

// EC2Endpoint is the EC2 Query API's base URL (an AWS SDK's BaseEndpoint):
// the API port, which tells EC2 requests by their SigV4 signature.
func (s *Server) EC2Endpoint() string { return s.Endpoint() }

// IMDSEndpoint is the instance metadata service's base URL, for
// AWS_EC2_METADATA_SERVICE_ENDPOINT.
func (s *Server) IMDSEndpoint() string { return s.Endpoint() }

// AWSCredentials returns the AWS access key pair the EC2 endpoint accepts.
func (s *Server) AWSCredentials() (accessKeyID, secretAccessKey string) {
	return s.cfg.AWSAccessKeyID, s.cfg.AWSSecretAccessKey
}

// AdminURL is the admin API base URL, "http://127.0.0.1:PORT/admin".
func (s *Server) AdminURL() string { return s.Endpoint() + "/admin" }

// Credentials returns the access key pair the simulator accepts.
func (s *Server) Credentials() (accessKeyID, accessKeySecret string) {
	return s.cfg.AccessKeyID, s.cfg.AccessKeySecret
}

// BackendName names the instance backend ("none", "container", ...).
func (s *Server) BackendName() string { return s.backend.Name() }

// Faults returns the current fault settings.
func (s *Server) Faults() Faults { return s.faults.get() }

// SetFaults replaces the fault settings; rule counters start over.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.faults.set(f)
	return nil
}

// Calls returns the API calls with a sequence number above since, and the
// per-action counts.
func (s *Server) Calls(since int64) CallLog { return s.calls.snapshot(since) }

// Close stops serving, ends every listener and forwarder, and deletes every
// instance's host through the backend.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	var errs []error
	if s.httpd != nil {
		if err := s.httpd.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the API server: %w", err))
		}
	}
	s.cancel()
	if err := s.wipe(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.backend.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("closing the %s backend: %w", s.backend.Name(), err))
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// Reset returns the cloud to its initial state: every resource removed (hosts
// deleted, listeners and forwarders closed), the initial faults restored, the
// call log and nonce cache cleared.
func (s *Server) Reset(ctx context.Context) error {
	err := s.wipe(ctx)
	s.mu.Lock()
	s.st = newState()
	s.mu.Unlock()
	s.faults.set(s.initialFaults)
	s.calls.reset()
	s.nonces.reset()
	s.imds.reset()
	return err
}

// wipe deletes all instances' hosts and closes every proxy and forwarder.
func (s *Server) wipe(ctx context.Context) error {
	s.mu.Lock()
	var ids []string
	for _, inst := range s.st.instances.all() {
		ids = append(ids, inst.ID)
		inst.op++
	}
	for _, inst := range s.st.ec2.instances.all() {
		ids = append(ids, inst.ID)
		inst.op++
	}
	s.st.ec2.instances.rows = map[string]*ec2Instance{}
	for _, lb := range s.st.loadBalancers.all() {
		for _, l := range lb.listeners {
			l.stop()
		}
	}
	for ip, f := range s.forwarders {
		f.close()
		delete(s.forwarders, ip)
	}
	s.st.instances.rows = map[string]*instance{}
	s.mu.Unlock()

	var errs []error
	for _, id := range ids {
		s.ips.Delete(id)
		if err := s.backend.Delete(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("deleting the host of instance %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// commonParams are the gateway's parameters, excluded from the ClientToken
// fingerprint.
var commonParams = []string{"AccessKeyId", "Action", "Format", "Signature", "SignatureMethod", "SignatureNonce",
	"SignatureType", "SignatureVersion", "Timestamp", "Version", "SecurityToken", "BearerToken", "ClientToken"}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	now := time.Now()
	call := Call{Time: now.UTC(), RequestID: requestID}
	format := "JSON"
	productName := "Ecs"
	fail := func(e *APIError, injected bool) {
		s.recordFailure(r, &call, e, injected)
		writeAnswer(w, e.Status, format, "Error", errorBody(e, requestID, r.Host, productName))
	}

	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		fail(newErrorf("UnsupportedHTTPMethod", "HTTP method %s is not supported; use GET or POST.", r.Method), false)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(newErrorf("InvalidParameter", "The request parameters cannot be parsed: %v", err), false)
		return
	}
	values := r.Form
	if f := values.Get("Format"); f != "" {
		format = f
	} else {
		// The services answer XML unless asked otherwise.
		format = "XML"
	}
	if !strings.EqualFold(format, "JSON") && !strings.EqualFold(format, "XML") {
		format = "JSON"
		fail(errInvalidf("Format", "use JSON or XML"), false)
		return
	}
	call.Action, call.Version = values.Get("Action"), values.Get("Version")
	call.RegionID = values.Get("RegionId")
	if call.Action == "" {
		fail(errMissing("Action"), false)
		return
	}
	if call.Version == "" {
		fail(errMissing("Version"), false)
		return
	}
	prod := s.products[call.Version]
	if prod == nil {
		fail(newErrorf("InvalidVersion", "Specified parameter Version %q is not valid: this endpoint serves ECS 2014-05-26, VPC 2016-04-28 and SLB 2014-05-15.", call.Version), false)
		return
	}
	call.Product, productName = prod.Name, prod.Name
	h := prod.actions[call.Action]
	if h == nil {
		fail(newErrorf("InvalidAction.NotFound", "Specified api is not found, please check your url and method. (%s has no action %q in version %s here.)", prod.Name, call.Action, prod.Version), false)
		return
	}
	if e := verifySignature(r.Method, values, s.secrets, &s.nonces, now); e != nil {
		fail(e, false)
		return
	}
	f, waited := s.applyFaults(r.Context(), prod.Name, call.Action, values.Get("AccessKeyId"), newError("Throttling.User", ""))
	if !waited {
		return // the caller went away
	} else if f.err != nil && !f.after {
		fail(f.err, f.injected)
		return
	}
	p := flatten(values)
	c := &callCtx{s: s, ctx: r.Context(), product: prod, action: call.Action, p: p, requestID: requestID, host: r.Host}
	answer, err := s.invoke(c, h)
	if f.after {
		fail(f.err, true) // carried out, answered with the error
		return
	}
	if err != nil {
		fail(s.asAPIError(err, &call, newError), false)
		return
	}
	answer["RequestId"] = requestID
	call.Status = http.StatusOK
	s.calls.record(call)
	s.log.Debug("cloudsim: API call", "product", prod.Name, "action", call.Action, "request_id", requestID)
	writeAnswer(w, http.StatusOK, format, call.Action+"Response", answer)
}

// asAPIError is the answer for a handler's error: an APIError as it is,
// anything else (a bug or a host problem) logged and answered InternalError
// from the product's table.
func (s *Server) asAPIError(err error, call *Call, errorOf func(code, msg string) *APIError) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	s.log.Error("cloudsim: action failed", "product", call.Product, "action", call.Action, "request_id", call.RequestID, "err", err)
	return errorOf("InternalError", "")
}

// applyFaults applies the fault settings to an authenticated call: the
// action's latency, then the caller's throttle (answered throttled), then
// injected failures. waited is false when the caller went away meanwhile.
// A failure rule with After has the call carried out before the error is
// answered.
func (s *Server) applyFaults(ctx context.Context, product, action, accessKey string, throttled *APIError) (f fault, waited bool) {
	if d := s.faults.latency(action); d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return fault{}, false
		}
	}
	if s.faults.throttled(accessKey, time.Now()) {
		return fault{err: throttled}, true
	}
	if e, after := s.faults.inject(product, action); e != nil {
		return fault{err: e, injected: true, after: after}, true
	}
	return fault{}, true
}

// fault is what applyFaults decided for a call: answer err (when set),
// after carrying the call out if after.
type fault struct {
	err      *APIError
	injected bool // by a failure rule, not the rate throttle
	after    bool
}

// flatten keeps the first value of each parameter, as the services read them.
func flatten(values url.Values) params {
	p := params{}
	for k, vs := range values {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	return p
}

// recordFailure logs an error answer and records it in the call log.
func (s *Server) recordFailure(r *http.Request, call *Call, e *APIError, injected bool) {
	call.Status, call.Code, call.Injected = e.Status, e.Code, injected
	s.calls.record(*call)
	level := slog.LevelInfo
	if e.Status >= 500 {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "cloudsim: API error", "product", call.Product, "action", call.Action,
		"code", e.Code, "status", e.Status, "request_id", call.RequestID, "injected", injected)
}

// invoke runs a handler, honouring ClientToken: the same token with the same
// parameters gets the first answer again (without running the action), with
// other parameters IdempotentParameterMismatch.
func (s *Server) invoke(c *callCtx, h handler) (obj, error) {
	token := c.p.get("ClientToken")
	if token == "" {
		return h(c)
	}
	if len(token) > 64 {
		return nil, newError("InvalidClientToken.ValueNotSupported", "The ClientToken provided is invalid: at most 64 ASCII characters.")
	}
	key := c.product.Name + "/" + c.action + "/" + token
	fp := fingerprint(c.p)
	s.mu.Lock()
	rec := s.st.clientTokens[key]
	s.mu.Unlock()
	if rec != nil {
		if rec.fingerprint != fp {
			return nil, newError("IdempotentParameterMismatch", "")
		}
		var again obj
		if err := json.Unmarshal(rec.answer, &again); err != nil {
			return nil, fmt.Errorf("replaying the answer of ClientToken %q: %w", token, err)
		}
		return again, nil
	}
	answer, err := h(c)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("recording the answer of ClientToken %q: %w", token, err)
	}
	s.mu.Lock()
	s.st.clientTokens[key] = &tokenRecord{fingerprint: fp, answer: raw}
	s.mu.Unlock()
	return answer, nil
}

// fingerprint digests the action parameters (not the gateway's).
func fingerprint(p params) string { return fingerprintExcept(p, commonParams) }

// fingerprintExcept digests the parameters but those in skip.
func fingerprintExcept(p params, skip []string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !slices.Contains(skip, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", url.QueryEscape(k), url.QueryEscape(p[k]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// region returns the call's RegionId, which must name a known region.
func (c *callCtx) region() (*regionInfo, error) {
	id, err := c.p.required("RegionId")
	if err != nil {
		return nil, err
	}
	r := findRegion(id)
	if r == nil {
		return nil, newErrorf("InvalidRegionId.NotFound", "The specified RegionId %q does not exist.", id)
	}
	return r, nil
}

// regionOptional lists the actions whose API reference takes RegionId as
// optional although the action is regional: the resource ID determines the
// region, and older SDKs send none.
var regionOptional = map[string]bool{
	"Ecs/AssociateEipAddress":           true,
	"Ecs/UnassociateEipAddress":         true,
	"Ecs/ReleaseEipAddress":             true,
	"Ecs/DescribeRouteTables":           true,
	"Slb/DescribeLoadBalancerAttribute": true,
}

// regionUnlessOptional reads RegionId: required, or for the actions of
// regionOptional "" (any region) when absent. A given RegionId must be known.
func (c *callCtx) regionUnlessOptional() (string, error) {
	if regionOptional[c.product.Name+"/"+c.action] && c.p.get("RegionId") == "" {
		return "", nil
	}
	r, err := c.region()
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// regionWith reads RegionId, then each of the named required parameters in
// order, and returns their values in that order.
func (c *callCtx) regionWith(names ...string) (*regionInfo, []string, error) {
	r, err := c.region()
	if err != nil {
		return nil, nil, err
	}
	vals := make([]string, len(names))
	for i, n := range names {
		if vals[i], err = c.p.required(n); err != nil {
			return nil, nil, err
		}
	}
	return r, vals, nil
}

// regionPage reads RegionId, then PageNumber and PageSize.
func (c *callCtx) regionPage(defSize, maxSize int) (*regionInfo, int, int, error) {
	r, err := c.region()
	if err != nil {
		return nil, 0, 0, err
	}
	number, size, err := c.p.pageArgs(defSize, maxSize)
	if err != nil {
		return nil, 0, 0, err
	}
	return r, number, size, nil
}

// dryRun answers DryRunOperation when the call asked for a dry run; handlers
// call it once validation passed and before changing anything.
func (c *callCtx) dryRun() error {
	if ok, err := c.p.boolean("DryRun", false); err != nil {
		return err
	} else if ok {
		return newError("DryRunOperation", "")
	}
	return nil
}

// sleepCtx waits d or until ctx ends. It simulates durations (boot, latency);
// waiting for a condition always polls instead.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// goBackground runs fn tied to the server's lifetime.
func (s *Server) goBackground(fn func(ctx context.Context)) {
	s.wg.Go(func() { fn(s.ctx) })
}
