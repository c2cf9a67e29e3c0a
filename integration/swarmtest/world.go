package swarmtest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The daemon messages a World answers with. Those with a recording come
// from it; the others are Docker 20.10's texts for cases not recorded.
var (
	msgNotManagerInactive = recordedMessage("swarm_inactive")
	msgNotManagerWorker   = recordedMessage("swarm_worker")
	msgAlreadyInSwarm     = recordedMessage("init_again")
	msgNotInSwarm         = recordedMessage("leave_inactive")
	msgBadToken           = recordedMessage("join_bad_token")
	msgLastManagerLeave   = recordedMessage("leave_last_manager")
	msgOutOfSequence      = recordedMessage("node_update_stale")
	msgDemoteLast         = recordedMessage("node_demote_last")
	msgNoQuorumWrite      = recordedMessage("config_create_no_quorum")
	msgNoQuorumRead       = recordedMessage("nodes_no_quorum")
	msgNoLeader           = noLeaderMessage()
	msgTwoManagers        = twoManagersWarning()
	msgUnreachableRemote  = "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing dial tcp %s: connect: connection refused\""
)

func noLeaderMessage() string {
	var info struct{ Swarm struct{ Error string } }
	_, b, _ := Recording("info_no_quorum")
	if err := json.Unmarshal(b, &info); err != nil || info.Swarm.Error == "" {
		panic("recording info_no_quorum holds no swarm error")
	}
	return info.Swarm.Error
}

func twoManagersWarning() string {
	var info struct{ Swarm struct{ Warnings []string } }
	_, b, _ := Recording("info_manager_follower")
	if err := json.Unmarshal(b, &info); err != nil || len(info.Swarm.Warnings) != 1 {
		panic("recording info_manager_follower holds no two-manager warning")
	}
	return info.Swarm.Warnings[0]
}

// Event is something a simulated daemon did, in the order the World saw it.
type Event struct {
	Daemon string
	// Kind is init, join-start, join-done, leave, update or remove.
	Kind string
	// Role is the role of a join or the new role of an update.
	Role string
}

// World is a set of simulated Docker daemons that form swarms with each
// other. Each daemon is its own TLS server on 127.0.0.1 and answers the
// swarm-mode routes of the Engine API (1.41): /_ping, /version, /info,
// /swarm, /swarm/init, /swarm/join, /swarm/leave, /nodes, /services.
//
// The simulation keeps the rules that matter to callers: tokens decide the
// role, a daemon in a swarm refuses init and join, workers cannot read or
// change the cluster, node updates need the current version, managers
// must be demoted before removal, a manager leaves only with force unless
// it is safe, a stopped daemon is down and unreachable at once (a real
// swarm notices after a few heartbeats), the swarm takes writes only while
// more than half of its managers are up, and a promoted node shows as a
// reachable manager from the second read on, as recorded.
type World struct {
	t        testing.TB
	mu       sync.Mutex
	daemons  []*Daemon
	clusters []*cluster
	events   []Event
	start    time.Time
	seq      int
}

// NewWorld returns an empty world; its daemons stop when the test ends.
func NewWorld(t testing.TB) *World {
	return &World{t: t, start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Events returns what the daemons did so far.
func (w *World) Events() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

// Daemon is one simulated Docker daemon.
type Daemon struct {
	// Hostname is what the daemon reports as its name.
	Hostname string
	// IP is the address the daemon advertises to swarm peers (a label).
	IP string
	// JoinHook, when set, runs inside each join this daemon serves, after
	// the request was accepted and before it takes effect, with no lock
	// held; tests use it to see joins overlap or to slow one down.
	JoinHook func(role string)

	w       *World
	srv     *httptest.Server
	node    *node
	stopped bool
}

// Daemon starts a simulated daemon on 127.0.0.1. tlsCfg is the server side
// of its TLS (certificate, and client CAs when it should demand a client
// certificate).
func (w *World) Daemon(hostname, ip string, tlsCfg *tls.Config) *Daemon {
	return w.DaemonOn("127.0.0.1", hostname, ip, tlsCfg)
}

// DaemonOn is Daemon listening on another loopback address (any of
// 127.0.0.0/8), so that machines pointed at different daemons also have
// different IPs.
func (w *World) DaemonOn(listenIP, hostname, ip string, tlsCfg *tls.Config) *Daemon {
	if parsed := net.ParseIP(listenIP); parsed == nil || !parsed.IsLoopback() {
		w.t.Fatalf("swarmtest: %q is not a loopback address; simulated daemons listen on loopback only", listenIP)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenIP, "0"))
	if err != nil {
		w.t.Fatalf("swarmtest: listening on %s: %v", listenIP, err)
	}
	d := &Daemon{Hostname: hostname, IP: ip, w: w}
	d.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(d.serve)}}
	d.srv.TLS = tlsCfg.Clone()
	d.srv.StartTLS()
	w.t.Cleanup(d.srv.Close)
	w.mu.Lock()
	w.daemons = append(w.daemons, d)
	w.mu.Unlock()
	return d
}

