// Command lsbench measures `docker-machine ls` over a store of many `none`
// machines: it creates the machines with the CLI under test, then times
// repeated runs of ls and prints the median, min and max wall time.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

func main() {
	cli := flag.String("cli", "bin/docker-machine", "docker-machine binary to measure")
	machines := flag.Int("machines", 100, "how many none machines to store")
	runs := flag.Int("runs", 9, "how many timed ls runs")
	flag.Parse()
	if err := run(*cli, *machines, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "lsbench:", err)
		os.Exit(1)
	}
}

func run(cli string, machines, runs int) error {
	store, err := os.MkdirTemp("", "lsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	// Port 1 on loopback refuses at once: the rows show an unreachable
	// engine, as stored machines whose hosts are gone do.
	for i := range machines {
		out, err := exec.Command(cli, "-s", store, "create", "-d", "none", "--url", "tcp://127.0.0.1:1", fmt.Sprintf("m-%03d", i)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("creating machine %d: %v: %s", i, err, out)
		}
	}
	var times []time.Duration
	for range runs {
		start := time.Now()
		out, err := exec.Command(cli, "-s", store, "ls").Output()
		elapsed := time.Since(start)
		if err != nil {
			return fmt.Errorf("ls: %v", err)
		}
		if lines := bytes.Count(out, []byte("\n")); lines != machines+1 {
			return fmt.Errorf("ls printed %d lines, want %d:\n%s", lines, machines+1, out)
		}
		times = append(times, elapsed)
	}
	slices.Sort(times)
	fmt.Printf("docker-machine ls over %d none machines, %d runs: median %s, min %s, max %s\n",
		machines, runs, times[len(times)/2].Round(time.Millisecond), times[0].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	fmt.Printf("runs: %s\n", strings.Trim(fmt.Sprint(times), "[]"))
	return nil
}
