// Command fleetbench soaks docker-machine the way GitLab Runner's
// docker+machine executor drives it, against the cloud simulator with
// instances backed by host containers (Docker preinstalled), so the
// provisioner and the job's `docker version` through the host really run:
//
//	go run ./integration/cmd/fleetbench -cli bin/docker-machine [-driver aliyunecs|amazonec2]
//	    [-k 4,8] [-rounds 2] [-scenarios clean,throttled,faults] [-throttle 0.1] [-faults 0.05]
//
// Each job is the runner's call sequence: `create --driver D --OPT=V ...
// NAME`, `config NAME`, `url NAME`, `inspect NAME -f
// '{{.HostOptions.AuthOptions.StorePath}}'`, `docker version` with those
// credentials, then the removal (`inspect NAME`, `stop NAME`, `rm -y NAME`,
// repeated while rm fails). A machine that fails to be created or used is
// removed the same way and the job tries a new one, three machines at most.
// K workers run rounds jobs each; removals run in the background as the
// runner's do.
//
// Scenarios: clean; throttled, a fraction of every API call answered with
// the cloud's throttling error (Alibaba Cloud Throttling, HTTP 400; EC2
// RequestLimitExceeded, HTTP 503); faults, a fraction answered with a
// server error (ServiceUnavailable or Unavailable, HTTP 503, before the call
// is carried out; InternalError, HTTP 500, after it). For each scenario and K it prints jobs per minute, create
// time p50/p99, failed commands by step and cause, the resources made
// (successful Run, Create, Allocate and Import calls), and what is left: the
// simulator's resources that were not there before, host containers, and
// machine store entries. It exits 1 when anything is left, or when the
// clean scenario has a failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetdock/machine/integration/benchkit"
	"github.com/fleetdock/machine/integration/cloudsim"
)