// Addr is the daemon's API address, 127.0.0.1:port.
func (d *Daemon) Addr() string { return d.srv.Listener.Addr().String() }

// URL is the daemon's API URL as a machine's driver reports it.
func (d *Daemon) URL() string { return "tcp://" + d.Addr() }

// Stop makes the daemon drop every connection, as a stopped Docker does,
// and its swarm see it down.
func (d *Daemon) Stop() { d.setStopped(true) }

// Start brings a stopped daemon back.
func (d *Daemon) Start() { d.setStopped(false) }

func (d *Daemon) setStopped(v bool) {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	d.stopped = v
	if d.node != nil {
		d.node.c.elect()
	}
}

// NodeID is the daemon's swarm node ID, empty when it is in no swarm.
func (d *Daemon) NodeID() string {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	if d.node == nil {
		return ""
	}
	return d.node.id
}

// ClusterID is the ID of the daemon's swarm, empty when it is in none.
func (d *Daemon) ClusterID() string {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	if d.node == nil {
		return ""
	}
	return d.node.c.id
}

type cluster struct {
	w        *World
	id       string
	version  uint64
	tokens   [2]string // worker, manager
	nodes    []*node
	leader   *node
	services []*service
	created  time.Time
	nextPort uint32
}

type node struct {
	c            *cluster
	d            *Daemon
	id           string
	version      uint64
	labels       map[string]string
	role         string
	availability string
	left         bool
	// lag counts the manager reads still to come before a promotion
	// shows in ManagerStatus.
	lag              int
	created, updated time.Time
}

type service struct {
	id               string
	version          uint64
	spec             map[string]any
	ports            []map[string]any
	created, updated time.Time
}

// newID returns a 25-character lower-case ID like swarm's.
func (w *World) newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 25)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// tick is the world's clock: every change moves it on by a second, so
// timestamps are ordered without depending on the wall clock.
func (w *World) tick() time.Time {
	w.seq++
	return w.start.Add(time.Duration(w.seq) * time.Second)
}

func (c *cluster) bump() uint64 {
	c.version++
	return c.version
}

func (n *node) up() bool { return !n.left && !n.d.stopped && n.d.node == n }

func (c *cluster) managers() (all, reachable []*node) {
	for _, n := range c.nodes {
		if n.role == "manager" {
			all = append(all, n)
			if n.up() {
				reachable = append(reachable, n)
			}
		}
	}
	return all, reachable
}

func (c *cluster) quorum() bool {
	all, reachable := c.managers()
	return len(reachable) > len(all)/2
}

// elect keeps a leader while there is a quorum: the old one while it is
// up, else the first reachable manager.
func (c *cluster) elect() {
	if !c.quorum() {
		c.leader = nil
		return
	}
	if c.leader != nil && c.leader.up() && c.leader.role == "manager" {
		return
	}
	_, reachable := c.managers()
	c.leader = reachable[0]
}

func (c *cluster) find(idOrName string) *node {
	for _, n := range c.nodes {
		if n.id == idOrName {
			return n
		}
	}
	for _, n := range c.nodes {
		if n.d.Hostname == idOrName {
			return n
		}
	}
	return nil
}

