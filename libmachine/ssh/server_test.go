//go:build unix

package ssh

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

var groupPrefix = regexp.MustCompile(`^printf 'fleetdock-pgid-[0-9a-f]+ %d\\n' \$\$ >&2; `)

// testServer is an in-process SSH server on 127.0.0.1 whose sessions run
// commands with /bin/sh, so client behaviour is checked against real
// processes, exit statuses and signals.
type testServer struct {
	t    *testing.T
	ln   net.Listener
	addr string
	port int

	hostKeys   atomic.Pointer[[]ssh.Signer]
	authorized []ssh.PublicKey
	password   string
	kbdOnly    bool // offer the password only through keyboard-interactive

	dropFirst atomic.Int32 // close this many new connections before the handshake
	accepted  atomic.Int32

	mu       sync.Mutex
	commands []string
	conns    []net.Conn
	pty      int

	started chan string  // a command's process started
	ended   chan execEnd // a command's process ended
}

type execEnd struct {
	cmd      string
	signaled bool
}

type serverOpts struct {
	hostKeys   []ssh.Signer
	authorized []ssh.PublicKey
	password   string
	kbdOnly    bool
	addr       string // reuse a port; "" picks a free one
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	if len(o.hostKeys) == 0 {
		o.hostKeys = []ssh.Signer{newSigner(t)}
	}
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	s := &testServer{
		t: t, ln: ln, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port,
		authorized: o.authorized, password: o.password, kbdOnly: o.kbdOnly,
		started: make(chan string, 100), ended: make(chan execEnd, 100),
	}
	s.hostKeys.Store(&o.hostKeys)
	t.Cleanup(s.stop)
	go s.acceptLoop()
	return s
}

func (s *testServer) stop() {
	s.ln.Close()
	s.dropConnections()
}

// dropConnections cuts every open connection, as a rebooting host would.
func (s *testServer) dropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
}

func (s *testServer) setHostKeys(keys ...ssh.Signer) { s.hostKeys.Store(&keys) }

func (s *testServer) execs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *testServer) ptyRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pty
}

// clientConfig points a Config at the server.
func (s *testServer) clientConfig(user string) Config {
	return Config{Host: "127.0.0.1", Port: s.port, User: user}
}

// keyedServer is a server that accepts one fresh key, and a Config using it.
func keyedServer(t *testing.T) (*testServer, Config) {
	t.Helper()
	keyPath, pub, _ := writeKey(t, t.TempDir(), "id_ed25519", "")
	s := startServer(t, serverOpts{authorized: []ssh.PublicKey{pub}})
	cfg := s.clientConfig("tester")
	cfg.KeyPaths = []string{keyPath}
	return s, cfg
}

func (s *testServer) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.accepted.Add(1)
		if s.dropFirst.Load() > 0 {
			s.dropFirst.Add(-1)
			nc.Close()
			continue
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		go s.serve(nc)
	}
}

func (s *testServer) serve(nc net.Conn) {
	conf := &ssh.ServerConfig{}
	for _, k := range *s.hostKeys.Load() {
		conf.AddHostKey(k)
	}
	if len(s.authorized) > 0 {
		conf.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range s.authorized {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil, nil
				}
			}
			return nil, errors.New("key not authorized")
		}
	}
	if s.password != "" && !s.kbdOnly {
		conf.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == s.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	if s.password != "" && s.kbdOnly {
		conf.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := ask("", "", []string{"Password: "}, []bool{false})
			if err == nil && len(answers) == 1 && answers[0] == s.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	_, chans, reqs, err := ssh.NewServerConn(nc, conf)
	if err != nil {
		nc.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, chReqs)
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	var (
		mu   sync.Mutex
		proc *exec.Cmd
	)
	killGroup := func() {
		mu.Lock()
		defer mu.Unlock()
		if proc != nil && proc.Process != nil {
			syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
		}
	}
	// start runs the command; the caller replies to the request and only
	// then calls the returned wait, which reports the exit and closes the
	// channel. Closing before the reply would make the client's exec fail
	// with EOF, which sshd never does: it replies first.
	start := func(cmdline string) (wait func(), ok bool) {
		asSent := cmdline
		// Record what the caller asked for, without the group-report prefix.
		cmdline = groupPrefix.ReplaceAllString(cmdline, "")
		var c *exec.Cmd
		if cmdline == "" {
			c = exec.Command("/bin/sh")
		} else {
			c = exec.Command("/bin/sh", "-c", asSent)
		}
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.Stdout = ch
		c.Stderr = ch.Stderr()
		stdin, err := c.StdinPipe()
		if err != nil {
			return nil, false
		}
		if err := c.Start(); err != nil {
			return nil, false
		}
		mu.Lock()
		proc = c
		mu.Unlock()
		s.mu.Lock()
		s.commands = append(s.commands, cmdline)
		s.mu.Unlock()
		s.started <- cmdline
		go func() {
			io.Copy(stdin, ch)
			stdin.Close()
		}()
		return func() {
			go func() {
				err := c.Wait()
				var ee *exec.ExitError
				signaled := false
				status := 0
				if errors.As(err, &ee) {
					if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						signaled = true
					}
					status = ee.ExitCode()
				}
				s.ended <- execEnd{cmd: cmdline, signaled: signaled}
				if signaled {
					ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
						Signal     string
						CoreDumped bool
						Error      string
						Lang       string
					}{Signal: "KILL"}))
				} else {
					payload := make([]byte, 4)
					binary.BigEndian.PutUint32(payload, uint32(status))
					ch.SendRequest("exit-status", false, payload)
				}
				ch.Close()
			}()
		}, true
	}
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			var wait func()
			ok := ssh.Unmarshal(req.Payload, &p) == nil
			if ok {
				wait, ok = start(p.Command)
			}
			req.Reply(ok, nil)
			if ok {
				wait()
			}
		case "shell":
			wait, ok := start("")
			req.Reply(ok, nil)
			if ok {
				wait()
			}
		case "pty-req":
			s.mu.Lock()
			s.pty++
			s.mu.Unlock()
			req.Reply(true, nil)
		case "signal":
			killGroup()
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel: like sshd, end what it started.
	killGroup()
}

// newSigner makes an ed25519 key.
func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

// newRSASigner makes a small RSA key (tests only need the type).
func newRSASigner(t *testing.T) ssh.Signer {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return s
}

// writeKey writes a new ed25519 private key in OpenSSH format (encrypted
// with passphrase when it is not empty) and returns its path and public key.
func writeKey(t *testing.T, dir, name, passphrase string) (string, ssh.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test key")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test key", []byte(passphrase))
	}
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return path, signer.PublicKey(), priv
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// pollUntil polls check with backoff until it reports true, failing the
// test after a generous deadline.
func pollUntil[T any](t *testing.T, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	delay := 10 * time.Millisecond
	for {
		if v, ok := check(); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after 20s", what)
		}
		time.Sleep(delay)
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// processGone says whether pid has exited (a zombie counts: only its
// parent can still reap it).
func processGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(data, ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'Z'
}
