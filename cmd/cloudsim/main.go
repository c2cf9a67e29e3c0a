// Command cloudsim runs the local cloud simulator (Alibaba Cloud ECS, VPC,
// SLB and the EC2 Query API) for tests, the demo and tools:
//
//	cloudsim serve --addr 127.0.0.1:0 --backend none|container [--access-key-id ID --access-key-secret SECRET]
//	    [--aws-access-key-id ID --aws-secret-access-key SECRET] [fault flags]
//
// Once it serves, it prints exactly one JSON line on stdout:
//
//	{"endpoint":"http://127.0.0.1:PORT","admin":"http://127.0.0.1:PORT/admin","access_key_id":"...","access_key_secret":"...",
//	 "ec2_endpoint":"http://127.0.0.1:PORT","imds_endpoint":"http://127.0.0.1:PORT","aws_access_key_id":"...","aws_secret_access_key":"..."}
//
// Alibaba Cloud SDKs take endpoint's host as their Domain; AWS SDKs take
// ec2_endpoint as their EC2 endpoint (aws-sdk-go-v2's BaseEndpoint,
// --amazonec2-endpoint) with the AWS keys, and imds_endpoint as
// AWS_EC2_METADATA_SERVICE_ENDPOINT for the instance-role credentials.
//
// Logs go to stderr. SIGINT or SIGTERM stop it cleanly: every listener is
// closed and every container it started is removed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetdock/machine/integration/cloudsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: cloudsim serve [flags]

Runs a simulated cloud (Alibaba Cloud ECS 2014-05-26, VPC 2016-04-28,
SLB 2014-05-15, and EC2 2016-11-15 with its instance metadata service) on a
loopback address and prints one JSON line with its endpoints, admin URL and
credentials once it is ready. Run "cloudsim serve -h" for the flags.
`

// ready is the line printed on stdout once the simulator serves.
type ready struct {
	Endpoint        string `json:"endpoint"`
	Admin           string `json:"admin"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
	EC2Endpoint     string `json:"ec2_endpoint"`
	IMDSEndpoint    string `json:"imds_endpoint"`
	AWSAccessKeyID  string `json:"aws_access_key_id"`
	AWSSecretKey    string `json:"aws_secret_access_key"`
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] != "serve" {
		fmt.Fprintf(stderr, "cloudsim: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	opts, err := parseServe(args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "cloudsim serve: %v\n", err)
		return 2
	}
	if err := serve(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "cloudsim serve: %v\n", err)
		return 1
	}
	return 0
}

type serveOptions struct {
	addr, backend, image, logLevel string
	accessKeyID, accessKeySecret   string
	awsKeyID, awsSecret            string
	publicPorts                    []int
	faults                         cloudsim.Faults
}

// repeated collects a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

type durationFlag struct{ d *cloudsim.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.D().String()
}

func (f durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("duration %s is negative", v)
	}
	*f.d = cloudsim.Duration(d)
	return nil
}