func (d *Daemon) serve(w http.ResponseWriter, r *http.Request) {
	d.w.mu.Lock()
	stopped := d.stopped
	d.w.mu.Unlock()
	if stopped {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	_, p := splitVersion(r.URL.Path)
	body, _ := io.ReadAll(r.Body)
	route := r.Method + " " + p
	switch {
	case route == "GET /_ping":
		w.Header().Set("API-Version", "1.41")
		io.WriteString(w, "OK")
	case route == "GET /version":
		writeJSON(w, http.StatusOK, map[string]string{"Version": "20.10.24+dfsg1", "ApiVersion": "1.41", "Os": "linux", "Arch": "amd64"})
	case route == "POST /swarm/join":
		d.join(w, body)
	default:
		d.w.mu.Lock()
		defer d.w.mu.Unlock()
		d.route(w, r, route, p, body)
	}
}

// route serves the requests that run entirely under the world lock.
func (d *Daemon) route(w http.ResponseWriter, r *http.Request, route, p string, body []byte) {
	q := r.URL.Query()
	force := q.Get("force") == "1" || q.Get("force") == "true"
	switch {
	case route == "GET /info":
		d.info(w)
	case route == "POST /swarm/init":
		d.init(w, body)
	case route == "POST /swarm/leave":
		d.leave(w, force)
	case route == "GET /swarm":
		if c := d.readable(w); c != nil {
			d.inspectSwarm(w, c)
		}
	case route == "GET /nodes":
		if c := d.readable(w); c != nil {
			out := []any{}
			for _, n := range c.nodes {
				out = append(out, n.render())
			}
			writeJSON(w, http.StatusOK, out)
		}
	case strings.HasPrefix(route, "GET /nodes/"):
		if c := d.readable(w); c != nil {
			id := strings.TrimPrefix(p, "/nodes/")
			if n := c.find(id); n != nil {
				writeJSON(w, http.StatusOK, n.render())
			} else {
				writeError(w, http.StatusNotFound, fmt.Sprintf("node %s not found", id))
			}
		}
	case strings.HasPrefix(route, "POST /nodes/") && strings.HasSuffix(p, "/update"):
		if c := d.writable(w); c != nil {
			d.updateNode(w, c, strings.TrimSuffix(strings.TrimPrefix(p, "/nodes/"), "/update"), q.Get("version"), body)
		}
	case strings.HasPrefix(route, "DELETE /nodes/"):
		if c := d.writable(w); c != nil {
			d.removeNode(w, c, strings.TrimPrefix(p, "/nodes/"), force)
		}
	case route == "GET /services":
		if c := d.readable(w); c != nil {
			out := []any{}
			for _, s := range c.services {
				out = append(out, s.render())
			}
			writeJSON(w, http.StatusOK, out)
		}
	case route == "POST /services/create":
		if c := d.writable(w); c != nil {
			c.createService(w, body)
		}
	case strings.HasPrefix(route, "GET /services/"):
		if c := d.readable(w); c != nil {
			if s := c.findService(strings.TrimPrefix(p, "/services/")); s != nil {
				writeJSON(w, http.StatusOK, s.render())
			} else {
				writeError(w, http.StatusNotFound, fmt.Sprintf("service %s not found", strings.TrimPrefix(p, "/services/")))
			}
		}
	case strings.HasPrefix(route, "POST /services/") && strings.HasSuffix(p, "/update"):
		if c := d.writable(w); c != nil {
			c.updateService(w, strings.TrimSuffix(strings.TrimPrefix(p, "/services/"), "/update"), q.Get("version"), body)
		}
	case strings.HasPrefix(route, "DELETE /services/"):
		if c := d.writable(w); c != nil {
			id := strings.TrimPrefix(p, "/services/")
			s := c.findService(id)
			if s == nil {
				writeError(w, http.StatusNotFound, fmt.Sprintf("service %s not found", id))
				return
			}
			c.services = slices.DeleteFunc(c.services, func(x *service) bool { return x == s })
			c.bump()
			w.WriteHeader(http.StatusOK)
		}
	default:
		writeError(w, http.StatusNotFound, "page not found")
	}
}

// readable returns the daemon's cluster when it may read cluster state,
// else answers the error a real daemon gives.
func (d *Daemon) readable(w http.ResponseWriter) *cluster {
	n := d.node
	switch {
	case n == nil:
		writeError(w, http.StatusServiceUnavailable, msgNotManagerInactive)
		return nil
	case n.role != "manager" || n.lag > 0:
		writeError(w, http.StatusServiceUnavailable, msgNotManagerWorker)
		return nil
	case !n.c.quorum():
		writeError(w, http.StatusInternalServerError, msgNoQuorumRead)
		return nil
	}
	return n.c
}

// writable is readable for changes, which need a leader.
func (d *Daemon) writable(w http.ResponseWriter) *cluster {
	n := d.node
	if n != nil && n.role == "manager" && n.lag == 0 && !n.c.quorum() {
		writeError(w, http.StatusInternalServerError, msgNoQuorumWrite)
		return nil
	}
	return d.readable(w)
}

func (d *Daemon) info(w http.ResponseWriter) {
	if d.node != nil && d.node.lag > 0 {
		d.node.lag--
	}
	info := recordedObject("info_inactive").(map[string]any)
	info["Name"] = d.Hostname
	sw := map[string]any{"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": false, "Error": "", "RemoteManagers": nil}
	if n := d.node; n != nil {
		c := n.c
		all, _ := c.managers()
		var peers []any
		for _, m := range all {
			peers = append(peers, map[string]any{"NodeID": m.id, "Addr": net.JoinHostPort(m.d.IP, "2377")})
		}
		control := n.role == "manager" && n.lag == 0
		sw = map[string]any{"NodeID": n.id, "NodeAddr": d.IP, "LocalNodeState": "active", "ControlAvailable": control, "Error": "", "RemoteManagers": peers}
		if control {
			if c.quorum() {
				sw["Nodes"] = len(c.nodes)
				sw["Managers"] = len(all)
				sw["Cluster"] = c.render()
				if len(all) == 2 {
					sw["Warnings"] = []string{msgTwoManagers}
				}
			} else {
				sw["Error"] = msgNoLeader
			}
		}
	}
	info["Swarm"] = sw
	writeJSON(w, http.StatusOK, info)
}

func (d *Daemon) init(w http.ResponseWriter, body []byte) {
	if d.node != nil {
		writeError(w, http.StatusServiceUnavailable, msgAlreadyInSwarm)
		return
	}
	var req struct{ ListenAddr, AdvertiseAddr string }
	json.Unmarshal(body, &req)
	if req.AdvertiseAddr != "" {
		if h, _, err := net.SplitHostPort(req.AdvertiseAddr); err == nil {
			req.AdvertiseAddr = h
		}
		d.IP = req.AdvertiseAddr
	}
	now := d.w.tick()
	secret := d.w.newID() + d.w.newID()
	c := &cluster{w: d.w, id: d.w.newID(), created: now, nextPort: 30000,
		tokens: [2]string{"SWMTKN-1-" + secret + "-" + d.w.newID(), "SWMTKN-1-" + secret + "-" + d.w.newID()}}
	n := &node{c: c, d: d, id: d.w.newID(), labels: map[string]string{}, role: "manager", availability: "active", created: now, updated: now}
	n.version = c.bump()
	c.nodes = append(c.nodes, n)
	c.leader = n
	d.node = n
	d.w.clusters = append(d.w.clusters, c)
	d.w.events = append(d.w.events, Event{Daemon: d.Hostname, Kind: "init", Role: "manager"})
	writeJSON(w, http.StatusOK, n.id)
}

func (d *Daemon) join(w http.ResponseWriter, body []byte) {
	var req struct {
		ListenAddr, AdvertiseAddr, JoinToken string
		RemoteAddrs                          []string
	}
	json.Unmarshal(body, &req)
	d.w.mu.Lock()
	if d.node != nil {
		d.w.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, msgAlreadyInSwarm)
		return
	}
	c := d.w.clusterAt(req.RemoteAddrs)
	if c == nil {
		d.w.mu.Unlock()
		writeError(w, http.StatusInternalServerError, fmt.Sprintf(msgUnreachableRemote, strings.Join(req.RemoteAddrs, ",")))
		return
	}
	role := ""
	switch req.JoinToken {
	case c.tokens[0]:
		role = "worker"
	case c.tokens[1]:
		role = "manager"
	default:
		d.w.mu.Unlock()
		writeError(w, http.StatusBadRequest, msgBadToken)
		return
	}
	d.w.events = append(d.w.events, Event{Daemon: d.Hostname, Kind: "join-start", Role: role})
	hook := d.JoinHook
	d.w.mu.Unlock()
	if hook != nil {
		hook(role)
	}
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	if d.node != nil {
		writeError(w, http.StatusServiceUnavailable, msgAlreadyInSwarm)
		return
	}
	if !c.quorum() {
		writeError(w, http.StatusInternalServerError, msgNoQuorumWrite)
		return
	}
	if req.AdvertiseAddr != "" {
		if h, _, err := net.SplitHostPort(req.AdvertiseAddr); err == nil {
			req.AdvertiseAddr = h
		}
		d.IP = req.AdvertiseAddr
	}
	now := d.w.tick()
	n := &node{c: c, d: d, id: d.w.newID(), labels: map[string]string{}, role: role, availability: "active", created: now, updated: now}
	n.version = c.bump()
	c.nodes = append(c.nodes, n)
	d.node = n
	d.w.events = append(d.w.events, Event{Daemon: d.Hostname, Kind: "join-done", Role: role})
	w.WriteHeader(http.StatusOK)
}

