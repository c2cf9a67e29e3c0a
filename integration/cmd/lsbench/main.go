// Command lsbench measures `docker-machine ls` at fleet scale and prints,
// side by side: a store of -machines none machines, one of -large none
// machines, and stores of -machines aliyunecs and -machines amazonec2
// machines whose instances run on an in-process cloudsim, with the API
// calls each ls made (from the simulator's call log).
//
// Store entries are written as create writes them (config.json with the
// store's certificates, from one machine the CLI created); the cloud
// machines' instances are really made on the simulator with RunInstances
// and their entries carry only what create stores before any state call,
// so ls has to ask the simulator for every state and address. Each engine
// URL refuses at once: the rows show unreachable engines, and the figures
// are those of ls, not of Docker daemons.
//
// With -baseline CLI, every store is also listed by that binary (say, one
// built from an earlier commit), for a before and after in one run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/libmachine/poll"
)

func main() {
	cli := flag.String("cli", "bin/docker-machine", "docker-machine binary to measure")
	baseline := flag.String("baseline", "", "another docker-machine binary to measure on the same stores (optional)")
	machines := flag.Int("machines", 100, "machines in the none store and in each cloud store")
	large := flag.Int("large", 1000, "machines in the large none store (0: none)")
	runs := flag.Int("runs", 5, "timed ls runs per store")
	latency := flag.Duration("latency", 0, "delay of every simulated API answer")
	throttle := flag.Float64("throttle", 0, "API calls per second the simulator allows before it throttles (0: no limit)")
	flag.Parse()
	faults := cloudsim.Faults{CreateTime: cloudsim.Duration(10 * time.Millisecond), BootTime: cloudsim.Duration(10 * time.Millisecond)}
	if err := run(*cli, *baseline, *machines, *large, *runs, faults, cloudsim.Faults{Latency: cloudsim.Duration(*latency), ThrottleRate: *throttle}); err != nil {
		fmt.Fprintln(os.Stderr, "lsbench:", err)
		os.Exit(1)
	}
}

// store is one store to list, and what each of its rows must say.
type store struct {
	label, dir string
	machines   int
	state      string // every row's STATE
}