func parseServe(args []string, stderr io.Writer) (serveOptions, error) {
	o := serveOptions{faults: cloudsim.DefaultFaults()}
	fs := flag.NewFlagSet("cloudsim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "loopback `address` of the API and admin endpoint (port 0: a free one)")
	fs.StringVar(&o.backend, "backend", "none", "what runs behind instances: none (API only) or container (hostworld hosts; needs Docker)")
	fs.StringVar(&o.image, "image", "", "host `image` for the container backend (default: build or reuse the hostworld image)")
	fs.StringVar(&o.accessKeyID, "access-key-id", os.Getenv("CLOUDSIM_ACCESS_KEY_ID"), "access key `ID` to accept (default $CLOUDSIM_ACCESS_KEY_ID, else random)")
	fs.StringVar(&o.accessKeySecret, "access-key-secret", os.Getenv("CLOUDSIM_ACCESS_KEY_SECRET"), "access key `secret` to accept (default $CLOUDSIM_ACCESS_KEY_SECRET, else random)")
	fs.StringVar(&o.awsKeyID, "aws-access-key-id", os.Getenv("CLOUDSIM_AWS_ACCESS_KEY_ID"), "AWS access key `ID` the EC2 endpoint accepts (default $CLOUDSIM_AWS_ACCESS_KEY_ID, else random)")
	fs.StringVar(&o.awsSecret, "aws-secret-access-key", os.Getenv("CLOUDSIM_AWS_SECRET_ACCESS_KEY"), "AWS secret access `key` (default $CLOUDSIM_AWS_SECRET_ACCESS_KEY, else random)")
	ports := fs.String("public-ports", "", "comma-separated TCP `ports` forwarded from public IPs and EIPs to instances (default 22,2376 with the container backend, none otherwise)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	faultsFile := fs.String("faults-file", "", "JSON `file` of fault settings (the admin API's /faults document); flags below override it")
	latency := durationFlag{new(cloudsim.Duration)}
	fs.Var(latency, "latency", "delay every API answer by this `duration`")
	var actionLatency, fails repeated
	fs.Var(&actionLatency, "action-latency", "delay one action's answers: `Action=duration` (repeatable)")
	create, boot, stop, network := durationFlag{new(cloudsim.Duration)}, durationFlag{new(cloudsim.Duration)}, durationFlag{new(cloudsim.Duration)}, durationFlag{new(cloudsim.Duration)}
	fs.Var(create, "create-time", "`duration` a new instance stays Pending (default 300ms)")
	fs.Var(boot, "boot-time", "least `duration` an instance stays Starting (default 1s)")
	fs.Var(stop, "stop-time", "least `duration` an instance stays Stopping (default 1s)")
	terminate := durationFlag{new(cloudsim.Duration)}
	fs.Var(terminate, "terminate-time", "`duration` an EC2 instance stays shutting-down after its host is gone (default 0)")
	fs.Var(network, "network-time", "`duration` of EIP association and route entry transitions (default 0)")
	throttle := fs.Float64("throttle-rate", 0, "API calls per second per access key before Throttling.User (0: unlimited)")
	burst := fs.Int("throttle-burst", 0, "throttle bucket size (default: one second's worth)")
	fs.Var(&fails, "fail", "inject failures: `action=A[,product=P][,nth=N|,probability=P][,times=N][,code=C][,status=S][,message=M][,after=true]` (repeatable; after: the call is carried out, then answered with the error)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *faultsFile != "" {
		raw, err := os.ReadFile(*faultsFile)
		if err != nil {
			return o, fmt.Errorf("reading the faults file: %w", err)
		}
		var f cloudsim.Faults
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return o, fmt.Errorf("faults file %s: %w", *faultsFile, err)
		}
		o.faults = f
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// Flags given override the faults file, each its own field.
	for name, apply := range map[string]func(){
		"latency":        func() { o.faults.Latency = *latency.d },
		"create-time":    func() { o.faults.CreateTime = *create.d },
		"boot-time":      func() { o.faults.BootTime = *boot.d },
		"stop-time":      func() { o.faults.StopTime = *stop.d },
		"network-time":   func() { o.faults.NetworkTime = *network.d },
		"terminate-time": func() { o.faults.TerminateTime = *terminate.d },
		"throttle-rate":  func() { o.faults.ThrottleRate = *throttle },
		"throttle-burst": func() { o.faults.ThrottleBurst = *burst },
	} {
		if set[name] {
			apply()
		}
	}
	for _, al := range actionLatency {
		action, d, ok := strings.Cut(al, "=")
		dur, err := time.ParseDuration(d)
		if !ok || action == "" || err != nil || dur < 0 {
			return o, fmt.Errorf("--action-latency %q: use Action=duration, such as RunInstances=2s", al)
		}
		if o.faults.ActionLatency == nil {
			o.faults.ActionLatency = map[string]cloudsim.Duration{}
		}
		o.faults.ActionLatency[action] = cloudsim.Duration(dur)
	}
	for _, spec := range fails {
		f, err := parseFailure(spec)
		if err != nil {
			return o, err
		}
		o.faults.Failures = append(o.faults.Failures, f)
	}
	if err := o.faults.Validate(); err != nil {
		return o, err
	}
	if host, _, err := net.SplitHostPort(o.addr); err != nil {
		return o, fmt.Errorf("--addr %q: %w", o.addr, err)
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return o, fmt.Errorf("--addr %q: the simulator only listens on loopback (127.0.0.0/8)", o.addr)
	}
	switch o.backend {
	case "none", "container":
	default:
		return o, fmt.Errorf("--backend %q: use none or container", o.backend)
	}
	if !set["public-ports"] && o.backend == "container" {
		*ports = "22,2376"
	}
	for _, p := range strings.Split(*ports, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return o, fmt.Errorf("--public-ports: %q is not a TCP port", p)
		}
		o.publicPorts = append(o.publicPorts, n)
	}
	if (o.accessKeyID == "") != (o.accessKeySecret == "") {
		return o, errors.New("give both --access-key-id and --access-key-secret, or neither for random ones")
	}
	if (o.awsKeyID == "") != (o.awsSecret == "") {
		return o, errors.New("give both --aws-access-key-id and --aws-secret-access-key, or neither for random ones")
	}
	return o, nil
}

// parseFailure reads key=value pairs of one --fail flag.
func parseFailure(spec string) (cloudsim.Failure, error) {
	var f cloudsim.Failure
	bad := func(why string) (cloudsim.Failure, error) {
		return f, fmt.Errorf("--fail %q: %s (example: action=RunInstances,nth=2,code=ServiceUnavailable)", spec, why)
	}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return bad("each part is key=value")
		}
		var err error
		switch k {
		case "action":
			f.Action = v
		case "product":
			f.Product = v
		case "code":
			f.Code = v
		case "message":
			f.Message = v
		case "nth":
			f.Nth, err = strconv.Atoi(v)
		case "times":
			f.Times, err = strconv.Atoi(v)
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "probability":
			f.Probability, err = strconv.ParseFloat(v, 64)
		case "after":
			f.After, err = strconv.ParseBool(v)
		default:
			return bad("unknown key " + k)
		}
		if err != nil && k == "after" {
			return bad("after is true or false")
		}
		if err != nil {
			return bad(k + " is not a number")
		}
	}
	if f.Action == "" {
		return bad("action is required (use * for every action)")
	}
	return f, nil
}