// clusterAt finds the swarm with a running manager at one of addrs.
func (w *World) clusterAt(addrs []string) *cluster {
	for _, c := range w.clusters {
		for _, n := range c.nodes {
			if n.role != "manager" || !n.up() {
				continue
			}
			for _, a := range addrs {
				if a == net.JoinHostPort(n.d.IP, "2377") || a == n.d.IP {
					return c
				}
			}
		}
	}
	return nil
}

func (d *Daemon) leave(w http.ResponseWriter, force bool) {
	n := d.node
	if n == nil {
		writeError(w, http.StatusServiceUnavailable, msgNotInSwarm)
		return
	}
	c := n.c
	if n.role == "manager" && !force {
		const head = "You are attempting to leave the swarm on a node that is participating as a manager. "
		const tail = "The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message."
		all, reachable := c.managers()
		unreachable := len(all) - len(reachable)
		if len(reachable) == 1 && unreachable == 0 {
			writeError(w, http.StatusServiceUnavailable, msgLastManagerLeave)
			return
		}
		msg := head
		if len(reachable)-2 <= unreachable {
			msg += fmt.Sprintf("Removing this node leaves %d managers out of %d. Without a Raft quorum your swarm will be inaccessible. ", len(reachable)-1, len(all))
		}
		writeError(w, http.StatusServiceUnavailable, msg+tail)
		return
	}
	n.left = true
	n.version = c.bump()
	n.updated = d.w.tick()
	d.node = nil
	c.elect()
	d.w.events = append(d.w.events, Event{Daemon: d.Hostname, Kind: "leave"})
	w.WriteHeader(http.StatusOK)
}

