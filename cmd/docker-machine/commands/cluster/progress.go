package cluster

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	libcluster "github.com/fleetdock/machine/libmachine/cluster"
)

// progressDisplay shows cluster progress: on a terminal one line per node,
// redrawn in place, with cluster-wide lines scrolling above; otherwise
// plain "node: message" lines as they come.
type progressDisplay struct {
	w     io.Writer
	tty   bool
	width int

	mu    sync.Mutex
	order []string
	rows  map[string]*progressRow
	drawn int
}

type progressRow struct {
	phase      libcluster.Phase
	line       string
	start, end time.Time // the node's active time: from its first step to ready or failed
}

func (r *progressRow) elapsed() time.Duration {
	switch {
	case r.start.IsZero():
		return 0
	case !r.end.IsZero():
		return r.end.Sub(r.start)
	}
	return time.Since(r.start)
}

func newProgressDisplay(ios *iostreams.IOStreams) *progressDisplay {
	return &progressDisplay{w: ios.Out, tty: ios.IsStdoutTTY(), width: ios.TerminalWidth(), rows: map[string]*progressRow{}}
}

func (d *progressDisplay) handle(ev libcluster.Event) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ev.Node == "" {
		d.print(ev.Line)
		return
	}
	row := d.rows[ev.Node]
	if row == nil && ev.Phase == "" {
		// A line about a machine that is not a node of this run.
		d.print("(" + ev.Node + ") " + ev.Line)
		return
	}
	if row == nil {
		row = &progressRow{}
		d.rows[ev.Node] = row
		d.order = append(d.order, ev.Node)
	}
	if ev.Phase != "" {
		row.phase = ev.Phase
		switch ev.Phase {
		case libcluster.PhaseCreating, libcluster.PhaseJoining, libcluster.PhaseRemoving:
			if row.start.IsZero() || !row.end.IsZero() {
				row.start, row.end = time.Now(), time.Time{}
			}
		case libcluster.PhaseReady, libcluster.PhaseFailed, libcluster.PhaseRemoved:
			if !row.start.IsZero() {
				row.end = time.Now()
			}
		}
		if !d.tty {
			msg := string(ev.Phase)
			if ev.Line != "" {
				msg += ": " + ev.Line
			}
			fmt.Fprintf(d.w, "%s: %s\n", ev.Node, msg)
		}
	} else if !d.tty {
		fmt.Fprintf(d.w, "%s: %s\n", ev.Node, ev.Line)
	}
	if ev.Line != "" {
		row.line = ev.Line
	}
	if d.tty {
		d.redraw()
	}
}

// print shows a cluster-wide line: above the node rows on a terminal.
func (d *progressDisplay) print(line string) {
	if !d.tty {
		fmt.Fprintln(d.w, line)
		return
	}
	d.clearRows()
	fmt.Fprintf(d.w, "%s\n", line)
	d.drawRows()
}

func (d *progressDisplay) clearRows() {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	for range d.drawn {
		fmt.Fprint(d.w, "\x1b[2K\n")
	}
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	d.drawn = 0
}

func (d *progressDisplay) redraw() {
	if d.drawn > 0 {
		fmt.Fprintf(d.w, "\x1b[%dA", d.drawn)
	}
	d.drawn = 0
	d.drawRows()
}

func (d *progressDisplay) drawRows() {
	nameWidth := 0
	for _, n := range d.order {
		nameWidth = max(nameWidth, len(n))
	}
	for _, n := range d.order {
		row := d.rows[n]
		line := fmt.Sprintf("%-*s  %-8s %5s  %s", nameWidth, n, row.phase, row.elapsed().Round(time.Second), row.line)
		if len(line) > d.width-1 {
			line = line[:d.width-1]
		}
		fmt.Fprintf(d.w, "\x1b[2K%s\n", line)
		d.drawn++
	}
}

// finish leaves the final rows on screen.
func (d *progressDisplay) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drawn = 0
}

// driverLog is where driver log lines go: "(machine) message" lines are
// shown as that node's progress.
func (d *progressDisplay) driverLog() io.Writer { return &driverLogWriter{d: d} }

type driverLogWriter struct{ d *progressDisplay }

func (w *driverLogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line == "" {
			continue
		}
		node, msg := "", line
		if rest, ok := strings.CutPrefix(line, "("); ok {
			if i := strings.Index(rest, ") "); i > 0 {
				node, msg = rest[:i], rest[i+2:]
			}
		}
		w.d.handle(libcluster.Event{Node: node, Line: msg})
	}
	return len(p), nil
}
