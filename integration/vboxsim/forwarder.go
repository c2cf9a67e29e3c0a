package vboxsim

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// forwarderArg is the hidden first argument that makes the VBoxManage
// binary run as a machine's NAT port forwarder, the process that stands for
// VirtualBox's NAT engine while a container-backed machine runs.
const forwarderArg = "__vboxsim-nat-forwarder"

// forwardSpec is what a forwarder starts with; later it follows the state.
type forwardSpec struct {
	Home     string    `json:"home"`
	UUID     string    `json:"uuid"`
	TargetIP string    `json:"targetIP"`
	Rules    []NATRule `json:"rules"`
}

// natRules returns the TCP forwards of every NAT adapter of vm.
func natRules(vm *VM) []NATRule {
	var out []NATRule
	for _, nic := range vm.NICs {
		if nic.Attachment != "nat" {
			continue
		}
		for _, r := range nic.NATRules {
			if r.Proto == "tcp" {
				out = append(out, r)
			}
		}
	}
	return out
}

// listenAddr is where a rule listens. An empty host IP means every address
// to VirtualBox; the stand-in keeps to loopback.
func listenAddr(r NATRule) string {
	ip := r.HostIP
	if ip == "" || ip == "0.0.0.0" {
		ip = "127.0.0.1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(r.HostPort))
}

// startForwarder runs the forwarder for vm in its own session and waits
// until it listens.
func startForwarder(ctx context.Context, home string, vm *VM, targetIP string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	spec, err := json.Marshal(forwardSpec{Home: home, UUID: vm.UUID, TargetIP: targetIP, Rules: natRules(vm)})
	if err != nil {
		return 0, err
	}
	dir := filepath.Join(filepath.Dir(vm.CfgFile), "vboxsim")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "forwarder.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, forwarderArg, string(spec))
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting the NAT forwarder: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected forwarder output %q", line)
		}
		ready <- err
	}()
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("the NAT forwarder did not start within 10s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("NAT forwarder (log %s): %w", filepath.Join(dir, "forwarder.log"), err)
	}
	pid := cmd.Process.Pid
	// Not waited for: it outlives this VBoxManage call.
	_ = cmd.Process.Release()
	return pid, nil
}

// RunForwarder is the forwarder process's main: it relays each NAT rule's
// host port to the guest port on the machine's address, follows rule
// changes in the state, and ends when the machine stops.
func RunForwarder(specJSON string) int {
	var spec forwardSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "vboxsim forwarder: bad spec:", err)
		return 2
	}
	f := &forwarder{target: spec.TargetIP, lns: map[string]net.Listener{}, conns: map[net.Conn]bool{}}
	f.sync(spec.Rules)
	fmt.Println("ready")
	os.Stdout.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	confirmed := false
	for {
		select {
		case <-sig:
			f.close()
			return 0
		case <-tick.C:
		}
		vm, ok := peekVM(spec.Home, spec.UUID)
		mine := ok && vm.Run != nil && vm.Run.ForwarderPID == os.Getpid()
		switch {
		case mine:
			confirmed = true
			if vm.Run.ContainerIP != "" {
				f.setTarget(vm.Run.ContainerIP)
			}
			f.sync(natRules(vm))
		case confirmed, time.Since(start) > time.Minute:
			// The machine stopped, was removed, or the start that made
			// this forwarder failed.
			f.close()
			return 0
		}
	}
}

// peekVM reads the state without the lock: it is replaced atomically, and
// the lock may be held for long by the very startvm that made us.
func peekVM(home, uuid string) (*VM, bool) {
	data, err := os.ReadFile(filepath.Join(home, stateFile))
	if err != nil {
		return nil, false
	}
	var st State
	if json.Unmarshal(data, &st) != nil {
		return nil, false
	}
	vm := st.findVM(uuid)
	if vm == nil || !running(vm) {
		return nil, false
	}
	return vm, true
}

type forwarder struct {
	mu     sync.Mutex
	target string
	lns    map[string]net.Listener // by rule
	conns  map[net.Conn]bool
}

func (f *forwarder) setTarget(ip string) {
	f.mu.Lock()
	f.target = ip
	f.mu.Unlock()
}

func (f *forwarder) sync(rules []NATRule) {
	want := map[string]NATRule{}
	for _, r := range rules {
		want[r.String()] = r
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, ln := range f.lns {
		if _, ok := want[key]; !ok {
			ln.Close()
			delete(f.lns, key)
		}
	}
	for key, r := range want {
		if _, ok := f.lns[key]; ok {
			continue
		}
		ln, err := net.Listen("tcp", listenAddr(r))
		if err != nil {
			// VirtualBox too starts the machine and only logs a rule whose
			// host port is taken.
			fmt.Fprintf(os.Stderr, "NAT: failed to redirect %s: %v\n", listenAddr(r), err)
			continue
		}
		f.lns[key] = ln
		go f.accept(ln, r.GuestPort)
	}
}

func (f *forwarder) accept(ln net.Listener, port int) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		to := net.JoinHostPort(f.target, strconv.Itoa(port))
		f.mu.Unlock()
		go f.relay(c, to)
	}
}

func (f *forwarder) track(c net.Conn, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.conns[c] = true
	} else {
		delete(f.conns, c)
	}
}

func (f *forwarder) relay(c net.Conn, to string) {
	f.track(c, true)
	defer f.track(c, false)
	defer c.Close()
	up, err := net.DialTimeout("tcp", to, 10*time.Second)
	if err != nil {
		return // the guest does not answer: the client sees a closed connection
	}
	f.track(up, true)
	defer f.track(up, false)
	defer up.Close()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	<-done
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ln := range f.lns {
		ln.Close()
	}
	for c := range f.conns {
		c.Close()
	}
}
