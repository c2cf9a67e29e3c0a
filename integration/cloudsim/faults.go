package cloudsim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string
// ("1.5s", "200ms").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"1.5s\" or \"200ms\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Faults are the latency, timing, throttling and failure settings of the
// simulated cloud. The zero value is a fast, faultless cloud whose instances
// still pass through their transitional states.
type Faults struct {
	// Latency delays every API answer.
	Latency Duration `json:"latency"`
	// ActionLatency delays the answers of the named actions (instead of Latency).
	ActionLatency map[string]Duration `json:"action_latency,omitempty"`
	// CreateTime is how long a new instance stays Pending.
	CreateTime Duration `json:"create_time"`
	// BootTime is the least time an instance stays Starting; a container
	// backend adds the real boot on top when it is slower.
	BootTime Duration `json:"boot_time"`
	// StopTime is the least time an instance stays Stopping.
	StopTime Duration `json:"stop_time"`
	// TerminateTime is how long an EC2 instance stays shutting-down once its
	// host is gone; 0: terminated at once.
	TerminateTime Duration `json:"terminate_time,omitempty"`
	// NetworkTime is how long EIP (un)association and route entries stay in
	// their transitional states (Associating, Unassociating, Pending).
	NetworkTime Duration `json:"network_time"`
	// ThrottleRate is the number of API calls per second each AccessKeyId may
	// make before calls fail with Throttling.User; 0 means unlimited.
	ThrottleRate float64 `json:"throttle_rate"`
	// ThrottleBurst is the bucket size of the throttle (default: one second's
	// worth, at least 1).
	ThrottleBurst int `json:"throttle_burst,omitempty"`
	// Failures inject error answers.
	Failures []Failure `json:"failures"`
}

