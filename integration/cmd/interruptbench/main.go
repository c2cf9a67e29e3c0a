// Command interruptbench measures how long docker-machine takes to exit
// after a SIGINT at each interrupt point of an aliyunecs create against an
// in-process cloud simulator (host containers for the provisioning point),
// and whether the simulator still holds anything of the machine after.
//
//	go run ./integration/cmd/interruptbench -cli bin/docker-machine -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetdock/machine/integration/benchkit"
	"github.com/fleetdock/machine/integration/e2e/interrupt"
)

func main() {
	cli := flag.String("cli", "bin/docker-machine", "the docker-machine binary to measure")
	runs := flag.Int("runs", 3, "interrupted creates per point")
	bound := flag.Duration("bound", 90*time.Second, "how long a run may take to exit after the signal before it is killed")
	only := flag.String("points", "", "comma-separated point names to run (default: all)")
	flag.DurationVar(&interrupt.BootTime, "boot-time", interrupt.BootTime, "how long instances boot at the \"wait for Running\" point")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "interruptbench: -runs must be 1 or more")
		os.Exit(2)
	}
	abs, err := benchkit.CLI(*cli)
	if err != nil {
		fmt.Fprintln(os.Stderr, "interruptbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, abs, *runs, *bound, *only); err != nil {
		fmt.Fprintln(os.Stderr, "interruptbench:", err)
		os.Exit(1)
	}
}

type row struct {
	point            string
	times            []time.Duration
	overBound, codes []string
	leaks            int
}

func bench(ctx context.Context, cli string, runs int, bound time.Duration, only string) error {
	tmp, err := os.MkdirTemp("", "interruptbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var rows []row
	for i, pt := range interrupt.Points {
		if only != "" && !slices.Contains(strings.Split(only, ","), pt.Name) {
			continue
		}
		w, err := interrupt.NewWorld(ctx, interrupt.Options{CLI: cli, Store: filepath.Join(tmp, fmt.Sprintf("store-%d", i)), Container: pt.Container})
		if err != nil {
			return err
		}
		r := row{point: pt.Name}
		for n := range runs {
			before := w.UserResources()
			name := fmt.Sprintf("bench-%d", n+1)
			res, err := w.Interrupt(ctx, pt, name, 3*time.Minute, bound)
			switch {
			case errors.Is(err, interrupt.ErrTimeout):
				r.overBound = append(r.overBound, name)
			case err != nil:
				w.Close()
				return fmt.Errorf("%s, %s: %w\n%s", pt.Name, name, err, res.Output)
			default:
				r.times = append(r.times, res.ToExit)
				r.codes = append(r.codes, fmt.Sprint(res.Code))
			}
			// A run that was killed or did not roll back leaves resources;
			// the next run's baseline includes them.
			if w.UserResources() != before {
				r.leaks++
			}
			fmt.Fprintf(os.Stderr, "%s %s: exit %d after %s\n", pt.Name, name, res.Code, res.ToExit.Round(time.Millisecond))
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("closing the simulator after %s: %w", pt.Name, err)
		}
		rows = append(rows, r)
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "POINT\tRUNS\tMEDIAN\tWORST\tEXIT CODES\tLEFT RESOURCES\n")
	for _, r := range rows {
		med, worst := summary(r.times, len(r.overBound), bound)
		codes := strings.Join(r.codes, ",")
		if len(r.overBound) > 0 {
			codes = strings.TrimPrefix(codes+fmt.Sprintf(",killed x%d", len(r.overBound)), ",")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d of %d runs\n", r.point, runs, med, worst, codes, r.leaks, runs)
	}
	return tw.Flush()
}

// summary is the median and worst of the measured times, runs killed at
// bound counting as longer than any.
func summary(times []time.Duration, over int, bound time.Duration) (median, worst string) {
	all := slices.Clone(times)
	slices.Sort(all)
	n := len(all) + over
	at := func(i int) string {
		if i >= len(all) {
			return "> " + bound.String()
		}
		return all[i].Round(time.Millisecond).String()
	}
	return at((n - 1) / 2), at(n - 1)
}
