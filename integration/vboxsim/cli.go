package vboxsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Env is what one VBoxManage call runs with.
type Env struct {
	Home   string // the state folder ($VBOXSIM_HOME)
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// call is the context of one command.
type call struct {
	ctx  context.Context
	home string
	cfg  *Config
	st   *State
	in   io.Reader
	out  *bytes.Buffer
	err  *bytes.Buffer
}

func (c *call) printf(format string, args ...any)  { fmt.Fprintf(c.out, format, args...) }
func (c *call) eprintf(format string, args ...any) { fmt.Fprintf(c.err, format, args...) }

// progress prints VBoxManage's progress line, which goes to stderr.
func (c *call) progress() {
	c.eprintf("0%%...10%%...20%%...30%%...40%%...50%%...60%%...70%%...80%%...90%%...100%%\n")
}

type handler func(c *call, args []string) error

var commands map[string]handler

func init() {
	commands = map[string]handler{
		"list":             cmdList,
		"showvminfo":       cmdShowVMInfo,
		"createvm":         cmdCreateVM,
		"modifyvm":         cmdModifyVM,
		"unregistervm":     cmdUnregisterVM,
		"startvm":          cmdStartVM,
		"controlvm":        cmdControlVM,
		"discardstate":     cmdDiscardState,
		"storagectl":       cmdStorageCtl,
		"storageattach":    cmdStorageAttach,
		"createmedium":     cmdCreateMedium,
		"createhd":         cmdCreateMedium,
		"createvdi":        cmdCreateMedium,
		"clonemedium":      cmdCloneMedium,
		"clonehd":          cmdCloneMedium,
		"clonevdi":         cmdCloneMedium,
		"modifymedium":     cmdModifyMedium,
		"modifyhd":         cmdModifyMedium,
		"modifyvdi":        cmdModifyMedium,
		"closemedium":      cmdCloseMedium,
		"convertfromraw":   cmdConvertFromRaw,
		"convertdd":        cmdConvertFromRaw,
		"hostonlyif":       cmdHostOnlyIf,
		"hostonlynet":      cmdHostOnlyNet,
		"dhcpserver":       cmdDHCPServer,
		"sharedfolder":     cmdSharedFolder,
		"guestproperty":    cmdGuestProperty,
		"setextradata":     cmdSetExtraData,
		"getextradata":     cmdGetExtraData,
		"internalcommands": cmdInternal,
	}
}

// Call is one VBoxManage invocation as the call log records it.
type Call struct {
	N        int       `json:"n"`
	Time     time.Time `json:"time"`
	Args     []string  `json:"args"`
	ExitCode int       `json:"exitCode"`
	Stdout   string    `json:"stdout"`
	Stderr   string    `json:"stderr"`
	Fault    bool      `json:"fault,omitempty"`
}

// Run executes one VBoxManage command line (without the program name) and
// returns its exit code. The state folder is locked for the whole call, so
// concurrent calls see each other's effects in some order, as with the real
// VBoxSVC.
func Run(ctx context.Context, args []string, env Env) int {
	var out, errb bytes.Buffer
	code, n, faulted := run(ctx, args, env, &out, &errb)
	_, _ = env.Stdout.Write(out.Bytes())
	_, _ = env.Stderr.Write(errb.Bytes())
	if env.Home != "" && n > 0 {
		logCall(env.Home, Call{N: n, Time: time.Now().UTC(), Args: args, ExitCode: code,
			Stdout: out.String(), Stderr: errb.String(), Fault: faulted})
	}
	return code
}

func run(ctx context.Context, args []string, env Env, out, errb *bytes.Buffer) (code, n int, faulted bool) {
	// Global options VBoxManage accepts before the command.
	for len(args) > 0 && slices.Contains([]string{"-q", "--nologo", "-nologo"}, args[0]) {
		args = args[1:]
	}
	s, err := openStore(env.Home)
	if err != nil {
		fmt.Fprintf(errb, "%s%v\n", errPrefix, err)
		return 1, 0, false
	}
	defer s.close()
	cfg, err := LoadConfig(env.Home)
	if err != nil {
		fmt.Fprintf(errb, "%s%v\n", errPrefix, err)
		return 1, 0, false
	}
	st, err := s.load()
	if err != nil {
		fmt.Fprintf(errb, "%s%v\n", errPrefix, err)
		return 1, 0, false
	}
	st.Calls++
	n = st.Calls
	if !st.Initialised {
		st.Initialised = true
		if !cfg.NoDefaultDHCP {
			st.DHCPServers = append(st.DHCPServers, &DHCPServer{NetName: "HostInterfaceNetworking-vboxnet0",
				IP: "192.168.56.100", Netmask: "255.255.255.0", LowerIP: "192.168.56.101", UpperIP: "192.168.56.254", Enabled: true})
		}
	}
	c := &call{ctx: ctx, home: env.Home, cfg: cfg, st: st, in: env.Stdin, out: out, err: errb}
	reconcile(c)
	// The counters advance even when the command fails, so "the Nth call"
	// stays well defined: they are saved before the command runs.
	f := matchFault(cfg, st, args, n)
	if err := s.save(st); err != nil {
		fmt.Fprintf(errb, "%s%v\n", errPrefix, err)
		return 1, n, false
	}
	if f != nil {
		out.WriteString(f.Stdout)
		errb.WriteString(f.Stderr)
		if f.ExitCode == 0 {
			return 1, n, true
		}
		return f.ExitCode, n, true
	}
	if len(args) == 0 {
		errb.WriteString(errLines("No command given: try VBoxManage list vms"))
		return 2, n, false
	}
	switch args[0] {
	case "--version", "-version", "-v", "-V":
		fmt.Fprintln(out, cfg.version())
		return 0, n, false
	}
	h, ok := commands[strings.ToLower(args[0])]
	if !ok {
		errb.WriteString(errLines(fmt.Sprintf("Invalid command '%s'", args[0])))
		return 2, n, false
	}
	if err := h(c, args[1:]); err != nil {
		// State changes of a failed command are dropped, as VirtualBox
		// discards the settings of a session that failed.
		if f, ok := errors.AsType[*failure](err); ok {
			out.WriteString(f.stdout)
			errb.WriteString(f.stderr)
			return f.code, n, false
		}
		errb.WriteString(errLines(err.Error()))
		return 1, n, false
	}
	if err := s.save(st); err != nil {
		errb.WriteString(errLines(err.Error()))
		return 1, n, false
	}
	for _, vm := range st.VMs {
		if err := writeSettings(vm); err != nil {
			errb.WriteString(errLines(err.Error()))
			return 1, n, false
		}
	}
	return 0, n, false
}

func matchFault(cfg *Config, st *State, args []string, n int) *Fault {
	for i, f := range cfg.Faults {
		if f.Call != 0 {
			if f.Call == n {
				return &cfg.Faults[i]
			}
			continue
		}
		if !f.matches(args) {
			continue
		}
		if st.FaultHits == nil {
			st.FaultHits = map[int]int{}
		}
		st.FaultHits[i]++
		if f.Nth == 0 || f.Nth == st.FaultHits[i] {
			return &cfg.Faults[i]
		}
	}
	return nil
}

func logCall(home string, c Call) {
	data, err := json.Marshal(c)
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(home, callsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(data, '\n'))
}

// ReadCalls returns the call log of the state folder home, oldest first.
func ReadCalls(home string) ([]Call, error) {
	data, err := os.ReadFile(filepath.Join(home, callsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the call log: %w", err)
	}
	var calls []Call
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var c Call
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, fmt.Errorf("the call log is damaged: %w", err)
		}
		calls = append(calls, c)
	}
	// Concurrent calls append after releasing the state lock, so the file
	// may hold them slightly out of order.
	slices.SortStableFunc(calls, func(a, b Call) int { return a.N - b.N })
	return calls, nil
}

