package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

// Daemon configuration rule.
//
// The daemon is configured by two files: the systemd drop-in RemoteDropIn,
// which this package owns and rewrites whole, and /etc/docker/daemon.json,
// which belongs to the host's administrator and is only ever merged into.
// dockerd refuses to start when a directive is given both as a flag and in
// daemon.json, so every directive is placed in exactly one of them:
//
//  1. Machine-owned directives (hosts, tls, tlsverify, tlscacert, tlscert,
//     tlskey) always go on the drop-in's command line, because they are what
//     makes the machine reachable over TLS. If daemon.json sets any of them,
//     the key is removed from daemon.json; its extra "hosts" entries are kept
//     as additional -H flags (fd:// entries are dropped, since socket
//     activation is not used).
//  2. Additive lists (labels, registry-mirrors, insecure-registries): if
//     daemon.json already sets the key, the machine's values are appended to
//     its list (existing entries first, duplicates dropped) and no flag is
//     passed; otherwise they become flags.
//  3. Every other directive (storage-driver, log-level, data-root, dns, ipv6,
//     selinux-enabled, and each --engine-opt): if daemon.json sets it, the
//     file wins, the flag is dropped and a warning says so; otherwise it is
//     a flag.
//
// daemon.json is rewritten only when rule 1 or 2 changes it, with keys
// sorted and two-space indentation; values the machine merged in are never
// removed later, because they cannot be told apart from the administrator's.

// machineOwned are directives that Provision always sets on the command line.
var machineOwned = map[string]bool{"hosts": true, "tls": true, "tlsverify": true, "tlscacert": true, "tlscert": true, "tlskey": true}

// mergeable are the list directives merged into an existing daemon.json.
var mergeable = map[string]bool{"labels": true, "registry-mirrors": true, "insecure-registries": true}

// flagToKey maps dockerd flag names whose daemon.json key differs.
var flagToKey = map[string]string{
	"H": "hosts", "host": "hosts",
	"label":                            "labels",
	"registry-mirror":                  "registry-mirrors",
	"insecure-registry":                "insecure-registries",
	"dns-opt":                          "dns-opts",
	"storage-opt":                      "storage-opts",
	"log-opt":                          "log-opts",
	"exec-opt":                         "exec-opts",
	"add-runtime":                      "runtimes",
	"default-ulimit":                   "default-ulimits",
	"authorization-plugin":             "authorization-plugins",
	"node-generic-resource":            "node-generic-resources",
	"default-address-pool":             "default-address-pools",
	"cluster-store-opt":                "cluster-store-opts",
	"allow-nondistributable-artifacts": "allow-nondistributable-artifacts",
	"D":                                "debug",
	"l":                                "log-level",
	"G":                                "group",
	"p":                                "pidfile",
	"s":                                "storage-driver",
	"b":                                "bridge",
	"g":                                "data-root",
	"graph":                            "data-root",
}

// keyAliases are daemon.json keys that name the same setting.
var keyAliases = map[string][]string{"data-root": {"data-root", "graph"}}

type directive struct {
	key  string // daemon.json key
	flag string // flag name without dashes
	val  string
	bare bool // a boolean flag given without a value
}

func (d directive) arg() string {
	if d.bare {
		return "--" + d.flag
	}
	return "--" + d.flag + "=" + d.val
}

func jsonKey(flag string) string {
	if k, ok := flagToKey[flag]; ok {
		return k
	}
	return flag
}

// daemonInput is everything the daemon configuration depends on.
type daemonInput struct {
	Machine    string
	Driver     string
	Engine     hostopts.Engine
	Port       int
	Dockerd    string  // absolute path of dockerd on the host
	DaemonJSON *string // current daemon.json, nil when absent
}

// daemonPlan is the desired daemon configuration.
type daemonPlan struct {
	DropIn    []byte
	JSON      []byte // desired daemon.json; nil when it is not to be written
	WriteJSON bool
	Warnings  []string
	Args      []string // dockerd arguments, for tests and reports
}