func (d *Daemon) inspectSwarm(w http.ResponseWriter, c *cluster) {
	s := c.render()
	s["JoinTokens"] = map[string]any{"Worker": c.tokens[0], "Manager": c.tokens[1]}
	writeJSON(w, http.StatusOK, s)
}

func (c *cluster) render() map[string]any {
	s := recordedObject("swarm_manager").(map[string]any)
	delete(s, "JoinTokens")
	s["ID"] = c.id
	s["Version"] = map[string]any{"Index": c.version}
	s["CreatedAt"] = c.created.Format(time.RFC3339Nano)
	s["UpdatedAt"] = c.created.Format(time.RFC3339Nano)
	return s
}

// render is the node as GET /nodes shows it. A read counts down a
// promotion's lag.
func (n *node) render() map[string]any {
	list := recordedObject("nodes_1").([]any)
	o := list[0].(map[string]any)
	o["ID"] = n.id
	o["Version"] = map[string]any{"Index": n.version}
	o["CreatedAt"] = n.created.Format(time.RFC3339Nano)
	o["UpdatedAt"] = n.updated.Format(time.RFC3339Nano)
	o["Spec"] = map[string]any{"Labels": n.labels, "Role": n.role, "Availability": n.availability}
	o["Description"].(map[string]any)["Hostname"] = n.d.Hostname
	status := map[string]any{"State": "ready", "Addr": n.d.IP}
	if !n.up() {
		status["State"] = "down"
		status["Message"] = "heartbeat failure"
	}
	o["Status"] = status
	delete(o, "ManagerStatus")
	if n.role == "manager" {
		if n.lag > 0 {
			n.lag--
		} else {
			ms := map[string]any{"Reachability": "reachable", "Addr": net.JoinHostPort(n.d.IP, "2377")}
			if !n.up() {
				ms["Reachability"] = "unreachable"
			}
			if n.c.leader == n {
				ms["Leader"] = true
			}
			o["ManagerStatus"] = ms
		}
	}
	return o
}

