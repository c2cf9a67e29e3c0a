package swarmtest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// client speaks to simulated daemons the way the swarm package does.
type client struct {
	t    *testing.T
	http *http.Client
}

func newClient(t *testing.T, cfg *tls.Config) *client {
	c := &client{t: t, http: &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// call sends a request and returns the status and decoded body.
func (c *client) call(d *Daemon, method, path string, body any) (int, any) {
	c.t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, "https://"+d.Addr()+"/v1.41"+path, in)
	require.NoError(c.t, err)
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		require.NoError(c.t, json.Unmarshal(raw, &v), string(raw))
	}
	return resp.StatusCode, v
}

// keys lists every key path of a JSON value ("Swarm.NodeID", "Spec.Ports[].TargetPort").
func keys(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out = append(out, p)
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	sort.Strings(out)
	return slices.Compact(out)
}

func recorded(t *testing.T, name string) any {
	t.Helper()
	_, b := MustRecording(t, name)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	return v
}

func message(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["message"].(string)
	return s
}

func nodeByHost(list any, host string) any {
	for _, n := range list.([]any) {
		if n.(map[string]any)["Description"].(map[string]any)["Hostname"] == host {
			return n
		}
	}
	return nil
}

// TestWorldAnswersInTheRecordedShapes compares the simulation with the
// recordings of the same situations: the same fields, the same status
// codes, the same messages.
func TestWorldAnswersInTheRecordedShapes(t *testing.T) {
	server, clientTLS := NewTLS(t)
	w := NewWorld(t)
	rec1, rec2, rec3 := w.Daemon("rec1", "", server), w.Daemon("rec2", "", server), w.Daemon("rec3", "", server)
	c := newClient(t, clientTLS)

	status, v := c.call(rec1, "GET", "/info", nil)
	require.Equal(t, 200, status)
	assert.Equal(t, keys(recorded(t, "info_inactive")), keys(v))
	for route, rec := range map[string]string{"GET /swarm": "swarm_inactive", "GET /nodes": "nodes_inactive", "POST /swarm/leave": "leave_inactive"} {
		method, path, _ := strings.Cut(route, " ")
		status, v := c.call(rec1, method, path, nil)
		wantStatus, _ := MustRecording(t, rec)
		assert.Equal(t, wantStatus, status, route)
		assert.Equal(t, message(recorded(t, rec)), message(v), route)
	}

	status, v = c.call(rec1, "POST", "/swarm/init", map[string]string{"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "172.17.0.4"})
	require.Equal(t, 200, status)
	require.IsType(t, "", v, "init answers the node ID as a JSON string")
	status, v = c.call(rec1, "POST", "/swarm/init", map[string]string{"AdvertiseAddr": "172.17.0.4"})
	assert.Equal(t, 503, status)
	assert.Equal(t, message(recorded(t, "init_again")), message(v))

	_, v = c.call(rec1, "GET", "/info", nil)
	assert.Equal(t, keys(recorded(t, "info_manager_leader")), keys(v))
	_, sw := c.call(rec1, "GET", "/swarm", nil)
	assert.Equal(t, keys(recorded(t, "swarm_manager")), keys(sw))
	tokens := sw.(map[string]any)["JoinTokens"].(map[string]any)

	status, v = c.call(rec2, "POST", "/swarm/join", map[string]any{"AdvertiseAddr": "172.17.0.5", "RemoteAddrs": []string{"172.17.0.4:2377"}, "JoinToken": "SWMTKN-1-wrong"})
	assert.Equal(t, 400, status)
	assert.Equal(t, message(recorded(t, "join_bad_token")), message(v))
	status, _ = c.call(rec2, "POST", "/swarm/join", map[string]any{"AdvertiseAddr": "172.17.0.5", "RemoteAddrs": []string{"172.17.0.4:2377"}, "JoinToken": tokens["Worker"]})
	require.Equal(t, 200, status)
	status, _ = c.call(rec3, "POST", "/swarm/join", map[string]any{"AdvertiseAddr": "172.17.0.2", "RemoteAddrs": []string{"172.17.0.4:2377"}, "JoinToken": tokens["Manager"]})
	require.Equal(t, 200, status)

	_, v = c.call(rec2, "GET", "/info", nil)
	assert.Equal(t, keys(recorded(t, "info_worker")), keys(v))
	_, v = c.call(rec3, "GET", "/info", nil)
	assert.Equal(t, keys(recorded(t, "info_manager_follower")), keys(v))
	status, v = c.call(rec2, "GET", "/nodes", nil)
	assert.Equal(t, 503, status)
	assert.Equal(t, message(recorded(t, "swarm_worker")), message(v))

	_, nodes := c.call(rec1, "GET", "/nodes", nil)
	want := recorded(t, "nodes_3")
	for _, h := range []string{"rec1", "rec2", "rec3"} {
		assert.Equal(t, keys(nodeByHost(want, h)), keys(nodeByHost(nodes, h)), h)
	}
	worker := nodeByHost(nodes, "rec2").(map[string]any)
	id := worker["ID"].(string)
	status, v = c.call(rec1, "GET", "/nodes/nope", nil)
	assert.Equal(t, 404, status)
	assert.Equal(t, "node nope not found", message(v))

	// Updates need the current version; a promotion shows a read later.
	status, v = c.call(rec1, "POST", "/nodes/"+id+"/update?version=1", map[string]any{"Labels": map[string]string{}, "Role": "manager", "Availability": "active"})
	assert.Equal(t, 500, status)
	assert.Equal(t, message(recorded(t, "node_update_stale")), message(v))
	version := worker["Version"].(map[string]any)["Index"].(float64)
	status, _ = c.call(rec1, "POST", "/nodes/"+id+"/update?version="+jsonNumber(version), map[string]any{"Labels": map[string]string{}, "Role": "manager", "Availability": "active"})
	require.Equal(t, 200, status)
	_, v = c.call(rec1, "GET", "/nodes/"+id, nil)
	assert.Equal(t, keys(recorded(t, "node_promoted_right_after")), keys(v))
	_, v = c.call(rec1, "GET", "/nodes/"+id, nil)
	assert.Equal(t, keys(recorded(t, "node_promoted")), keys(v))

	// Services: the recorded spec comes back in the recorded shape.
	spec := map[string]any{"Name": "web", "Labels": map[string]string{"com.fleetdock.slb.port": "8080"},
		"TaskTemplate": map[string]any{"ContainerSpec": map[string]any{"Image": "fleetdock/e2e-web:1"}},
		"Mode":         map[string]any{"Replicated": map[string]any{"Replicas": 3}},
		"EndpointSpec": map[string]any{"Ports": []any{map[string]any{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080}}}}
	status, v = c.call(rec1, "POST", "/services/create", spec)
	require.Equal(t, 201, status)
	assert.Equal(t, keys(recorded(t, "service_create")), keys(v))
	status, v = c.call(rec1, "POST", "/services/create", spec)
	assert.Equal(t, 409, status)
	assert.Equal(t, message(recorded(t, "service_create_conflict")), message(v))
	_, v = c.call(rec1, "GET", "/services/web", nil)
	wantSvc := recorded(t, "service_web").(map[string]any)
	gotSvc := v.(map[string]any)
	assert.Equal(t, keys(wantSvc), keys(gotSvc))
	assert.Equal(t, wantSvc["Spec"], gotSvc["Spec"])
	assert.Equal(t, wantSvc["Endpoint"].(map[string]any)["Ports"], gotSvc["Endpoint"].(map[string]any)["Ports"])

	// Leaving: the recorded refusals, then the node is down.
	status, v = c.call(rec3, "POST", "/swarm/leave", nil)
	assert.Equal(t, 503, status)
	assert.Equal(t, message(recorded(t, "leave_manager_3")), message(v))
	rec3.Stop()
	_, v = c.call(rec1, "GET", "/nodes", nil)
	assert.Equal(t, keys(nodeByHost(recorded(t, "nodes_manager_down"), "rec3")), keys(nodeByHost(v, "rec3")))
	rec2.Stop()
	_, v = c.call(rec1, "GET", "/info", nil)
	assert.Equal(t, recordedSwarmError(t), v.(map[string]any)["Swarm"].(map[string]any)["Error"])
	status, v = c.call(rec1, "GET", "/nodes", nil)
	assert.Equal(t, 500, status)
	assert.Equal(t, message(recorded(t, "nodes_no_quorum")), message(v))
}

func recordedSwarmError(t *testing.T) string {
	return recorded(t, "info_no_quorum").(map[string]any)["Swarm"].(map[string]any)["Error"].(string)
}

func jsonNumber(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

func TestRecordingNamesCarryTheirStatus(t *testing.T) {
	status, body, err := Recording("node_missing")
	require.NoError(t, err)
	assert.Equal(t, 404, status)
	assert.Contains(t, string(body), "not found")
	status, _, err = Recording("service_create")
	require.NoError(t, err)
	assert.Equal(t, 201, status)
	status, body, err = Recording("join_worker")
	require.NoError(t, err)
	assert.Equal(t, 200, status)
	assert.Empty(t, body)
	_, _, err = Recording("no_such_thing")
	assert.Error(t, err)
}