func serve(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := cloudsim.Config{
		Addr: o.addr, AccessKeyID: o.accessKeyID, AccessKeySecret: o.accessKeySecret,
		AWSAccessKeyID: o.awsKeyID, AWSSecretAccessKey: o.awsSecret,
		Faults: &o.faults, PublicPorts: o.publicPorts, Logger: log,
	}
	var containers *cloudsim.ContainerBackend
	if o.backend == "container" {
		containers = cloudsim.NewContainerBackend(cloudsim.ContainerOptions{Image: o.image, Logger: log})
		cfg.Backend = containers
		// The image build (first run: about half a minute) happens before the
		// ready line, so the first instance boots at normal speed.
		log.Info("cloudsim: preparing the container backend")
		if err := containers.Prepare(ctx); err != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			return errors.Join(err, containers.Close(closeCtx))
		}
	}
	srv, err := cloudsim.Start(cfg)
	if err != nil {
		if containers != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			err = errors.Join(err, containers.Close(closeCtx))
		}
		return err
	}
	id, secret := srv.Credentials()
	awsID, awsSecret := srv.AWSCredentials()
	line, err := json.Marshal(ready{Endpoint: srv.Endpoint(), Admin: srv.AdminURL(), AccessKeyID: id, AccessKeySecret: secret,
		EC2Endpoint: srv.EC2Endpoint(), IMDSEndpoint: srv.IMDSEndpoint(), AWSAccessKeyID: awsID, AWSSecretKey: awsSecret})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("printing the ready line: %w", err)
	}

	<-ctx.Done()
	log.Info("cloudsim: stopping; removing instances and listeners")
	closeCtx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := srv.Close(closeCtx); err != nil {
		return fmt.Errorf("stopping cleanly: %w", err)
	}
	log.Info("cloudsim: stopped")
	return nil
}