func (d *Daemon) updateNode(w http.ResponseWriter, c *cluster, id, version string, body []byte) {
	n := c.find(id)
	if n == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("node %s not found", id))
		return
	}
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid node version '%s': %v", version, err))
		return
	}
	if v != n.version {
		writeError(w, http.StatusInternalServerError, msgOutOfSequence)
		return
	}
	var spec struct {
		Labels       map[string]string
		Role         string
		Availability string
	}
	if err := json.Unmarshal(body, &spec); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if n.role == "manager" && spec.Role == "worker" {
		all, _ := c.managers()
		if len(all) == 1 {
			writeError(w, http.StatusBadRequest, msgDemoteLast)
			return
		}
	}
	if n.role == "worker" && spec.Role == "manager" {
		n.lag = 1
	}
	if spec.Role == "worker" {
		n.lag = 0
	}
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	n.labels, n.role, n.availability = spec.Labels, spec.Role, spec.Availability
	n.version = c.bump()
	n.updated = d.w.tick()
	c.elect()
	d.w.events = append(d.w.events, Event{Daemon: n.d.Hostname, Kind: "update", Role: spec.Role})
	w.WriteHeader(http.StatusOK)
}

func (d *Daemon) removeNode(w http.ResponseWriter, c *cluster, id string, force bool) {
	n := c.find(id)
	if n == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("node %s not found", id))
		return
	}
	if n.role == "manager" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("rpc error: code = FailedPrecondition desc = node %s is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal", n.id))
		return
	}
	if n.up() && !force {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("rpc error: code = FailedPrecondition desc = node %s is not down and can't be removed", n.id))
		return
	}
	c.nodes = slices.DeleteFunc(c.nodes, func(x *node) bool { return x == n })
	if n.d.node == n {
		// A node removed while still running finds itself out of the swarm.
		n.d.node = nil
	}
	c.bump()
	d.w.events = append(d.w.events, Event{Daemon: n.d.Hostname, Kind: "remove"})
	w.WriteHeader(http.StatusOK)
}

func (c *cluster) findService(idOrName string) *service {
	for _, s := range c.services {
		if s.id == idOrName || s.spec["Name"] == idOrName {
			return s
		}
	}
	return nil
}

