package aliyunecs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/fleetdock/machine/drivers/internal/delay"
	"github.com/fleetdock/machine/drivers/internal/describe"
)

// Retry tuning for throttled and failed calls; variables so tests can shrink
// the waits.
var (
	retryMaxAttempts = 10
	retryBaseDelay   = 200 * time.Millisecond
	retryMaxDelay    = 5 * time.Second
	// requestTimeout bounds one HTTP exchange; the SDK's own default read
	// timeout (10 s) is too short for a loaded region.
	requestTimeout = 30 * time.Second
)

// centralECSDomain answers DescribeRegions for every region, so a mistyped
// region is reported as such instead of as a DNS failure of a
// region-specific host name.
const centralECSDomain = "ecs.aliyuncs.com"

// endpoint is a parsed --aliyunecs-api-endpoint.
type endpoint struct {
	host   string // host[:port], as the SDK's Domain wants it
	scheme string // "HTTP" or "HTTPS", as the SDK's Config wants it
}

// parseEndpoint accepts "host[:port]" (HTTPS) or "http(s)://host[:port][/]".
func parseEndpoint(raw string) (endpoint, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return endpoint{}, nil
	}
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/?#@ ") {
			return endpoint{}, fmt.Errorf("--aliyunecs-api-endpoint %q is not a host[:port] or an http(s):// URL", raw)
		}
		return endpoint{host: raw, scheme: "HTTPS"}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("--aliyunecs-api-endpoint %q is not a valid URL: %w", raw, err)
	}
	var scheme string
	switch strings.ToLower(u.Scheme) {
	case "http":
		scheme = "HTTP"
	case "https":
		scheme = "HTTPS"
	default:
		return endpoint{}, fmt.Errorf("--aliyunecs-api-endpoint %q: scheme %q is not supported; use http:// or https://", raw, u.Scheme)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return endpoint{}, fmt.Errorf("--aliyunecs-api-endpoint %q must be only a scheme and host[:port], e.g. http://127.0.0.1:8080", raw)
	}
	return endpoint{host: u.Host, scheme: scheme}, nil
}

// credentialSource says where the access key came from; only keys given as
// flags are stored in config.json.
type credentialSource int

const (
	credsNone  credentialSource = iota
	credsFlag                   // --aliyunecs-access-key-id/-secret, persisted
	credsEnv                    // ECS_ACCESS_KEY_ID/ECS_ACCESS_KEY_SECRET, re-read at load
	credsChain                  // the SDK default chain (ALIBABA_CLOUD_*, profiles, RAM role)
)

func (s credentialSource) String() string {
	switch s {
	case credsFlag:
		return "flags"
	case credsEnv:
		return "ECS_ACCESS_KEY_ID/ECS_ACCESS_KEY_SECRET"
	case credsChain:
		return "the Alibaba Cloud default credential chain"
	}
	return "none"
}

// api holds the three product clients of one driver and runs every call
// through retry, context binding and error cleaning. A call is
// a.call(ctx, &a.ecs.Client, ecs.CreateXRequest(), ecs.CreateXResponse()).
type api struct {
	region  string
	ecs     *product
	vpc     *product
	slb     *product
	binder  *ctxBinder
	secrets []string // values scrubbed from any error text
	source  credentialSource

	calls atomic.Int64 // API requests sent, retries included
	log   *slog.Logger // the driver's; nil: slog.Default()
}

// logger is the driver's logger, else slog's default one.
func (a *api) logger() *slog.Logger {
	if a.log != nil {
		return a.log
	}
	return slog.Default()
}

// clientConfig is what newAPI needs; the driver fills it from its fields
// and the environment.
type clientConfig struct {
	region      string
	endpoint    endpoint // applies to all products when set
	ecsEndpoint endpoint // ECS_ENDPOINT (legacy), when endpoint is empty
	vpcEndpoint endpoint // VPC_ENDPOINT, when endpoint is empty
	slbEndpoint endpoint // SLB_ENDPOINT (legacy), when endpoint is empty
	provider    credentials.CredentialsProvider
	source      credentialSource
	secrets     []string
}

func newAPI(cfg clientConfig) (*api, error) {
	binder := &ctxBinder{base: http.DefaultTransport.(*http.Transport).Clone(), calls: map[string]context.Context{}}
	config := func(ep endpoint) *sdk.Config {
		c := sdk.NewConfig()
		c.Scheme = "HTTPS"
		if ep.scheme != "" {
			c.Scheme = ep.scheme
		}
		c.Transport = binder
		c.Timeout = requestTimeout
		return c
	}
	pick := func(specific endpoint) endpoint {
		if cfg.endpoint.host != "" {
			return cfg.endpoint
		}
		return specific
	}
	a := &api{region: cfg.region, binder: binder, secrets: cfg.secrets, source: cfg.source}

	ecsEP, vpcEP, slbEP := pick(cfg.ecsEndpoint), pick(cfg.vpcEndpoint), pick(cfg.slbEndpoint)
	var err error
	if a.ecs, err = newProduct(cfg, config(ecsEP), ecsEP, ecs.GetEndpointMap(), ecs.GetEndpointType()); err != nil {
		return nil, fmt.Errorf("setting up the ECS client: %w", err)
	}
	if a.vpc, err = newProduct(cfg, config(vpcEP), vpcEP, vpc.GetEndpointMap(), vpc.GetEndpointType()); err != nil {
		return nil, fmt.Errorf("setting up the VPC client: %w", err)
	}
	if a.slb, err = newProduct(cfg, config(slbEP), slbEP, slb.GetEndpointMap(), slb.GetEndpointType()); err != nil {
		return nil, fmt.Errorf("setting up the SLB client: %w", err)
	}
	return a, nil
}

// product is the SDK core client of one product (ECS, VPC or SLB), set up
// as the product's own NewClientWithOptions does, with its regional
// endpoint table. The driver does not hold the generated ecs/vpc/slb
// Client types: the linker keeps every method of a client the driver's
// types refer to, i.e. every API action of the product, and the driver
// calls a handful.
type product struct {
	sdk.Client
}

func newProduct(cfg clientConfig, config *sdk.Config, ep endpoint, endpoints map[string]string, endpointType string) (*product, error) {
	p := &product{}
	if err := p.InitWithOptions(cfg.region, config, cfg.provider); err != nil {
		return nil, err
	}
	p.SetEndpointRules(endpoints, endpointType, "")
	p.Domain = ep.host
	p.SetReadTimeout(requestTimeout)
	p.SetConnectTimeout(10 * time.Second)
	p.AppendUserAgent("docker-machine-driver-aliyunecs", driverVersion)
	return p, nil
}

// customEndpoint reports whether ECS calls go to an endpoint the user chose.
func (a *api) customEndpoint() bool { return a.ecs.Domain != "" }

// callHeader carries a per-call id from the request to the transport, which
// swaps it for the call's context. The SDK has no context parameter, and
// without this a cancelled create would sit in a hung HTTP exchange.
const callHeader = "X-Machine-Call"

type ctxBinder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	next  int64
	calls map[string]context.Context
}

func (b *ctxBinder) bind(ctx context.Context) (id string, release func()) {
	b.mu.Lock()
	b.next++
	id = strconv.FormatInt(b.next, 10)
	b.calls[id] = ctx
	b.mu.Unlock()
	return id, func() {
		b.mu.Lock()
		delete(b.calls, id)
		b.mu.Unlock()
	}
}

func (b *ctxBinder) RoundTrip(r *http.Request) (*http.Response, error) {
	id := r.Header.Get(callHeader)
	if id == "" {
		return b.base.RoundTrip(r)
	}
	b.mu.Lock()
	ctx, ok := b.calls[id]
	b.mu.Unlock()
	if !ok {
		ctx = r.Context()
	}
	r = r.Clone(ctx)
	r.Header.Del(callHeader)
	return b.base.RoundTrip(r)
}

// call sends req, retrying throttling, 5xx and transport failures with
// exponential backoff and full jitter. The request object is reused, so a
// ClientToken set on it is the same on every attempt and a retried create
// never makes a second resource.
func (a *api) call(ctx context.Context, client *sdk.Client, req requests.AcsRequest, resp responses.AcsResponse) error {
	action := req.GetActionName()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return &apiError{Action: action, Err: err, secrets: a.secrets}
		}
		id, release := a.binder.bind(ctx)
		req.GetHeaders()[callHeader] = id
		a.calls.Add(1)
		err := client.DoAction(req, resp)
		release()
		if err == nil {
			return nil
		}
		aerr := newAPIError(action, err, a.secrets)
		if ctx.Err() != nil {
			aerr.Err = fmt.Errorf("%w (%v)", ctx.Err(), aerr.Err)
			return aerr
		}
		if !aerr.retryable() || attempt >= retryMaxAttempts {
			if attempt > 1 {
				aerr.Attempts = attempt
			}
			return aerr
		}
		pause := backoff(attempt)
		a.logger().Debug("retrying Alibaba Cloud API call", "action", action, "attempt", attempt, "code", aerr.Code, "status", aerr.Status, "delay", pause)
		if err := delay.Sleep(ctx, pause); err != nil {
			aerr.Err = fmt.Errorf("%w (while retrying after %v)", err, aerr.Err)
			return aerr
		}
	}
}

// backoff is the delay before retry attempt of a call.
func backoff(attempt int) time.Duration {
	return delay.Backoff(attempt, retryBaseDelay, retryMaxDelay)
}

// apiError is a failed call in words a user can act on. It never carries
// request parameters, signatures or secrets.
type apiError struct {
	Action    string
	Code      string // the service's error code, "" for transport errors
	Message   string
	RequestID string
	Status    int
	Attempts  int
	Err       error // transport or context error, when there is no code
	secrets   []string
}

func newAPIError(action string, err error, secrets []string) *apiError {
	e := &apiError{Action: action, secrets: secrets}
	var se *sdkerrors.ServerError
	var ce *sdkerrors.ClientError
	switch {
	case errors.As(err, &se):
		e.Code, e.Message, e.RequestID, e.Status = se.ErrorCode(), se.Message(), se.RequestId(), se.HttpStatus()
	case errors.As(err, &ce):
		e.Code, e.Message = ce.ErrorCode(), ce.Message()
		if orig := ce.OriginError(); orig != nil {
			e.Err = cleanTransportError(orig)
		}
	default:
		e.Err = cleanTransportError(err)
	}
	return e
}

// cleanTransportError drops the request URL from net/http errors: it holds
// every query parameter, including Password and Signature.
func cleanTransportError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	op, host := ue.Op, ""
	if u, perr := url.Parse(ue.URL); perr == nil {
		host = u.Scheme + "://" + u.Host
	}
	inner := ue.Err
	for errors.As(inner, &ue) {
		inner = ue.Err
	}
	return fmt.Errorf("%s %s: %w", op, host, inner)
}

// queryInURL matches a URL with a query string, wherever an error message
// may have embedded one.
var queryInURL = regexp.MustCompile(`(https?://[^/\s"?]+)/?\?[^\s"]*`)

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", e.Action)
	switch {
	case e.Code != "":
		fmt.Fprintf(&b, " failed: %s", e.Code)
		if hint, ok := credentialHints[e.Code]; ok {
			// The service's message quotes the string it signed: noise
			// for a user whose key is simply wrong.
			fmt.Fprintf(&b, ": %s", hint)
		} else if e.Message != "" {
			fmt.Fprintf(&b, ": %s", strings.TrimSpace(e.Message))
		}
		if e.Err != nil {
			fmt.Fprintf(&b, " (%v)", e.Err)
		}
		if e.RequestID != "" {
			fmt.Fprintf(&b, " (request ID %s)", e.RequestID)
		}
	case e.Err != nil:
		fmt.Fprintf(&b, " failed: %v", e.Err)
	default:
		b.WriteString(" failed")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return scrub(queryInURL.ReplaceAllString(b.String(), "$1"), e.secrets)
}

func (e *apiError) Unwrap() error { return e.Err }

// credentialHints say what to check for the errors a wrong key causes.
var credentialHints = map[string]string{
	"SignatureDoesNotMatch":       "the access key secret does not belong to the access key ID; check the secret given with --aliyunecs-access-key-secret, ECS_ACCESS_KEY_SECRET or your Alibaba Cloud profile",
	"IncompleteSignature":         "the request signature was refused; check the access key secret given with --aliyunecs-access-key-secret, ECS_ACCESS_KEY_SECRET or your Alibaba Cloud profile",
	"InvalidAccessKeyId.NotFound": "the access key ID is unknown to Alibaba Cloud; check --aliyunecs-access-key-id, ECS_ACCESS_KEY_ID or your Alibaba Cloud profile",
	"InvalidAccessKeyId.Inactive": "the access key is disabled; enable it in the RAM console or use another one",
}

