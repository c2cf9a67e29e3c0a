package amazonec2

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
)

// fastFaults are quick but real transitions: instances still pass through
// pending, stopping and shutting-down.
func fastFaults() *cloudsim.Faults {
	return &cloudsim.Faults{
		CreateTime:  cloudsim.Duration(60 * time.Millisecond),
		BootTime:    cloudsim.Duration(120 * time.Millisecond),
		StopTime:    cloudsim.Duration(120 * time.Millisecond),
		NetworkTime: cloudsim.Duration(60 * time.Millisecond),
	}
}

type sim struct {
	*cloudsim.Server
	t *testing.T
}

// startSim runs an in-process simulator with the none backend.
func startSim(t *testing.T, faults *cloudsim.Faults) *sim {
	t.Helper()
	s, err := cloudsim.Start(cloudsim.Config{Faults: faults, Logger: quietLogger()})
	require.NoError(t, err, "starting the simulator")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return &sim{Server: s, t: t}
}

func (s *sim) admin(method, path string, body any, out any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.AdminURL()+path, r)
	require.NoError(s.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, resp.StatusCode, "admin %s %s: %s", method, path, data)
	if out != nil {
		require.NoError(s.t, json.Unmarshal(data, out))
	}
}

func (s *sim) setFaults(f cloudsim.Faults) { s.admin(http.MethodPut, "/faults", f, nil) }

// callsSince lists the EC2 calls after sequence seq.
func (s *sim) callsSince(seq int64) []cloudsim.Call {
	var log cloudsim.CallLog
	s.admin(http.MethodGet, fmt.Sprintf("/calls?since=%d", seq), nil, &log)
	var out []cloudsim.Call
	for _, c := range log.Calls {
		if c.Version == "2016-11-15" {
			out = append(out, c)
		}
	}
	return out
}

func (s *sim) lastSeq() int64 {
	var log cloudsim.CallLog
	s.admin(http.MethodGet, "/calls", nil, &log)
	if len(log.Calls) == 0 {
		return 0
	}
	return log.Calls[len(log.Calls)-1].Seq
}

// gone are the states in which EC2 still lists a resource that no longer
// holds anything: terminated instances stay visible for about an hour,
// cancelled spot requests for hours.
var gone = []string{"terminated", "deleted", "cancelled", "closed"}

// snapshot is the simulator's whole resource list (every section, EC2's
// included) without what EC2 keeps listing after it is gone, and without
// those resources' tags and volumes.
func (s *sim) snapshot() any {
	var all any
	s.admin(http.MethodGet, "/resources", nil, &all)
	return withoutGone(all)
}

// withoutGone drops, at any depth, the list items in a gone state and then
// the items that refer to one of them.
func withoutGone(v any) any {
	goneIDs := map[string]bool{}
	var mark func(any)
	mark = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if slices.Contains(gone, strings.ToLower(fmt.Sprint(firstOf(v, "state", "status")))) {
				goneIDs[fmt.Sprint(v["id"])] = true
			}
			for _, x := range v {
				mark(x)
			}
		case []any:
			for _, x := range v {
				mark(x)
			}
		}
	}
	mark(v)
	var prune func(any) any
	prune = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, x := range v {
				out[k] = prune(x)
			}
			return out
		case []any:
			out := []any{}
			for _, x := range v {
				if m, ok := x.(map[string]any); ok && (goneIDs[fmt.Sprint(m["id"])] || goneIDs[fmt.Sprint(m["resource_id"])]) {
					continue
				}
				out = append(out, prune(x))
			}
			return out
		}
		return v
	}
	return prune(v)
}

func firstOf(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok {
			return v
		}
	}
	return nil
}

// requireSameAs compares the cloud with a snapshot taken before a create.
func (s *sim) requireSameAs(before any, msg string, args ...any) {
	s.t.Helper()
	after := s.snapshot()
	x, _ := json.MarshalIndent(before, "", " ")
	y, _ := json.MarshalIndent(after, "", " ")
	if !bytes.Equal(x, y) {
		s.t.Fatalf("%s: the cloud differs from before\nbefore: %s\nafter: %s", fmt.Sprintf(msg, args...), x, y)
	}
}

// flagValues are the defaults with the simulator's endpoint and keys.
func flagValues(d *Driver, s *sim) map[string]any {
	v := defaultValues(d)
	if s != nil {
		id, secret := s.AWSCredentials()
		v["amazonec2-endpoint"] = s.EC2Endpoint()
		v["amazonec2-access-key"] = id
		v["amazonec2-secret-key"] = secret
	}
	return v
}

// newDriver configures a driver for machine name against the simulator.
func newDriver(t *testing.T, s *sim, name string, extra map[string]any) *Driver {
	t.Helper()
	d := NewDriver(name, t.TempDir())
	v := flagValues(d, s)
	for k, x := range extra {
		v[k] = x
	}
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))
	return d
}

func countActions(calls []cloudsim.Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Action]++
	}
	return out
}

func actionsOf(calls []cloudsim.Call) []string {
	var out []string
	for _, c := range calls {
		if !slices.Contains(out, c.Action) {
			out = append(out, c.Action)
		}
	}
	return out
}
