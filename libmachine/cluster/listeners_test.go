package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tcp(port, backend int, desc, status string) Listener {
	return Listener{Port: port, BackendPort: backend, Protocol: "tcp", Status: status, Description: desc}
}

func TestServiceListenersFrontPorts(t *testing.T) {
	services := []Service{
		{Name: "web", Ports: []PublishedPort{{Protocol: "tcp", Published: 30000, Target: 80}}},
		{Name: "labelled", Labels: map[string]string{PortLabel: "8443"}, Ports: []PublishedPort{{Protocol: "tcp", Published: 30001, Target: 443}}},
		{Name: "multi", Labels: map[string]string{PortLabel: "30010:9010"}, Ports: []PublishedPort{
			{Protocol: "tcp", Published: 30010}, {Protocol: "tcp", Published: 30011}, {Protocol: "udp", Published: 30012}}},
		{Name: "internal", Ports: nil},
		{Name: "unpublished", Ports: []PublishedPort{{Protocol: "tcp", Target: 80}}},
	}
	want, notes, err := ServiceListeners(services, map[string]int{"web": 8080, "multi:30011": 9011, "labelled": 1})
	require.NoError(t, err)
	assert.Equal(t, []Listener{
		tcp(8080, 30000, ServiceMarker("web"), "running"),      // the file's mapping
		tcp(8443, 30001, ServiceMarker("labelled"), "running"), // the label wins over the file
		tcp(9010, 30010, ServiceMarker("multi"), "running"),    // label PUBLISHED:FRONT
		tcp(9011, 30011, ServiceMarker("multi"), "running"),    // file SERVICE:PUBLISHED
	}, want)
	assert.Equal(t, []string{"service multi: udp port 30012 is skipped; only TCP listeners are made"}, notes)

	// Without a mapping the front port is the published port.
	want, _, err = ServiceListeners(services[:1], nil)
	require.NoError(t, err)
	assert.Equal(t, []Listener{tcp(30000, 30000, "docker-machine/service/web", "running")}, want)
}

func TestServiceListenersConflictsAndBadLabels(t *testing.T) {
	_, _, err := ServiceListeners([]Service{
		{Name: "a", Ports: []PublishedPort{{Protocol: "tcp", Published: 30000}}},
		{Name: "b", Labels: map[string]string{PortLabel: "30000"}, Ports: []PublishedPort{{Protocol: "tcp", Published: 30001}}},
	}, nil)
	assert.ErrorContains(t, err, "services a and b both want SLB port 30000")

	for _, label := range []string{"http", "80,81", "99999", "1:x"} {
		want, _, err := ServiceListeners([]Service{
			{Name: "bad", Labels: map[string]string{PortLabel: label}, Ports: []PublishedPort{{Protocol: "tcp", Published: 1}, {Protocol: "tcp", Published: 2}}},
			{Name: "good", Ports: []PublishedPort{{Protocol: "tcp", Published: 3}}},
		}, nil)
		assert.ErrorContains(t, err, "service bad: label "+PortLabel, label)
		assert.Equal(t, []Listener{tcp(3, 3, ServiceMarker("good"), "running")}, want, "a bad label costs only its own service")
	}
}

func TestMarkers(t *testing.T) {
	assert.Equal(t, "docker-machine/service/web_app.1", ServiceMarker("web_app.1"))
	assert.Equal(t, "docker-machine/cluster/seed000", ClusterMarker("seed000"))
	long := strings.Repeat("s", 70)
	m := ServiceMarker(long)
	assert.LessOrEqual(t, len(m), 80)
	assert.NotEqual(t, m, ServiceMarker(long+"x"), "long names keep distinct markers")
	assert.NotEqual(t, ServiceMarker("a b"), ServiceMarker("a_b"), "rewritten characters keep distinct markers")
	assert.True(t, IsServiceListener(Listener{Description: m}))
	assert.False(t, IsServiceListener(Listener{Description: "made by hand"}))
	assert.True(t, IsClusterListener("x")(Listener{Description: "docker-machine/cluster/x"}))
	assert.False(t, IsClusterListener("x")(Listener{Description: "docker-machine/cluster/xy"}))
}

func TestPlanListeners(t *testing.T) {
	web, api, gone := ServiceMarker("web"), ServiceMarker("api"), ServiceMarker("gone")
	current := []Listener{
		tcp(80, 30000, web, "running"),                // wanted as is
		tcp(81, 30001, api, "stopped"),                // wanted, stopped
		tcp(82, 39999, ServiceMarker("x"), "running"), // ours, port wanted with another backend
		tcp(90, 30009, gone, "running"),               // ours, service gone
		tcp(443, 443, "by hand", "running"),           // not ours, wanted port
		tcp(22, 22, "", "running"),                    // not ours, not wanted
	}
	want := []Listener{
		tcp(80, 30000, web, "running"),
		tcp(81, 30001, api, "running"),
		tcp(82, 30002, ServiceMarker("x"), "running"),
		tcp(443, 30443, ServiceMarker("tls"), "running"),
		tcp(8080, 30080, ServiceMarker("new"), "running"),
	}
	p := PlanListeners(current, want, IsServiceListener)
	assert.Equal(t, []Listener{want[4]}, p.Create)
	assert.Equal(t, []Listener{want[2]}, p.Replace)
	assert.Equal(t, []Listener{want[1]}, p.Start)
	assert.Equal(t, []Listener{want[0]}, p.Keep)
	assert.Equal(t, []Listener{current[3]}, p.Delete)
	assert.Equal(t, []Conflict{{Want: want[3], Have: current[4]}}, p.Conflicts)
	assert.Equal(t, 4, p.Changes())

	same := PlanListeners(want[:3], want[:3], IsServiceListener)
	assert.Zero(t, same.Changes(), "a second sync changes nothing")
}