// ReadState returns the state of the folder home.
func ReadState(home string) (*State, error) {
	s, err := openStore(home)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.load()
}

// opt is one parsed option.
type opt struct {
	name string   // normalised: lower case, no dashes
	raw  string   // as given
	vals []string // its values
}

// parsed is a command's arguments: positional ones and options in order.
type parsed struct {
	pos  []string
	opts []opt
}

func (p *parsed) get(name string) (string, bool) {
	v, ok := "", false
	for _, o := range p.opts {
		if o.name == name {
			ok = true
			if len(o.vals) > 0 {
				v = o.vals[0]
			}
		}
	}
	return v, ok
}

func (p *parsed) has(name string) bool { _, ok := p.get(name); return ok }

// normalise folds the spellings VBoxManage accepts for an option: the old
// run-together form (--hostonlyadapter2) and the 7.x kebab case
// (--host-only-adapter2) both become "hostonlyadapter2".
func normalise(o string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimLeft(o, "-")), "-", "")
}

// parseArgs splits args into positionals and options; arity tells how many
// values an option takes, and false for an option the command does not
// know. "--opt=value" is accepted too.
func parseArgs(args []string, arity func(name string, next []string) (int, bool)) (*parsed, error) {
	p := &parsed{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.pos = append(p.pos, a)
			continue
		}
		raw, inline, hasInline := strings.Cut(a, "=")
		name := normalise(raw)
		n, ok := arity(name, args[i+1:])
		if !ok {
			return nil, syntaxError("Unknown option: %s", raw)
		}
		o := opt{name: name, raw: raw}
		if hasInline {
			if n == 0 {
				return nil, syntaxError("%s: RTGetOpt: Command line option does not take an argument.", raw)
			}
			o.vals = append(o.vals, inline)
			n--
		}
		if i+n >= len(args) {
			return nil, syntaxError("%s: RTGetOpt: Command line option needs argument.", raw)
		}
		o.vals = append(o.vals, args[i+1:i+1+n]...)
		i += n
		p.opts = append(p.opts, o)
	}
	return p, nil
}

// table makes an arity function from a fixed list: name -> value count.
func table(spec map[string]int) func(string, []string) (int, bool) {
	return func(name string, _ []string) (int, bool) {
		n, ok := spec[name]
		return n, ok
	}
}

func parseOnOff(raw, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, plainError(fmt.Sprintf("Invalid %s argument '%s'", raw, v))
}

func parseUint(raw, v string) (int, error) {
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return 0, syntaxError("%s: RTGetOpt: Command line option needs a 32-bit unsigned integer value: '%s'", raw, v)
	}
	return int(n), nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (c *call) vm(name, context, file string, line int) (*VM, error) {
	vm := c.st.findVM(name)
	if vm == nil {
		return nil, machineNotFound(name, context, line, file)
	}
	return vm, nil
}

func (c *call) defaultMachineFolder() string { return filepath.Join(c.home, "VirtualBox VMs") }

func running(vm *VM) bool {
	switch vm.State {
	case "running", "paused", "starting", "stopping", "saving", "restoring":
		return true
	}
	return false
}

func setState(vm *VM, s string) {
	vm.State = s
	vm.StateChange = time.Now().UTC()
}