// Failure makes matching API calls fail with an error the real service could
// return. A call matches when Action (and Product, if set) equal its own;
// Action "" or "*" matches every action.
//
// Which matching calls fail:
//   - Nth > 0: the Nth matching call (1-based) and, with Times > 1, the
//     Times-1 calls after it;
//   - else Probability > 0: each matching call with that probability, at most
//     Times calls when Times > 0;
//   - else: every matching call (at most Times when Times > 0).
type Failure struct {
	Action      string  `json:"action"`
	Product     string  `json:"product,omitempty"`
	Nth         int     `json:"nth,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	Times       int     `json:"times,omitempty"`
	// Code is the error code (default ServiceUnavailable; Unavailable for
	// EC2). Status and Message default to the code's documented ones.
	Code    string `json:"code,omitempty"`
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	// After carries the call out before answering with the error, as when
	// the service fails once it has acted or the answer is lost on the way:
	// the caller cannot tell whether the call took effect (the real APIs'
	// advice for a 500 is to retry with the same ClientToken).
	After bool `json:"after,omitempty"`
}

// DefaultFaults are the settings of a fresh simulator: short but real
// transitions, so code that waits for states is exercised without slowing
// tests down.
func DefaultFaults() Faults {
	return Faults{
		CreateTime:  Duration(300 * time.Millisecond),
		BootTime:    Duration(time.Second),
		StopTime:    Duration(time.Second),
		NetworkTime: Duration(0),
	}
}

// Validate reports settings that cannot work.
func (f Faults) Validate() error {
	if f.ThrottleRate < 0 {
		return fmt.Errorf("throttle_rate %v is negative: use 0 for no throttling", f.ThrottleRate)
	}
	if f.ThrottleBurst < 0 {
		return fmt.Errorf("throttle_burst %d is negative", f.ThrottleBurst)
	}
	for i, fl := range f.Failures {
		if fl.Nth < 0 || fl.Times < 0 {
			return fmt.Errorf("failure %d: nth and times cannot be negative", i+1)
		}
		if fl.Probability < 0 || fl.Probability > 1 {
			return fmt.Errorf("failure %d: probability %v is outside [0, 1]", i+1, fl.Probability)
		}
		if fl.Status != 0 && (fl.Status < 400 || fl.Status > 599) {
			return fmt.Errorf("failure %d: status %d is no HTTP error status (400-599)", i+1, fl.Status)
		}
	}
	return nil
}

// faultState applies Faults to calls: the throttle buckets and the per-rule
// counters live here and restart when the faults are replaced.
type faultState struct {
	mu      sync.Mutex
	faults  Faults
	buckets map[string]*bucket
	matched []int // matching calls seen per failure rule
	fired   []int // failures injected per rule
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFaultState(f Faults) *faultState {
	fs := &faultState{}
	fs.set(f)
	return fs
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.Failures = append([]Failure(nil), f.Failures...)
	fs.faults = f
	fs.buckets = map[string]*bucket{}
	fs.matched = make([]int, len(f.Failures))
	fs.fired = make([]int, len(f.Failures))
}

func (fs *faultState) get() Faults {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.faults
	f.Failures = append([]Failure(nil), f.Failures...)
	if f.ActionLatency != nil {
		m := make(map[string]Duration, len(f.ActionLatency))
		for k, v := range f.ActionLatency {
			m[k] = v
		}
		f.ActionLatency = m
	}
	return f
}

// latency returns the delay of an action's answer.
func (fs *faultState) latency(action string) time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if d, ok := fs.faults.ActionLatency[action]; ok {
		return d.D()
	}
	return fs.faults.Latency.D()
}

// throttled takes a token from the caller's bucket and reports whether none
// was left.
func (fs *faultState) throttled(accessKeyID string, now time.Time) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	rate := fs.faults.ThrottleRate
	if rate <= 0 {
		return false
	}
	burst := float64(fs.faults.ThrottleBurst)
	if burst <= 0 {
		burst = max(1, rate)
	}
	b := fs.buckets[accessKeyID]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		fs.buckets[accessKeyID] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return true
	}
	b.tokens--
	return false
}

// inject returns the error to answer, if a failure rule fires for the
// call, and whether the call is carried out first (Failure.After).
func (fs *faultState) inject(product, action string) (e *APIError, after bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, fl := range fs.faults.Failures {
		if fl.Action != "" && fl.Action != "*" && fl.Action != action {
			continue
		}
		if fl.Product != "" && !strings.EqualFold(fl.Product, product) {
			continue
		}
		fs.matched[i]++
		fire := false
		switch {
		case fl.Nth > 0:
			times := max(fl.Times, 1)
			fire = fs.matched[i] >= fl.Nth && fs.matched[i] < fl.Nth+times
		case fl.Probability > 0:
			fire = (fl.Times == 0 || fs.fired[i] < fl.Times) && rand.Float64() < fl.Probability
		default:
			fire = fl.Times == 0 || fs.fired[i] < fl.Times
		}
		if !fire {
			continue
		}
		fs.fired[i]++
		code, errorOf := fl.Code, newError
		if strings.EqualFold(product, "Ec2") {
			errorOf = ec2Error
			if code == "" {
				code = "Unavailable"
			}
		}
		if code == "" {
			code = "ServiceUnavailable"
		}
		e := errorOf(code, fl.Message)
		if fl.Status != 0 {
			e.Status = fl.Status
		}
		return e, fl.After
	}
	return nil, false
}

// Call is one API request as the simulator saw it.
type Call struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Product   string    `json:"product"`
	Version   string    `json:"version"`
	Action    string    `json:"action"`
	RegionID  string    `json:"region_id,omitempty"`
	Status    int       `json:"status"`
	Code      string    `json:"code,omitempty"`
	Injected  bool      `json:"injected,omitempty"`
	RequestID string    `json:"request_id"`
}

// CallLog is the answer of GET {admin}/calls.
type CallLog struct {
	Calls []Call `json:"calls"`
	// Counts is the number of calls per action since the last reset.
	Counts map[string]int `json:"counts"`
}

// maxCalls bounds the kept call records; counts are always complete.
const maxCalls = 20000

type callRecorder struct {
	mu     sync.Mutex
	seq    int64
	calls  []Call
	counts map[string]int
}

func (r *callRecorder) record(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	c.Seq = r.seq
	if len(r.calls) >= maxCalls {
		r.calls = append(r.calls[:0], r.calls[len(r.calls)/2:]...)
	}
	r.calls = append(r.calls, c)
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	if c.Action != "" {
		r.counts[c.Action]++
	}
}

func (r *callRecorder) snapshot(since int64) CallLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := CallLog{Calls: []Call{}, Counts: map[string]int{}}
	for _, c := range r.calls {
		if c.Seq > since {
			out.Calls = append(out.Calls, c)
		}
	}
	for k, v := range r.counts {
		out.Counts[k] = v
	}
	return out
}

func (r *callRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
	r.counts = nil
}