func main() {
	// The host containers' progress lines would drown the figures.
	slog.SetLogLoggerLevel(slog.LevelWarn)
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(2)
	}
	// The first Ctrl-C stops new jobs and interrupts the commands running
	// (creates roll back); removals still finish. A second one interrupts
	// the removals too. The simulator's host containers are removed in
	// every case.
	jobs, stopJobs := context.WithCancel(context.Background())
	cleanup, stopCleanup := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "fleetbench: interrupted; stopping the jobs and removing their machines (again to interrupt the removals)")
		stopJobs()
		<-sigs
		fmt.Fprintln(os.Stderr, "fleetbench: interrupting the removals; the simulator's containers are removed still")
		stopCleanup()
	}()
	failed, err := bench(jobs, cleanup, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

type options struct {
	cli, driver    string
	ks             []int
	rounds         int
	scenarios      []string
	throttle       float64
	faults         float64
	removeRetry    time.Duration
	removeAttempts int
}

var allScenarios = []string{"clean", "throttled", "faults"}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("fleetbench", flag.ContinueOnError)
	cli := fs.String("cli", "bin/docker-machine", "the docker-machine binary to soak")
	driver := fs.String("driver", "aliyunecs", "driver to create machines with: aliyunecs or amazonec2")
	ks := fs.String("k", "4,8", "concurrent machines (workers); a comma-separated list runs each")
	rounds := fs.Int("rounds", 2, "jobs per worker")
	scenarios := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run: clean, throttled, faults")
	throttle := fs.Float64("throttle", 0.1, "fraction of API calls answered with the cloud's throttling error in the throttled scenario")
	faults := fs.Float64("faults", 0.05, "fraction of API calls answered with a server error in the faults scenario")
	removeRetry := fs.Duration("remove-retry", 5*time.Second, "pause before rm is tried again (the runner's is 30s)")
	removeAttempts := fs.Int("remove-attempts", 5, "rm attempts before a removal is given up (and counted)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	o := options{driver: *driver, rounds: *rounds, throttle: *throttle, faults: *faults, removeRetry: *removeRetry, removeAttempts: *removeAttempts}
	var err error
	if o.cli, err = benchkit.CLI(*cli); err != nil {
		return o, err
	}
	if o.driver != "aliyunecs" && o.driver != "amazonec2" {
		return o, fmt.Errorf("-driver %q: use aliyunecs or amazonec2", o.driver)
	}
	for _, f := range strings.Split(*ks, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 {
			return o, fmt.Errorf("-k %q: give machine counts such as 4,8", *ks)
		}
		o.ks = append(o.ks, k)
	}
	for _, f := range strings.Split(*scenarios, ",") {
		sc := strings.TrimSpace(f)
		if !slices.Contains(allScenarios, sc) {
			return o, fmt.Errorf("-scenarios %q: %q is none of %s", *scenarios, sc, strings.Join(allScenarios, ", "))
		}
		o.scenarios = append(o.scenarios, sc)
	}
	switch {
	case o.rounds < 1:
		return o, errors.New("-rounds must be 1 or more")
	case o.throttle < 0 || o.throttle > 1 || o.faults < 0 || o.faults > 1:
		return o, errors.New("-throttle and -faults are fractions between 0 and 1")
	case o.removeAttempts < 1:
		return o, errors.New("-remove-attempts must be 1 or more")
	}
	return o, nil
}

// label is how a scenario shows in the table.
func (o options) label(sc string) string {
	switch sc {
	case "throttled":
		return fmt.Sprintf("%g%% throttled", o.throttle*100)
	case "faults":
		return fmt.Sprintf("%g%% server errors", o.faults*100)
	}
	return sc
}

// faultsFor is the simulator's setting for a scenario: the default
// transitions, plus failure rules that answer a fraction of every call
// with the error the driver's cloud gives for it.
func (o options) faultsFor(sc string) cloudsim.Faults {
	f := cloudsim.DefaultFaults()
	ec2 := o.driver == "amazonec2"
	product := ""
	if ec2 {
		product = "Ec2"
	}
	switch sc {
	case "throttled":
		code := "Throttling"
		if ec2 {
			code = "RequestLimitExceeded"
		}
		f.Failures = []cloudsim.Failure{{Action: "*", Product: product, Probability: o.throttle, Code: code}}
	case "faults":
		unavailable := "ServiceUnavailable"
		if ec2 {
			unavailable = "Unavailable"
		}
		// Half the failures are a 503 from the front end, which never ran
		// the call; half a 500 once the call was carried out, which the
		// caller cannot tell from one that was not. The second rule sees
		// only the calls the first let through, hence the correction.
		half := o.faults / 2
		f.Failures = []cloudsim.Failure{
			{Action: "*", Product: product, Probability: half, Code: unavailable},
			{Action: "*", Product: product, Probability: min(1, half/(1-half)), Code: "InternalError", After: true},
		}
	}
	return f
}

// result is one row of the table.
type result struct {
	scenario    string
	k, rounds   int
	wall        time.Duration
	jobsOK      int
	jobsLost    int
	createTimes []time.Duration
	failures    map[string]int
	calls       int
	made        int            // resources made (successful Run, Create, Allocate and Import calls)
	injected    map[string]int // injected answers by code
	leftovers   []string
}

func bench(ctx, cleanup context.Context, o options) (failed bool, err error) {
	fmt.Fprintln(os.Stderr, "fleetbench: preparing the host image and the simulator (the first image build takes a few minutes)")
	sim, err := benchkit.StartSim(ctx, true)
	if err != nil {
		return false, err
	}
	defer func() {
		if cerr := sim.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing the simulator: %w", cerr))
		}
	}()
	tmp, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("fleetbench: %s on cloudsim with host containers (%s, Docker preinstalled), CLI %s\n", o.driver, sim.Image, o.cli)

	var results []result
	for _, sc := range o.scenarios {
		for _, k := range o.ks {
			if ctx.Err() != nil {
				break
			}
			r, err := runScenario(ctx, cleanup, o, sim, filepath.Join(tmp, fmt.Sprintf("%s-k%d", sc, k)), sc, k)
			if err != nil {
				return true, err
			}
			results = append(results, r)
		}
	}
	printTable(o, results)
	for _, r := range results {
		if len(r.leftovers) > 0 {
			failed = true
			fmt.Printf("\nFAIL: %s, K=%d left %d resource(s) behind after every rm:\n  %s\n", o.label(r.scenario), r.k, len(r.leftovers), strings.Join(r.leftovers, "\n  "))
		}
		if r.scenario == "clean" && (len(r.failures) > 0 || r.jobsLost > 0) {
			failed = true
			fmt.Printf("\nFAIL: the clean scenario at K=%d had failures: %s\n", r.k, failureText(r.failures))
		}
	}
	if ctx.Err() != nil {
		return true, errors.New("interrupted; the figures above cover the jobs that ran")
	}
	return failed, nil
}

