package vmimage

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

// Server publishes an image on loopback the way cloud images are
// published: the image file and a SHA256SUMS file in one directory.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	name string
}

// Serve starts an HTTP server on 127.0.0.1 that serves img as
// /debian-12-cloud.qcow2 and its digest in /SHA256SUMS. Close stops it.
func Serve(img *Image) (*Server, error) {
	if img == nil || img.Path == "" || img.SHA256 == "" {
		return nil, errors.New("serving the VM image: no image given (call Ensure first)")
	}
	if _, err := os.Stat(img.Path); err != nil {
		return nil, fmt.Errorf("serving the VM image: %w", err)
	}
	name := filepath.Base(img.Path)
	sums := fmt.Sprintf("%s *%s\n", img.SHA256, name)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+name, func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, img.Path)
	})
	mux.HandleFunc("GET /SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(sums))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("serving the VM image: %w", err)
	}
	s := &Server{srv: &http.Server{Handler: mux}, ln: ln, name: name}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// ImageURL is the image's address.
func (s *Server) ImageURL() string { return "http://" + s.ln.Addr().String() + "/" + s.name }

// ChecksumURL is the address of the SHA256SUMS file beside the image.
func (s *Server) ChecksumURL() string { return "http://" + s.ln.Addr().String() + "/SHA256SUMS" }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }
