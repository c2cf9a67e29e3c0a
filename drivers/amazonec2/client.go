package amazonec2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetdock/machine/drivers/internal/delay"
)

// Retry tuning; variables so tests can shrink the waits.
var (
	retryBaseDelay = 250 * time.Millisecond
	retryMaxDelay  = 20 * time.Second
	// requestTimeout bounds one HTTP exchange.
	requestTimeout = 60 * time.Second
)

// api is the EC2 client of one driver. Every call goes through the SDK's
// standard retryer (--amazonec2-retries), is counted, and fails with an
// error that carries no secret.
type api struct {
	ec2       ec2Calls
	transport *transport
	secrets   *secretSet
	source    string // where the credentials came from, for logs

	calls atomic.Int64 // HTTP requests sent, retries included
}

// clientConfig is what newAPI needs; the driver fills it from its fields.
type clientConfig struct {
	region                             string
	endpoint                           string // "" for the SDK's regional endpoint
	profile                            string
	accessKey, secretKey, sessionToken string // from flags only
	retries                            int
}

// transport gives every request a body of its own, and lets tests put a
// faulty network under a live client.
type transport struct {
	mu   sync.Mutex
	base http.RoundTripper
}

// RoundTrip sends r with its body copied into memory. The SDK closes the
// body it built as soon as the answer's headers are in, but net/http may
// still be reading it then: past Content-Length, to check that nothing is
// left. The SDK's closed body fails that read, net/http closes the
// connection under the answer being read, and the SDK retries a call the
// service has already carried out. A body in memory is also one net/http
// sends with its headers in one write, and can send again itself when a
// kept-alive connection turns out dead before anything was written.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	base := t.base
	t.mu.Unlock()
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength <= 0 {
		return base.RoundTrip(r)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	own := *r
	own.Body = io.NopCloser(bytes.NewReader(body))
	own.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return base.RoundTrip(&own)
}

func (t *transport) set(rt http.RoundTripper) {
	t.mu.Lock()
	t.base = rt
	t.mu.Unlock()
}

func newAPI(ctx context.Context, cc clientConfig) (*api, error) {
	a := &api{
		transport: &transport{base: http.DefaultTransport.(*http.Transport).Clone()},
		secrets:   &secretSet{},
	}
	a.secrets.add(cc.secretKey, cc.sessionToken)
	maxAttempts := cc.retries + 1
	if maxAttempts < 1 {
		maxAttempts = 1
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cc.region),
		// The SDK adds a custom CA bundle (AWS_CA_BUNDLE, ca_bundle) only
		// to its own buildable client; its transport is taken over below.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(requestTimeout)),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.Backoff = retry.BackoffDelayerFunc(backoff)
			})
		}),
		config.WithLogger(sdkLogger{}),
		config.WithClientLogMode(aws.LogRetries),
		config.WithAPIOptions([]func(*middleware.Stack) error{a.countCalls, a.cleanErrors}),
	}
	if cc.accessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cc.accessKey, cc.secretKey, cc.sessionToken)))
	}
	if cc.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cc.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration%s: %s", profileHint(cc.profile), a.secrets.scrub(err.Error()))
	}
	if b, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		a.transport.set(b.GetTransport())
	}
	cfg.HTTPClient = &http.Client{Transport: a.transport, Timeout: requestTimeout}
	if cfg.Credentials == nil {
		return nil, errNoCredentials(cc.profile, errors.New("no credential source is configured"))
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, errNoCredentials(cc.profile, errors.New(a.secrets.scrub(err.Error())))
	}
	a.secrets.add(creds.SecretAccessKey, creds.SessionToken)
	a.source = credentialSource(creds.Source)
	// Credentials that refresh (assume-role, SSO, instance roles) bring new
	// secrets; every one is added to the scrub list as it is handed out.
	cfg.Credentials = recordingProvider{inner: cfg.Credentials, secrets: a.secrets}
	a.ec2 = newEC2Calls(ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		if cc.endpoint != "" {
			o.BaseEndpoint = aws.String(cc.endpoint)
		}
	}))
	return a, nil
}

func profileHint(profile string) string {
	if profile == "" {
		return ""
	}
	return fmt.Sprintf(" (profile %q)", profile)
}

func errNoCredentials(profile string, err error) error {
	if profile != "" {
		return fmt.Errorf("no AWS credentials for profile %q: check it in the shared config and credentials files "+
			"(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/config and ~/.aws/credentials), "+
			"or run 'aws sso login --profile %s' for an SSO profile (%w)", profile, profile, err)
	}
	return fmt.Errorf("no AWS credentials found: pass --amazonec2-access-key and --amazonec2-secret-key, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "+
		"name a profile of ~/.aws/credentials or ~/.aws/config with --amazonec2-profile or AWS_PROFILE (static keys, SSO, assume-role), "+
		"set AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or run where a container or instance role is available (%w)", err)
}

// credentialSource names the SDK provider in words, without file contents.
func credentialSource(s string) string {
	switch {
	case s == credentials.StaticCredentialsName:
		return "flags"
	case strings.HasPrefix(s, "EnvConfigCredentials"):
		return "environment"
	case strings.HasPrefix(s, "SharedConfigCredentials"):
		return "shared credentials file"
	case s == "":
		return "unknown"
	}
	return s
}

// recordingProvider adds every secret it hands out to the scrub list.
type recordingProvider struct {
	inner   aws.CredentialsProvider
	secrets *secretSet
}

func (p recordingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err == nil {
		p.secrets.add(c.SecretAccessKey, c.SessionToken)
	}
	return c, err
}

// countCalls counts every attempt: it sits after the retry middleware.
func (a *api) countCalls(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("DockerMachineCountCalls",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			a.calls.Add(1)
			logger().Debug("EC2 API call", "action", middleware.GetOperationName(ctx))
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}

// cleanErrors wraps whatever a call returns, as the outermost middleware,
// so no error text carries a secret.
func (a *api) cleanErrors(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("DockerMachineCleanErrors",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil {
				err = &cleanError{err: err, secrets: a.secrets}
			}
			return out, md, err
		}), middleware.Before)
}

// cleanError is an SDK error whose text has every known secret masked and
// any URL cut to its scheme and host.
type cleanError struct {
	err     error
	secrets *secretSet
}

func (e *cleanError) Error() string { return e.secrets.scrub(e.err.Error()) }
func (e *cleanError) Unwrap() error { return e.err }

// backoff is the SDK's delay before retry attempt of a call.
func backoff(attempt int, _ error) (time.Duration, error) {
	return delay.Backoff(attempt, retryBaseDelay, retryMaxDelay), nil
}

// secretSet holds the values that must never reach a log or an error.
type secretSet struct {
	mu   sync.Mutex
	list []string
}

func (s *secretSet) add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if len(v) >= 4 && !slices.Contains(s.list, v) {
			s.list = append(s.list, v)
		}
	}
}

func (s *secretSet) scrub(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		text = strings.ReplaceAll(text, v, "****")
		text = strings.ReplaceAll(text, url.QueryEscape(v), "****")
	}
	return text
}

// sdkLogger sends the SDK's own log lines (retries only) to slog at debug.
type sdkLogger struct{}

func (sdkLogger) Logf(_ logging.Classification, format string, v ...any) {
	logger().Debug(fmt.Sprintf(format, v...))
}

// errorCode returns the EC2 error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports codes meaning "no such resource", which removal
// treats as success.
func isNotFound(err error) bool {
	return strings.HasSuffix(errorCode(err), ".NotFound")
}
