package swarm

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/swarmtest"
)

// IDs in the recordings (see integration/swarmtest/recorded/README.md).
const (
	recCluster  = "6ki9j6mmabmz3pg912gvd4ceq"
	recRec1Node = "wgii4hdb685e64kejlu9t7o24"
	recRec2Node = "mbh8ail4w8yz8nmvagxjxdhk6"
	recRec3Node = "w02jwocwea4lx7atku3tgmwqn"
)

// replay starts a replay server with a fresh CA and returns an Engine for
// it named m1, speaking TLS with a client certificate.
func replay(t *testing.T, routes map[string]string) (*swarmtest.Replay, *Engine) {
	t.Helper()
	server, client := swarmtest.NewTLS(t)
	r := swarmtest.NewReplay(t, server, routes)
	e := NewEngine("tcp://"+r.Addr(), client)
	e.Name = "m1"
	t.Cleanup(e.Close)
	return r, e
}

func TestInfoReadsEachRecordedSwarmState(t *testing.T) {
	cases := []struct {
		recording string
		want      Info
	}{
		{"info_inactive", Info{Hostname: "rec1", LocalNodeState: StateInactive}},
		{"info_manager_leader", Info{Hostname: "rec1", LocalNodeState: StateActive, NodeID: recRec1Node, NodeAddr: "172.17.0.4",
			ControlAvailable: true, RemoteManagers: []Peer{{recRec1Node, "172.17.0.4:2377"}}, Nodes: 1, Managers: 1, ClusterID: recCluster}},
		{"info_worker", Info{Hostname: "rec2", LocalNodeState: StateActive, NodeID: recRec2Node, NodeAddr: "172.17.0.5",
			RemoteManagers: []Peer{{recRec1Node, "172.17.0.4:2377"}}}},
	}
	for _, c := range cases {
		t.Run(c.recording, func(t *testing.T) {
			_, e := replay(t, map[string]string{"GET /info": c.recording})
			got, err := e.Info(t.Context())
			require.NoError(t, err)
			got.ServerVersion = ""
			assert.Equal(t, c.want, got)
		})
	}

	// A manager that lost its quorum still answers /info, with the reason
	// and without the cluster.
	_, e := replay(t, map[string]string{"GET /info": "info_no_quorum"})
	got, err := e.Info(t.Context())
	require.NoError(t, err)
	assert.True(t, got.ControlAvailable)
	assert.Empty(t, got.ClusterID)
	assert.Contains(t, got.Error, "does not have a leader")
	assert.Len(t, got.RemoteManagers, 3)
}