// planDaemon computes the drop-in and the merged daemon.json; see the rule
// above.
func planDaemon(in daemonInput) (*daemonPlan, error) {
	if !strings.HasPrefix(in.Dockerd, "/") {
		return nil, fmt.Errorf("dockerd path %q is not absolute", in.Dockerd)
	}
	var cfg map[string]any
	if in.DaemonJSON != nil && strings.TrimSpace(*in.DaemonJSON) != "" {
		dec := json.NewDecoder(strings.NewReader(*in.DaemonJSON))
		dec.UseNumber()
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("%s is not valid JSON (%v): fix or remove it, then provision again", RemoteDaemonJSON, err)
		}
		if cfg == nil {
			return nil, fmt.Errorf("%s must hold a JSON object: fix or remove it, then provision again", RemoteDaemonJSON)
		}
	}
	plan := &daemonPlan{}
	jsonChanged := false

	hosts := []string{"unix:///var/run/docker.sock", fmt.Sprintf("tcp://0.0.0.0:%d", in.Port)}
	for k := range machineOwned {
		v, ok := cfg[k]
		if !ok {
			continue
		}
		if k == "hosts" {
			list, err := stringList(k, v)
			if err != nil {
				return nil, err
			}
			for _, h := range list {
				if !strings.HasPrefix(h, "fd://") && !contains(hosts, h) {
					hosts = append(hosts, h)
				}
			}
		}
		delete(cfg, k)
		jsonChanged = true
	}

	args := []string{}
	for _, h := range hosts {
		args = append(args, "-H", h)
	}
	args = append(args, "--tlsverify", "--tlscacert="+RemoteCACert, "--tlscert="+RemoteServerCert, "--tlskey="+RemoteServerKey)

	for _, d := range wantedDirectives(in) {
		if machineOwned[d.key] {
			return nil, fmt.Errorf("engine option %q cannot be set: the machine manages %s itself", d.arg(), d.key)
		}
		present := ""
		for _, k := range aliases(d.key) {
			if _, ok := cfg[k]; ok {
				present = k
				break
			}
		}
		switch {
		case present == "":
			args = append(args, d.arg())
		case mergeable[d.key]:
			list, err := stringList(d.key, cfg[d.key])
			if err != nil {
				return nil, err
			}
			if !contains(list, d.val) {
				cfg[d.key] = append(toAny(list), d.val)
				jsonChanged = true
			}
		case sameValue(cfg[present], d):
			// daemon.json already says the same: nothing lost, nothing to say.
		default:
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s sets %q, so %s is not applied", RemoteDaemonJSON, present, d.arg()))
		}
	}
	plan.Args = args

	if jsonChanged {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cfg); err != nil {
			return nil, fmt.Errorf("encoding the merged %s: %w", RemoteDaemonJSON, err)
		}
		plan.JSON = buf.Bytes()
		plan.WriteJSON = true
	}

	env, err := envLines(in.Engine.Env)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Managed by fleetdock/machine for machine %s; rewritten on every provision.\n", in.Machine)
	b.WriteString("# dockerd listens on its own sockets (no fd://), so docker.socket cannot\n")
	b.WriteString("# start the daemon without TLS. Settings that /etc/docker/daemon.json\n")
	b.WriteString("# already makes are not repeated here: dockerd refuses duplicates.\n")
	b.WriteString("[Service]\nExecStart=\n")
	b.WriteString("ExecStart=" + systemdWord(in.Dockerd))
	for _, a := range args {
		b.WriteString(" " + systemdWord(a))
	}
	b.WriteString("\n")
	for _, e := range env {
		b.WriteString("Environment=" + e + "\n")
	}
	plan.DropIn = []byte(b.String())
	return plan, nil
}

// wantedDirectives lists the engine settings in a fixed order.
func wantedDirectives(in daemonInput) []directive {
	e := in.Engine
	var ds []directive
	add := func(flag, val string) { ds = append(ds, directive{key: jsonKey(flag), flag: flag, val: val}) }
	sd := e.StorageDriver
	if sd == "" {
		sd = "overlay2"
	}
	add("storage-driver", sd)
	if e.GraphDir != "" {
		add("data-root", e.GraphDir)
	}
	if e.LogLevel != "" {
		add("log-level", e.LogLevel)
	}
	if e.Ipv6 {
		ds = append(ds, directive{key: "ipv6", flag: "ipv6", bare: true})
	}
	if e.SelinuxEnabled {
		ds = append(ds, directive{key: "selinux-enabled", flag: "selinux-enabled", bare: true})
	}
	for _, d := range e.DNS {
		add("dns", d)
	}
	labels := append([]string(nil), e.Labels...)
	hasProvider := false
	for _, l := range labels {
		if strings.HasPrefix(l, "provider=") {
			hasProvider = true
		}
	}
	// An explicit provider label wins over the driver's, because two
	// provider= labels with different values conflict in dockerd.
	if in.Driver != "" && !hasProvider {
		labels = append(labels, "provider="+in.Driver)
	}
	for _, l := range labels {
		add("label", l)
	}
	for _, m := range e.RegistryMirror {
		add("registry-mirror", m)
	}
	for _, r := range e.InsecureRegistry {
		add("insecure-registry", r)
	}
	for _, f := range e.ArbitraryFlags {
		f = strings.TrimLeft(f, "-")
		if f == "" {
			continue
		}
		name, val, hasVal := strings.Cut(f, "=")
		ds = append(ds, directive{key: jsonKey(name), flag: name, val: val, bare: !hasVal})
	}
	return ds
}

func aliases(key string) []string {
	if a, ok := keyAliases[key]; ok {
		return a
	}
	return []string{key}
}

func stringList(key string, v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%q in %s must be a list of strings: fix it, then provision again", key, RemoteDaemonJSON)
	}
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%q in %s must be a list of strings: fix it, then provision again", key, RemoteDaemonJSON)
		}
		out = append(out, s)
	}
	return out, nil
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// systemdWord quotes one ExecStart argument. systemd splits on whitespace,
// honours double quotes with C escapes, expands $VAR and %-specifiers, so
// those are escaped rather than trusted to be absent.
func systemdWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(s) + `"`
}

// envLines validates K=V entries and quotes them for Environment=.
func envLines(env []string) ([]string, error) {
	var out []string
	for _, e := range env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n\"'\\=$%") {
			return nil, fmt.Errorf("engine environment entry %q is not NAME=value", e)
		}
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "\n", `\n`).Replace(e)
		out = append(out, `"`+q+`"`)
	}
	return out, nil
}

// sameValue reports whether a daemon.json value means what directive d says.
func sameValue(v any, d directive) bool {
	switch x := v.(type) {
	case string:
		return !d.bare && x == d.val
	case bool:
		return x && (d.bare || d.val == "true")
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == d.val {
				return true
			}
		}
	}
	return false
}
