package cloudsim

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// forwarder makes a public address (a loopback alias standing for a public IP
// or EIP) reach an instance: each configured port is bound on the public
// address and relayed to the same port of the instance's current private IP,
// looked up per connection so a host that got a new address after a restart
// stays reachable.
type forwarder struct {
	public string
	lns    []net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

// startForwarder binds public:port for every port. Ports that cannot be
// bound (taken, or below 1024 without the privilege) are logged and skipped:
// the address still exists in the API, only that port does not answer.
func startForwarder(log *slog.Logger, public string, ports []int, target func() string) *forwarder {
	f := &forwarder{public: public, conns: map[net.Conn]bool{}}
	for _, port := range ports {
		addr := net.JoinHostPort(public, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Warn("cloudsim: cannot forward a public address port; it will not answer", "address", addr, "err", err)
			continue
		}
		f.lns = append(f.lns, ln)
		f.wg.Go(func() { f.accept(ln, port, target) })
	}
	return f
}

func (f *forwarder) accept(ln net.Listener, port int, target func() string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		ip := target()
		if ip == "" {
			c.Close()
			continue
		}
		f.wg.Go(func() { f.relay(c, net.JoinHostPort(ip, strconv.Itoa(port))) })
	}
}

func (f *forwarder) relay(c net.Conn, to string) {
	if !f.track(c) {
		c.Close()
		return
	}
	defer f.untrack(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", to)
	cancel()
	if err != nil {
		return // the instance does not answer: the client sees a closed connection
	}
	if !f.track(up) {
		up.Close()
		return
	}
	defer f.untrack(up)
	pipe(c, up)
}

func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = true
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// close unbinds the ports and cuts open connections.
func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	for _, ln := range f.lns {
		ln.Close()
	}
	f.wg.Wait()
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok && err == nil {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}