func TestEngineSettlesTheAPIVersionWithAPing(t *testing.T) {
	for _, c := range []struct{ server, want string }{{"1.41", "1.41"}, {"1.44", "1.41"}, {"1.40", "1.40"}, {"", "1.41"}} {
		t.Run("server "+c.server, func(t *testing.T) {
			r, e := replay(t, map[string]string{"GET /info": "info_inactive"})
			r.APIVersion = c.server
			_, err := e.Info(t.Context())
			require.NoError(t, err)
			_, err = e.Info(t.Context())
			require.NoError(t, err)
			reqs := r.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, c.want, reqs[0].APIVersion)
			assert.Equal(t, c.want, reqs[1].APIVersion)
		})
	}

	r, e := replay(t, nil)
	r.APIVersion = "1.24"
	_, err := e.Info(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"m1"`)
	assert.Contains(t, err.Error(), "docker-machine upgrade m1")
	assert.Empty(t, r.Requests(), "nothing is asked of a daemon too old to understand it")
}

func TestNodesReadRolesStatesAndManagerReachability(t *testing.T) {
	_, e := replay(t, map[string]string{"GET /nodes": "nodes_manager_down"})
	nodes, err := e.Nodes(t.Context())
	require.NoError(t, err)
	require.Len(t, nodes, 3)
	byHost := map[string]Node{}
	for _, n := range nodes {
		byHost[n.Hostname] = n
	}
	rec1, rec3 := byHost["rec1"], byHost["rec3"]
	assert.Equal(t, recRec1Node, rec1.ID)
	assert.Equal(t, "ready", rec1.State)
	require.NotNil(t, rec1.Manager)
	assert.True(t, rec1.Manager.Leader)
	assert.Equal(t, "reachable", rec1.Manager.Reachability)
	assert.Equal(t, "172.17.0.4:2377", rec1.Manager.Addr)
	assert.Equal(t, NodeSpec{Labels: map[string]string{}, Role: RoleManager, Availability: AvailabilityActive}, rec1.Spec)
	assert.Equal(t, "20.10.24+dfsg1", rec1.EngineVersion)
	assert.Equal(t, "down", rec3.State)
	assert.Equal(t, "unreachable", rec3.Manager.Reachability)
	assert.False(t, rec3.Manager.Leader)

	_, e = replay(t, map[string]string{"GET /nodes": "nodes_3"})
	nodes, err = e.Nodes(t.Context())
	require.NoError(t, err)
	for _, n := range nodes {
		if n.ID == recRec2Node {
			assert.Equal(t, RoleWorker, n.Spec.Role)
			assert.Nil(t, n.Manager, "workers have no manager status")
			assert.Equal(t, "172.17.0.5", n.Addr)
		}
	}
}

func TestServicesReadPublishedPortsModesAndLabels(t *testing.T) {
	_, e := replay(t, map[string]string{"GET /services": "services"})
	services, err := e.Services(t.Context())
	require.NoError(t, err)
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	require.Len(t, byName, 4)

	web := byName["web"]
	assert.Equal(t, "replicated", web.Mode)
	require.NotNil(t, web.Replicas)
	assert.EqualValues(t, 3, *web.Replicas)
	assert.Equal(t, map[string]string{"com.fleetdock.slb.port": "8080"}, web.Labels)
	assert.Equal(t, []PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress"}}, web.Ports)

	agent := byName["agent"]
	assert.Equal(t, "global", agent.Mode)
	assert.Nil(t, agent.Replicas)
	assert.Equal(t, []PortConfig{{Protocol: "udp", TargetPort: 53, PublishedPort: 5353, PublishMode: "host"}}, agent.Ports)

	// Published without a number: the port the swarm assigned.
	assert.Equal(t, []PortConfig{{Protocol: "tcp", TargetPort: 80, PublishedPort: 30000, PublishMode: "ingress"}}, byName["auto"].Ports)
	assert.Empty(t, byName["worker"].Ports)
}

func TestUpdateNodeSendsTheWholeSpecAndRetriesOutOfSequence(t *testing.T) {
	r, e := replay(t, map[string]string{
		"GET /nodes/" + recRec2Node:              "node_worker",
		"POST /nodes/" + recRec2Node + "/update": "node_update_stale,node_update_promote",
	})
	require.NoError(t, e.Promote(t.Context(), recRec2Node))
	var posts []swarmtest.Request
	for _, req := range r.Requests() {
		if req.Method == "POST" {
			posts = append(posts, req)
		}
	}
	require.Len(t, posts, 2, "one refused as out of sequence, then one accepted")
	for _, p := range posts {
		assert.Equal(t, "15", p.Query.Get("version"), "the version the node was read at")
		assert.JSONEq(t, `{"Labels":{},"Role":"manager","Availability":"active"}`, string(p.Body))
	}

	// Another refusal is not retried.
	r, e = replay(t, map[string]string{
		"GET /nodes/" + recRec2Node:              "node_worker",
		"POST /nodes/" + recRec2Node + "/update": "node_demote_last",
	})
	err := e.Demote(t.Context(), recRec2Node)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "attempting to demote the last manager of the swarm")
	assert.Len(t, r.Requests(), 2)
}

func TestErrorsNameTheMachineAndKeepTheDaemonsReason(t *testing.T) {
	_, e := replay(t, map[string]string{
		"GET /nodes":                   "swarm_worker",
		"GET /nodes/nope":              "node_missing",
		"POST /swarm/join":             "join_bad_token",
		"POST /swarm/leave":            "leave_manager_noforce",
		"DELETE /nodes/" + recRec3Node: "node_rm_force_needed",
	})
	ctx := t.Context()
	_, err := e.Nodes(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"m1"`)
	assert.Contains(t, err.Error(), "HTTP 503")
	assert.Contains(t, err.Error(), "Worker nodes can't be used to view or modify cluster state")
	var ae *APIError
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, 503, ae.StatusCode)

	_, err = e.Node(ctx, "nope")
	assert.True(t, IsNotFound(err), "%v", err)

	const token = "SWMTKN-1-63whuf660gzidxsjc7aotbstv2qwcqc05k0hvpq73da14gygw9-secretsecret"
	err = e.Join(ctx, token, []string{"172.17.0.4:2377"}, "172.17.0.5")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "A valid join token is necessary")
	assert.Contains(t, err.Error(), "172.17.0.4:2377")
	assert.NotContains(t, err.Error(), "secretsecret", "join tokens never appear in errors")

	err = e.Leave(ctx, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "participating as a manager")

	err = e.RemoveNode(ctx, recRec3Node, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be demoted to worker before removal")
}