// run makes the stores on a cloud with the faults setup, then lists them on
// one with faults measured.
func run(cli, baseline string, machines, large, runs int, setup, measured cloudsim.Faults) error {
	if machines < 1 || runs < 1 || large < 0 {
		return errors.New("-machines and -runs must be 1 or more, -large 0 or more")
	}
	root, err := os.MkdirTemp("", "lsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	sim, err := cloudsim.Start(cloudsim.Config{
		Faults: &setup,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fmt.Errorf("starting the cloud simulator: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = sim.Close(ctx)
	}()

	var stores []store
	add := func(label, driver string, n int, state string, drivers func(int, string) map[string]any) error {
		dir := filepath.Join(root, strings.ReplaceAll(label, " ", "-"))
		if err := writeStore(cli, dir, driver, n, drivers); err != nil {
			return fmt.Errorf("writing the %s store: %w", label, err)
		}
		stores = append(stores, store{label, dir, n, state})
		return nil
	}
	none := func(int, string) map[string]any {
		return map[string]any{"URL": "tcp://127.0.0.1:1", "IPAddress": "127.0.0.1:1"}
	}
	if err := add(fmt.Sprintf("none %d", machines), "none", machines, "Running", none); err != nil {
		return err
	}
	if large > 0 {
		if err := add(fmt.Sprintf("none %d", large), "none", large, "Running", none); err != nil {
			return err
		}
	}
	ecsIDs, err := runECS(sim, machines)
	if err != nil {
		return err
	}
	key, secret := sim.Credentials()
	if err := add(fmt.Sprintf("aliyunecs %d", machines), "aliyunecs", machines, "Running", func(i int, _ string) map[string]any {
		return map[string]any{"Region": cloudsimtest.Region, "APIEndpoint": sim.Endpoint(), "AccessKey": key, "SecretKey": secret,
			"InstanceId": ecsIDs[i], "SSHUser": "root", "SSHPort": 22}
	}); err != nil {
		return err
	}
	ec2IDs, err := runEC2(sim, machines)
	if err != nil {
		return err
	}
	awsKey, awsSecret := sim.AWSCredentials()
	if err := add(fmt.Sprintf("amazonec2 %d", machines), "amazonec2", machines, "Running", func(i int, _ string) map[string]any {
		return map[string]any{"Region": cloudsimtest.EC2Region, "Endpoint": sim.EC2Endpoint(), "AccessKey": awsKey, "SecretKey": awsSecret,
			"InstanceId": ec2IDs[i], "SSHUser": "ubuntu", "SSHPort": 22, "RetryCount": 5}
	}); err != nil {
		return err
	}

	measured.CreateTime, measured.BootTime = setup.CreateTime, setup.BootTime
	if err := sim.SetFaults(measured); err != nil {
		return err
	}
	clis := []string{cli}
	if baseline != "" {
		clis = append(clis, baseline)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "docker-machine ls, %d runs per store, API latency %s, throttle %v calls/s (0: none); machine shared, figures are noisy\n",
		runs, measured.Latency.D(), measured.ThrottleRate)
	fmt.Fprintln(tw, "CLI\tSTORE\tMEDIAN\tMIN\tMAX\tAPI CALLS PER LS\tDESCRIBEINSTANCES PER LS\tROWS NOT Running PER LS")
	for _, c := range clis {
		for _, s := range stores {
			r, err := measure(c, s, sim, runs)
			if err != nil {
				return fmt.Errorf("%s over the %s store: %w", c, s.label, err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%.1f\n", c, s.label, r.median, r.min, r.max, r.calls, r.describes, r.wrong)
		}
	}
	return tw.Flush()
}

type result struct {
	median, min, max time.Duration
	calls, describes float64
	wrong            float64 // rows per ls whose state was not the machine's
}

func measure(cli string, s store, sim *cloudsim.Server, runs int) (result, error) {
	before := sim.Calls(0).Counts
	var times []time.Duration
	wrong := 0
	for range runs {
		cmd := exec.Command(cli, "-s", s.dir, "ls")
		cmd.Env = cloudEnv(s.dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		out, err := cmd.Output()
		elapsed := time.Since(start)
		if err != nil {
			return result{}, fmt.Errorf("ls: %v: %s", err, stderr.Bytes())
		}
		n, err := checkRows(out, s)
		if err != nil {
			return result{}, err
		}
		wrong += n
		times = append(times, elapsed)
	}
	after := sim.Calls(0).Counts
	var calls int
	for action, n := range after {
		calls += n - before[action]
	}
	slices.Sort(times)
	r := time.Millisecond
	return result{
		median: times[len(times)/2].Round(r), min: times[0].Round(r), max: times[len(times)-1].Round(r),
		calls:     float64(calls) / float64(runs),
		describes: float64(after["DescribeInstances"]-before["DescribeInstances"]) / float64(runs),
		wrong:     float64(wrong) / float64(runs),
	}, nil
}

// cloudEnv is the environment of ls: the machine's own, without anything
// that points the SDKs elsewhere than the stored settings (AWS_* variables,
// shared config files, metadata services).
func cloudEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "AWS_") && !strings.HasPrefix(k, "ALIBABA_CLOUD_") {
			env = append(env, kv)
		}
	}
	return append(env, "AWS_EC2_METADATA_DISABLED=true", "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"),
		"ALIBABA_CLOUD_CREDENTIALS_FILE="+filepath.Join(dir, "no-alibaba-credentials"))
}

// checkRows makes sure ls listed every machine, and counts the rows whose
// state is not the one the machine has (a throttled cloud makes some
// Error): a run that skipped the cloud would not be a measure of ls.
func checkRows(out []byte, s store) (int, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != s.machines+1 {
		return 0, fmt.Errorf("ls printed %d lines, want %d:\n%s", len(lines), s.machines+1, out)
	}
	wrong := 0
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) < 4 || f[3] != s.state {
			wrong++
		}
	}
	return wrong, nil
}

