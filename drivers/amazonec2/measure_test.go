package amazonec2

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMeasureCreateAndRemove creates and removes machines against the
// simulator's default timings with the driver's production polling, and
// logs the API calls per create and rm and the time per create phase (run
// with -v to read them). It checks that the simulator saw exactly the calls
// the driver counted.
func TestMeasureCreateAndRemove(t *testing.T) {
	pi, pm := pollInitial, pollMax
	pollInitial, pollMax = 1*time.Second, 10*time.Second
	t.Cleanup(func() { pollInitial, pollMax = pi, pm })

	s := startSim(t, nil) // the simulator's defaults
	for _, tc := range []struct {
		name string
		opts map[string]any
	}{
		{"default", nil},
		{"spot", map[string]any{"amazonec2-request-spot-instance": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDriver(t, s, "measure-"+tc.name, tc.opts)
			seq := s.lastSeq()
			start := time.Now()
			require.NoError(t, d.PreCreateCheck())
			pre := time.Since(start)
			require.NoError(t, d.Create())
			total := time.Since(start)
			createCalls := s.callsSince(seq)
			assert.EqualValues(t, d.client.calls.Load(), len(createCalls), "the simulator saw every call the driver made, no more")

			var b strings.Builder
			fmt.Fprintf(&b, "create %s: %d API calls, %s wall time\n", tc.name, len(createCalls), total.Round(time.Millisecond))
			fmt.Fprintf(&b, "  %-45s %8s\n", "pre-create check", pre.Round(time.Millisecond))
			for _, p := range d.phases[1:] {
				fmt.Fprintf(&b, "  %-45s %8s\n", p.Name, p.Duration.Round(time.Millisecond))
			}
			fmt.Fprintf(&b, "  calls: %s\n", formatCounts(countActions(createCalls)))

			seq = s.lastSeq()
			before := d.client.calls.Load()
			start = time.Now()
			require.NoError(t, d.Remove())
			rmCalls := s.callsSince(seq)
			assert.EqualValues(t, d.client.calls.Load()-before, len(rmCalls))
			fmt.Fprintf(&b, "rm %s: %d API calls, %s wall time\n  calls: %s", tc.name, len(rmCalls),
				time.Since(start).Round(time.Millisecond), formatCounts(countActions(rmCalls)))
			t.Log(b.String())
		})
	}
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}