func runScenario(ctx, cleanup context.Context, o options, sim *benchkit.Sim, store string, sc string, k int) (result, error) {
	if err := sim.SetFaults(o.faultsFor(sc)); err != nil {
		return result{}, err
	}
	before := sim.Resources()
	hostsBefore, err := hosts(ctx, sim)
	if err != nil {
		return result{}, err
	}
	firstCall := lastCall(sim)
	s := &soak{cli: o.cli, docker: "docker", store: store, driver: o.driver, removeRetry: o.removeRetry, removeAttempts: o.removeAttempts,
		cleanup: cleanup, failures: map[string]int{}}
	s.env, s.create = driverSetup(o.driver, sim, store)
	s.report = func(step, name, cause, line string) {
		fmt.Fprintf(os.Stderr, "fleetbench: [%s, K=%d] %s %s: %s: %s\n", o.label(sc), k, step, name, cause, line)
	}
	fmt.Fprintf(os.Stderr, "fleetbench: %s, K=%d, %d rounds...\n", o.label(sc), k, o.rounds)
	start := time.Now()
	s.run(ctx, k, o.rounds)
	wall := time.Since(start)

	// Leftovers are judged on a quiet cloud.
	if err := sim.SetFaults(cloudsim.DefaultFaults()); err != nil {
		return result{}, err
	}
	r := result{scenario: sc, k: k, rounds: o.rounds, wall: wall, jobsOK: s.jobsOK, jobsLost: s.jobsLost,
		createTimes: s.createTimes, failures: s.failures, injected: map[string]int{}}
	for _, c := range sim.Calls(firstCall).Calls {
		r.calls++
		if c.Injected {
			r.injected[c.Code]++
		}
		if c.Status == http.StatusOK && makes(c.Action) {
			r.made++
		}
	}
	r.leftovers = sim.Resources().Leftovers(before)
	left, err := hosts(context.WithoutCancel(ctx), sim)
	if err != nil {
		return r, err
	}
	for _, h := range left {
		if !slices.Contains(hostsBefore, h) {
			r.leftovers = append(r.leftovers, "host container "+h)
		}
	}
	entries, err := os.ReadDir(filepath.Join(store, "machines"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return r, err
	}
	for _, e := range entries {
		r.leftovers = append(r.leftovers, "store entry machines/"+e.Name())
	}
	return r, nil
}

// hosts names the host containers of the simulator's backend.
func hosts(ctx context.Context, sim *benchkit.Sim) ([]string, error) {
	key, value := sim.Backend.RunLabel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "--all", "--filter", "label="+key+"="+value, "--format", "{{.Names}}").Output()
	if err != nil {
		return nil, fmt.Errorf("listing the simulator's host containers: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// makes tells the actions that make a resource, so the table shows that
// the leftover count is of something.
func makes(action string) bool {
	for _, p := range []string{"Run", "Create", "Allocate", "Import"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// lastCall is the sequence number of the newest API call logged.
func lastCall(sim *benchkit.Sim) int64 {
	calls := sim.Calls(0).Calls
	if len(calls) == 0 {
		return 0
	}
	return calls[len(calls)-1].Seq
}

// driverSetup is the environment and create options of a driver pointed at
// the simulator, as a runner's MachineOptions would give them; the
// credentials come from the environment, so the store never holds them.
func driverSetup(driver string, sim *benchkit.Sim, store string) (env, create []string) {
	create = []string{"--engine-install-url=none"}
	if driver == "amazonec2" {
		id, secret := sim.AWSCredentials()
		none := filepath.Join(store, "no-aws-config")
		env = cliEnv(store, "AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret,
			"AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none)
		return env, append(create, "--amazonec2-endpoint="+sim.EC2Endpoint(), "--amazonec2-region=us-east-1")
	}
	id, secret := sim.Credentials()
	env = cliEnv(store, "ECS_ACCESS_KEY_ID="+id, "ECS_ACCESS_KEY_SECRET="+secret)
	return env, append(create, "--aliyunecs-api-endpoint="+sim.Endpoint())
}

func printTable(o options, results []result) {
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tK\tROUNDS\tJOBS OK\tJOBS/MIN\tCREATE P50\tCREATE P99\tAPI CALLS\tINJECTED\tFAILED COMMANDS BY CAUSE\tMADE\tLEFT")
	for _, r := range results {
		perMin := 0.0
		if r.wall > 0 {
			perMin = float64(r.jobsOK) / r.wall.Minutes()
		}
		jobs := fmt.Sprintf("%d/%d", r.jobsOK, r.k*r.rounds)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.1f\t%s\t%s\t%d\t%s\t%s\t%d\t%d\n", o.label(r.scenario), r.k, r.rounds, jobs, perMin,
			round(benchkit.Percentile(r.createTimes, 50)), round(benchkit.Percentile(r.createTimes, 99)),
			r.calls, countText(r.injected), failureText(r.failures), r.made, len(r.leftovers))
	}
	_ = tw.Flush()
}

func round(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}

func failureText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	return countText(m)
}

// countText is "a x2, b x1", most frequent first.
func countText(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