// normalizeSpec fills in the defaults a daemon adds to a service spec and
// returns the published ports, with a port for each one left at 0.
func (c *cluster) normalizeSpec(spec map[string]any, old *service) ([]map[string]any, string) {
	if spec["Labels"] == nil {
		spec["Labels"] = map[string]any{}
	}
	tt, _ := spec["TaskTemplate"].(map[string]any)
	if tt == nil {
		tt = map[string]any{}
		spec["TaskTemplate"] = tt
	}
	if cs, ok := tt["ContainerSpec"].(map[string]any); ok && cs["Isolation"] == nil {
		cs["Isolation"] = "default"
	}
	if tt["ForceUpdate"] == nil {
		tt["ForceUpdate"] = 0
	}
	if tt["Runtime"] == nil {
		tt["Runtime"] = "container"
	}
	if spec["Mode"] == nil {
		spec["Mode"] = map[string]any{"Replicated": map[string]any{"Replicas": 1}}
	}
	es, _ := spec["EndpointSpec"].(map[string]any)
	if es == nil {
		return nil, ""
	}
	if es["Mode"] == nil {
		es["Mode"] = "vip"
	}
	rawPorts, _ := es["Ports"].([]any)
	var ports []map[string]any
	for _, rp := range rawPorts {
		p, _ := rp.(map[string]any)
		if p == nil {
			continue
		}
		if p["Protocol"] == nil {
			p["Protocol"] = "tcp"
		}
		if p["PublishMode"] == nil {
			p["PublishMode"] = "ingress"
		}
		assigned := map[string]any{}
		for k, v := range p {
			assigned[k] = v
		}
		published, _ := p["PublishedPort"].(float64)
		if published == 0 {
			// Keep the port assigned earlier on an update, as swarm does.
			if old != nil {
				for _, op := range old.ports {
					if op["TargetPort"] == p["TargetPort"] && op["Protocol"] == p["Protocol"] {
						assigned["PublishedPort"] = op["PublishedPort"]
					}
				}
			}
			if assigned["PublishedPort"] == nil {
				assigned["PublishedPort"] = float64(c.nextPort)
				c.nextPort++
			}
		}
		if assigned["PublishMode"] == "ingress" {
			for _, s := range c.services {
				if s == old {
					continue
				}
				for _, op := range s.ports {
					if op["PublishMode"] == "ingress" && op["PublishedPort"] == assigned["PublishedPort"] {
						return nil, fmt.Sprintf("rpc error: code = InvalidArgument desc = port '%v' is already in use by service '%v' (%s) as an ingress port", assigned["PublishedPort"], s.spec["Name"], s.id)
					}
				}
			}
		}
		ports = append(ports, assigned)
	}
	return ports, ""
}

func (c *cluster) createService(w http.ResponseWriter, body []byte) {
	var spec map[string]any
	if err := json.Unmarshal(body, &spec); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name, _ := spec["Name"].(string)
	if name == "" {
		name = c.w.newID()[:12]
		spec["Name"] = name
	}
	if c.findService(name) != nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("rpc error: code = AlreadyExists desc = name conflicts with an existing object: service %s already exists", name))
		return
	}
	ports, problem := c.normalizeSpec(spec, nil)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	now := c.w.tick()
	s := &service{id: c.w.newID(), spec: spec, ports: ports, created: now, updated: now}
	s.version = c.bump()
	c.services = append(c.services, s)
	writeJSON(w, http.StatusCreated, map[string]string{"ID": s.id})
}

func (c *cluster) updateService(w http.ResponseWriter, id, version string, body []byte) {
	s := c.findService(id)
	if s == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("service %s not found", id))
		return
	}
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid service version '%s': %v", version, err))
		return
	}
	if v != s.version {
		writeError(w, http.StatusInternalServerError, msgOutOfSequence)
		return
	}
	var spec map[string]any
	if err := json.Unmarshal(body, &spec); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	spec["Name"] = s.spec["Name"]
	ports, problem := c.normalizeSpec(spec, s)
	if problem != "" {
		writeError(w, http.StatusBadRequest, problem)
		return
	}
	s.spec, s.ports = spec, ports
	s.version = c.bump()
	s.updated = c.w.tick()
	writeJSON(w, http.StatusOK, map[string]any{"Warnings": nil})
}

func (s *service) render() map[string]any {
	o := map[string]any{
		"ID":        s.id,
		"Version":   map[string]any{"Index": s.version},
		"CreatedAt": s.created.Format(time.RFC3339Nano),
		"UpdatedAt": s.updated.Format(time.RFC3339Nano),
		"Spec":      s.spec,
	}
	endpoint := map[string]any{"Spec": map[string]any{}}
	if es, ok := s.spec["EndpointSpec"]; ok {
		endpoint["Spec"] = es
	}
	if len(s.ports) > 0 {
		endpoint["Ports"] = s.ports
		for _, p := range s.ports {
			if p["PublishMode"] == "ingress" {
				endpoint["VirtualIPs"] = []any{map[string]any{"NetworkID": "ingress0000000000000000000", "Addr": "10.0.0.2/24"}}
				break
			}
		}
	}
	o["Endpoint"] = endpoint
	return o
}