// retryable: the request was throttled, the service failed on its side, or
// the exchange itself failed. Callers pass ClientTokens where the API has
// them, so repeating a create is safe.
func (e *apiError) retryable() bool {
	switch {
	case strings.HasPrefix(e.Code, "Throttling"),
		e.Code == "ServiceUnavailable",
		e.Code == "InternalError",
		e.Code == "UnknownError",
		e.Code == "LastTokenProcessing",
		e.Code == "OperationConflict",
		e.Code == "SDK.TimeoutError",
		e.Code == "SDK.ServerUnreachable":
		return true
	case e.Status >= 500:
		return true
	case e.Code == "" && e.Status == 0 && e.Err != nil:
		return transientTransport(e.Err)
	}
	return false
}

// transientTransport: resets, EOFs and timeouts are worth another try; a
// refused connection or an unknown host means a wrong endpoint, and waiting
// would only delay the error.
func transientTransport(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsTemporary
	}
	return true
}

// errorCode returns the service error code of err, or "".
func errorCode(err error) string {
	var e *apiError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// isNotFound reports codes meaning "no such resource", which removal treats
// as success.
func isNotFound(err error) bool {
	return strings.HasSuffix(errorCode(err), ".NotFound")
}

// lookup makes a Describe call and returns the first listed item that match
// accepts, or nil: a missing resource is an answer, not an error, for the
// callers that ask whether something exists.
func lookup[T any](ctx context.Context, a *api, client *sdk.Client, req requests.AcsRequest, resp responses.AcsResponse,
	items func() []T, match func(*T) bool) (*T, error) {
	return describe.Find(a.call(ctx, client, req, resp), isNotFound, items, match)
}

// waitGone polls find until the resource is no longer listed. While it
// still is, present says what it sees; it may act on the resource (ask
// again for its deletion, say) and may end the wait itself.
func waitGone[T any](ctx context.Context, a *api, what string, timeout time.Duration, find func(context.Context) (*T, error),
	present func(context.Context, *T) (done bool, seen string, err error)) error {
	return a.waitFor(ctx, what, timeout, func(ctx context.Context) (bool, string, error) {
		r, err := find(ctx)
		switch {
		case err != nil:
			return false, "", err
		case r == nil:
			return true, "", nil
		}
		return present(ctx, r)
	})
}

// scrub replaces every secret value in s; a last line of defence for text
// that came from a server or the network stack.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "****")
			s = strings.ReplaceAll(s, url.QueryEscape(v), "****")
		}
	}
	return s
}

// resolveCredentials picks the credentials in the documented order: flags,
// ECS_ACCESS_KEY_ID/ECS_ACCESS_KEY_SECRET, then the SDK default chain.
func resolveCredentials(flagKey, flagSecret string) (credentials.CredentialsProvider, credentialSource, []string) {
	if flagKey != "" && flagSecret != "" {
		return credentials.NewStaticAKCredentialsProvider(flagKey, flagSecret), credsFlag, []string{flagSecret}
	}
	if k, s := os.Getenv("ECS_ACCESS_KEY_ID"), os.Getenv("ECS_ACCESS_KEY_SECRET"); k != "" && s != "" {
		return credentials.NewStaticAKCredentialsProvider(k, s), credsEnv, []string{s}
	}
	return credentials.NewDefaultCredentialsProvider(), credsChain, nil
}

// checkCredentials resolves the provider once so a missing key fails before
// any resource is made, with a message that says where keys can come from.
func checkCredentials(p credentials.CredentialsProvider) ([]string, error) {
	c, err := p.GetCredentials()
	if err != nil || c == nil || c.AccessKeyId == "" {
		detail := "no credentials"
		if err != nil {
			detail = err.Error()
		}
		return nil, fmt.Errorf("no Alibaba Cloud credentials found: pass --aliyunecs-access-key-id and --aliyunecs-access-key-secret, "+
			"set ECS_ACCESS_KEY_ID and ECS_ACCESS_KEY_SECRET (or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET), "+
			"or configure a profile in ~/.alibabacloud/credentials or ~/.aliyun/config.json (%s)", detail)
	}
	var secrets []string
	if c.AccessKeySecret != "" {
		secrets = append(secrets, c.AccessKeySecret)
	}
	if c.SecurityToken != "" {
		secrets = append(secrets, c.SecurityToken)
	}
	return secrets, nil
}