// writeStore makes a store of n machines of driver: the CLI creates one
// none machine (the store's CA and client certificate, and the host
// options create writes), and every machine's entry is that config.json
// with its own name, paths and driver fields (from fields).
func writeStore(cli, dir, driver string, n int, fields func(i int, name string) map[string]any) error {
	out, err := exec.Command(cli, "-s", dir, "create", "-d", "none", "--url", "tcp://127.0.0.1:1", "template").CombinedOutput()
	if err != nil {
		return fmt.Errorf("creating the template machine: %v: %s", err, out)
	}
	tmplDir := filepath.Join(dir, "machines", "template")
	raw, err := os.ReadFile(filepath.Join(tmplDir, "config.json"))
	if err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("%s-%04d", driver, i)
		mdir := filepath.Join(dir, "machines", name)
		var cfg map[string]any
		if err := json.Unmarshal(bytes.ReplaceAll(raw, []byte(tmplDir), []byte(mdir)), &cfg); err != nil {
			return err
		}
		d := map[string]any{"MachineName": name, "StorePath": dir}
		for k, v := range fields(i, name) {
			d[k] = v
		}
		cfg["Name"], cfg["DriverName"], cfg["Driver"] = name, driver, d
		cfg["HostOptions"].(map[string]any)["Driver"] = driver
		b, err := json.MarshalIndent(cfg, "", "    ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(mdir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(mdir, "config.json"), b, 0o600); err != nil {
			return err
		}
	}
	return os.RemoveAll(tmplDir)
}

// runECS starts n instances with public IPs and waits until they run.
func runECS(sim *cloudsim.Server, n int) ([]string, error) {
	key, secret := sim.Credentials()
	client, err := cloudsimtest.NewECSClient(sim.Domain(), cloudsimtest.Region, key, secret)
	if err != nil {
		return nil, err
	}
	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = cloudsimtest.Region
	group, err := client.CreateSecurityGroup(sg)
	if err != nil {
		return nil, fmt.Errorf("creating a security group on the simulator: %w", err)
	}
	var ids []string
	for len(ids) < n {
		run := ecs.CreateRunInstancesRequest()
		run.RegionId = cloudsimtest.Region
		run.ImageId = "ubuntu_22_04_x64_20G_alibase_20240130.vhd"
		run.InstanceType = "ecs.n4.small"
		run.SecurityGroupId = group.SecurityGroupId
		run.InternetMaxBandwidthOut = "5"
		run.Amount = requests.NewInteger(min(100, n-len(ids))) // the ECS maximum
		resp, err := client.RunInstances(run)
		if err != nil {
			return nil, fmt.Errorf("starting ECS instances on the simulator: %w", err)
		}
		ids = append(ids, resp.InstanceIdSets.InstanceIdSet...)
	}
	return ids, waitRunning(func() int {
		running := 0
		for _, inst := range sim.Resources().Instances {
			if inst.Status == "Running" {
				running++
			}
		}
		return running
	}, n)
}

// runEC2 starts n instances and waits until they run.
func runEC2(sim *cloudsim.Server, n int) ([]string, error) {
	ctx := context.Background()
	client := cloudsimtest.NewEC2Client(sim, cloudsimtest.EC2Region)
	images, err := client.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(images.Images) == 0 {
		return nil, fmt.Errorf("finding an AMI on the simulator: %v", err)
	}
	var ids []string
	for len(ids) < n {
		k := int32(min(20, n-len(ids))) // the account's instance limit per call
		resp, err := client.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: images.Images[0].ImageId, InstanceType: "t2.micro",
			MinCount: aws.Int32(k), MaxCount: aws.Int32(k)})
		if err != nil {
			return nil, fmt.Errorf("starting EC2 instances on the simulator: %w", err)
		}
		for _, inst := range resp.Instances {
			ids = append(ids, aws.ToString(inst.InstanceId))
		}
	}
	return ids, waitRunning(func() int {
		running := 0
		for _, inst := range sim.Resources().EC2.Instances {
			if inst.State == "running" {
				running++
			}
		}
		return running
	}, n)
}

// waitRunning waits until count says n.
func waitRunning(count func() int, n int) error {
	return poll.Until(context.Background(), poll.Options{What: fmt.Sprintf("%d instances to run on the simulator", n), Timeout: time.Minute, Initial: 10 * time.Millisecond, Max: time.Second},
		func(context.Context) (bool, error) {
			if got := count(); got < n {
				return false, poll.NotYet("%d running", got)
			}
			return true, nil
		})
}
