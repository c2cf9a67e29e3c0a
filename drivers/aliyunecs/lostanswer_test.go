package aliyunecs

import (
	"fmt"
	"testing"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// TestLostAnswerMatrix answers each call of a create with a 500 after the
// call took effect, as when the service fails once it has acted or the
// answer is lost. The driver retries 500s, so each create must either
// succeed or fail, and in both cases rm must leave the cloud as it was:
// a retried call must not make a second resource nobody knows about.
func TestLostAnswerMatrix(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	opts := fullOptions(lb)

	calls := s.createCalls(t, opts)

	before := s.snapshot()
	seen := map[string]int{}
	for i, c := range calls {
		seen[c.Action]++
		nth := seen[c.Action]
		t.Run(fmt.Sprintf("%s#%d", c.Action, nth), func(t *testing.T) {
			f := *fastFaults()
			f.Failures = []cloudsim.Failure{{Action: c.Action, Nth: nth, Code: "InternalError", After: true}}
			s.setFaults(f)
			d := newDriver(t, s, fmt.Sprintf("la-%d", i), opts)
			err := d.PreCreateCheck()
			if err == nil {
				err = d.Create()
			}
			s.setFaults(*fastFaults())
			if err != nil {
				t.Logf("create failed: %v", err)
			}
			require.NoError(t, d.Remove(), "rm after the create")
			s.requireSameAs(before, "after rm")
		})
	}
}

// A stop whose answer was lost is retried; the retry finds the instance
// stopping, which is what was asked.
func TestStopWhoseAnswerWasLostSucceeds(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "stop-lost", nil)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	t.Cleanup(func() { _ = d.Remove() })

	f := *fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "StopInstance", Times: 1, Code: "InternalError", After: true}}
	s.setFaults(f)
	require.NoError(t, d.Stop())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Stopped }, 10e9, 20e6)

	f.Failures = []cloudsim.Failure{{Action: "StartInstance", Times: 1, Code: "InternalError", After: true}}
	s.setFaults(f)
	require.NoError(t, d.Start())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Running }, 10e9, 20e6)
}