func TestJoinAndInitSendWhatTheDaemonNeeds(t *testing.T) {
	r, e := replay(t, map[string]string{
		"POST /swarm/init":  "init",
		"POST /swarm/join":  "join_worker",
		"POST /swarm/leave": "leave_worker",
	})
	ctx := t.Context()
	id, err := e.Init(ctx, "172.17.0.4", "")
	require.NoError(t, err)
	assert.Equal(t, recRec1Node, id)
	require.NoError(t, e.Join(ctx, "TOKEN", []string{"172.17.0.4:2377", "172.17.0.2:2377"}, "172.17.0.5"))
	require.NoError(t, e.Leave(ctx, true))

	reqs := r.Requests()
	require.Len(t, reqs, 3)
	assert.JSONEq(t, `{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"172.17.0.4"}`, string(reqs[0].Body))
	assert.JSONEq(t, `{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"172.17.0.5","RemoteAddrs":["172.17.0.4:2377","172.17.0.2:2377"],"JoinToken":"TOKEN"}`, string(reqs[1].Body))
	assert.Equal(t, "1", reqs[2].Query.Get("force"))
}

func TestJoinTokensNeverPrint(t *testing.T) {
	_, e := replay(t, map[string]string{"GET /swarm": "swarm_manager"})
	tokens, err := e.JoinTokens(t.Context())
	require.NoError(t, err)
	assert.Contains(t, tokens.For(RoleWorker), "SWMTKN-1-")
	assert.NotEqual(t, tokens.For(RoleWorker), tokens.For(RoleManager))
	for _, s := range []string{fmt.Sprint(tokens), fmt.Sprintf("%v %+v %#v %s", tokens, tokens, tokens, tokens)} {
		assert.NotContains(t, s, "SWMTKN")
	}
	c, err := e.InspectSwarm(t.Context())
	require.NoError(t, err)
	assert.Equal(t, recCluster, c.ID)
	assert.NotContains(t, fmt.Sprintf("%v %+v", c, c), "SWMTKN")
	// Encoding does keep them: only printing hides them.
	b, err := json.Marshal(tokens)
	require.NoError(t, err)
	assert.Contains(t, string(b), "SWMTKN")
}

func TestUnreachableDaemonSaysWhereAndWhatToCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, client := swarmtest.NewTLS(t)
	e := NewEngine(addr, client)
	e.Name = "gone"
	_, err = e.Info(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `cannot reach the Docker API of "gone" at `+addr)
	assert.Contains(t, err.Error(), "docker-machine status gone")
}

func TestEngineRefusesADaemonOfAnotherCA(t *testing.T) {
	server, _ := swarmtest.NewTLS(t)
	_, otherClient := swarmtest.NewTLS(t)
	r := swarmtest.NewReplay(t, server, map[string]string{"GET /info": "info_inactive"})
	e := NewEngine(r.Addr(), otherClient)
	_, err := e.Info(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
	assert.Empty(t, r.Requests())
}

func TestParseRole(t *testing.T) {
	r, err := ParseRole("Manager")
	require.NoError(t, err)
	assert.Equal(t, RoleManager, r)
	_, err = ParseRole("leader")
	assert.ErrorContains(t, err, "use worker or manager")
}