// fakeSLB is an in-memory SLB recording every change.
type fakeSLB struct {
	mu        sync.Mutex
	listeners map[int]Listener
	calls     []string
	failOn    map[string]error // "create 8080" -> error
}

func newFakeSLB(ls ...Listener) *fakeSLB {
	f := &fakeSLB{listeners: map[int]Listener{}, failOn: map[string]error{}}
	for _, l := range ls {
		f.listeners[l.Port] = l
	}
	return f
}

func (f *fakeSLB) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	return f.failOn[call]
}

func (f *fakeSLB) DescribeLoadBalancer(_ context.Context, id string) (LoadBalancerState, error) {
	return LoadBalancerState{ID: id, Address: "127.101.0.1", Status: "active"}, nil
}

func (f *fakeSLB) Listeners(context.Context, string) ([]Listener, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Listener
	for _, l := range f.listeners {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listener) int { return a.Port - b.Port })
	return out, nil
}

func (f *fakeSLB) CreateListener(_ context.Context, _ string, l Listener) error {
	if err := f.record(fmt.Sprintf("create %d", l.Port)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.listeners[l.Port]; ok {
		return errors.New("ListenerAlreadyExists")
	}
	l.Status = "stopped"
	f.listeners[l.Port] = l
	return nil
}

func (f *fakeSLB) StartListener(_ context.Context, _ string, port int) error {
	if err := f.record(fmt.Sprintf("start %d", port)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.listeners[port]
	l.Status = "running"
	f.listeners[port] = l
	return nil
}

func (f *fakeSLB) DeleteListener(_ context.Context, _ string, port int) error {
	if err := f.record(fmt.Sprintf("delete %d", port)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.listeners, port)
	return nil
}

func TestSyncListenersAppliesThePlan(t *testing.T) {
	ctx := context.Background()
	hand := tcp(443, 443, "by hand", "running")
	slb := newFakeSLB(tcp(90, 30009, ServiceMarker("gone"), "running"), tcp(82, 39999, ServiceMarker("x"), "running"), hand)
	want := []Listener{tcp(82, 30002, ServiceMarker("x"), "running"), tcp(8080, 30080, ServiceMarker("web"), "running"), tcp(443, 30443, ServiceMarker("tls"), "running")}

	rep, err := SyncListeners(ctx, slb, "lb-1", want, IsServiceListener)
	require.Error(t, err, "the conflict on 443 is reported")
	assert.ErrorContains(t, err, "port 443 of load balancer lb-1 is held by a listener docker-machine did not create")
	assert.Equal(t, []string{"delete 90", "delete 82", "create 82", "start 82", "create 8080", "start 8080"}, slb.calls, "deletes first, every new listener started")
	have, _ := slb.Listeners(ctx, "lb-1")
	assert.Equal(t, []Listener{want[0], hand, want[1]}, have)
	assert.Len(t, rep.Lines(), 3)

	// Again: nothing to do but the same conflict.
	slb.calls = nil
	_, err = SyncListeners(ctx, slb, "lb-1", want, IsServiceListener)
	assert.Error(t, err)
	assert.Empty(t, slb.calls, "a converged SLB is not touched")

	// A failed create does not stop the others.
	slb2 := newFakeSLB()
	slb2.failOn["create 1"] = errors.New("Throttling")
	_, err = SyncListeners(ctx, slb2, "lb-2", []Listener{tcp(1, 1, ServiceMarker("a"), "running"), tcp(2, 2, ServiceMarker("b"), "running")}, IsServiceListener)
	assert.ErrorContains(t, err, "Throttling")
	assert.Equal(t, []string{"create 1", "create 2", "start 2"}, slb2.calls)
}

func TestDeleteOwnedListenersKeepsOthers(t *testing.T) {
	ctx := context.Background()
	hand := tcp(22, 22, "by hand", "running")
	slb := newFakeSLB(tcp(2377, 2377, ClusterMarker("c"), "running"), tcp(2378, 2377, ClusterMarker("other"), "running"), tcp(8080, 30000, ServiceMarker("web"), "running"), hand)
	deleted, err := DeleteOwnedListeners(ctx, slb, "lb", func(l Listener) bool { return IsClusterListener("c")(l) || IsServiceListener(l) })
	require.NoError(t, err)
	assert.Len(t, deleted, 2)
	have, _ := slb.Listeners(ctx, "lb")
	assert.Equal(t, []Listener{hand, tcp(2378, 2377, ClusterMarker("other"), "running")}, have)
}
